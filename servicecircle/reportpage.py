"""The report page of a run (``index.html``): goals, map, charts, scorecard, gaps and methods.

A reviewer judges the analysis from this page alone, often offline on an
intranet, so the page is self-contained: its charts are inline SVG written
here (three plain charts; a plotting library would add a dependency and,
for matplotlib, font workarounds for Chinese labels), its tables are plain
HTML sorted by a few lines of inline JavaScript, and the map is
``map.html`` beside it in an ``<iframe>``. Every text from inputs is escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .goals import KIND_ZH, LEVEL_ZH
from .maps import SORT_JS, TILES, value_text, gcj02_display

LABELS = {
    "zh": {
        "title": "一刻钟服务圈评估报告", "goals": "目标与现状（全区）", "map": "地图", "open_map": "全屏打开地图",
        "charts": "图表", "walk_chart": "各类设施步行时间分布（居民数，按分钟）",
        "comm_chart": "社区覆盖率分布（社区数，按15分钟覆盖居民比例）", "curve_chart": "选址覆盖曲线（新增点位数 → 覆盖比例）",
        "scorecard": "街道与社区评估表（点击表头排序）", "gaps": "缺口", "blind": "盲区（每类最大的5处）",
        "adjacency": "医养结合：养老设施到最近卫生服务设施的步行时间", "capacity": "按容量的可达性（2SFCA）",
        "methods": "方法与数据", "found": "设施数据情况", "goal": "指标", "kind": "性质", "meaning": "口径",
        "value": "现状", "target": "目标", "passed": "达标", "gap": "差距", "unit": "单位", "level": "层级",
        "category": "类别", "residents": "居民", "cells": "网格数", "nearest": "最近步行（分钟）",
        "nearest_name": "最近设施", "communities": "涉及社区", "facility": "设施", "walk": "步行（分钟）",
        "health": "最近卫生服务设施", "within": "邻近", "per1000": "每千人（需求人群）", "used": "纳入设施",
        "without": "无容量数据", "none": "无", "minutes": "分钟", "unreachable": "不可达", "share": "覆盖比例",
        "count": "社区数", "k": "新增点位", "no_blind": "无盲区", "no_capacity": "无容量数据：需导入含床位/托位/供餐数的登记表",
        "scorecard_capped": "评估表较大：此处列出各街道（多于{units}个时为最差的{units}个）和未达约束性指标最严重的至多{units}个社区"
                            "（按未达约束性指标数、再按未达指标数排序）；另有{rows:,}行（{more:,}个单位）见 scorecard.xlsx / scorecard.csv。",
        "blind_more": "另有{n:,}处盲区见 blind_spots.csv。",
        "adjacency_capped": "此处列出{shown:,}个设施（先列不邻近的，步行最远者在前）；另有{n:,}个见 health_adjacency.csv。",
    },
    "en": {
        "title": "15-minute service circle report", "goals": "Goals versus actual (district)", "map": "Map",
        "open_map": "open the map full screen", "charts": "Charts",
        "walk_chart": "Walk time to the nearest facility (residents by minute)",
        "comm_chart": "Coverage by community (communities by share of residents within 15 min)",
        "curve_chart": "Siting curve (new sites → covered share)",
        "scorecard": "Street and community scorecard (click a header to sort)", "gaps": "Gaps",
        "blind": "Blind spots (5 largest of each category)", "adjacency": "医养结合: walk from each elder-care facility to the nearest health centre",
        "capacity": "Capacity-aware access (2SFCA)", "methods": "Methods and data", "found": "What the data holds",
        "goal": "goal", "kind": "kind", "meaning": "meaning", "value": "actual", "target": "target",
        "passed": "met", "gap": "gap", "unit": "unit", "level": "level", "category": "category",
        "residents": "residents", "cells": "cells", "nearest": "nearest walk (min)", "nearest_name": "nearest facility",
        "communities": "communities", "facility": "facility", "walk": "walk (min)", "health": "nearest health centre",
        "within": "adjacent", "per1000": "per 1,000 of the demand group", "used": "facilities used",
        "without": "without capacity", "none": "none", "minutes": "min", "unreachable": "unreachable",
        "share": "covered share", "count": "communities", "k": "new sites", "no_blind": "no blind spot",
        "no_capacity": "no capacities: load a registry with beds / places / meals",
        "scorecard_capped": "The scorecard is large: shown are the streets (the {units} worst when there are more) "
                            "and at most {units} communities failing a binding goal, worst first (most binding goals "
                            "failed, then most goals failed); {rows:,} more rows ({more:,} units) are in "
                            "scorecard.xlsx / scorecard.csv.",
        "blind_more": "{n:,} more blind spots are in blind_spots.csv.",
        "adjacency_capped": "Shown are {shown:,} facilities (those not adjacent first, longest walk first); "
                            "{n:,} more are in health_adjacency.csv.",
    },
}
KIND_EN = {"binding": "binding", "advisory": "advisory"}
LEVEL_EN = {"district": "district", "street": "street", "community": "community"}
PALETTE = ["#6a3d9a", "#ff7f00", "#1f78b4", "#33a02c", "#b15928", "#e31a1c", "#a6cee3"]

#: A scorecard of at most this many street and community rows is shown whole (the samples' are ~2,000).
PAGE_MAX_SCORECARD_ROWS = 5000
#: Above that, this many of the worst streets and as many communities failing a binding goal.
PAGE_MAX_UNITS = 200
#: Rows of the 医养结合 table shown on the page; the CSV holds all.
PAGE_MAX_ADJACENCY_ROWS = 200
#: Bytes of an OSM XML file read at a time when looking for its newest timestamp.
OSM_READ_BLOCK = 1 << 24

_CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
 margin:0;color:#222;background:#fafafa}
header{background:#233;color:#fff;padding:12px 20px} header h1{margin:0;font-size:20px}
main{padding:12px 20px;max-width:1400px} section{background:#fff;border:1px solid #ddd;border-radius:4px;
 padding:10px 14px;margin:12px 0} h2{font-size:16px;margin:4px 0 8px}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
th{background:#eee;cursor:pointer} .fail{color:#c00;font-weight:bold} .ok{color:#1a7f37}
.scroll{max-height:480px;overflow:auto} iframe{width:100%;height:640px;border:1px solid #aaa}
.charts{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0} figcaption{font-size:12px;color:#444}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:0} dt{color:#555}
"""


