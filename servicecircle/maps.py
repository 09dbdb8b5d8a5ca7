"""Maps: the run's ``index.html``, a folium map of walk times, gaps, facilities and communities.

Every text that comes from inputs (facility and community names) is HTML-escaped
before it reaches the page.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from pathlib import Path

import folium
from folium.utilities import JsCode
import geopandas as gpd
import numpy as np
import shapely

from .config import BASEMAPS, Config
from .coords import wgs84_to_gcj02
from .report import ATTRIBUTION

CATEGORY_COLOURS = ["#6a3d9a", "#ff7f00", "#1f78b4", "#33a02c", "#b15928", "#e31a1c", "#a6cee3"]

#: Tile services. AMap and Tencent draw their streets in GCJ-02 (config.BASEMAPS).
#: Their URL templates are the ones Leaflet's Chinese tile-provider plugins use
#: (Tencent numbers rows from the south: Leaflet's ``{-y}``).
TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "OpenStreetMap (WGS-84)", ATTRIBUTION, {}),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
             "高德地图 AMap (GCJ-02)", "© 高德地图 AMap", {"subdomains": "1234"}),
    "tencent": ("https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}&type=vector&styleid=3",
                "腾讯地图 Tencent (GCJ-02)", "© 腾讯地图 Tencent", {"subdomains": "0123"}),
}

#: Map and report labels; ``zh`` is the default (``[output] lang`` or ``--lang``).
TEXT = {
    "zh": {
        "walk_time": "步行时间", "walk_title": "到最近设施的步行时间", "minutes": "分钟", "gap": "缺口",
        "residents": "居民", "nearest": "最近设施", "none_reachable": "不可达", "cell": "网格",
        "complete": "完整{t:g}分钟服务圈", "complete_yes": "完整", "complete_no": "不完整",
        "service_area": "{m:g}分钟服务范围", "facilities": "设施", "communities": "社区（点击查看评估）",
        "found": "数据情况", "populated_only": "仅显示有人居住的H3网格", "basemap": "底图",
        "basemap_none": "无底图", "shifted": "叠加图层已转换为GCJ-02以对齐底图，分析仍采用WGS-84",
        "wgs": "底图与图层均为WGS-84", "speed": "步行速度 {v:g} m/s（{p}）", "scorecard": "目标评估",
        "no_scorecard": "该社区无评估记录", "blind": "盲区（>{t:g}分钟）", "no_facility_at_all": "无任何设施",
        "proposed": "拟建选址", "source": "来源", "counted": "计入", "not_counted": "未计入",
        "off_network": "距步行路网过远，不服务任何居民",
    },
    "en": {
        "walk_time": "Walk time", "walk_title": "walk time to the nearest facility", "minutes": "min", "gap": "gap",
        "residents": "residents", "nearest": "nearest", "none_reachable": "none reachable", "cell": "cell",
        "complete": "Complete {t:g}-minute circle", "complete_yes": "complete", "complete_no": "incomplete",
        "service_area": "{m:g}-min service area", "facilities": "Facilities", "communities": "Communities (click for scorecard)",
        "found": "What was found", "populated_only": "populated H3 cells only", "basemap": "Basemap",
        "basemap_none": "no basemap", "shifted": "overlays shifted to GCJ-02 to match the tiles; the analysis stays in WGS-84",
        "wgs": "tiles and overlays in WGS-84", "speed": "walking {v:g} m/s ({p})", "scorecard": "Scorecard",
        "no_scorecard": "no scorecard rows for this community", "blind": "Blind spots (> {t:g} min)",
        "no_facility_at_all": "no facility at all", "proposed": "Proposed sites", "source": "source",
        "counted": "counted", "not_counted": "not counted", "off_network": "off-network (reaches nobody)",
    },
}


def _t(config: Config, key: str, **kw) -> str:
    return TEXT[config.lang][key].format(**kw)


def gcj02_display(config: Config) -> bool:
    """Whether overlays are shifted to GCJ-02 to sit on the basemap's streets."""
    return BASEMAPS[config.basemap] == "gcj02"


