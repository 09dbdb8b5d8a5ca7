"""The report page of a run (``index.html``): goals, map, charts, scorecard, gaps and methods.

A reviewer judges the analysis from this page alone, often offline on an
intranet, so the page is self-contained: its charts are inline SVG (three
plain charts; a plotting library would add a dependency and, for matplotlib,
font workarounds for Chinese labels), its tables are plain HTML sorted by a
few lines of inline JavaScript, and the map is ``map.html`` beside it in an
``<iframe>``. The page is ``templates/report.html`` (tables and charts in
``report_parts.html``), rendered by :mod:`servicecircle.pages` with autoescape:
this module computes what the page shows (numbers, and texts from the
catalogue :mod:`servicecircle.texts` and from inputs) and escapes nothing itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from . import pages, texts
from .config import Config
from .maps import CATEGORY_COLOURS, TILES, gcj02_display, short_meaning, value_text
from .osm import ATTRIBUTION
from .summary import category_notes

if TYPE_CHECKING:  # annotations only
    from .results import RunResult
    from .siting import SitingResult

#: A scorecard of at most this many street and community rows is shown whole (the samples' are ~2,000).
PAGE_MAX_SCORECARD_ROWS = 5000
#: Above that, this many of the worst streets and as many communities failing a binding goal.
PAGE_MAX_UNITS = 200
#: Rows of the 医养结合 table shown on the page; the CSV holds all.
PAGE_MAX_ADJACENCY_ROWS = 200
#: Bytes of an OSM XML file read at a time when looking for its newest timestamp.
OSM_READ_BLOCK = 1 << 24

def _l(config: Config, key: str, **values) -> str:
    return texts.text(config.output.lang, f"report.{key}", **values)


# --------------------------------------------------------------------------- charts (inline SVG)

def _el(tag: str, text: str | None = None, title: str | None = None, **attrs) -> dict:
    """An SVG element for ``report_parts.html``'s ``svg`` macro: attributes (``font_size`` → ``font-size``,
    ``class_`` → ``class``) and a text or a ``<title>`` child, both escaped there."""
    return {"tag": tag, "attrs": {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()},
            "text": text, "title": title}


def _axes(width: int, height: int, pad: tuple[int, int, int, int], x_ticks: list[tuple[float, str]],
          y_max: float, y_fmt) -> list[dict]:
    left, right, top, bottom = pad
    parts = [_el("line", x1=left, y1=height - bottom, x2=width - right, y2=height - bottom, stroke="#333"),
             _el("line", x1=left, y1=top, x2=left, y2=height - bottom, stroke="#333")]
    for x, text in x_ticks:
        parts.append(_el("text", text, x=f"{x:.1f}", y=height - bottom + 14, font_size=10, text_anchor="middle"))
    for i in range(5):
        v = y_max * i / 4
        y = height - bottom - (height - top - bottom) * i / 4
        parts += [_el("line", x1=left - 3, y1=f"{y:.1f}", x2=width - right, y2=f"{y:.1f}", stroke="#eee"),
                  _el("text", y_fmt(v), x=left - 5, y=f"{y + 3:.1f}", font_size=10, text_anchor="end")]
    return parts


#: Height of one legend line under a chart, px (11 px text).
LEGEND_LINE_PX = 16


def _text_width_px(text: str, font_px: float = 11.0) -> float:
    """A generous estimate of a text's rendered width: CJK and full-width characters one em, others 0.62 em.

    An SVG cannot wrap or measure its text before it is shown; the estimate
    only has to be at least the real width, so the chart is made wide enough.
    """
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return font_px * (wide + 0.62 * (len(text) - wide))


def _legend_below(names: list[str], plot_height: int, width: int, left: int) -> tuple[list[dict], int, int]:
    """Legend entries one per line under the plot, and the chart's width and height that hold them.

    Beside the plot, a long category name with its 30+ minute count ran past
    the chart's right edge and was cut off; under it each entry has the
    chart's whole width, and the chart grows wider when an entry needs more.
    """
    parts: list[dict] = []
    for i, name in enumerate(names):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        y = plot_height + 6 + LEGEND_LINE_PX * i
        parts += [_el("rect", x=left, y=y, width=10, height=10, fill=colour),
                  _el("text", name, x=left + 14, y=y + 9, font_size=11)]
    needed = max([left + 14 + _text_width_px(n) + 8 for n in names] + [width])
    return parts, int(np.ceil(needed)), plot_height + 6 + LEGEND_LINE_PX * len(names)


def line_chart(series: list[tuple[str, np.ndarray, np.ndarray]], x_label: str, y_fmt: Callable[[float], str],
               chart_id: str,
               x_max: float | None = None, y_max: float | None = None) -> dict:
    """An SVG line chart of ``series`` (name, x, y), for the ``svg`` macro of ``report_parts.html``."""
    width, height, pad = 600, 260, (56, 16, 12, 34)
    left, right, top, bottom = pad
    xs = [s[1] for s in series if len(s[1])]
    ys = [s[2] for s in series if len(s[2])]
    x_hi = x_max if x_max is not None else (max(float(np.max(x)) for x in xs) if xs else 1.0)
    y_hi = y_max if y_max is not None else (max(float(np.max(y)) for y in ys) if ys else 1.0)
    x_hi, y_hi = max(x_hi, 1e-9), max(y_hi, 1e-9)

    def px(x):
        return left + (width - left - right) * np.asarray(x, float) / x_hi

    def py(y):
        return height - bottom - (height - top - bottom) * np.asarray(y, float) / y_hi

    ticks = [(float(px(v)), f"{v:g}") for v in np.linspace(0, x_hi, 7)]
    parts = _axes(width, height, pad, ticks, y_hi, y_fmt)
    parts.append(_el("text", x_label, x=(left + width - right) / 2, y=height - 4, font_size=11, text_anchor="middle"))
    for i, (_, x, y) in enumerate(series):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        if len(x):
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x), py(y)))
            parts.append(_el("polyline", class_="series", fill="none", stroke=colour, stroke_width=2, points=pts))
    legend, full_width, full_height = _legend_below([s[0] for s in series], height, width, left)
    return {"id": chart_id, "width": full_width, "height": full_height, "parts": parts + legend}


def bar_chart(groups: list[str], series: list[tuple[str, np.ndarray]], x_label: str, chart_id: str) -> dict:
    """An SVG grouped bar chart (one bar per series in each group), for the ``svg`` macro."""
    width, height, pad = 600, 260, (40, 16, 12, 34)
    left, right, top, bottom = pad
    y_hi = max([float(np.max(v)) for _, v in series if len(v)] + [1.0])
    n_groups, n_series = len(groups), max(len(series), 1)
    slot = (width - left - right) / max(n_groups, 1)
    bar = slot * 0.8 / n_series
    ticks = [(left + slot * (g + 0.5), label) for g, label in enumerate(groups)]
    parts = _axes(width, height, pad, ticks, y_hi, lambda v: f"{v:,.0f}")
    parts.append(_el("text", x_label, x=(left + width - right) / 2, y=height - 4, font_size=11, text_anchor="middle"))
    for i, (name, values) in enumerate(series):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        for g, v in enumerate(values):
            h = (height - top - bottom) * v / y_hi
            x = left + slot * g + slot * 0.1 + bar * i
            parts.append(_el("rect", title=f"{name}: {v:,.0f}", class_="series", x=f"{x:.1f}",
                             y=f"{height - bottom - h:.1f}", width=f"{bar:.1f}", height=f"{h:.1f}", fill=colour))
    legend, full_width, full_height = _legend_below([s[0] for s in series], height, width, left)
    return {"id": chart_id, "width": full_width, "height": full_height, "parts": parts + legend}


def walk_time_distribution(origins: pd.DataFrame, times: pd.DataFrame, config: Config,
                           max_minutes: int = 30) -> pd.DataFrame:
    """Residents by whole minute of walk to the nearest facility, per category (last row: beyond or unreachable)."""
    w = origins["residents"].to_numpy(float)
    out = {}
    for key in config.categories:
        minutes = times[f"walk_time_s_{key}"].to_numpy(float) / 60.0
        bins = np.where(np.isfinite(minutes), np.minimum(np.floor(minutes), max_minutes), max_minutes).astype(int)
        out[key] = np.bincount(bins, weights=w, minlength=max_minutes + 1)
    return pd.DataFrame(out, index=pd.Index(range(max_minutes + 1), name="minute"))


# --------------------------------------------------------------------------- page

class Cell(NamedTuple):
    """A table cell of the page: its text, its sort value (``data-v``; None: none) and its class."""

    text: str
    v: str | None = None
    cls: str = ""


def _td(value, sort_value=None, cls: str = "") -> Cell:
    return Cell(str(value), None if sort_value is None else str(sort_value), cls)


def _table(head: list[str], rows: list[list[Cell]], sortable: bool = True, scroll: bool = False) -> dict:
    """A table for the ``table`` macro of ``report_parts.html``."""
    return {"head": head, "rows": rows, "sortable": sortable, "scroll": scroll}


def _passed(passed, unknown: str = "–") -> Cell:
    """✔ / ✘, or ``unknown`` (未评估, 未检查) where nothing was assessed: never a failure."""
    if passed is True or passed == True:  # noqa: E712  (numpy bools too)
        return _td("✔", 1, "ok")
    if passed is False or passed == False:  # noqa: E712
        return _td("✘", 0, "fail")
    return _td(unknown, "")


def _goal_rows(config: Config, scorecard: pd.DataFrame, level: str | None) -> list[list[Cell]]:
    kind = texts.section(config.output.lang, "kind.")
    lvl = texts.section(config.output.lang, "level.")
    if config.communities is None:  # the communities are OSM residential compounds
        lvl["community"] = lvl["compound"]
    unknown = texts.text(config.output.lang, "goal.not_assessed")
    part = scorecard if level is None else scorecard[scorecard["level"] == level]
    rows = []
    for r in part.itertuples(index=False):
        value = r.value if isinstance(r.value, float) and np.isfinite(r.value) else ""
        cells = [] if level == "district" else [_td(lvl[r.level]), _td(r.unit_name), _td(r.street_name)]
        rows.append(cells + [_td(r.goal_name), _td(kind[r.kind]), _td(short_meaning(r.meaning)),
                             _td(value_text(r.value, r.unit), value), _td(value_text(r.target, r.unit)),
                             _passed(r.passed, unknown), _td(r.gap_text)])
    return rows


def scorecard_shown(scorecard: pd.DataFrame, *, max_rows: int = PAGE_MAX_SCORECARD_ROWS,
                    max_units: int = PAGE_MAX_UNITS) -> tuple[pd.DataFrame, int, int]:
    """The street and community rows the page shows, and how many rows and units it leaves to the files.

    A scorecard of at most ``max_rows`` such rows is shown whole, in its own
    order. A larger one shows every street (the ``max_units`` worst when
    there are more) and the ``max_units`` worst communities failing a binding
    goal; worst is most binding goals failed, then most goals failed, then
    scorecard order. All in one grouped pass over the rows.

    Returns
    -------
    (DataFrame, int, int)
        The rows shown, the rows left out and the units left out.
    """
    part = scorecard[scorecard["level"] != "district"]
    if len(part) <= max_rows:
        return part, 0, 0
    failed = (part["passed"] == False).to_numpy()  # noqa: E712 - None is "not scored"
    units = pd.DataFrame({"level": part["level"].to_numpy(), "unit_id": part["unit_id"].to_numpy(),
                          "binding": failed & (part["kind"] == "binding").to_numpy(), "any": failed})
    per_unit = units.groupby(["level", "unit_id"], sort=False).sum()  # in scorecard order of first row
    per_unit["order"] = np.arange(len(per_unit))
    ranked = per_unit.sort_values(["binding", "any", "order"], ascending=[False, False, True], kind="stable")
    level = ranked.index.get_level_values("level")
    streets = ranked[level == "street"]
    communities = ranked[(level == "community") & (ranked["binding"] > 0).to_numpy()]
    keep = pd.concat([streets.head(max_units) if len(streets) > max_units else streets,
                      communities.head(max_units)])
    rank = pd.Series(np.arange(len(keep)), index=keep.index)
    at = rank.reindex(pd.MultiIndex.from_arrays([part["level"], part["unit_id"]])).to_numpy()
    shown = part[~np.isnan(at)]
    # Rows of the worst units first, each unit's rows in scorecard order.
    shown = shown.iloc[np.argsort(at[~np.isnan(at)], kind="stable")]
    return shown, len(part) - len(shown), len(per_unit) - len(keep)


def _source_line(config: Config, path: Path | None, what: str, extra: str = "") -> tuple[str, str] | None:
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        return what, texts.text(config.output.lang, "methods.downloaded", name=p.name)
    stamp = dt.date.fromtimestamp(p.stat().st_mtime).isoformat()
    return what, texts.text(
        config.output.lang, "methods.file_dated", name=p.name, date=stamp, mb=p.stat().st_size / 1e6, extra=extra
    )


def _osm_date(path: Path, lang: str = "en") -> str:
    """The newest element timestamp of an OSM XML file, or why there is none."""
    if path.suffix.lower() not in (".osm", ".xml"):
        return ""
    newest = b""
    pattern = re.compile(rb'timestamp="([^"]+)"')
    tail = b""
    with open(path, "rb") as fh:
        # Read in large blocks, not line by line: a city extract has one line per node.
        while block := fh.read(OSM_READ_BLOCK):
            text = tail + block
            newest = max([newest, *pattern.findall(text)])
            tail = text[-64:]  # a timestamp cut by the block boundary is found again with the next block
    stamp = newest.decode("utf-8", "replace")
    return (texts.text(lang, "methods.newest_element", stamp=stamp) if stamp
            else texts.text(lang, "methods.no_timestamps"))


def _web_sources(config: Config, summary: dict, m: Callable[..., str]) -> list[tuple[str, str]]:
    """The methods lines of the web-map POI searches (service, fetch date, POIs) and of the geocoder."""
    rows = []
    for web in (r for r in summary.get("registries", []) if "webmap" in r):
        kept = sum(c["kept"] for c in web["categories"])
        rows.append((m("webmap"), m("webmap_value", service=web["webmap"], date=web["fetched_on"] or "–", kept=kept,
                                    fetched=web["pois"])))
    geocoder = config.facilities.geocoder
    if geocoder is not None:
        geocoded = sum(r.get("rows_geocoded", 0) for r in summary.get("registries", []))
        rows.append((m("geocoder"), m("geocoder_value", service=geocoder.service, rows=geocoded,
                                      precision=geocoder.min_precision)))
    return rows


def _methods(config: Config, summary: dict) -> list[tuple[str, str]]:
    def m(key: str, **values) -> str:
        return texts.text(config.output.lang, f"methods.{key}", **values)

    rows: list = []
    if config.area.data_date:
        rows.append((m("data_date"), config.area.data_date))
    if config.area.osm_file is not None:
        rows.append(
            _source_line(
                config,
                config.area.osm_file,
                "OpenStreetMap",
                _osm_date(config.area.osm_file, config.output.lang) if config.area.osm_file.exists() else "",
            )
        )
    if config.network.roads is not None:
        rows.append(
            _source_line(config, config.network.roads.path, m("roads"), f", {config.network.roads.coord_system}")
        )
    for b, name in ((config.communities, m("communities")), (config.streets, m("streets"))):
        if b is not None:
            rows.append(_source_line(config, b.path, name, f", {b.coord_system}"))
    pop = config.population
    if pop.census_file is not None:
        rows.append(_source_line(config, pop.census_file, m("census"), m("census_code", code=pop.census_code)))
    for src in (pop.table, pop.raster):
        rows.append(_source_line(config, src, m("population_file")))
    for reg in config.facilities.registries:
        rows.append(_source_line(config, reg.path, m("registry"), f", {reg.coord_system}"))
    rows += _web_sources(config, summary, m)
    rows = [r for r in rows if r]
    pm = summary.get("population_method", {})
    method = ", ".join(f"{k.replace('from_', '')} {v:,.0f}" for k, v in pm.items()
                       if k.startswith("from_") and isinstance(v, (int, float)) and v)
    if pm.get("scaled_to"):
        method += m("scaled_to", total=pm["scaled_to"])
    basemap = m("basemap_none") if config.output.basemap == "none" else (
        f"{TILES[config.output.basemap][1]}" + (m("basemap_shifted") if gcj02_display(config) else ""))
    decay = summary.get("capacity_access_decay", {})
    network = summary.get("network", {})
    rows += [
        (
            m("walking_speed"),
            m(
                "speed_value",
                v=config.access.speed_m_s,
                profile=config.access.speed_profile,
                per_category=", ".join(f"{k} {c.speed_m_s:g}" for k, c in config.categories.items()),
            ),
        ),
        (
            m("thresholds"),
            ", ".join(m("threshold_value", t=t) for t in config.access.thresholds_min)
            + m("covered_within", t=config.access.coverage_threshold_min),
        ),
        (
            m("decay"),
            f"{decay.get('decay', config.access.decay)}"
            + (f" {decay['step_weights']}" if decay.get("step_weights") else ""),
        ),
        (m("population"), method or "–"),
        (m("h3"), m("h3_value", r=config.grid.h3_resolution, edge=_h3_edge_m(config.grid.h3_resolution))),
        (m("network"), m("network_value", nodes=network.get("nodes", "–"), edges=network.get("edges", "–"))),
        (m("basemap"), basemap),
        (m("software"), f"servicecircle {version('servicecircle')}"),
        (m("config_hash"), config.config_hash),
        (m("map_data"), ATTRIBUTION),
    ]
    return rows


def _h3_edge_m(res: int) -> float:
    import h3

    return h3.average_hexagon_edge_length(res, "m")


def build_page(result: RunResult, *, siting: SitingResult | None = None, map_name: str = "map.html") -> str:
    """The report page HTML of a run (and of its siting, when given): ``templates/report.html``."""
    config, s = result.config, result.summary
    zh = config.output.lang == "zh"
    sc = result.scorecard

    head = [_l(config, k) for k in ("goal", "kind", "meaning", "value", "target", "passed", "gap")]
    district = _goal_rows(config, sc, "district") if sc is not None and len(sc) else []

    charts = []
    dist = walk_time_distribution(result.origins, result.origin_times, config)
    # The last bin (30+ or unreachable) would dwarf the rest: it is stated in the legend instead.
    beyond = f"≥30 {_l(config, 'minutes')} / {_l(config, 'unreachable')}"
    series = [(f"{config.categories[k].label} ({beyond}: {dist[k].iloc[-1]:,.0f})", np.asarray(dist.index[:-1], float),
               dist[k].to_numpy()[:-1]) for k in dist.columns]
    charts.append({"svg": line_chart(series, _l(config, "minutes"), lambda v: f"{v:,.0f}", "chart-walk-time", x_max=30),
                   "caption": _l(config, "walk_chart")})
    bands = np.linspace(0, 1, 11)
    comm = result.communities
    bar_series = []
    for key in config.categories:
        shares = comm[f"covered_share_{key}"].dropna().to_numpy() if f"covered_share_{key}" in comm else np.array([])
        counts, _ = np.histogram(np.clip(shares, 0, 1), bins=bands)
        bar_series.append((config.categories[key].label, counts))
    groups = [f"{int(a * 100)}–{int(b * 100)}" for a, b in zip(bands[:-1], bands[1:])]
    charts.append({"svg": bar_chart(groups, bar_series, _l(config, "share") + " (%)", "chart-community-coverage"),
                   "caption": _l(config, "comm_chart")})
    if siting is not None:
        curve = siting.curve
        charts.append({"svg": line_chart([(siting.category, curve["k"].to_numpy(float),
                                           curve["covered_share"].to_numpy(float))],
                                         _l(config, "k"), lambda v: f"{v:.0%}", "chart-siting-curve", y_max=1.0),
                       "caption": _l(config, "curve_chart")})

    scorecard = None
    if sc is not None and len(sc):
        shown, more_rows, more_units = scorecard_shown(sc)
        scorecard = {
            "table": _table([_l(config, "level"), _l(config, "unit_name"), _l(config, "street"), *head],
                            _goal_rows(config, shown, None), scroll=True),
            "note": (_l(config, "scorecard_capped", units=PAGE_MAX_UNITS, rows=more_rows, more=more_units)
                     if more_rows else ""),
        }

    return pages.render(
        "report.html",
        config.output.lang,
        html_lang="zh-CN" if zh else "en",
        name=config.area.name,
        map_name=map_name,
        header=f"{s['population_total']:,.0f} {_l(config, 'residents')} · {config.access.speed_m_s:g} m/s · "
        f"{config.access.coverage_threshold_min:g} {_l(config, 'minutes')} · "
        f"{_l(config, 'config')} {config.config_hash}",
        notes=list(category_notes(result.facilities, config, config.output.lang).values()),
        goals=_table(head, district) if district else None,
        charts=charts,
        scorecard=scorecard,
        gaps=_gaps(result, config),
        methods=_methods(config, s),
        sort_assets=pages.asset_tags([pages.SORT_JS], config.output.offline),
    )


def _gaps(result, config: Config) -> dict:
    """The gaps section: capacity-aware access, the largest blind spots and the 医养结合 check."""
    s = result.summary
    out: dict = {"capacity": None, "blind": None, "blind_more": "", "adjacency": None, "adjacency_note": ""}
    # Capacity-aware access per category.
    rows = []
    for c in s["categories"].values():
        fca = c.get("capacity_access")
        if not fca:
            continue
        value = fca.get("district_per_1000")
        rows.append([_td(c["label"]), _td(fca["unit"]), _td("–" if value is None else f"{value:,.2f}", value or ""),
                     _td(fca["facilities_used"]), _td(fca["facilities_without_capacity"]),
                     _td(fca.get("note", "") or "")])
    if rows:
        out["capacity"] = _table([_l(config, "category"), _l(config, "unit"), _l(config, "per1000"), _l(config, "used"),
                                  _l(config, "without"), _l(config, "note_column")], rows)
    spots = result.blind_spots
    rows = []
    # The largest few of each category (spots come ranked within their category).
    for r in spots[spots["rank"] <= 5].itertuples(index=False) if len(spots) else []:
        walk = "" if not np.isfinite(r.nearest_walk_min) else f"{r.nearest_walk_min:.1f}"
        rows.append([_td(config.categories[r.category].label), _td(r.rank), _td(f"{r.residents:,.0f}", r.residents),
                     _td(r.cells), _td(walk or _l(config, "unreachable"), walk),
                     _td(r.nearest_facility_name or r.nearest_facility_id),
                     _td(r.communities + _fallback_note(config, getattr(r, "population_fallback", 0.0)))])
    more = len(spots) - len(rows)
    if rows:
        out["blind"] = _table([_l(config, "category"), "#"] + [_l(config, k) for k in (
            "residents", "cells", "nearest", "nearest_name", "communities")], rows)
    if more > 0:
        out["blind_more"] = _l(config, "blind_more", n=more)
    adj = result.adjacency
    not_checked = texts.text(config.output.lang, "adjacency.not_checked")
    if len(adj):
        capped = len(adj) > PAGE_MAX_ADJACENCY_ROWS
        if capped:
            # Those farthest from health services first: not adjacent, then the longest walk (unmeasured last).
            walk = adj["walk_min_to_health"].to_numpy(float)
            later = adj["adjacent"].to_numpy(bool)  # adjacent, and (below) not checked: after the failures
            if "checked" in adj:
                later = later | ~adj["checked"].to_numpy(bool)
            order = np.lexsort((np.arange(len(adj)), -np.nan_to_num(walk, nan=-np.inf), later))
            adj = adj.iloc[order[:PAGE_MAX_ADJACENCY_ROWS]]
        rows = [
            [
                _td(r.name),
                _td(
                    "" if not np.isfinite(r.walk_min_to_health) else f"{r.walk_min_to_health:.1f}",
                    r.walk_min_to_health if np.isfinite(r.walk_min_to_health) else "",
                ),
                _td(r.nearest_health_name),
                _passed(bool(r.adjacent) if getattr(r, "checked", True) else None, not_checked),
                _td(r.note),
            ]
            for r in adj.itertuples(index=False)
        ]
        out["adjacency"] = _table([_l(config, k) for k in ("facility", "walk", "health", "within",
                                                         "note_column")], rows,
                                  scroll=True)
        if capped:
            out["adjacency_note"] = _l(config, "adjacency_capped", shown=len(adj), n=len(result.adjacency) - len(adj))
    else:
        out["adjacency_note"] = s.get("health_adjacency", {}).get("note", _l(config, "none"))
    return out


def _fallback_note(config: Config, fallback_residents: float) -> str:
    """What a blind spot adds when some of its residents were spread over a streetless community's area."""
    if not np.isfinite(fallback_residents) or fallback_residents < 0.5:
        return ""
    return _l(config, "blind_fallback", n=f"{fallback_residents:,.0f}")


def write_page(result: RunResult, siting: SitingResult | None = None) -> Path:
    """Write ``index.html`` into the run's output folder."""
    path = Path(result.config.output.out_dir) / "index.html"
    path.write_text(build_page(result, siting=siting), encoding="utf-8")
    return path