def _l(config: Config, key: str) -> str:
    return LABELS[config.output.lang][key]


# --------------------------------------------------------------------------- charts (inline SVG)

def _axes(width: int, height: int, pad: tuple[int, int, int, int], x_ticks: list[tuple[float, str]],
          y_max: float, y_fmt) -> list[str]:
    left, right, top, bottom = pad
    parts = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#333"/>']
    for x, text in x_ticks:
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10" text-anchor="middle">{escape(text)}</text>')
    for i in range(5):
        v = y_max * i / 4
        y = height - bottom - (height - top - bottom) * i / 4
        parts.append(f'<line x1="{left - 3}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 5}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{escape(y_fmt(v))}</text>')
    return parts


def line_chart(series: list[tuple[str, np.ndarray, np.ndarray]], x_label: str, y_fmt, chart_id: str,
               x_max: float | None = None, y_max: float | None = None) -> str:
    """An SVG line chart: ``series`` of (name, x, y)."""
    width, height, pad = 600, 260, (56, 200, 12, 34)
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
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    for i, (name, x, y) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        if len(x):
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x), py(y)))
            parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<rect x="{width - right + 8}" y="{top + 16 * i}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{width - right + 22}" y="{top + 9 + 16 * i}" font-size="11">{escape(name)}</text>')
    return (f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img">{"".join(parts)}</svg>')


def bar_chart(groups: list[str], series: list[tuple[str, np.ndarray]], x_label: str, chart_id: str) -> str:
    """An SVG grouped bar chart: one bar per series in each group."""
    width, height, pad = 600, 260, (40, 140, 12, 34)
    left, right, top, bottom = pad
    y_hi = max([float(np.max(v)) for _, v in series if len(v)] + [1.0])
    n_groups, n_series = len(groups), max(len(series), 1)
    slot = (width - left - right) / max(n_groups, 1)
    bar = slot * 0.8 / n_series
    ticks = [(left + slot * (g + 0.5), label) for g, label in enumerate(groups)]
    parts = _axes(width, height, pad, ticks, y_hi, lambda v: f"{v:,.0f}")
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        for g, v in enumerate(values):
            h = (height - top - bottom) * v / y_hi
            x = left + slot * g + slot * 0.1 + bar * i
            parts.append(f'<rect class="series" x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(name)}: {v:,.0f}</title></rect>')
        parts.append(f'<rect x="{width - right + 8}" y="{top + 16 * i}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{width - right + 22}" y="{top + 9 + 16 * i}" font-size="11">{escape(name)}</text>')
    return (f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img">{"".join(parts)}</svg>')


def walk_time_distribution(origins: pd.DataFrame, times: pd.DataFrame, config: Config,
                           max_minutes: int = 30) -> pd.DataFrame:
    """Residents by whole minute of walk to the nearest facility, per category (last row: beyond or unreachable)."""
    w = origins["residents"].to_numpy(float)
    out = {}
    for key, cat in config.categories.items():
        minutes = times[f"walk_time_s_{key}"].to_numpy(float) / 60.0
        bins = np.where(np.isfinite(minutes), np.minimum(np.floor(minutes), max_minutes), max_minutes).astype(int)
        out[key] = np.bincount(bins, weights=w, minlength=max_minutes + 1)
    return pd.DataFrame(out, index=pd.Index(range(max_minutes + 1), name="minute"))


# --------------------------------------------------------------------------- page

def _table(head: list[str], rows: list[list[str]], sortable: bool = True, scroll: bool = False) -> str:
    cls = ' class="sc-table"' if sortable else ""
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in r) + "</tr>" for r in rows)
    html = f"<table{cls}><thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in head)}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{html}</div>' if scroll else html


