"""Shared fixtures: the real samples, read from ../shared/data (never copied into the repo), one run per
sample and test registry for the whole session, and a small synthetic grid network for unit tests.

Why the suite is slow, and how it is kept to one of each:

* a full run on the real Chengdu sample takes ~8–10 s (most of it the street-side service areas),
  a Hexi run ~3 s plus ~5 s the first time the census workbook is parsed; every run here is a
  session fixture, shared by all modules, and they all share one cache folder (``cache_dir``:
  the walk network is built once, the census figures read once) except where a test checks
  what a cold cache does (``chengdu_rerun``, the Overpass and file-format tests);
* the census workbook is parsed once per session (``_census_parsed_once``);
* tests that need such a run, a real-sample build or a browser are marked ``slow`` (here, from the
  fixtures they use, or in their module): ``python -m pytest -m "not slow"`` is the quick loop;
* the suite runs on every core (pytest-xdist, ``-n auto`` in pyproject.toml): each test module on one
  worker, and each sample run, census parse and command-line job computed by one worker for all of
  them (``once_per_session``: the first worker to ask computes it under a file lock and leaves a pickle;
  the others wait for it and read it), so two workers cost no more CPU than one.

Without the sample data (no ../shared/data, or ``SERVICECIRCLE_SHARED_DATA`` naming a folder
without it) the tests that read it are skipped, saying so; the synthetic ones still run.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servicecircle import load_config, run

ROOT = Path(__file__).resolve().parents[1]
#: Where the tests read the real sample data: ../shared/data beside the repository, unless the
#: environment names another folder (used only by the tests, e.g. to check that they skip without it).
SHARED = Path(os.environ.get("SERVICECIRCLE_SHARED_DATA") or ROOT.parent / "shared" / "data")
CHENGDU_OSM = SHARED / "chengdu" / "chengdu_central.osm"
CHENGDU_CONFIG = ROOT / "data" / "chengdu.toml"
HEXI = SHARED / "tianjin_hexi"
HEXI_CONFIG = ROOT / "data" / "hexi.toml"
HEPING_GCJ02 = SHARED / "tianjin_heping" / "heping_boundary_gcj02.geojson"
CENSUS = SHARED / "census" / "census_county_2020_v1.xlsx"
#: Every sample file a test reads.
SAMPLE_FILES = (CHENGDU_OSM, HEXI / "hexi_roads.shp", HEXI / "hexi_communities.geojson", HEXI / "hexi_streets.geojson",
                HEPING_GCJ02, SHARED / "tianjin_heping" / "tianjin_districts_gcj02.geojson", CENSUS)

#: Fixtures holding a full run on a real sample: a test using one is ``slow``.
RUN_FIXTURES = {"chengdu_run", "chengdu_rerun", "chengdu_registry_run", "hexi_run", "hexi_street_registry_run",
                "hexi_goal_registry_run"}
#: Fixtures reading the real samples: a test using one ``needs_data``.
DATA_FIXTURES = RUN_FIXTURES | {"chengdu_config", "hexi_config"}


def missing_data(*paths: Path) -> list[Path]:
    return [p for p in (paths or SAMPLE_FILES) if not Path(p).is_file()]


def require_data(*paths: Path) -> None:
    """Skip the calling test (or fixture) when sample files are missing (all of them by default)."""
    missing = missing_data(*paths)
    if missing:
        pytest.skip(f"sample data missing: {', '.join(map(str, missing))} (the tests read the real samples "
                    f"from {SHARED}; SERVICECIRCLE_SHARED_DATA names another folder)")


def pytest_collection_modifyitems(config, items):
    """Mark tests by what they use: full runs are ``slow``, browser tests ``browser`` and ``slow``, tests
    reading the samples ``needs_data`` — and skipped, with the reason, when the samples are missing."""
    missing = missing_data()
    skip = pytest.mark.skip(reason=f"sample data missing under {SHARED} ({len(missing)} of {len(SAMPLE_FILES)} "
                                   f"files, e.g. {missing[0].name}); SERVICECIRCLE_SHARED_DATA names another folder"
                            ) if missing else None
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & RUN_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if names & DATA_FIXTURES:
            item.add_marker(pytest.mark.needs_data)
        if skip is not None and item.get_closest_marker("needs_data"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _census_parsed_once(tmp_path_factory):
    """The census workbook parsed once per session, however many tests and runs read it (~5 s a parse).

    For the tests only: ``population._census_table`` is remembered by the file's path, size and
    modification time; the package itself still parses the workbook on every call it makes.
    """
    import hashlib

    from servicecircle import population

    parse, parsed = population._census_table, {}

    def once(path):
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in parsed:
            name = "census-" + hashlib.sha256(repr(key).encode()).hexdigest()[:16]
            parsed[key] = once_per_session(tmp_path_factory, name, lambda: parse(path))
        return parsed[key].copy()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(population, "_census_table", once)
        yield


@pytest.fixture(scope="session", autouse=True)
def _cache_keeps_every_result():
    """The suite's runs keep every cached stage result: with the package's few per study area, the runs of
    other tests (on another worker, at any moment) could push out the analysis a test expects to reuse.
    ``test_least_recently_used_results_are_pruned`` checks the pruning with the package's own number."""
    from servicecircle import runcache

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runcache, "KEEP_PER_STAGE", 1000)
        yield