def display_frame(frame: gpd.GeoDataFrame, config: Config) -> gpd.GeoDataFrame:
    """A copy in WGS-84 degrees for the map: shifted to GCJ-02 under a GCJ-02 basemap (display only),
    rounded to 1e-5° (~1 m), which is all a screen shows and keeps the page small."""
    out = frame.to_crs("EPSG:4326")
    shift = gcj02_display(config)

    def move(xy: np.ndarray) -> np.ndarray:
        if shift and len(xy):
            xy = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        return np.round(xy, 5)

    out["geometry"] = shapely.transform(out.geometry.values, move)
    return out


def display_point(lon: float, lat: float, config: Config) -> tuple[float, float]:
    """(lat, lon) of a marker, shifted like :func:`display_frame`."""
    if gcj02_display(config):
        x, y = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
        lon, lat = float(x[0]), float(y[0])
    return round(lat, 6), round(lon, 6)


def _classes(config: Config) -> list[tuple]:
    """Walk-time classes from the configured thresholds (default 0–5, 5–10, 10–15, > 15)."""
    colours = ["#1a9850", "#91cf60", "#fee08b", "#fdae61", "#f46d43"]
    edges = [0.0, *config.thresholds_min]
    unit = _t(config, "minutes")
    out = [(a, b, f"{a:g}–{b:g} {unit}", colours[i % len(colours)]) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
    return out + [(edges[-1], np.inf, f"> {edges[-1]:g} {unit} ({_t(config, 'gap')})", "#d7191c")]


def _cell_popups(cells: gpd.GeoDataFrame, config: Config, names: dict) -> np.ndarray:
    """Per cell: residents, and walk time and nearest facility of every category (escaped HTML)."""
    unit = _t(config, "minutes")
    rows = [f"<b>{_t(config, 'cell')} {escape(h)}</b><br>{_t(config, 'residents')}: {r:,.0f}"
            for h, r in zip(cells["h3"], cells["residents"])]
    for key, cat in config.categories.items():
        minutes = cells[f"walk_time_s_{key}"].to_numpy(float) / 60.0
        nearest = cells[f"nearest_{key}"].fillna("").to_numpy()
        for i, (m, f) in enumerate(zip(minutes, nearest)):
            walk = f"{m:.1f} {unit}" if np.isfinite(m) else _t(config, "none_reachable")
            name = escape(str(names.get(f, "") or f)) if f else ""
            rows[i] += f"<br>{escape(cat.label)}: {walk}" + (f" — {name}" if name else "")
    return np.array(rows, dtype=object)


def _time_class_layer(cells: gpd.GeoDataFrame, key: str, classes: list[tuple]) -> gpd.GeoDataFrame:
    """Populated cells with their walk-time class colour; gap cells outlined."""
    minutes = cells[f"walk_time_s_{key}"].to_numpy() / 60.0
    label = np.full(len(cells), "", dtype=object)
    colour = np.full(len(cells), "", dtype=object)
    for lo, hi, name, col in classes:
        inside = (minutes >= lo) & (minutes < hi) if np.isfinite(hi) else minutes >= lo
        label[inside], colour[inside] = name, col
    gap = ~np.isfinite(minutes) | (minutes > classes[-1][0])
    return gpd.GeoDataFrame({"h3": cells["h3"].to_numpy(), "class": label, "colour": colour, "gap": gap},
                            geometry=cells.geometry.values, crs=cells.crs)


def _legend_html(config: Config, classes: list[tuple], notes: dict[str, str], speed_text: str) -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{c};margin-right:6px;'
        f'border:{"2px solid #67000d" if not np.isfinite(hi) else "1px solid #555"}"></span>{escape(n)}</div>'
        for _, hi, n, c in classes)
    cats = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:5px;background:{CATEGORY_COLOURS[i % 7]};'
        f'margin-right:6px"></span>{escape(cat.label)} ({escape(key)})</div>'
        for i, (key, cat) in enumerate(config.categories.items()))
    note_rows = "".join(f"<li>{escape(t)}</li>" for t in notes.values())
    if config.basemap == "none":
        base = _t(config, "basemap_none")
    else:
        base = f"{TILES[config.basemap][1]} — " + _t(config, "shifted" if gcj02_display(config) else "wgs")
    return f"""
<div id="servicecircle-legend" style="position:fixed;bottom:24px;right:12px;z-index:9999;background:white;
 padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;max-width:360px">
 <b>{escape(config.name)} — {escape(_t(config, "walk_title"))}</b>
 <div style="color:#444">{escape(speed_text)}; {escape(_t(config, "populated_only"))}</div>
 {rows}
 <div style="margin-top:4px"><b>{escape(_t(config, "facilities"))}</b></div>{cats}
 <div style="margin-top:4px"><b>{escape(_t(config, "found"))}</b></div><ul style="margin:2px 0 0 16px;padding:0">{note_rows}</ul>
 <div id="servicecircle-basemap" style="margin-top:4px;color:#444">{escape(_t(config, "basemap"))}: {escape(base)}</div>
 <div style="margin-top:4px;color:#444">Map data {escape(ATTRIBUTION)}</div>
</div>"""