def _td(value, sort_value=None, cls: str = "") -> str:
    attr = f' data-v="{escape(str(sort_value))}"' if sort_value is not None else ""
    attr += f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(str(value))}</td>"


def _passed(passed) -> str:
    if passed is True or passed == True:  # noqa: E712  (numpy bools too)
        return _td("✔", 1, "ok")
    if passed is False or passed == False:  # noqa: E712
        return _td("✘", 0, "fail")
    return _td("–", "")


def _goal_rows(config: Config, scorecard: pd.DataFrame, level: str | None) -> list[list[str]]:
    kind = KIND_ZH if config.output.lang == "zh" else KIND_EN
    lvl = LEVEL_ZH if config.output.lang == "zh" else LEVEL_EN
    part = scorecard if level is None else scorecard[scorecard["level"] == level]
    rows = []
    for r in part.itertuples(index=False):
        value = r.value if isinstance(r.value, float) and np.isfinite(r.value) else ""
        cells = [] if level == "district" else [_td(lvl[r.level]), _td(r.unit_name), _td(r.street_name)]
        rows.append(cells + [_td(r.goal_name), _td(kind[r.kind]), _td(r.meaning.split(":")[0]),
                             _td(value_text(r.value, r.unit), value), _td(value_text(r.target, r.unit)),
                             _passed(r.passed), _td(r.gap_text)])
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


def _source_line(path: Path | None, what: str, extra: str = "") -> tuple[str, str] | None:
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        return what, f"{p.name} (downloaded; see the cache)"
    stamp = dt.date.fromtimestamp(p.stat().st_mtime).isoformat()
    return what, f"{p.name} — file dated {stamp}, {p.stat().st_size / 1e6:.1f} MB{extra}"


