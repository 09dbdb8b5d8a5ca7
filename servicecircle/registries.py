"""Facility registries: the civil-affairs / health-commission lists street offices actually hold.

A registry is a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX or GeoJSON
table, one facility a row. Columns are recognised from their Chinese or
English headers (:data:`COLUMN_ALIASES`), or mapped in the config. Each row
is validated; problems go to the :class:`~servicecircle.inputs.InputReport`
and the usable rows become facilities in the same shape as the OSM ones,
carrying their capacities (beds, nursery places, meals a day) and attributes
(affordable 普惠, ownership 性质).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import coords, inputs, sheets, texts
from .config import CAPACITY_FIELDS, Category, Registry
from .coords import WGS84
from .errors import InputError
from .sheets import header_key

if TYPE_CHECKING:
    from .webmap import Client


@dataclass(frozen=True)
class GeocodeSetup:
    """How address-only rows are geocoded: the client, the city sent with each address, the coarsest level used."""

    client: Client
    city: str | None = None
    min_precision: str = "poi"
    #: The study area (WGS-84): a geocoded point outside it is a namesake elsewhere, not used. None: not checked.
    area: Any = None

#: Canonical field → header spellings recognised (compared after removing
#: spaces, brackets with units, and case).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "机构名称", "设施名称", "单位名称", "服务机构名称", "name", "facility_name"),
    "category": ("类别", "类型", "设施类型", "机构类型", "设施类别", "服务类型", "category", "type", "kind"),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "lnglat": ("坐标", "经纬度", "lnglat", "lonlat", "coordinates", "location"),
    "address": ("地址", "详细地址", "机构地址", "address", "addr"),
    "beds": ("床位", "床位数", "养老床位", "beds"),
    "nursery_places": ("托位", "托位数", "places", "nursery_places"),
    "meals_per_day": ("餐位", "餐位数", "日供餐", "日供餐能力", "日供餐量", "meals", "meals_per_day"),
    "affordable": ("普惠", "是否普惠", "普惠性", "affordable"),
    "ownership": ("性质", "机构性质", "运营性质", "举办性质", "ownership"),
    "floor_area_m2": ("建筑面积", "面积", "floor_area", "floor_area_m2"),
    "registry_id": ("编号", "机构编号", "id", "code", "registry_id"),
    # The community / street a row names: evidence for the datum check (servicecircle.datumcheck).
    "community": ("社区", "所属社区", "社区名称", "community"),
    "street": ("街道", "所属街道", "乡镇街道", "street"),
}

ATTRIBUTE_FIELDS = ("address", "affordable", "ownership", "registry_id")

#: Category words of Chinese plans and registries → built-in category keys. A value is read
#: as the word it equals, else the longest of these words it contains (社区养老驿站（嵌入式）
#: → 养老驿站), else a category's own keywords. A value may also be a category key or label.
CATEGORY_VALUES: dict[str, str] = {
    "养老服务中心": "elder_care", "综合养老服务中心": "elder_care", "街道综合养老服务中心": "elder_care",
    "区域养老服务中心": "elder_care", "社区养老服务中心": "elder_care", "居家养老服务中心": "elder_care",
    "日间照料中心": "elder_care", "日间照料": "elder_care", "社区日间照料中心": "elder_care",
    "老年人日间照料中心": "elder_care", "日间照料站": "elder_care", "日照中心": "elder_care",
    "养老院": "elder_care", "敬老院": "elder_care", "养老机构": "elder_care", "护理院": "elder_care",
    "养护院": "elder_care", "老年公寓": "elder_care", "托老所": "elder_care", "农村幸福院": "elder_care",
    "养老服务站": "elder_care", "社区养老服务站": "elder_care", "居家养老服务站": "elder_care",
    "养老服务驿站": "elder_care", "社区养老驿站": "elder_care", "养老驿站": "elder_care",
    "社区养老服务驿站": "elder_care", "嵌入式养老": "elder_care", "长者服务站": "elder_care",
    "老年食堂": "canteen", "助餐点": "canteen", "老年助餐点": "canteen", "长者食堂": "canteen",
    "长者饭堂": "canteen", "老人食堂": "canteen", "老年助餐": "canteen", "助餐": "canteen",
    "老年助餐服务点": "canteen", "助餐服务点": "canteen", "社区助餐点": "canteen", "助餐站": "canteen",
    "老年餐桌": "canteen", "为老助餐": "canteen",
    "托育机构": "nursery", "托育": "nursery", "托育中心": "nursery", "托育园": "nursery", "托儿所": "nursery",
    "托育服务机构": "nursery", "婴幼儿照护服务机构": "nursery", "托育点": "nursery", "托育服务中心": "nursery",
    "社区托育点": "nursery", "普惠托育": "nursery", "托班": "nursery",
    "社区卫生服务中心": "health_centre", "社区卫生服务站": "health_centre", "卫生院": "health_centre",
    "诊所": "health_centre", "医院": "health_centre",
}

#: Words that name something else, looked at before the category words: a value holding one is
#: no facility of ours (老年大学 is a school, 人民食堂 a restaurant, 妇幼保健院 a hospital), unless
#: the registry's ``category_values`` says it is. The value is what it is (a ``sheet.what_*`` text).
NOT_A_CATEGORY: dict[str, str] = {
    "老年大学": "school", "老年学校": "school", "老年开放大学": "school",
    "妇幼保健院": "hospital", "妇幼保健所": "hospital", "妇幼保健计划生育服务中心": "hospital",
    "人民食堂": "restaurant", "职工食堂": "restaurant", "学生食堂": "restaurant",
    "幼儿园": "kindergarten",
}

_YES = {"是", "有", "普惠", "普惠性", "y", "yes", "true", "1", "t"}
_NO = {"否", "无", "非普惠", "n", "no", "false", "0", "f"}
_NUMBER = re.compile(r"^[^\d\-+]*([-+]?\d+(?:\.\d+)?)\s*(张|个|人|份|餐|m2|㎡|平方米|平米)?\s*$")
_BRACKETS = re.compile(r"[（(\[【].*?[)）\]】]")
_NOT_WORD = re.compile(r"[^\w]+")


def normalise_name(name: str) -> str:
    """Name as compared for merging and duplicates: NFKC, no brackets, spaces or punctuation."""
    return _NOT_WORD.sub("", _BRACKETS.sub("", unicodedata.normalize("NFKC", str(name)))).lower()


def names_match(a: str, b: str) -> bool:
    """Equal normalised names, or one containing the other when the shorter has ≥ 4 characters."""
    a, b = normalise_name(a), normalise_name(b)
    if not a or not b:
        return False
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and short in long_)


def recognise_columns(headers: list[str], explicit: dict[str, str]) -> dict[str, str]:
    """Canonical field → header of the file, from the config's mapping first, then the aliases."""
    found = {field: col for field, col in explicit.items() if col in headers}
    keyed = {header_key(h): h for h in headers}
    for field, aliases in COLUMN_ALIASES.items():
        if field in found:
            continue
        for alias in aliases:
            if header_key(alias) in keyed:
                found[field] = keyed[header_key(alias)]
                break
    return found