def _community_popups(communities: gpd.GeoDataFrame, scorecard, config: Config) -> list[str]:
    """Per community: its name, residents and its scorecard rows (escaped HTML)."""
    rows_of = {}
    if scorecard is not None and len(scorecard):
        part = scorecard[scorecard["level"] == "community"]
        for uid, grp in part.groupby("unit_id"):
            lines = []
            for r in grp.itertuples(index=False):
                mark = {True: "✔", False: "✘"}.get(r.passed, "–")
                lines.append(f"<tr><td>{mark}</td><td>{escape(r.goal_name)}</td><td>{escape(r.meaning.split(':')[0])}</td>"
                             f"<td>{escape(value_text(r.value, r.unit))}</td><td>{escape(value_text(r.target, r.unit))}</td>"
                             f"<td>{escape(r.gap_text)}</td></tr>")
            rows_of[int(uid)] = "<table class='sc-row'>" + "".join(lines) + "</table>"
    out = []
    for cid, name, residents in zip(communities["community_id"], communities["name"], communities["residents"]):
        body = rows_of.get(int(cid), escape(_t(config, "no_scorecard")))
        out.append(f"<b>{escape(str(name))}</b><br>{_t(config, 'residents')}: {residents:,.0f}<br>"
                   f"<b>{_t(config, 'scorecard')}</b>{body}")
    return out


