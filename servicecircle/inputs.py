"""Reading the user's own files: tables and vector layers, their encodings and coordinate systems.

Everything a street office or planner hands us — registries, boundaries,
population tables, road lines — passes through here. Problems are written,
one line each, to an :class:`InputReport` (``<out>/input_report.csv``: file,
row, field, problem, action) and the rows that can be used are kept: nothing
is dropped without a line saying so.

Rows are numbered as a user sees them: in a CSV or spreadsheet the header is
row 1, so the first data row is row 2; in a GeoJSON, shapefile or GeoPackage
the first feature is row 1.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsInt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from . import coords, texts
from .coords import WGS84
from .errors import InputError

log = logging.getLogger(__name__)


#: Text encodings tried, in order, for files that do not declare one. GB18030
#: is a superset of GBK and GB2312, the encodings of Chinese Windows exports.
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")

REPORT_COLUMNS = ["file", "row", "field", "problem", "action"]
REVIEW_COLUMNS = ["file", "row", "name", "address", "service", "level", "lon", "lat", "why"]


@dataclass
class InputReport:
    """Row-level problems found in the input files of one run.

    ``lang`` is the language of the lines worded from the text catalogue
    (:mod:`servicecircle.texts`): the run's page language.
    """

    rows: list[dict] = field(default_factory=list)
    lang: str = "en"
    #: Geocoded registry rows not used (``geocode_review.csv``, :data:`REVIEW_COLUMNS`); None: no geocoder.
    geocode_review: list[dict] | None = None

    def add(self, file: str | Path, row: SupportsInt | None, field_name: str, problem: str, action: str) -> None:
        self.rows.append({"file": str(file), "row": "" if row is None else int(row), "field": field_name,
                          "problem": problem, "action": action})

    def say(self, file: str | Path, row: SupportsInt | None, field_name: str, problem: str, action: str, /,
            **values: object) -> None:
        """A line worded from the catalogue in :attr:`lang`: ``problem`` and ``action`` are keys of
        :mod:`servicecircle.texts` below ``input.``, both filled from ``values``."""
        self.add(file, row, field_name, self.text(problem, **values), self.text(action, **values))

    def text(self, key: str, /, **values: object) -> str:
        """The catalogue's ``input.<key>`` in the report's language."""
        from . import texts

        return texts.text(self.lang, "input." + key, **values)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=REPORT_COLUMNS)

    def write(self, path: Path, base: Path | None = None) -> Path:
        """``input_report.csv``; files named relative to ``base`` (:func:`relative_paths`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        relative_paths(self.frame(), base).to_csv(path, index=False, encoding="utf-8-sig")
        return path

    def write_review(self, path: Path, base: Path | None = None) -> Path:
        """``geocode_review.csv``: the geocoded rows not used, for the office to fix."""
        frame = pd.DataFrame(self.geocode_review or [], columns=REVIEW_COLUMNS)
        relative_paths(frame, base).to_csv(path, index=False, encoding="utf-8-sig", float_format="%.6f")
        return path

    def summary(self) -> dict[str, int]:
        """Number of problems per file."""
        return self.frame().groupby("file").size().to_dict() if self.rows else {}


def relative_paths(value: Any, base: Path | None) -> Any:
    """``value`` with every absolute path text made relative to ``base`` (the study-area file's folder).

    Outputs are handed on (to a street office, a report); the analyst's own folders have no place in
    them. Dicts, lists and DataFrame text columns are walked; each distinct text is tested once.
    """
    if base is None:
        return value
    if isinstance(value, str):
        return Path(os.path.relpath(value, base)).as_posix() if os.path.isabs(value) and len(value) > 1 else value
    if isinstance(value, Path):
        return relative_paths(str(value), base)
    if isinstance(value, dict):
        return {relative_paths(k, base): relative_paths(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relative_paths(v, base) for v in value)
    if isinstance(value, pd.DataFrame):
        out = value.copy()
        text = [pd.api.types.is_object_dtype(t) or pd.api.types.is_string_dtype(t) for t in out.dtypes]
        for name in out.columns[text]:
            if name == "geometry":
                continue
            distinct = pd.unique(out[name].dropna().to_numpy(object))
            paths = {v: relative_paths(v, base) for v in distinct if isinstance(v, str) and os.path.isabs(v)}
            if paths:
                out[name] = out[name].replace(paths)
        return out
    return value


def _reason(report: InputReport, geom: BaseGeometry) -> str:
    """Why shapely finds ``geom`` invalid, its kind worded in the report's language (the place kept)."""
    from . import texts

    reason = shapely.is_valid_reason(geom)
    kind, bracket, rest = reason.partition("[")
    key = "input.reason_" + re.sub(r"[^a-z0-9]+", "_", kind.strip().lower())
    return texts.text(report.lang, key) + bracket + rest if key in texts.TEXTS else reason


def what_words(what: str) -> str | tuple[str, dict]:
    """What a file is (``"communities file"``) as an error value: its catalogue entry ``error.what_…``, worded in
    the run's language by :meth:`~servicecircle.errors.ServiceCircleError.worded`, else the words as given."""
    from . import texts

    key = "error.what_" + re.sub(r"[^a-z0-9]+", "_", what.lower()).strip("_")
    return (key, {}) if key in texts.TEXTS else what


def _need_file(path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise InputError(key="error.file_not_found", what=what_words(what), path=path)
    return Path(path)


def decode_text(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes with ``encoding``, else the first of :data:`TEXT_ENCODINGS` that fits."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for enc in ([encoding] if encoding else TEXT_ENCODINGS):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    tried = encoding or ", ".join(TEXT_ENCODINGS)
    raise InputError(key="error.text_encoding", path=path, tried=tried)


def read_table(path: Path, *, what: str = "table", encoding: str | None = None,
               sheet: str | int | None = None) -> pd.DataFrame:
    """A CSV or XLSX table as strings, with a ``_row`` column numbering rows as the user sees them.

    CSV: UTF-8 (with or without BOM), GBK/GB18030 or UTF-16 are recognised;
    the delimiter (comma, tab, semicolon) is sniffed. XLSX: the first sheet
    unless ``sheet`` names one.
    """
    path = _need_file(Path(path), what)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(key="error.cannot_read_xlsx", path=path, problem=exc) from None
        frame = frame.fillna("")
    elif suffix in (".csv", ".txt", ".tsv"):
        text, _ = decode_text(path.read_bytes(), path, encoding)
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
            sep = dialect.delimiter
        except csv.Error:
            sep = ","
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
        except Exception as exc:  # noqa: BLE001
            raise InputError(key="error.cannot_read_csv", path=path, problem=exc) from None
    else:
        raise InputError(key="error.table_suffix", path=path, what=what_words(what), suffix=suffix)
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in frame.columns:  # one vectorised strip per column (every cell is text here)
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].str.strip()
    frame["_row"] = np.arange(len(frame)) + 2  # header is row 1
    return frame.reset_index(drop=True)


def _dbf_encoding(path: Path) -> str | None:
    """Encoding for a shapefile without a ``.cpg``: decode its records as UTF-8, else GB18030.

    GDAL falls back to the .dbf language byte, which Chinese exports leave as
    "ANSI" (Latin-1 to GDAL) — that turns GBK names into mojibake.
    """
    dbf = path.with_suffix(".dbf")
    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists() or not dbf.exists():
        return None
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little")
    records = data[header_len:]
    for enc in ("utf-8", "gb18030"):
        try:
            records.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return None


def read_vector(path: str | Path, *, what: str, coord_system: str = "wgs84", encoding: str | None = None,
                report: InputReport | None = None, polygons: bool = False) -> gpd.GeoDataFrame:
    """A vector file (GeoJSON, Shapefile, GeoPackage …) in WGS-84, with a ``_row`` column.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for messages ("communities file").
    coord_system : {"wgs84", "gcj02", "bd09"}
        The datum its degrees are in. Chinese web-map boundaries are GCJ-02 or
        BD-09 even when the file itself says EPSG:4326.
    encoding : str, optional
        Text encoding; by default the file's own, and for a shapefile without
        ``.cpg`` UTF-8 else GB18030.
    report : InputReport, optional
        Receives empty and repaired geometries.
    polygons : bool
        Repair invalid polygons (``make_valid``) and drop non-areal parts.
    """
    path = _need_file(Path(path), what)
    enc = encoding or _dbf_encoding(path)
    try:
        gdf = gpd.read_file(path, engine="pyogrio", **({"encoding": enc} if enc else {}))
    except Exception as exc:  # noqa: BLE001
        raise InputError(key="error.cannot_read", path=path, what=what_words(what), problem=exc) from None
    gdf["_row"] = np.arange(len(gdf)) + 1
    if gdf.crs is None:
        bounds = gdf.total_bounds if len(gdf) else np.zeros(4)
        if not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
            raise InputError(key="error.no_crs", path=path, what=what_words(what))
        log.warning("%s declares no CRS; reading its degrees as %s", path, coord_system,
                    extra=texts.logged("log.no_crs", path=path, system=coord_system))
        gdf = gdf.set_crs(WGS84)
    gdf = gdf.to_crs(WGS84)
    gdf["geometry"] = coords.geometry_to_wgs84(gdf.geometry.values, coord_system)
    report = report if report is not None else InputReport()
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    for row in gdf.loc[empty, "_row"]:
        report.say(path, row, "geometry", "empty_geometry", "dropped")
    gdf = gdf[~empty.to_numpy()]
    if polygons and len(gdf):
        invalid = ~gdf.geometry.is_valid
        for row, geom in zip(gdf.loc[invalid, "_row"], gdf.geometry[invalid]):
            report.add(path, row, "geometry", report.text("invalid_polygon", reason=_reason(report, geom)),
                       report.text("repaired"))
        fixed = shapely.make_valid(gdf.geometry.values)
        # make_valid may return a collection with stray lines; keep the areas.
        gdf["geometry"] = [_areal(g) for g in fixed]
        bad = gdf.geometry.is_empty
        for row in gdf.loc[bad, "_row"]:
            report.say(path, row, "geometry", "no_area", "dropped")
        gdf = gdf[~bad.to_numpy()]
    return gdf.reset_index(drop=True)


def _areal(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in getattr(geom, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