def write_batch_file(path: Path, batch: str, *, cache_dir: Path, more: str = "") -> Path:
    """A batch TOML at ``path``: its ``[batch]`` lines, then the overrides every test batch shares (its cache
    folder; service areas drawn cheaply, as cells and no per-facility ones: they shape only the map, not a
    cell's or community's figure), then ``more`` tables."""
    path.write_text(f"[batch]\n{batch}[batch.overrides.network]\ncache_dir = \"{cache_dir}\"\n"
                    '[batch.overrides.output]\nfacility_areas = "none"\nservice_areas = "cells"\n' + more,
                    encoding="utf-8")
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): stands for a service that cannot be reached."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env() -> dict:
    """The environment for a ``python -m servicecircle`` subprocess: this checkout's package first."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))


def shared_root(tmp_path_factory) -> Path | None:
    """Under pytest-xdist, the folder every worker of this session shares (the parent of each worker's own
    base folder, as pytest-xdist documents); ``None`` in a single process."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return None
    return tmp_path_factory.getbasetemp().parent


def once_per_session(tmp_path_factory, name: str, compute):
    """``compute()``, once for the whole session however many workers ask: the first computes it (holding a
    lock, so the others wait) and pickles it beside the workers' folders; the others read that pickle.
    Paths in the value stay valid for every worker (all folders of a session live until it ends)."""
    import pickle

    from filelock import FileLock

    root = shared_root(tmp_path_factory)
    if root is None:
        return compute()
    done = root / f"{name}.pickle"
    with FileLock(root / f"{name}.lock"):
        if done.is_file():
            return pickle.loads(done.read_bytes())
        value = compute()
        part = done.with_suffix(".part")
        part.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        part.replace(done)
        return value


# Command-line tests run ``python -m servicecircle`` in subprocesses: ~2 s of imports each, ~10 s for a full
# run. A test marked ``early_cli(name)`` has its module's ``EARLY_CLI[name](folder)`` (returning the
# interpreter's arguments and the working folder) run as soon as collection is done, one at a time beside the
# tests (on a core the tests leave idle); ``early_cli_result(request, name)`` waits for it, or runs it then if
# nothing has started it yet. Each job runs once per session: under pytest-xdist its folder is shared by the
# workers, the first to create ``claimed`` in it runs it, and its result is left there as ``done.pickle``.
@dataclass
class _Job:
    name: str
    build: object  # the module's EARLY_CLI[name]
    folder: Path
    shared: bool  # the folder is shared by the session's workers (pytest-xdist)
    rank: int  # its place in the module's EARLY_CLI
    claimed: bool = False  # claimed by this process
    proc: object = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def result_file(self) -> Path:
        return self.folder / "done.pickle"


_jobs: dict[str, _Job] = {}
_jobs_lock = threading.Lock()