def category_of(value: str, categories: dict[str, Category], explicit: dict[str, str]) -> str | None:
    """The category (key of ``categories``) a registry's category value means, or None."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    if text in explicit:
        return explicit[text]
    for key, cat in categories.items():
        if text in (key, cat.label):
            return key
    if not_a_category(text):
        return None
    mapped = CATEGORY_VALUES.get(text)
    if mapped in categories:
        return mapped
    words = category_words_in(text, categories)
    if words:
        return words[0]
    for key, cat in categories.items():
        if any(k in text for k in cat.keywords) and not any(k in text for k in cat.exclude_keywords):
            return key
    return None


def not_a_category(value: str) -> str | None:
    """What a value names instead of a facility of ours (a :data:`NOT_A_CATEGORY` kind), or None."""
    text = unicodedata.normalize("NFKC", value)
    return next((what for word, what in NOT_A_CATEGORY.items() if word in text), None)


def category_words_in(value: str, categories: dict[str, Category]) -> list[str]:
    """The categories whose :data:`CATEGORY_VALUES` words ``value`` contains, the longest word's first."""
    text = unicodedata.normalize("NFKC", value)
    found = sorted(((len(w), k) for w, k in CATEGORY_VALUES.items() if w in text and k in categories), reverse=True)
    return list(dict.fromkeys(k for _, k in found))