def build_map(config: Config, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
              merged_areas: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, notes: dict[str, str],
              area_bounds: tuple[float, float, float, float], adjacency=None, scorecard=None) -> folium.Map:
    """The interactive map of one run.

    Layers: walk time per category (populated cells; click one for its residents
    and the walk to, and name of, the nearest facility of every category; gap
    cells outlined), the complete circle, 5/10/15-minute service areas per
    category, facility markers per category (care facilities with their walk
    to a health centre, from ``adjacency``), communities coloured by
    complete-circle share (click one for its scorecard rows). Under a GCJ-02
    basemap every overlay is shifted to GCJ-02 for display.
    """
    west, south, east, north = area_bounds
    sw, ne = display_point(west, south, config), display_point(east, north, config)
    m = folium.Map(location=[(sw[0] + ne[0]) / 2, (sw[1] + ne[1]) / 2], zoom_start=14, tiles=None,
                   control_scale=True)
    # Only Leaflet and jQuery (folium's popups use it): fewer requests, and what --offline inlines.
    m.default_js = [(k, v) for k, v in m.default_js if k in ("leaflet", "jquery")]
    m.default_css = [(k, v) for k, v in m.default_css if k == "leaflet_css"]
    if config.basemap != "none":
        url, _, attr, extra = TILES[config.basemap]
        folium.TileLayer(url, name=config.basemap, attr=escape(attr), control=False, max_zoom=19, **extra).add_to(m)
    health_walk = _health_walk_text(adjacency)
    classes = _classes(config)
    populated = cells[cells["residents"] > 0]
    threshold = config.coverage_threshold_min
    names = dict(zip(facilities["facility_id"], facilities["name"])) if len(facilities) else {}
    shown = display_frame(populated, config) if len(populated) else populated
    if len(populated):
        # One popup per cell, shared by every category's layer (written once: half the page otherwise).
        popups = dict(zip(populated["h3"], _cell_popups(populated, config, names)))
        data = json.dumps(popups, ensure_ascii=False).replace("</", "<\\/")
        m.get_root().html.add_child(folium.Element(f"<script>var SC_CELL_POPUPS = {data};</script>"))
    cell_popup = JsCode("function(feature, layer) { layer.bindPopup(function() {"
                        " return SC_CELL_POPUPS[feature.properties.h3]; }, {maxWidth: 340}); }")
    for i, (key, cat) in enumerate(config.categories.items()):
        layer = folium.FeatureGroup(name=f"{_t(config, 'walk_time')}: {cat.label} ({key})", show=i == 0)
        if len(populated):
            folium.GeoJson(
                _time_class_layer(shown, key, classes).to_json(),
                style_function=lambda f: {"fillColor": f["properties"]["colour"],
                                          "color": "#67000d" if f["properties"]["gap"] else f["properties"]["colour"],
                                          "weight": 1.5 if f["properties"]["gap"] else 0.3, "fillOpacity": 0.6},
                tooltip=folium.GeoJsonTooltip(["class"], labels=False),
                on_each_feature=cell_popup,
            ).add_to(layer)
        layer.add_to(m)

    comp = folium.FeatureGroup(name=_t(config, "complete", t=threshold) + f" ({', '.join(config.complete_circle)})",
                               show=False)
    if len(populated):
        flag = populated["complete"].map({True: _t(config, "complete_yes"), False: _t(config, "complete_no")})
        frame = gpd.GeoDataFrame({"status": flag.to_numpy(), "ok": populated["complete"].to_numpy(bool),
                                  "residents": populated["residents"].to_numpy()},
                                 geometry=populated.geometry.values, crs=cells.crs)
        frame = frame.dissolve(by=["status", "ok"], aggfunc={"residents": "sum"}).reset_index()
        frame["residents"] = frame["residents"].round().astype(int)
        folium.GeoJson(display_frame(frame, config).to_json(), style_function=lambda f: {
            "fillColor": "#1a9850" if f["properties"]["ok"] else "#d7191c",
            "color": "#333", "weight": 0.3, "fillOpacity": 0.5},
            tooltip=folium.GeoJsonTooltip(["status", "residents"])).add_to(comp)
    comp.add_to(m)

    for i, (key, cat) in enumerate(config.categories.items()):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        for minutes in sorted(config.thresholds_min, reverse=True):
            areas = merged_areas[(merged_areas["category"] == key) & (merged_areas["minutes"] == minutes)] \
                if len(merged_areas) else merged_areas
            sa = folium.FeatureGroup(name=f"{_t(config, 'service_area', m=minutes)}: {cat.label}", show=False)
            if len(areas):
                folium.GeoJson(display_frame(areas[["category", "minutes", "geometry"]], config).to_json(),
                               style_function=lambda f, c=colour: {"fillColor": c, "color": c, "weight": 1,
                                                                   "fillOpacity": 0.15}).add_to(sa)
            sa.add_to(m)

        markers = folium.FeatureGroup(name=f"{_t(config, 'facilities')}: {cat.label} ({key})", show=True)
        for row in facilities[facilities["category"] == key].itertuples():
            status = _t(config, "off_network") if row.off_network else (
                _t(config, "counted") if row.counted else f"{_t(config, 'not_counted')}: {row.flag_note}")
            popup = _facility_popup(row, cat, key, status, _t(config, "source"))
            if row.facility_id in health_walk:
                popup += "<br>" + health_walk[row.facility_id]
            folium.CircleMarker(
                display_point(row.geometry.x, row.geometry.y, config), radius=6,
                color=colour if row.counted and not row.off_network else "#777",
                fill=True, fill_color=colour, fill_opacity=0.9 if row.counted else 0.1, weight=2,
                popup=folium.Popup(popup, max_width=300), tooltip=escape(row.name or cat.label),
            ).add_to(markers)
        markers.add_to(m)

    if len(communities):
        comm = communities[["name", "residents", "complete_share", "geometry"]].copy()
        comm["name"] = comm["name"].map(lambda s: escape(str(s)))
        comm["complete_pct"] = (comm["complete_share"].fillna(0) * 100).round(1)
        comm["residents"] = comm["residents"].round().astype(int)
        comm["popup"] = _community_popups(communities, scorecard, config)
        comm = comm.drop(columns="complete_share")
        cl = folium.FeatureGroup(name=_t(config, "communities"), show=False)
        folium.GeoJson(display_frame(comm, config).to_json(), style_function=lambda f: {
            "fillColor": _share_colour(f["properties"]["complete_pct"] / 100), "color": "#222", "weight": 1,
            "fillOpacity": 0.35},
            tooltip=folium.GeoJsonTooltip(["name", "residents", "complete_pct"],
                                          aliases=["community", "residents", "complete circle %"]),
            popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=520)).add_to(cl)
        cl.add_to(m)

    speed = _t(config, "speed", v=config.speed_m_s, p=config.speed_profile)
    m.get_root().html.add_child(folium.Element(_legend_html(config, classes, notes, speed)))
    # Many layers: keep the open layer list short enough to leave the map visible.
    m.get_root().header.add_child(folium.Element(
        "<style>.leaflet-control-layers-expanded{max-height:55vh;overflow-y:auto;font-size:11px;line-height:1.3}"
        ".sc-row td{border:1px solid #ddd;padding:1px 3px;font-size:11px}</style>"))
    m.fit_bounds([list(sw), list(ne)])
    return m