def _job(name: str, module, config) -> _Job:
    import tempfile

    with _jobs_lock:
        if name not in _jobs:
            basetemp = config.option.basetemp
            if os.environ.get("PYTEST_XDIST_WORKER") and basetemp:  # a worker: its base folder's parent is shared
                folder = Path(basetemp).resolve().parent / "early_cli" / name
                folder.mkdir(parents=True, exist_ok=True)
                _jobs[name] = _Job(name, module.EARLY_CLI[name], folder, shared=True,
                                   rank=list(module.EARLY_CLI).index(name))
            else:
                folder = Path(tempfile.mkdtemp(prefix=f"servicecircle-{name}-"))
                _jobs[name] = _Job(name, module.EARLY_CLI[name], folder, shared=False,
                                   rank=list(module.EARLY_CLI).index(name))
        return _jobs[name]


def _run_job(job: _Job) -> None:
    """Run ``job`` to its end here, unless another thread or worker has claimed it."""
    import pickle
    import subprocess
    import sys

    with _jobs_lock:
        if job.claimed:
            return
        try:
            (job.folder / "claimed").mkdir()
        except FileExistsError:  # another worker runs it
            return
        job.claimed = True
    done: object
    try:
        args, cwd = job.build(job.folder)
        job.proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=cwd, env=cli_env())
        out, err = job.proc.communicate(timeout=600)
        done = subprocess.CompletedProcess(job.proc.args, job.proc.returncode, out, err)
    except Exception as exc:  # reported by the test that waits for it
        done = exc
    finally:
        part = job.folder / "done.part"
        part.write_bytes(pickle.dumps(done))
        part.replace(job.result_file)
        job.finished.set()


def pytest_collection_finish(session):
    queue = []
    for item in session.items:
        if item.get_closest_marker("skip"):  # e.g. without the sample data: nothing to start
            continue
        for mark in item.iter_markers("early_cli"):
            job = _job(mark.args[0], item.module, session.config)
            if job not in queue:
                queue.append(job)
    queue.sort(key=lambda job: job.rank)  # in each module's EARLY_CLI order (the longest first)

    def work():
        for job in queue:
            _run_job(job)

    if queue:
        threading.Thread(target=work, name="early_cli", daemon=True).start()


def early_cli_result(request, name: str):
    """The finished subprocess ``name`` of the requesting test's module (a CompletedProcess), and its folder."""
    import pickle
    import time

    job = _job(name, request.module, request.config)
    _run_job(job)  # at once, if nothing has started it yet
    deadline = time.monotonic() + 700
    while not job.result_file.is_file():  # run here (then already there), or by another worker
        assert time.monotonic() < deadline, f"{name}: still running"
        job.finished.wait(timeout=0.1)
    done = pickle.loads(job.result_file.read_bytes())
    if isinstance(done, Exception):
        raise done
    return done, job.folder


def pytest_sessionfinish(session):
    """Stop what is still running after a stop (e.g. ``-x``); else wait for it (another worker may need it);
    remove the jobs' folders unless the workers share them (pytest removes those with its old base folders)."""
    stopped = bool(session.shouldstop or session.shouldfail)
    for job in _jobs.values():
        with _jobs_lock:
            if not job.claimed:
                job.claimed = True  # nothing starts here from now on
                if not job.shared:
                    (job.folder / "claimed").mkdir(exist_ok=True)
        if job.proc is not None and job.proc.poll() is None:
            if stopped:
                job.proc.kill()
            job.finished.wait(timeout=600)
        if not job.shared:
            shutil.rmtree(job.folder, ignore_errors=True)
    _jobs.clear()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """The cache folder every sample run shares (walk networks, census figures, stage results), on every worker."""
    root = shared_root(tmp_path_factory)
    if root is None:
        return tmp_path_factory.mktemp("cache")
    (root / "cache").mkdir(exist_ok=True)
    return root / "cache"


def _sample_config(path: Path, cache_dir: Path, out_dir: Path):
    """A sample study area with its cache and outputs in temporary folders (skipped without its data)."""
    require_data()
    config = load_config(path)
    named = [config.area.osm_file] + [getattr(spec, "path", None) for spec in (config.network.roads, config.communities,
                                                                         config.streets)]
    named.append(getattr(config.population, "census_file", None))
    require_data(*[p for p in named if p is not None])  # the config's own paths too (else: an Overpass download)
    return config.with_settings(network={"cache_dir": cache_dir}, output={"out_dir": out_dir})