def category_words(keys: Iterable[str]) -> dict[str, list[str]]:
    """Category key → the :data:`CATEGORY_VALUES` words read as it, for the categories ``keys``.

    The template's instructions list them, so an office writes a word the reader knows.
    """
    wanted = list(keys)
    return {k: [w for w, c in CATEGORY_VALUES.items() if c == k] for k in wanted
            if any(c == k for c in CATEGORY_VALUES.values())}


def _number(text: str) -> float | None | str:
    """A capacity cell: float, None when blank, or the text itself when unreadable."""
    if text is None or str(text).strip() == "":
        return None
    found = _NUMBER.match(unicodedata.normalize("NFKC", str(text)).replace(",", ""))
    return float(found.group(1)) if found else str(text)


def _registry_table(spec: Registry, report: inputs.InputReport, *, can_geocode: bool = False
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The registry's rows as text and its recognised columns (canonical field → header)."""
    path = spec.path
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        gdf = inputs.read_vector(path, what="facility registry", coord_system="wgs84", encoding=spec.encoding,
                                 report=report)
        text_columns = {c: str for c in gdf.columns if c not in ("geometry", "_row")}
        table = pd.DataFrame(gdf.drop(columns="geometry")).astype(text_columns)
        table = table.replace({"None": "", "nan": ""})
        pts = shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.values))
        # A GeoJSON's own geometry is degrees in the declared system, like any coordinate column.
        table["_lon"], table["_lat"] = pts[:, 0], pts[:, 1]
    else:
        # Lists as offices have them: title rows, two-row headers, notes and totals (see sheets).
        aliases = {field: (*COLUMN_ALIASES.get(field, ()), *([col] if col else []))
                   for field, col in {**dict.fromkeys(COLUMN_ALIASES, ""), **dict(spec.columns)}.items()}
        table = sheets.read_sheet(path, what="facility registry", aliases=aliases, report=report,
                                  encoding=spec.encoding, sheet=spec.sheet, header_row=spec.header_row)
    explicit = dict(spec.columns)
    for field, col in explicit.items():
        if col not in table.columns:
            report.say(path, None, col, "column_not_in_file", "field_left_blank", field=field)
    cols = recognise_columns([c for c in table.columns if not c.startswith("_")], explicit)
    if "name" not in cols:
        report.say(path, None, "name", "no_name_column", "named_by_row")
    if "category" not in cols and spec.category is None:
        report.say(path, None, "category", "no_category_column", "category_from_name")
    has_xy = "_lon" in table.columns or ("lon" in cols and "lat" in cols) or "lnglat" in cols
    if not has_xy and not (can_geocode and "address" in cols):
        columns = ", ".join(c for c in table.columns if not c.startswith("_"))
        raise InputError(key="error.registry_no_coordinates_geocode" if "address" in cols
                         else "error.registry_no_coordinates", path=path, columns=columns)
    return table, cols


