"""Reusing what a run already computed: stage results and written files, keyed by what made them.

A planner reruns the same study area many times — another goal, another
language, the ``site`` command after ``run`` — and at city size the analysis
before the goals takes minutes. Each cached result is keyed by a digest of
everything it was computed from: the settings it reads, the *content* of every
input file those settings name, the package's own source and the versions of
the libraries whose objects it holds. A changed registry, goal or line of code
gives another key, so a stale result is never reused; nothing here asks the
user to clear a cache by hand.

Two kinds of reuse:

* :class:`StageCache` keeps stage results (pickles, written atomically) under
  the run's ``cache_dir``, the :data:`KEEP_PER_STAGE` most recently used per
  study area and stage. The pickles are the run's own files in the user's own cache folder,
  read back only by this package.
* :class:`OutputManifest` records, in the output folder, which key each group of
  files was written from and each file's size and modification time; a group
  whose key is unchanged and whose files are untouched is not written again
  (the way ``make`` treats an up-to-date target). Outputs are deterministic,
  so the files on disk are the ones the run would write.

This is hand-written because no maintained library keys a cache by file
content and settings together at this grain (joblib.Memory hashes the
arguments' data on every call: seconds for a million cells, and it cannot see
that an output file was edited).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from . import texts

log = logging.getLogger(__name__)

#: Bump when what a cached stage holds changes shape in a way the code digest cannot see.
CACHE_FORMAT = 1

#: Cached results kept per study area and stage (the least recently used beyond are deleted).
KEEP_PER_STAGE = 3

#: Libraries whose objects the cached results hold (a pickle is only read back by the same versions).
LIBRARIES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "scipy", "pyarrow", "h3", "h3ronpy", "osmium")

_file_digests: dict[tuple, str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (a shapefile's with its ``.dbf``, ``.prj``, … siblings).

    Remembered for the process by path, size and modification time, so a file
    named by several settings is read once.
    """
    path = Path(path)
    parts = sorted(path.parent.glob(path.stem + ".*")) if path.suffix.lower() == ".shp" else [path]
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in parts)
    if stamp not in _file_digests:
        digest = hashlib.sha256()
        for p in parts:
            digest.update(p.name.encode())
            with open(p, "rb") as handle:  # streamed: a city's OSM file need not sit in memory
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        _file_digests[stamp] = digest.hexdigest()
    return _file_digests[stamp]


def _plain(value: object, stamps: list | None = None) -> Any:
    """``value`` as JSON-able data, every existing file replaced by its path and content digest
    (and, with ``stamps``, its path, size and modification time appended there instead)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), stamps) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        if not value.is_file():
            return {"path": str(value), "sha256": None}
        if stamps is not None:
            stat = value.stat()
            stamps.append([str(value), stat.st_size, stat.st_mtime_ns])
            return str(value)
        return {"path": str(value), "sha256": file_digest(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, stamps) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v, stamps) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _library_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


_code: list[str] = []


def code_digest() -> str:
    """Digest of the package's own files (source, templates, data) and of :data:`LIBRARIES`' versions."""
    if not _code:
        root = Path(__file__).parent
        digest = hashlib.sha256(json.dumps([CACHE_FORMAT, _library_versions()]).encode())
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                digest.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
        _code.append(digest.hexdigest())
    return _code[0]


def file_stamps(settings: object) -> list:
    """Path, size and modification time of every existing file ``settings`` names (pages print file dates)."""
    found: list = []
    _plain(settings, stamps=found)
    return sorted(found)


def settings_key(settings: object, *, leave_out: Iterable[str] = (), extra: object = None) -> str:
    """Key of a result computed from ``settings`` (a dataclass), the files it names and this code.

    Parameters
    ----------
    settings : dataclass instance
        E.g. the run's :class:`~servicecircle.config.Config`.
    leave_out : iterable of str
        Fields the result does not depend on, dotted below a section (``"output.lang"``, ``"goals"``).
    extra : optional
        Further JSON-able parts of the key (e.g. the key of an upstream result).
    """
    plain = _plain(settings)
    for name in leave_out:
        *sections, last = name.split(".")
        table = plain
        for section in sections:
            table = table[section]
        table.pop(last)
    text = json.dumps([code_digest(), plain, extra], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class StageCache:
    """Stage results of one study area under ``cache_dir / "stages"``.

    Parameters
    ----------
    cache_dir : Path
        The run's cache folder.
    area : str
        The study area's name: each area keeps its own newest results.
    """

    def __init__(self, cache_dir: Path, area: str):
        self.folder = Path(cache_dir) / "stages"
        self.area = hashlib.sha256(area.encode("utf-8")).hexdigest()[:8]

    def _path(self, stage: str, key: str) -> Path:
        return self.folder / f"{stage}-{self.area}-{key}.pickle"

    def load(self, stage: str, key: str) -> Any:
        """The result stored for ``stage`` under ``key``, or None (never stored, or unreadable)."""
        path = self._path(stage, key)
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as handle:
                value = pickle.load(handle)
            os.utime(path)  # used now: pruned last
            return value
        except Exception as exc:  # a truncated or foreign file is recomputed, not fatal
            log.warning("%s: cached %s unreadable (%s); computing it again", path, stage, exc,
                        extra=texts.logged("log.cache_unreadable", path=path, stage=stage, error=exc))
            return None

    def store(self, stage: str, key: str, value: object) -> None:
        """Store ``value`` atomically and delete this area's least recently used results of ``stage``
        beyond :data:`KEEP_PER_STAGE`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(stage, key)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(path)  # an interrupted run never leaves a half-written result
        older = sorted(self.folder.glob(f"{stage}-{self.area}-*.pickle"), key=lambda p: p.stat().st_mtime_ns)
        for old in older[:-KEEP_PER_STAGE]:
            old.unlink(missing_ok=True)


class OutputManifest:
    """Which key each group of output files was written from (``.servicecircle_outputs.json``).

    Parameters
    ----------
    out_dir : Path
        The run's output folder.
    """

    NAME = ".servicecircle_outputs.json"

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / self.NAME
        try:
            self.groups = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.groups = {}

    def current(self, group: str, key: str) -> dict[str, Path] | None:
        """The files of ``group`` if they were written from ``key`` and are untouched since, else None."""
        entry = self.groups.get(group)
        if not entry or entry.get("key") != key:
            return None
        files = {}
        for name, (rel, size, mtime_ns) in entry["files"].items():
            path = self.out_dir / rel
            try:
                stat = path.stat()
            except OSError:
                return None
            if stat.st_size != size or stat.st_mtime_ns != mtime_ns:
                return None
            files[name] = path
        return files

    def record(self, group: str, key: str, files: dict[str, Path]) -> None:
        """Remember that ``files`` were just written from ``key`` and save the manifest."""
        entry = {}
        for name, path in files.items():
            path = Path(path)
            stat = path.stat()
            entry[name] = [os.path.relpath(path, self.out_dir), stat.st_size, stat.st_mtime_ns]
        self.groups[group] = {"key": key, "files": entry}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.groups, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")

    def forget(self, group: str) -> None:
        """Drop ``group`` (its files are about to be rewritten, or were removed)."""
        if self.groups.pop(group, None) is not None:
            self.path.write_text(json.dumps(self.groups, ensure_ascii=False, indent=1, sort_keys=True),
                                 encoding="utf-8")