@pytest.fixture(scope="session")
def chengdu_config(cache_dir, tmp_path_factory):
    return once_per_session(tmp_path_factory, "chengdu_config",
                            lambda: _sample_config(CHENGDU_CONFIG, cache_dir, tmp_path_factory.mktemp("chengdu_out")))


@pytest.fixture(scope="session")
def chengdu_run(chengdu_config, tmp_path_factory):
    """One full run on the real Chengdu data, outputs written to a temporary folder."""
    return once_per_session(tmp_path_factory, "chengdu_run", lambda: run(chengdu_config, progress=False))


@dataclass
class Rerun:
    first: object  # RunResult: computed from nothing
    again: object  # RunResult: the same settings once more, everything reused
    stamps: dict  # modification times of first's output files (but summary.json) before ``again``


@pytest.fixture(scope="session")
def chengdu_rerun(chengdu_run, tmp_path_factory) -> Rerun:
    """The Chengdu run computed again from nothing, then once more (which reuses everything).

    Its own cache folder (seeded only with the walk network ``chengdu_run`` built: no stage result to
    reuse) and output folder. Its tables and cache are written by a forked child, as at city size
    (``FORK_MIN_CELLS`` = 0). Shared by the determinism, reuse and forked-writer tests.
    """
    return once_per_session(tmp_path_factory, "chengdu_rerun", lambda: _rerun(chengdu_run, tmp_path_factory))