# Long on purpose: every check of a row is one masked array step, reported row by row in the file's order.
def read_registry(spec: Registry, categories: dict[str, Category], report: inputs.InputReport, *,
                  geocoder: GeocodeSetup | None = None) -> gpd.GeoDataFrame:
    """Validated facilities of one registry, as WGS-84 points.

    A row with an address and no coordinates is geocoded with ``geocoder``
    (:func:`servicecircle.geocode.geocode`) and used when the service resolved it
    to ``min_precision`` or finer; the others are reported and listed in the
    report's ``geocode_review``. Without a geocoder such rows are reported and left out.

    Rows with missing or unreadable coordinates, points outside China and
    unknown categories are reported and left out; swapped latitude/longitude
    is reported and used swapped back; duplicates (same category, matching
    name, within 50 m) are reported and the first kept; unreadable capacities
    are reported and left blank.

    Returns
    -------
    GeoDataFrame
        ``facility_id`` (``registry/<file>/<row>/<category>``), ``category``,
        ``name``, ``source`` = "registry", ``registry_file``, ``registry_row``,
        the capacity and attribute fields, ``geocode_level`` (the service's level text
        for a geocoded row, else ""), WGS-84 point geometry.
    """
    path = spec.path
    table, cols = _registry_table(spec, report, can_geocode=geocoder is not None)
    values = dict(spec.category_values)
    n = len(table)
    row_no = table["_row"].to_numpy(np.int64)
    problems: list[tuple] = []  # (position, step, field, problem, action): reported row by row, in order

    def text(field: str) -> pd.Series:
        if field not in cols:
            return pd.Series([""] * n, index=table.index, dtype=object)
        return table[cols[field]].fillna("").astype(str)

    def report_rows(mask: np.ndarray, step: int, field: str | None, problem: str | Callable[..., Any],
                    action: str | Callable[..., Any]) -> None:  # texts, or functions of the row position giving them
        for i in np.flatnonzero(mask):
            problems.append((i, step, field, problem(i) if callable(problem) else problem,
                             action(i) if callable(action) else action))

    names = text("name").to_numpy(dtype=object)
    unnamed = names == ""
    report_rows(unnamed, 0, cols.get("name", "name"), report.text("missing_name"), report.text("kept_named_by_row"))
    names[unnamed] = [report.text("row_name", file=path.name, row=r) for r in row_no[unnamed]]
    # Category: the file's column, else the registry's fixed category, else the name.
    raw_cat = text("category").to_numpy(dtype=object)
    from_column = raw_cat != ""
    raw = np.where(from_column, raw_cat, spec.category or "")
    raw = np.where(from_column | (spec.category is not None), raw, names)
    meaning = {v: category_of(v, categories, values) for v in pd.unique(raw[from_column | (spec.category is None)])}
    cat = np.array([meaning[v] if (f or spec.category is None) else spec.category
                    for v, f in zip(raw, from_column)], dtype=object) if n else np.array([], dtype=object)
    # The field an unknown category came from: the category column, else the name it was read from.
    cat_field = np.where(from_column, cols.get("category", "category"), cols.get("name", "name"))
    unknown = pd.isna(cat) | (cat == None)  # noqa: E711 - object array of str or None
    lang = report.lang
    unknown_text = {v: report.text("unknown_category", value=v) if not (what := not_a_category(v))
                    else texts.text(lang, "sheet.not_a_category", value=v, what=texts.text(lang, f"sheet.what_{what}"))
                    for v, m in meaning.items() if m is None}
    report_rows(unknown, 1, None, lambda i: unknown_text[raw[i]], texts.text(lang, "sheet.dropped"))
    # A value with words of two categories (日间照料中心（含助餐点）) is read by its longest word, and said so.
    label = {k: c.label for k, c in categories.items()}
    two = {v: words for v, m in meaning.items() if m is not None and v not in values
           and len(words := category_words_in(v, categories)) > 1 and words[0] == m}
    two_rows = ~unknown & np.isin(raw, list(two)) if two else np.zeros(n, bool)
    report_rows(two_rows, 1, None,
                lambda i: texts.text(lang, "sheet.two_categories", value=raw[i], first=label[two[raw[i]][0]],
                                     second=label[two[raw[i]][1]]),
                lambda i: texts.text(lang, "sheet.read_as", category=label[two[raw[i]][0]]))
    alive = ~unknown

    lon, lat, bad_field, bad_text = _lonlat_columns(table, cols, report.text)
    address = text("address").str.strip().to_numpy(dtype=object)
    ask = alive & _no_coordinates(table, cols) & (address != "")
    bad = alive & (bad_field != "") & ~ask
    report_rows(bad, 2, None, lambda i: bad_text[i], report.text("dropped"))
    alive &= ~bad
    level = np.full(n, "", dtype=object)
    if ask.any() and geocoder is None:
        report_rows(ask, 2, cols["address"], lambda i: report.text("address_only", address=address[i]),
                    report.text("needs_geocoder"))
        alive &= ~ask
    elif ask.any() and geocoder is not None:
        used = _geocode_rows(geocoder, ask, address, names, row_no, path, report, report_rows, lon, lat, level,
                             cols["address"])
        alive &= ~ask | used
        level[ask & ~used] = ""
    inside, flipped = coords.in_china(lon, lat), coords.in_china(lat, lon)
    swapped = alive & ~inside & flipped
    report_rows(
        swapped, 3, "lon/lat", lambda i: report.text("swapped", lon=lon[i], lat=lat[i]), report.text("used_swapped")
    )
    lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    outside = alive & ~coords.in_china(lon, lat)
    report_rows(outside, 4, "lon/lat", lambda i: report.text("outside_china", lon=lon[i], lat=lat[i]),
                report.text("dropped"))
    alive &= ~outside

    out = {"category": cat, "name": names, "registry_row": row_no}
    for k, field in enumerate(CAPACITY_FIELDS):
        cell = text(field)
        number = pd.to_numeric(cell.str.normalize("NFKC").str.replace(",", "", regex=False)
                               .str.extract(_NUMBER.pattern, expand=False)[0], errors="coerce").to_numpy(float)
        unreadable = alive & (cell.str.strip() != "").to_numpy() & np.isnan(number)
        negative = alive & (number < 0)
        report_rows(unreadable | negative, 5 + k, cols.get(field),
                    lambda i, c=cell, v=number: report.text("not_a_number", value=v[i] if v[i] < 0 else c.iat[i]),
                    report.text("left_blank"))
        out[field] = np.where(unreadable | negative, np.nan, number)
    for field in ("address", "ownership", "registry_id", "community", "street"):
        out[field] = text(field).to_numpy(dtype=object)
    flag = text("affordable")
    key = flag.str.strip().str.lower()
    yes, no = key.isin(_YES).to_numpy(), key.isin(_NO).to_numpy()
    unclear = alive & (flag != "").to_numpy() & ~yes & ~no
    report_rows(unclear, 5 + len(CAPACITY_FIELDS), cols.get("affordable"),
                lambda i: report.text("not_yes_no", value=flag.iat[i]), report.text("left_blank"))
    # None as a 0-d object array: numpy's stubs take no bare None as a choice (the result is the same).
    out["affordable"] = np.where(yes, True, np.where(no, False, np.array(None, dtype=object))).astype(object)
    out["lon"], out["lat"], out["geocode_level"] = lon, lat, level
    for i, step, field, problem, action in sorted(problems, key=lambda p: (p[0], p[1])):
        if field is None:  # the category or coordinate field, given with the problem
            field = cat_field[i] if step == 1 else bad_field[i]
        report.add(path, row_no[i], field, problem, action)
    frame = pd.DataFrame(out)[alive].reset_index(drop=True)
    frame = frame.reindex(columns=["category", "name", "registry_row", *CAPACITY_FIELDS, "address", "ownership",
                                   "registry_id", "community", "street", "affordable", "geocode_level", "lon",
                                   "lat"])
    wlon, wlat = coords.to_wgs84(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spec.coord_system)
    geocoded = (frame["geocode_level"] != "").to_numpy()  # already WGS-84: the geocoder converted them
    wlon = np.where(geocoded, frame["lon"].to_numpy(float), wlon)
    wlat = np.where(geocoded, frame["lat"].to_numpy(float), wlat)
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(wlon, wlat), crs=WGS84)
    aff = gdf["affordable"]
    gdf["nursery_places_affordable"] = np.where(aff.eq(True), gdf["nursery_places"],
                                                np.where(aff.eq(False), 0.0, np.nan)).astype(float)
    gdf = _drop_duplicates(gdf, path, report)
    gdf.insert(
        0, "facility_id", [f"registry/{path.name}/{r}/{c}" for r, c in zip(gdf["registry_row"], gdf["category"])]
    )
    gdf["source"] = "registry"
    gdf["registry_file"] = str(path)
    gdf["coord_system"] = spec.coord_system
    gdf["affordable"] = gdf["affordable"].astype(object)
    return gdf.reset_index(drop=True)