def _health_walk_text(adjacency) -> dict[str, str]:
    """Per care facility: its walk to the nearest health centre (医养结合), as popup HTML."""
    if adjacency is None or len(adjacency) == 0:
        return {}
    out = {}
    for r in adjacency.itertuples(index=False):
        if np.isfinite(r.walk_min_to_health):
            verdict = "within" if r.adjacent else "<b style='color:#d7191c'>beyond</b>"
            out[r.facility_id] = (f"医养结合: {r.walk_min_to_health:.1f} min walk to {escape(str(r.nearest_health_name) or r.nearest_health_id)}"
                                  f" ({verdict} {r.max_walk_min:g} min)")
        else:
            out[r.facility_id] = f"医养结合: {escape(r.note)}"
    return out


def add_blind_spots(m: folium.Map, blind_spots: gpd.GeoDataFrame, config: Config, notes: dict[str, str]) -> None:
    """One layer per category: the connected clusters of populated cells outside every circle."""
    threshold = config.coverage_threshold_min
    for key, cat in config.categories.items():
        part = blind_spots[blind_spots["category"] == key] if len(blind_spots) else blind_spots
        no_facility = len(part) and part["nearest_walk_min"].isna().all()
        suffix = f"{len(part)}"
        if no_facility:
            suffix = f"{len(part)}, {_t(config, 'no_facility_at_all')}"
        group = folium.FeatureGroup(name=f"{_t(config, 'blind', t=threshold)}: {cat.label} ({suffix})", show=False)
        if len(part):
            frame = part[["rank", "cells", "residents", "demand_residents", "demand", "nearest_walk_min",
                          "nearest_facility_name", "communities", "geometry"]].copy()
            frame["residents"] = frame["residents"].round().astype(int)
            frame["demand_residents"] = frame["demand_residents"].round().astype(int)
            frame["nearest_walk_min"] = frame["nearest_walk_min"].map(
                lambda v: "no facility reachable" if not np.isfinite(v) else f"{v:.1f}")
            unnamed = frame["nearest_facility_name"].fillna("").eq("")
            frame.loc[unnamed, "nearest_facility_name"] = part.loc[unnamed, "nearest_facility_id"]
            for col in ("demand", "nearest_facility_name", "communities"):
                frame[col] = frame[col].map(lambda t: escape(str(t)))
            folium.GeoJson(display_frame(frame, config).to_json(), style_function=lambda f: {
                "fillColor": "#d7191c", "color": "#67000d", "weight": 2, "dashArray": "5", "fillOpacity": 0.25},
                tooltip=folium.GeoJsonTooltip(
                    ["rank", "residents", "demand_residents", "demand", "nearest_walk_min", "nearest_facility_name",
                     "communities"],
                    aliases=["blind spot #", "residents", "of them in the demand group", "demand group",
                             "shortest walk to a facility (min)", "nearest facility", "communities"])).add_to(group)
        group.add_to(m)


def _share_colour(share: float) -> str:
    if share >= 0.9:
        return "#1a9850"
    if share >= 0.6:
        return "#fee08b"
    return "#d7191c"