def _osm_date(path: Path) -> str:
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
    newest = newest.decode("utf-8", "replace")
    return f"; newest element {newest}" if newest else "; the file carries no element timestamps"


def _methods(config: Config, summary: dict) -> list[tuple[str, str]]:
    zh = config.output.lang == "zh"
    rows: list = []
    if config.area.data_date:
        rows.append(("data date", config.area.data_date))
    if config.area.osm_file is not None:
        rows.append(_source_line(config.area.osm_file, "OpenStreetMap", _osm_date(config.area.osm_file)
                                 if config.area.osm_file.exists() else ""))
    if config.network.roads is not None:
        rows.append(_source_line(config.network.roads.path, "road lines 道路" if zh else "road lines",
                                 f", {config.network.roads.coord_system}"))
    for b, name in ((config.communities, "communities 社区"), (config.streets, "streets 街道")):
        if b is not None:
            rows.append(_source_line(b.path, name, f", {b.coord_system}"))
    pop = config.population
    if pop.census_file is not None:
        rows.append(_source_line(pop.census_file, "census 七普 2020", f", code {pop.census_code}"))
    for src in (pop.table, pop.raster):
        rows.append(_source_line(src, "population 人口"))
    for reg in config.facilities.registries:
        rows.append(_source_line(reg.path, "registry 登记表", f", {reg.coord_system}"))
    rows = [r for r in rows if r]
    pm = summary.get("population_method", {})
    method = ", ".join(f"{k.replace('from_', '')} {v:,.0f}" for k, v in pm.items()
                       if k.startswith("from_") and isinstance(v, (int, float)) and v)
    if pm.get("scaled_to"):
        method += f"; scaled to {pm['scaled_to']}"
    basemap = "none" if config.output.basemap == "none" else (
        f"{TILES[config.output.basemap][1]}" + (" — overlays shifted to GCJ-02 for display" if gcj02_display(config) else ""))
    decay = summary.get("capacity_access_decay", {})
    rows += [
        ("walking speed", f"{config.access.speed_m_s:g} m/s ({config.access.speed_profile}); per category: "
                          + ", ".join(f"{k} {c.speed_m_s:g}" for k, c in config.categories.items())),
        ("thresholds", ", ".join(f"{t:g} min" for t in config.access.thresholds_min)
         + f"; covered = within {config.access.coverage_threshold_min:g} min"),
        ("2SFCA decay", f"{decay.get('decay', config.access.decay)}"
         + (f" {decay['step_weights']}" if decay.get("step_weights") else "")),
        ("population", method or "–"),
        ("H3 resolution", f"{config.grid.h3_resolution} (cell ≈ {_h3_edge_m(config.grid.h3_resolution):.0f} m edge)"),
        ("network", f"{summary.get('network', {}).get('nodes', '–')} nodes, {summary.get('network', {}).get('edges', '–')} edges"),
        ("basemap", basemap),
        ("software", f"servicecircle {version('servicecircle')}"),
        ("config hash", config.config_hash),
        ("map data", "© OpenStreetMap contributors, ODbL 1.0"),
    ]
    return rows


def _h3_edge_m(res: int) -> float:
    import h3

    return h3.average_hexagon_edge_length(res, "m")