def _no_coordinates(table: pd.DataFrame, cols: dict[str, str]) -> np.ndarray:
    """Rows with every coordinate cell blank (a GeoJSON's rows never are: they have their geometry)."""
    if "_lon" in table.columns:
        return np.zeros(len(table), bool)
    filled = np.zeros(len(table), bool)
    for field in ("lon", "lat", "lnglat"):
        if field in cols:
            filled |= (table[cols[field]].fillna("").astype(str).str.strip() != "").to_numpy()
    return ~filled


def _geocode_rows(geocoder: GeocodeSetup, ask: np.ndarray, address: np.ndarray, names: np.ndarray,
                  row_no: np.ndarray, path: Path, report: inputs.InputReport, report_rows: Callable[..., None],
                  lon: np.ndarray, lat: np.ndarray, level: np.ndarray, field: str) -> np.ndarray:
    """Geocode the rows ``ask``, writing WGS-84 ``lon``/``lat`` and ``level`` in place; the rows used.

    A row not found, coarser than ``min_precision`` or outside the study area gets an input-report
    line (through ``report_rows``) and a line of the report's ``geocode_review``.
    """
    from . import geocode

    client = geocoder.client
    where = np.flatnonzero(ask)
    found = geocode.geocode(client, addresses=list(address[where]), city=geocoder.city)
    lon[where], lat[where] = found["lon"].to_numpy(float), found["lat"].to_numpy(float)
    level[where] = found["level"].to_numpy(dtype=object)
    fine = found["precision"].map(lambda p: geocode.precise_enough(p, geocoder.min_precision)).to_numpy(bool)
    has = np.isfinite(found["lon"].to_numpy(float))
    inside = np.ones(len(where), bool)
    if geocoder.area is not None:
        inside = ~has | shapely.covers(geocoder.area, shapely.points(lon[where], lat[where]))
    used = np.zeros(len(ask), bool)
    used[where] = has & fine & inside
    why = {i: (report.text("geocode_not_found", service=client.service, address=address[i]) if not h
               else report.text("geocoded_outside_area", lon=lon[i], lat=lat[i]) if not ok_area
               else report.text("geocoded_coarse", service=client.service, level=level[i] or "?",
                                min_precision=geocoder.min_precision))
           for i, h, ok_area in zip(where, has, inside) if not used[i]}
    report_rows(ask & ~used, 2, field, lambda i: why[i], report.text("see_geocode_review"))
    review = report.geocode_review if report.geocode_review is not None else []
    review.extend({"file": str(path), "row": int(row_no[i]), "name": names[i], "address": address[i],
                   "service": client.service, "level": level[i], "lon": lon[i], "lat": lat[i], "why": why[i]}
                  for i in sorted(why))
    report.geocode_review = review
    return used