def write_map(m: folium.Map, out_dir: Path, offline: bool = False) -> Path:
    """Write ``map.html``; with ``offline``, Leaflet and jQuery are inlined from installed packages."""
    path = Path(out_dir) / "map.html"
    # The layer control goes last: it names every layer, and a layer added after
    # it would be undefined when it runs.
    folium.LayerControl(collapsed=False).add_to(m)
    html = m.get_root().render()
    if offline:
        html = inline_assets(html)
    path.write_text(html, encoding="utf-8")
    return path


def _asset(package: str, name: str) -> str:
    import importlib

    base = Path(importlib.import_module(f"xstatic.pkg.{package}").BASE_DIR)
    return (base / name).read_text(encoding="utf-8")


def inline_assets(html: str) -> str:
    """The page with Leaflet's and jQuery's ``<script src>`` / ``<link>`` replaced by their text.

    The files come from the XStatic packages (xstatic-leaflet, xstatic-jquery),
    the same versions folium asks the CDN for; Leaflet's images become data
    URIs. Raises if any other external script or stylesheet is left, so an
    offline page never silently depends on the network.
    """
    css = _asset("leaflet", "leaflet.css")
    images = Path(__import__("xstatic.pkg.leaflet", fromlist=["BASE_DIR"]).BASE_DIR) / "images"

    def data_uri(match: re.Match) -> str:
        data = base64.b64encode((images / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    scripts = {"leaflet": _asset("leaflet", "leaflet.js"), "jquery": _asset("jquery", "jquery.min.js")}
    html = re.sub(r'<script src="[^"]*leaflet@[\d.]+/dist/leaflet\.js"></script>',
                  lambda _: f"<script>{scripts['leaflet']}</script>", html)
    html = re.sub(r'<script src="[^"]*jquery-[\d.]+(?:\.min)?\.js"></script>',
                  lambda _: f"<script>{scripts['jquery']}</script>", html)
    html = re.sub(r'<link rel="stylesheet" href="[^"]*leaflet@[\d.]+/dist/leaflet\.css"\s*/?>',
                  lambda _: f"<style>{css}</style>", html)
    left = re.findall(r'<script[^>]+src="https?://[^"]+"|<link[^>]+href="https?://[^"]+"', html)
    if left:
        raise RuntimeError(f"offline page still loads {left[0]}")
    return html


_POPUP_FIELDS = (("beds", "beds 床位"), ("nursery_places", "nursery places 托位"), ("meals_per_day", "meals/day 日供餐"),
                 ("ownership", "ownership 性质"), ("address", "address 地址"))


def _facility_popup(row, cat, key: str, status: str, source_label: str = "source") -> str:
    """Popup HTML of one facility: name, category, source (OSM id and/or registry row), capacities."""
    source = getattr(row, "source", "osm")
    where = []
    if getattr(row, "osm_id", -1) not in (-1, None) and source in ("osm", "both"):
        where.append(f"OSM {row.osm_type}/{row.osm_id}")
    if source in ("registry", "both"):
        where.append(f"{Path(str(row.registry_file)).name} row {int(row.registry_row)}")
    lines = [f"<b>{escape(row.name or '(unnamed)')}</b>", f"{escape(cat.label)} ({escape(key)})",
             f"{escape(source_label)}: {escape(source)} ({escape(', '.join(where))})"]
    for field, label in _POPUP_FIELDS:
        value = getattr(row, field, None)
        if value is None or (isinstance(value, float) and not np.isfinite(value)) or value == "":
            continue
        text = f"{value:g}" if isinstance(value, float) else str(value)
        lines.append(f"{escape(label)}: {escape(text)}")
    affordable = getattr(row, "affordable", None)
    if affordable is True or affordable is False:
        lines.append("普惠 affordable: " + ("yes" if affordable else "no"))
    lines.append(escape(status))
    return "<br>".join(lines)


SORT_JS = """
<script>
// Click a scorecard header to sort its table (numbers numerically, text by locale).
document.addEventListener('click', function (ev) {
  var th = ev.target.closest('table.sc-table th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0], idx = th.cellIndex;
  var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[idx].dataset.v || a.cells[idx].textContent, y = b.cells[idx].dataset.v || b.cells[idx].textContent;
    var nx = parseFloat(x), ny = parseFloat(y);
    var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'zh');
    return asc ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
});
</script>
"""


def value_text(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if "share" in unit:
        return f"{value:.0%}"
    return f"{value:,.2f}"


def add_scorecard(m: folium.Map, scorecard) -> None:
    """A collapsible scorecard panel (district, streets, communities), sortable by column."""
    if scorecard is None or len(scorecard) == 0:
        return
    from .goals import KIND_ZH, LEVEL_ZH

    sections = []
    for level in ("district", "street", "community"):
        part = scorecard[scorecard["level"] == level]
        if len(part) == 0:
            continue
        head = "".join(f"<th>{h}</th>" for h in ("单位", "指标", "性质", "口径", "现状", "目标", "达标", "差距"))
        body = []
        for r in part.itertuples(index=False):
            ok = {True: "✔", False: "✘"}.get(r.passed, "–")
            colour = {True: "#1a9850", False: "#d7191c"}.get(r.passed, "#777")
            value = r.value if isinstance(r.value, float) and np.isfinite(r.value) else ""
            body.append(
                f"<tr><td>{escape(str(r.unit_name))}</td><td>{escape(r.goal_name)}</td><td>{escape(KIND_ZH[r.kind])}</td>"
                f"<td>{escape(r.meaning)}</td><td data-v=\"{value}\">{escape(value_text(r.value, r.unit))}</td>"
                f"<td>{escape(value_text(r.target, r.unit))}</td><td style=\"color:{colour}\">{ok}</td>"
                f"<td>{escape(r.gap_text)}</td></tr>")
        failing = part[(part["kind"] == "binding") & (part["passed"] == False)]  # noqa: E712
        n_units = part["unit_id"].nunique()
        n_fail = failing["unit_id"].nunique()
        summary = f"{LEVEL_ZH[level]} ({n_units}): {n_fail} failing a binding goal" if level != "district" else "区 district"
        sections.append(f"<details{' open' if level == 'district' else ''}><summary>{escape(summary)}</summary>"
                        f"<table class=\"sc-table\"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                        f"</details>")
    html = f"""
<div id="servicecircle-scorecard" style="position:fixed; bottom:12px; left:12px; z-index:9999; background:white;
     padding:6px 10px; border:1px solid #999; border-radius:4px; font:12px sans-serif; max-width:60vw;
     max-height:45vh; overflow:auto;">
 <details><summary><b>Scorecard 目标评估</b> (click a header to sort; binding failures first)</summary>
 <style>#servicecircle-scorecard table {{border-collapse:collapse}} #servicecircle-scorecard td,
 #servicecircle-scorecard th {{border:1px solid #ccc; padding:2px 4px; vertical-align:top}}
 #servicecircle-scorecard th {{cursor:pointer; background:#eee}}</style>
 {''.join(sections)}
 </details>
</div>{SORT_JS}"""
    m.get_root().html.add_child(folium.Element(html))


def add_proposed_sites(m: folium.Map, res, config: Config) -> None:
    """Proposed sites (numbered by rank) and their 15-minute service areas, in their own layer."""
    group = folium.FeatureGroup(name=f"{_t(config, 'proposed')}: {res.category} ({len(res.sites)})", show=True)
    areas = res.service_areas
    if len(areas):
        top = areas[areas["minutes"] == areas["minutes"].max()]
        folium.GeoJson(display_frame(top[["facility_id", "minutes", "geometry"]], config).to_json(), style_function=lambda f: {
            "fillColor": "#7b3294", "color": "#7b3294", "weight": 1, "fillOpacity": 0.12, "dashArray": "4"}).add_to(group)
    col = f"new_{res.weight_column}_covered"
    for r in res.sites.itertuples(index=False):
        text = (f"<b>Proposed site #{r.rank}</b><br>{escape(res.category)}<br>{r.lon:.6f}, {r.lat:.6f}<br>"
                f"+{getattr(r, col):,.0f} {escape(res.weight_column)} covered<br>"
                f"covered share after: {r.covered_share_after:.1%}")
        folium.Marker(display_point(r.lon, r.lat, config), popup=folium.Popup(text, max_width=260), tooltip=f"proposed #{r.rank}",
                      icon=folium.DivIcon(html=f'<div style="background:#7b3294;color:white;border-radius:9px;'
                                               f'width:18px;height:18px;text-align:center;font:bold 11px sans-serif;'
                                               f'line-height:18px">{r.rank}</div>')).add_to(group)
    group.add_to(m)
