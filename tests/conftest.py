"""Shared fixtures: the real Chengdu sample, read from ../shared/data (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicecircle import load_config, run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CHENGDU_OSM = SHARED / "chengdu" / "chengdu_central.osm"
CHENGDU_CONFIG = ROOT / "data" / "chengdu.toml"


def pytest_collection_modifyitems(config, items):
    if not CHENGDU_OSM.is_file():  # pragma: no cover - the sample data is part of the workplace
        raise pytest.UsageError(f"sample data missing: {CHENGDU_OSM} (tests read the real data from ../shared/data)")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _sample_config(path: Path, cache_dir: Path, out_dir: Path):
    """A sample study area with its cache and outputs in temporary folders."""
    return load_config(path).with_settings(network={"cache_dir": cache_dir}, output={"out_dir": out_dir})


@pytest.fixture(scope="session")
def chengdu_config(cache_dir, tmp_path_factory):
    return _sample_config(CHENGDU_CONFIG, cache_dir, tmp_path_factory.mktemp("chengdu_out"))


@pytest.fixture(scope="session")
def chengdu_run(chengdu_config):
    """One full run on the real Chengdu data, outputs written to a temporary folder."""
    return run(chengdu_config, progress=False)


HEXI = SHARED / "tianjin_hexi"
HEXI_CONFIG = ROOT / "data" / "hexi.toml"
HEPING_GCJ02 = SHARED / "tianjin_heping" / "heping_boundary_gcj02.geojson"


@pytest.fixture(scope="session")
def hexi_config(cache_dir, tmp_path_factory):
    return _sample_config(HEXI_CONFIG, cache_dir, tmp_path_factory.mktemp("hexi_out"))


@pytest.fixture(scope="session")
def hexi_run(hexi_config):
    """One full run on the real Tianjin Hexi data: road lines, 141 communities, 14 streets, census total."""
    return run(hexi_config, progress=False)


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium, installed here (apt-get, as root) when the machine lacks it."""
    import shutil
    import subprocess

    path = shutil.which("chromium")
    if path is None:
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"could not install chromium for the browser tests ({' '.join(cmd)}): "
                                   f"{done.stderr.strip()[-400:]}")
        path = shutil.which("chromium")
    assert path, "chromium is not on PATH after installing Debian's chromium package"
    return path


@pytest.fixture(scope="session")
def browser(chromium):
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def map_texts(map_html, dataset: str, column: str) -> list[str]:
    """A text column of one of ``map.html``'s deflated tables, decoded here as the page's script does
    (base85 with ``.`` for ``<``, then zlib): escaped strings, one per row."""
    import base64
    import json
    import re
    import zlib

    page = Path(map_html).read_text(encoding="utf-8")
    spec = json.loads(re.search(r'<script type="application/json" id="sc-data">(.*?)</script>', page, re.S)
                      .group(1))["datasets"][dataset]["columns"][column]
    blob = re.search(rf'<script type="text/plain" id="sc-blob-{dataset}">(.*?)</script>', page, re.S).group(1).strip()
    raw = zlib.decompress(base64.b85decode(blob.replace(".", "<")))
    assert spec[1] == "text", spec
    return raw[spec[2]:spec[2] + spec[3]].decode("utf-8").split("\n")