def _rerun(chengdu_run, tmp_path_factory) -> Rerun:
    from servicecircle import pipeline

    folder = tmp_path_factory.mktemp("rerun")
    cache = folder / "cache"
    cache.mkdir()
    for walk in Path(chengdu_run.config.network.cache_dir).glob("walk_*.npz"):
        shutil.copy2(walk, cache / walk.name)
    config = chengdu_run.config.with_settings(network={"cache_dir": cache}, output={"out_dir": folder / "out"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "FORK_MIN_CELLS", 0)  # fork even for the sample
        first = run(config, progress=False)
        stamps = {p.name: p.stat().st_mtime_ns for p in config.output.out_dir.iterdir() if p.name != "summary.json"}
        again = run(config, progress=False)
    return Rerun(first, again, stamps)


#: Test input, not real facilities: a hostile name (it must reach the pages as text and never run), three
#: elder-care homes (one next to a hospital, one far from any) and a nursery, in central Chengdu (WGS-84).
HOSTILE = '<img src=x onerror="window.__pwned=1">测试养老院'
CHENGDU_TEST_REGISTRY = [
    {"机构名称": HOSTILE, "类别": "养老院", "经度": 104.0870, "纬度": 30.6580, "床位": 30},
    {"机构名称": "测试颐养院（医院旁）", "类别": "养老院", "经度": 104.08525, "纬度": 30.67065, "床位": 80},
    {"机构名称": "测试日间照料中心", "类别": "日间照料中心", "经度": 104.0855, "纬度": 30.6580, "床位": 20},
    {"机构名称": "测试养老服务站", "类别": "养老服务站", "经度": 104.0950, "纬度": 30.6900, "床位": ""},
    {"机构名称": "测试托育园", "类别": "托育机构", "经度": 104.0500, "纬度": 30.6590, "托位": 40},
]


@pytest.fixture(scope="session")
def chengdu_registry_run(chengdu_config, tmp_path_factory):
    """Chengdu with the declared test registry ``CHENGDU_TEST_REGISTRY`` (``registry.csv``), stepped decay
    and offline pages: the one registry run the map, gap and capacity tests share."""
    return once_per_session(tmp_path_factory, "chengdu_registry_run",
                            lambda: _chengdu_registry_run(chengdu_config, tmp_path_factory))


def _chengdu_registry_run(chengdu_config, tmp_path_factory):
    import pandas as pd

    from servicecircle.config import Registry

    tmp = tmp_path_factory.mktemp("chengdu_registry")
    path = tmp / "registry.csv"
    pd.DataFrame(CHENGDU_TEST_REGISTRY).to_csv(path, index=False, encoding="utf-8-sig")
    spec = Registry(path=path, coord_system="wgs84", encoding=None, sheet=None, category=None, columns=(),
                    category_values=())
    # No test reads per-facility service areas of this run (the pages draw the merged ones): not drawn.
    config = chengdu_config.with_settings(facilities={"registries": (spec,)}, output={"out_dir": tmp / "out", "offline": True, "facility_areas": "none"}, access={"decay": "stepped"})
    return run(config, progress=False)


@pytest.fixture(scope="session")
def hexi_config(cache_dir, tmp_path_factory):
    return once_per_session(tmp_path_factory, "hexi_config",
                            lambda: _sample_config(HEXI_CONFIG, cache_dir, tmp_path_factory.mktemp("hexi_out")))


@pytest.fixture(scope="session")
def hexi_run(hexi_config, tmp_path_factory):
    """One full run on the real Tianjin Hexi data: road lines, 141 communities, 14 streets, census total."""
    return once_per_session(tmp_path_factory, "hexi_run", lambda: run(hexi_config, progress=False))


@pytest.fixture(scope="session")
def hexi_street_registry_run(hexi_config, hexi_run, tmp_path_factory):
    """Test input: one elder-care centre (50 beds) and one nursery (40 places, affordable) per street,
    placed at each street's representative point and written as GCJ-02, as an AMap export would be;
    and one canteen with a hostile name (it must reach the map as text)."""
    return once_per_session(tmp_path_factory, "hexi_street_registry_run",
                            lambda: _hexi_street_registry_run(hexi_config, hexi_run, tmp_path_factory))


def _hexi_street_registry_run(hexi_config, hexi_run, tmp_path_factory):
    import pandas as pd

    from servicecircle import coords
    from servicecircle.config import Registry

    pts = hexi_run.streets.geometry.representative_point()
    glon, glat = coords.wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    rows = []
    for name, x, y in zip(hexi_run.streets["name"], glon, glat):
        rows.append({"名称": f"{name}综合养老服务中心", "类别": "街道综合养老服务中心", "坐标": f"{x:.7f},{y:.7f}",
                     "床位": "50", "性质": "公办"})
        rows.append({"名称": f"{name}托育中心", "类别": "托育机构", "坐标": f"{x + 0.004:.7f},{y:.7f}",
                     "托位": "40个", "普惠": "是"})
    x, y = glon[0] + 0.002, glat[0] + 0.002  # a hostile name must reach the map as text
    rows.append({"名称": "<img src=x onerror=alert(1)>老年食堂", "类别": "助餐点", "坐标": f"{x:.7f},{y:.7f}", "日供餐": "80"})
    folder = tmp_path_factory.mktemp("hexi_registry")
    path = folder / "hexi_registry.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    spec = Registry(path, "gcj02", None, None, None, (), ())
    # No test reads per-facility service areas of this run (the map draws the merged ones): not drawn.
    return run(hexi_config.with_settings(facilities={"registries": (spec,)}, output={"out_dir": folder / "out", "facility_areas": "none"}), progress=False)


@pytest.fixture(scope="session")
def hexi_goal_registry_run(hexi_config, hexi_run, tmp_path_factory):
    """Hexi with a test registry (not real facilities): elder-care centres in two of three streets, beds and
    floor areas known for some, nurseries with places (some affordable) and canteens in some communities."""
    return once_per_session(tmp_path_factory, "hexi_goal_registry_run",
                            lambda: _hexi_goal_registry_run(hexi_config, hexi_run, tmp_path_factory))


def _hexi_goal_registry_run(hexi_config, hexi_run, tmp_path_factory):
    import pandas as pd

    from servicecircle.config import Registry

    streets = hexi_run.streets.geometry.representative_point()
    comms = hexi_run.communities.geometry.representative_point()
    rows = []
    for i, (name, p) in enumerate(zip(hexi_run.streets["name"], streets)):
        if i % 3:
            rows.append({"名称": f"{name}测试养老服务中心", "类别": "街道综合养老服务中心", "经度": p.x, "纬度": p.y,
                         "床位": 40 + 10 * (i % 4) if i % 2 else "", "建筑面积": 900 if i % 4 == 1 else ""})
    for i, (name, p) in enumerate(zip(hexi_run.communities["name"], comms)):
        if i % 5 == 0:
            rows.append({"名称": f"{name}测试托育点", "类别": "托育机构", "经度": p.x + 0.0003, "纬度": p.y,
                         "托位": 20 + 10 * (i % 3), "普惠": "是" if i % 2 else ""})
        if i % 7 == 0:
            rows.append({"名称": f"{name}测试老年食堂", "类别": "助餐点", "经度": p.x, "纬度": p.y + 0.0003, "日供餐": 100})
    folder = tmp_path_factory.mktemp("hexi_goal_registry")
    path = folder / "registry.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    spec = Registry(path, "wgs84", None, None, None, (), ())
    # Only the scorecard is read from this run: no per-facility areas, merged areas as cells (a fraction of the time).
    config = hexi_config.with_settings(facilities={"registries": (spec,)}, output={"out_dir": folder / "out", "facility_areas": "none", "service_areas": "cells"})
    return run(config, write=False, progress=False)


# ---------------------------------------------------------------------------------------------------------------
# A synthetic walk network for unit tests of servicecircle.access (no sample data, a fraction of a second).

@dataclass
class AccessCase:
    """What the access tests need of a run: its network, facilities (snapped, counted), settings,
    origins (in ``network.crs``) and service areas, and the least counts its checks expect."""

    name: str
    network: object
    facilities: object
    config: object
    origins: object
    service_areas: object
    merged_service_areas: object
    improved_nodes: int  # nodes nearer a nursery after adding five (test_adding_a_facility_never_raises_any_time)
    reached_origins: int  # origins given some capacity in the 2SFCA test


def lattice_network(n: int = 20, spacing_m: float = 100.0):
    """SYNTHETIC test network (not a real place): an ``n`` × ``n`` street lattice near Chengdu, built by
    ``servicecircle.network.assemble`` as the real builders do (WGS-84 in, largest component in UTM out).

    Besides the lattice's straight edges it holds what real extracts hold: a river crossed by streets
    only at its eastern end (a barrier), a bent street, two parallel streets between the same nodes,
    a loop, a dead end and a fragment apart from the rest (dropped as not the largest component).
    """
    import numpy as np
    import shapely
    from osmnx.distance import great_circle

    from servicecircle.network import assemble

    lat0, lon0 = 30.66, 104.06
    dlat = spacing_m / 111_195.0
    dlon = spacing_m / (111_195.0 * np.cos(np.radians(lat0)))
    ij = np.array([(i, j) for i in range(n) for j in range(n)])  # row i (north), column j (east)
    lonlat = np.column_stack([lon0 + ij[:, 1] * dlon, lat0 + ij[:, 0] * dlat])
    node = lambda i, j: i * n + j  # noqa: E731
    edges = [(node(i, j), node(i, j + 1)) for i in range(n) for j in range(n - 1)]
    river = n // 2  # between rows river - 1 and river: crossed only in the last quarter of the columns
    edges += [(node(i, j), node(i + 1, j)) for i in range(n - 1) for j in range(n)
              if not (i == river - 1 and j < n - n // 4)]
    geoms = [None] * len(edges)
    extra = []
    # A bent street: the edge between (2, 3) and (2, 4) bows 30 m north.
    k = edges.index((node(2, 3), node(2, 4)))
    mid = (lonlat[node(2, 3)] + lonlat[node(2, 4)]) / 2 + [0, 0.3 * dlat]
    geoms[k] = shapely.LineString([lonlat[node(2, 3)], mid, lonlat[node(2, 4)]])
    # Two parallel streets: a second, longer way between (5, 5) and (5, 6), bowing south.
    a, b = node(5, 5), node(5, 6)
    extra.append((a, b, shapely.LineString([lonlat[a], (lonlat[a] + lonlat[b]) / 2 - [0, 0.4 * dlat], lonlat[b]])))
    # A loop from (12, 12) and back.
    c = lonlat[node(12, 12)]
    extra.append((node(12, 12), node(12, 12),
                  shapely.LineString([c, c + [0.3 * dlon, 0.2 * dlat], c + [0.3 * dlon, 0.5 * dlat], c])))
    # A dead end east of the last column, and a fragment of two nodes far to the west (not connected).
    spur = len(lonlat)
    lonlat = np.vstack([lonlat, [lonlat[node(7, n - 1)] + [0.6 * dlon, 0]],
                        [lon0 - 5 * dlon, lat0], [lon0 - 4 * dlon, lat0]])
    extra.append((node(7, n - 1), spur, None))
    extra.append((spur + 1, spur + 2, None))
    eu = [e[0] for e in edges] + [e[0] for e in extra]
    ev = [e[1] for e in edges] + [e[1] for e in extra]
    geoms += [e[2] for e in extra]

    def length(u, v, g):
        pts = shapely.get_coordinates(g) if g is not None else np.array([lonlat[u], lonlat[v]])
        return float(great_circle(pts[:-1, 1], pts[:-1, 0], pts[1:, 1], pts[1:, 0]).sum())

    lengths = [length(u, v, g) for u, v, g in zip(eu, ev, geoms)]
    ids = 1_000_000 + np.arange(len(lonlat), dtype=np.int64) * 7  # OSM-like ids, not indices
    return assemble(ids, lonlat, eu, ev, lengths, np.array(geoms, dtype=object), {"source": "synthetic lattice"})


@pytest.fixture(scope="session")
def grid_case(tmp_path_factory) -> AccessCase:
    """SYNTHETIC: the lattice with test facilities (six health centres, two of them on one street, five of
    them south of the river, and two nurseries walked at 0.8 m/s), 300 test origins of 1–40 residents,
    and the service areas ``servicecircle.access`` draws for them."""
    return once_per_session(tmp_path_factory, "grid_case", _grid_case)


def _grid_case() -> AccessCase:
    import geopandas as gpd
    import numpy as np
    import shapely

    from servicecircle import access
    from servicecircle.config import make_config
    from servicecircle.network import snap_points

    net = lattice_network()
    n = 20
    # Test input: each facility a fraction f along the street from lattice node (i, j) to (i, j + 1), and
    # ``off`` metres north of it; facilities 1 and 2 on the same street, on either side of it.
    at = [(1, 1, 0.45, 38.0), (6, 10, 0.3, 6.0), (6, 10, 0.75, -5.0), (4, 5, 0.95, 1.0), (2, 14, 0.25, 14.0),
          (17, 16, 0.5, 11.0), (13, 6, 0.4, 11.0), (2, 17, 0.35, 21.0)]
    xy = np.array([net.node_xy[i * n + j] + f * (net.node_xy[i * n + j + 1] - net.node_xy[i * n + j]) + [0.0, off]
                   for i, j, f, off in at])
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    span = hi - lo
    snap = snap_points(net, xy)
    to_wgs = gpd.GeoSeries(shapely.points(xy), crs=net.crs).to_crs("EPSG:4326")
    facilities = gpd.GeoDataFrame({
        "facility_id": [f"test/{k}" for k in range(len(xy))],
        "name": [f"测试设施{k}" for k in range(len(xy))],
        "category": ["health_centre"] * 6 + ["nursery"] * 2,
        "counted": True, "off_network": False,
        "snap_edge": snap.edge, "snap_along_m": snap.along_m, "snap_offset_m": snap.offset_m,
    }, geometry=to_wgs.values, crs="EPSG:4326")
    west, south = to_wgs.total_bounds[:2] - 0.01
    config = make_config({"area": {"name": "synthetic_grid", "bbox": [float(west), float(south), float(west) + 0.05,
                                                                     float(south) + 0.05]},
                          "categories": {"health_centre": {"label": "卫生服务", "keywords": ["卫生"]},
                                         "nursery": {"speed_m_s": 0.8}}})
    rng = np.random.default_rng(20)
    origins = gpd.GeoDataFrame({"residents": rng.integers(1, 41, 300).astype(float)},
                               geometry=shapely.points(lo + rng.random((300, 2)) * span), crs=net.crs)
    graph = access.build_access_graph(net, facilities)
    return AccessCase("grid", net, facilities, config, origins, access.facility_service_areas(graph, categories=config.categories, settings=config.access),
                      access.merged_service_areas(graph, categories=config.categories, settings=config.access), improved_nodes=150, reached_origins=150)


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


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium, installed here (apt-get, as root) when the machine lacks it."""
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