def build_page(result, *, siting=None, map_name: str = "map.html") -> str:
    """The report page HTML of a run (and of its siting, when given)."""
    config, s = result.config, result.summary
    zh = config.output.lang == "zh"
    sc = result.scorecard
    parts = [f"<!DOCTYPE html><html lang=\"{'zh-CN' if zh else 'en'}\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             f"<title>{escape(_l(config, 'title'))} — {escape(config.area.name)}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{escape(_l(config, 'title'))} — {escape(config.area.name)}</h1>"
             f"<div>{s['population_total']:,.0f} {escape(_l(config, 'residents'))} · "
             f"{config.access.speed_m_s:g} m/s · {config.access.coverage_threshold_min:g} {escape(_l(config, 'minutes'))} · "
             f"config {escape(config.config_hash)}</div></header><main>"]

    notes = "".join(f"<li>{escape(c['note'])}</li>" for c in s["categories"].values())
    parts.append(f'<section id="found"><h2>{escape(_l(config, "found"))}</h2><ul>{notes}</ul></section>')

    head = [_l(config, k) for k in ("goal", "kind", "meaning", "value", "target", "passed", "gap")]
    district = _goal_rows(config, sc, "district") if sc is not None and len(sc) else []
    parts.append(f'<section id="goals"><h2>{escape(_l(config, "goals"))}</h2>'
                 + (_table(head, district) if district else escape(_l(config, "none"))) + "</section>")

    parts.append(f'<section id="map"><h2>{escape(_l(config, "map"))}</h2>'
                 f'<iframe src="{escape(map_name)}" title="map"></iframe>'
                 f'<div><a href="{escape(map_name)}" target="_blank">{escape(_l(config, "open_map"))}</a></div></section>')

    charts = []
    dist = walk_time_distribution(result.origins, result.origin_times, config)
    # The last bin (30+ or unreachable) would dwarf the rest: it is stated in the legend instead.
    beyond = f"≥30 {_l(config, 'minutes')} / {_l(config, 'unreachable')}"
    series = [(f"{config.categories[k].label} ({beyond}: {dist[k].iloc[-1]:,.0f})", np.asarray(dist.index[:-1], float),
               dist[k].to_numpy()[:-1]) for k in dist.columns]
    charts.append(f'<figure>{line_chart(series, _l(config, "minutes"), lambda v: f"{v:,.0f}", "chart-walk-time", x_max=30)}'
                  f'<figcaption>{escape(_l(config, "walk_chart"))}</figcaption></figure>')
    bands = np.linspace(0, 1, 11)
    comm = result.communities
    bar_series = []
    for key in config.categories:
        shares = comm[f"covered_share_{key}"].dropna().to_numpy() if f"covered_share_{key}" in comm else np.array([])
        counts, _ = np.histogram(np.clip(shares, 0, 1), bins=bands)
        bar_series.append((config.categories[key].label, counts))
    groups = [f"{int(a * 100)}–{int(b * 100)}" for a, b in zip(bands[:-1], bands[1:])]
    charts.append(f'<figure>{bar_chart(groups, bar_series, _l(config, "share") + " (%)", "chart-community-coverage")}'
                  f'<figcaption>{escape(_l(config, "comm_chart"))}</figcaption></figure>')
    if siting is not None:
        curve = siting.curve
        charts.append(f'<figure>{line_chart([(siting.category, curve["k"].to_numpy(float), curve["covered_share"].to_numpy(float))], _l(config, "k"), lambda v: f"{v:.0%}", "chart-siting-curve", y_max=1.0)}'
                      f'<figcaption>{escape(_l(config, "curve_chart"))}</figcaption></figure>')
    parts.append(f'<section id="charts"><h2>{escape(_l(config, "charts"))}</h2><div class="charts">{"".join(charts)}</div></section>')

    if sc is not None and len(sc):
        head = [_l(config, k) for k in ("level",)] + ["名称" if zh else "unit", "街道" if zh else "street"] + \
               [_l(config, k) for k in ("goal", "kind", "meaning", "value", "target", "passed", "gap")]
        shown, more_rows, more_units = scorecard_shown(sc)
        rows = _goal_rows(config, shown, None)
        note = (f"<p>{escape(_l(config, 'scorecard_capped').format(units=PAGE_MAX_UNITS, rows=more_rows, more=more_units))}</p>"
                if more_rows else "")
        parts.append(f'<section id="scorecard"><h2>{escape(_l(config, "scorecard"))}</h2>{note}'
                     f'{_table(head, rows, scroll=True)}</section>')

    parts.append(_gaps_section(result, config))
    methods = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _methods(config, s))
    parts.append(f'<section id="methods"><h2>{escape(_l(config, "methods"))}</h2><dl>{methods}</dl></section>')
    parts.append(f"</main>{SORT_JS}</body></html>")
    return "".join(parts)