def _lonlat_columns(table: pd.DataFrame, cols: dict[str, str],
                    say: Callable[..., str]) -> tuple[np.ndarray, ...]:
    """Coordinates of every row, and for unusable ones the field and the problem (else "").

    Returns ``(lon, lat, field, problem)``: a GeoJSON's own points, else the
    经度/纬度 pair where either is filled, else the one-cell 坐标 "lng,lat". ``say`` words a problem
    (:meth:`InputReport.text`).
    """
    n = len(table)
    lon, lat = np.zeros(n), np.zeros(n)
    field = np.full(n, "", dtype=object)
    problem = np.full(n, "", dtype=object)

    def fail(mask: np.ndarray, where: str, text: str | np.ndarray) -> None:
        mask = mask & (field == "")
        field[mask] = where
        problem[mask] = text[mask] if isinstance(text, np.ndarray) else text

    def parse(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        clean = values.fillna("").astype(str).str.normalize("NFKC").str.strip()
        number = pd.to_numeric(clean, errors="coerce").to_numpy(float)
        return number, clean.to_numpy(dtype=object)

    if "_lon" in table.columns:
        lon = pd.to_numeric(table["_lon"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(table["_lat"], errors="coerce").to_numpy(float)
        fail(~np.isfinite(lon), "geometry", say("missing_point"))
        return lon, lat, field, problem
    pair = np.zeros(n, bool)
    if "lon" in cols and "lat" in cols:
        raw_lon, raw_lat = table[cols["lon"]].fillna("").astype(str), table[cols["lat"]].fillna("").astype(str)
        pair = ((raw_lon != "") | (raw_lat != "")).to_numpy()
        for raw, name, target in ((raw_lon, cols["lon"], lon), (raw_lat, cols["lat"], lat)):
            number, clean = parse(raw)
            fail(pair & (clean == ""), name, say("missing_coordinate"))
            fail(pair & ~np.isfinite(number), name,
                 np.array([say("not_a_number", value=t) for t in raw.to_numpy(dtype=object)], dtype=object))
            target[pair] = number[pair]
    rest = ~pair
    if "lnglat" in cols:
        text = table[cols["lnglat"]].fillna("").astype(str).str.normalize("NFKC")
        parts = text.str.strip().str.split(r"[,\s;]+", regex=True).map(lambda p: [x for x in p if x])
        two = (parts.map(len) == 2).to_numpy()
        shown = text.to_numpy(dtype=object)
        fail(rest & ~two, cols["lnglat"],
             np.array([say("expected_lnglat", value=t) if t else say("missing_coordinates") for t in shown],
                      dtype=object))
        for k, target in ((0, lon), (1, lat)):
            part = parts.map(lambda p, k=k: p[k] if len(p) == 2 else "")
            number, clean = parse(part)
            fail(rest & two & ~np.isfinite(number), cols["lnglat"],
                 np.array([say("not_a_number", value=t) for t in part.to_numpy(dtype=object)], dtype=object))
            target[rest & two] = number[rest & two]
    else:
        fail(rest, cols.get("lon", "lon"), say("missing_coordinates"))
    return lon, lat, field, problem


def _drop_duplicates(
    gdf: gpd.GeoDataFrame, path: Path, report: inputs.InputReport, within_m: float = 50.0
) -> gpd.GeoDataFrame:
    """Keep the first of rows with the same category and matching names within ``within_m``."""
    if len(gdf) < 2:
        return gdf
    utm = gdf.to_crs(coords.utm_crs(*np.asarray(gdf.total_bounds).reshape(2, 2).T))
    left, right = utm.sindex.query(utm.geometry.values, predicate="dwithin", distance=within_m)
    category = gdf["category"].to_numpy(dtype=object)
    near = (left < right) & (category[left] == category[right])  # only these can be duplicates
    dropped: set[int] = set()
    for i, j in sorted(zip(left[near].tolist(), right[near].tolist())):
        if i in dropped or j in dropped:
            continue
        if names_match(gdf["name"].iat[i], gdf["name"].iat[j]):
            dropped.add(j)
            report.say(path, gdf["registry_row"].iat[j], "name", "duplicate_of", "dropped",
                       row=gdf["registry_row"].iat[i], name=gdf["name"].iat[i])
    return gdf.drop(index=gdf.index[sorted(dropped)])


def merge_with_osm(osm_facilities: gpd.GeoDataFrame, registry: gpd.GeoDataFrame, distance_m: float, *,
                   own_flags: bool = False) -> gpd.GeoDataFrame:
    """One table of facilities: a registry row and an OSM feature of the same category, within
    ``distance_m`` and with matching names, are one facility (``source`` = "both").

    Registry attributes win, its position included (the registry is the
    authority on what the facility is; the OSM id is kept in ``osm_id``).
    ``own_flags``: ``registry`` is a web-map POI table classified by the category
    rules like OSM: its ``match``/``counted`` (a flagged 幼儿园 stays uncounted) are
    kept, and a merged row's ``source`` says both ("amap+osm").
    """
    osm = osm_facilities.copy()
    reg = registry.copy()
    for col in ("osm_type", "osm_id", "match", "flag_note", "footprint_m2"):
        if col not in reg.columns:
            reg[col] = {"osm_id": -1, "footprint_m2": np.nan}.get(col, "")
    if not own_flags:
        reg["match"] = "registry"
        reg["counted"] = True
    for col in [c for c in reg.columns if c not in osm.columns and c != "geometry"]:
        osm[col] = None
    osm["osm_id"] = osm["osm_id"].astype(np.int64)
    if len(osm) and len(reg):
        utm = coords.utm_crs(*np.asarray(reg.total_bounds).reshape(2, 2).T)
        o, r = osm.to_crs(utm), reg.to_crs(utm)
        ri, oi = o.sindex.query(r.geometry.values, predicate="dwithin", distance=distance_m)
        pairs = pd.DataFrame({"r": ri, "o": oi, "d": r.geometry.values[ri].distance(o.geometry.values[oi])})
        pairs = pairs.sort_values(["d", "r", "o"], kind="stable")
        used_r, used_o = set(), set()
        for rr, oo in zip(pairs["r"], pairs["o"]):
            if rr in used_r or oo in used_o:
                continue
            if reg["category"].iat[rr] != osm["category"].iat[oo] or not names_match(
                reg["name"].iat[rr], osm["name"].iat[oo]
            ):
                continue
            used_r.add(rr)
            used_o.add(oo)
            for col in ("osm_type", "osm_id", "footprint_m2"):
                reg.iat[rr, reg.columns.get_loc(col)] = osm[col].iat[oo]
            source = reg.columns.get_loc("source")
            reg.iat[rr, source] = f"{reg['source'].iat[rr]}+{osm['source'].iat[oo]}" if own_flags else "both"
        osm = osm.drop(index=osm.index[sorted(used_o)])
    reg["osm_id"] = reg["osm_id"].astype(np.int64)
    cols = list(dict.fromkeys(list(osm.columns) + [c for c in reg.columns if c != "geometry"]))
    merged = pd.concat([osm.reindex(columns=cols), reg.reindex(columns=cols)], ignore_index=True)
    merged = merged.astype({"counted": bool, "osm_id": np.int64})
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84)