def _gaps_section(result, config: Config) -> str:
    s = result.summary
    out = [f'<section id="gaps"><h2>{escape(_l(config, "gaps"))}</h2>']
    # Capacity-aware access per category.
    rows = []
    for key, c in s["categories"].items():
        fca = c.get("capacity_access")
        if not fca:
            continue
        value = fca.get("district_per_1000")
        rows.append([_td(c["label"]), _td(fca["unit"]), _td("–" if value is None else f"{value:,.2f}", value or ""),
                     _td(fca["facilities_used"]), _td(fca["facilities_without_capacity"]),
                     _td(fca.get("note", "") or "")])
    if rows:
        out.append(f"<h3>{escape(_l(config, 'capacity'))}</h3>" + _table(
            [_l(config, "category"), _l(config, "unit"), _l(config, "per1000"), _l(config, "used"),
             _l(config, "without"), ""], rows))
    spots = result.blind_spots
    rows = []
    # The largest few of each category (spots come ranked within their category).
    for r in spots[spots["rank"] <= 5].itertuples(index=False) if len(spots) else []:
        walk = "" if not np.isfinite(r.nearest_walk_min) else f"{r.nearest_walk_min:.1f}"
        rows.append([_td(config.categories[r.category].label), _td(r.rank), _td(f"{r.residents:,.0f}", r.residents),
                     _td(r.cells), _td(walk or _l(config, "unreachable"), walk),
                     _td(r.nearest_facility_name or r.nearest_facility_id), _td(r.communities)])
    more = len(spots) - len(rows)
    out.append(f"<h3>{escape(_l(config, 'blind'))}</h3>" + (_table(
        [_l(config, "category"), "#"] + [_l(config, k) for k in ("residents", "cells", "nearest", "nearest_name",
                                                                  "communities")], rows)
        if rows else escape(_l(config, "no_blind")))
        + (f"<p>{escape(_l(config, 'blind_more').format(n=more))}</p>" if more > 0 else ""))
    adj = result.adjacency
    head = f"<h3>{escape(_l(config, 'adjacency'))}</h3>"
    if len(adj):
        capped = len(adj) > PAGE_MAX_ADJACENCY_ROWS
        if capped:
            # Those farthest from health services first: not adjacent, then the longest walk (unmeasured last).
            walk = adj["walk_min_to_health"].to_numpy(float)
            order = np.lexsort((np.arange(len(adj)), -np.nan_to_num(walk, nan=-np.inf), adj["adjacent"].to_numpy(bool)))
            adj = adj.iloc[order[:PAGE_MAX_ADJACENCY_ROWS]]
        rows = [[_td(r.name), _td("" if not np.isfinite(r.walk_min_to_health) else f"{r.walk_min_to_health:.1f}",
                                  r.walk_min_to_health if np.isfinite(r.walk_min_to_health) else ""),
                 _td(r.nearest_health_name), _passed(bool(r.adjacent)), _td(r.note)] for r in adj.itertuples(index=False)]
        out.append(head + _table([_l(config, k) for k in ("facility", "walk", "health", "within")] + [""], rows, scroll=True)
                   + (f"<p>{escape(_l(config, 'adjacency_capped').format(shown=len(adj), n=len(result.adjacency) - len(adj)))}</p>"
                      if capped else ""))
    else:
        out.append(head + escape(s.get("health_adjacency", {}).get("note", _l(config, "none"))))
    out.append("</section>")
    return "".join(out)


def write_page(result, siting=None) -> Path:
    """Write ``index.html`` into the run's output folder."""
    path = Path(result.config.output.out_dir) / "index.html"
    path.write_text(build_page(result, siting=siting), encoding="utf-8")
    return path
