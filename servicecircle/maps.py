"""Maps: the run's ``index.html``, a folium map of walk times, gaps, facilities and communities.

Every text that comes from inputs (facility and community names) is HTML-escaped
before it reaches the page.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np

from .config import Config
from .report import ATTRIBUTION

CATEGORY_COLOURS = ["#6a3d9a", "#ff7f00", "#1f78b4", "#33a02c", "#b15928", "#e31a1c", "#a6cee3"]


def _classes(config: Config) -> list[tuple]:
    """Walk-time classes from the configured thresholds (default 0–5, 5–10, 10–15, > 15)."""
    colours = ["#1a9850", "#91cf60", "#fee08b", "#fdae61", "#f46d43"]
    edges = [0.0, *config.thresholds_min]
    out = [(a, b, f"{a:g}–{b:g} min", colours[i % len(colours)]) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
    return out + [(edges[-1], np.inf, f"> {edges[-1]:g} min (gap)", "#d7191c")]


def _time_class_layer(cells: gpd.GeoDataFrame, key: str, classes: list[tuple]) -> gpd.GeoDataFrame:
    """Populated cells dissolved by walk-time class (fewer shapes, same picture)."""
    minutes = cells[f"walk_time_s_{key}"].to_numpy() / 60.0
    label = np.full(len(cells), "", dtype=object)
    colour = np.full(len(cells), "", dtype=object)
    for lo, hi, name, col in classes:
        inside = (minutes >= lo) & (minutes < hi) if np.isfinite(hi) else minutes >= lo
        label[inside], colour[inside] = name, col
    frame = gpd.GeoDataFrame({"class": label, "colour": colour, "residents": cells["residents"].to_numpy()},
                             geometry=cells.geometry.values, crs=cells.crs)
    dissolved = frame.dissolve(by=["class", "colour"], aggfunc={"residents": "sum"}).reset_index()
    dissolved["residents"] = dissolved["residents"].round().astype(int)
    return dissolved


def _legend_html(config: Config, classes: list[tuple], notes: dict[str, str], speed_text: str) -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{c};margin-right:6px;'
        f'border:1px solid #555"></span>{escape(n)}</div>' for _, _, n, c in classes)
    cats = "".join(
        f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:5px;background:{CATEGORY_COLOURS[i % 7]};'
        f'margin-right:6px"></span>{escape(cat.label)} ({escape(key)})</div>'
        for i, (key, cat) in enumerate(config.categories.items()))
    note_rows = "".join(f"<li>{escape(t)}</li>" for t in notes.values())
    return f"""
<div id="servicecircle-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;
 padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;max-width:360px">
 <b>{escape(config.name)} — walk time to nearest facility</b>
 <div style="color:#444">{escape(speed_text)}; populated H3 cells only</div>
 {rows}
 <div style="margin-top:4px"><b>Facilities</b></div>{cats}
 <div style="margin-top:4px"><b>What was found</b></div><ul style="margin:2px 0 0 16px;padding:0">{note_rows}</ul>
 <div style="margin-top:4px;color:#444">Map data {escape(ATTRIBUTION)}</div>
</div>"""


def build_map(config: Config, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
              merged_areas: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, notes: dict[str, str],
              area_bounds: tuple[float, float, float, float], adjacency=None) -> folium.Map:
    """The interactive map of one run.

    Layers: walk time per category (populated cells, dissolved by class), the
    complete circle, 15-minute service areas per category, facility markers per
    category (care facilities with their walk to a health centre, from
    ``adjacency``), communities coloured by complete-circle share.
    """
    health_walk = _health_walk_text(adjacency)
    west, south, east, north = area_bounds
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=14, tiles=None, control_scale=True)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap", attr=ATTRIBUTION, control=False).add_to(m)
    classes = _classes(config)
    populated = cells[cells["residents"] > 0]
    threshold = config.coverage_threshold_min
    for i, (key, cat) in enumerate(config.categories.items()):
        layer = folium.FeatureGroup(name=f"Walk time: {cat.label} ({key})", show=i == 0)
        if len(populated):
            folium.GeoJson(
                _time_class_layer(populated, key, classes).to_json(),
                style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": f["properties"]["colour"],
                                          "weight": 0.5, "fillOpacity": 0.6},
                tooltip=folium.GeoJsonTooltip(["class", "residents"], aliases=["walk time", "residents"]),
            ).add_to(layer)
        layer.add_to(m)

    comp = folium.FeatureGroup(name=f"Complete {threshold:g}-minute circle ({', '.join(config.complete_circle)})", show=False)
    if len(populated):
        flag = populated["complete"].map({True: "complete", False: "incomplete"})
        frame = gpd.GeoDataFrame({"status": flag.to_numpy(), "residents": populated["residents"].to_numpy()},
                                 geometry=populated.geometry.values, crs=cells.crs)
        frame = frame.dissolve(by="status", aggfunc={"residents": "sum"}).reset_index()
        frame["residents"] = frame["residents"].round().astype(int)
        folium.GeoJson(frame.to_json(), style_function=lambda f: {
            "fillColor": "#1a9850" if f["properties"]["status"] == "complete" else "#d7191c",
            "color": "#333", "weight": 0.3, "fillOpacity": 0.5},
            tooltip=folium.GeoJsonTooltip(["status", "residents"])).add_to(comp)
    comp.add_to(m)

    for i, (key, cat) in enumerate(config.categories.items()):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        areas = merged_areas[(merged_areas["category"] == key) & (merged_areas["minutes"] == threshold)] \
            if len(merged_areas) else merged_areas
        sa = folium.FeatureGroup(name=f"{threshold:g}-min service area: {cat.label}", show=False)
        if len(areas):
            folium.GeoJson(areas.to_crs("EPSG:4326")[["category", "minutes", "geometry"]].to_json(),
                           style_function=lambda f, c=colour: {"fillColor": c, "color": c, "weight": 1, "fillOpacity": 0.15}).add_to(sa)
        sa.add_to(m)

        markers = folium.FeatureGroup(name=f"Facilities: {cat.label} ({key})", show=True)
        for row in facilities[facilities["category"] == key].itertuples():
            status = "off-network (reaches nobody)" if row.off_network else ("counted" if row.counted else f"not counted: {row.flag_note}")
            popup = _facility_popup(row, cat, key, status)
            if row.facility_id in health_walk:
                popup += "<br>" + health_walk[row.facility_id]
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x], radius=6, color=colour if row.counted and not row.off_network else "#777",
                fill=True, fill_color=colour, fill_opacity=0.9 if row.counted else 0.1, weight=2,
                popup=folium.Popup(popup, max_width=300), tooltip=escape(row.name or cat.label),
            ).add_to(markers)
        markers.add_to(m)

    if len(communities):
        comm = communities[["name", "residents", "complete_share", "geometry"]].copy()
        comm["name"] = comm["name"].map(lambda s: escape(str(s)))
        comm["complete_pct"] = (comm["complete_share"].fillna(0) * 100).round(1)
        comm["residents"] = comm["residents"].round().astype(int)
        comm = comm.drop(columns="complete_share")
        cl = folium.FeatureGroup(name="Communities: complete-circle share", show=False)
        folium.GeoJson(comm.to_json(), style_function=lambda f: {
            "fillColor": _share_colour(f["properties"]["complete_pct"] / 100), "color": "#222", "weight": 1,
            "fillOpacity": 0.35},
            tooltip=folium.GeoJsonTooltip(["name", "residents", "complete_pct"],
                                          aliases=["community", "residents", "complete circle %"])).add_to(cl)
        cl.add_to(m)

    speed = f"walking {config.speed_m_s:g} m/s ({config.speed_profile})"
    m.get_root().html.add_child(folium.Element(_legend_html(config, classes, notes, speed)))
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
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
        suffix = f"{len(part)}, no facility at all" if no_facility else f"{len(part)}"
        group = folium.FeatureGroup(name=f"Blind spots (> {threshold:g} min): {cat.label} ({suffix})", show=False)
        if len(part):
            frame = part[["rank", "cells", "residents", "demand_residents", "demand", "nearest_walk_min",
                          "nearest_facility_name", "communities", "geometry"]].copy()
            frame["residents"] = frame["residents"].round().astype(int)
            frame["demand_residents"] = frame["demand_residents"].round().astype(int)
            frame["nearest_walk_min"] = frame["nearest_walk_min"].map(
                lambda v: "no facility reachable" if not np.isfinite(v) else f"{v:.1f}")
            for col in ("demand", "nearest_facility_name", "communities"):
                frame[col] = frame[col].map(lambda t: escape(str(t)))
            folium.GeoJson(frame.to_json(), style_function=lambda f: {
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


def write_map(m: folium.Map, out_dir: Path) -> Path:
    path = Path(out_dir) / "index.html"
    m.save(str(path))
    return path


_POPUP_FIELDS = (("beds", "beds 床位"), ("nursery_places", "nursery places 托位"), ("meals_per_day", "meals/day 日供餐"),
                 ("ownership", "ownership 性质"), ("address", "address 地址"))


def _facility_popup(row, cat, key: str, status: str) -> str:
    """Popup HTML of one facility: name, category, source (OSM id and/or registry row), capacities."""
    source = getattr(row, "source", "osm")
    where = []
    if getattr(row, "osm_id", -1) not in (-1, None) and source in ("osm", "both"):
        where.append(f"OSM {row.osm_type}/{row.osm_id}")
    if source in ("registry", "both"):
        where.append(f"{Path(str(row.registry_file)).name} row {int(row.registry_row)}")
    lines = [f"<b>{escape(row.name or '(unnamed)')}</b>", f"{escape(cat.label)} ({escape(key)})",
             f"source: {escape(source)} ({escape(', '.join(where))})"]
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


_SORT_JS = """
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


def _value_text(value, unit: str) -> str:
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
                f"<td>{escape(r.meaning)}</td><td data-v=\"{value}\">{escape(_value_text(r.value, r.unit))}</td>"
                f"<td>{escape(_value_text(r.target, r.unit))}</td><td style=\"color:{colour}\">{ok}</td>"
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
</div>{_SORT_JS}"""
    m.get_root().html.add_child(folium.Element(html))


def add_proposed_sites(m: folium.Map, res) -> None:
    """Proposed sites (numbered by rank) and their 15-minute service areas, in their own layer."""
    group = folium.FeatureGroup(name=f"Proposed sites: {res.category} ({len(res.sites)})", show=True)
    areas = res.service_areas
    if len(areas):
        top = areas[areas["minutes"] == areas["minutes"].max()].to_crs("EPSG:4326")
        folium.GeoJson(top[["facility_id", "minutes", "geometry"]].to_json(), style_function=lambda f: {
            "fillColor": "#7b3294", "color": "#7b3294", "weight": 1, "fillOpacity": 0.12, "dashArray": "4"}).add_to(group)
    col = f"new_{res.weight_column}_covered"
    for r in res.sites.itertuples(index=False):
        text = (f"<b>Proposed site #{r.rank}</b><br>{escape(res.category)}<br>{r.lon:.6f}, {r.lat:.6f}<br>"
                f"+{getattr(r, col):,.0f} {escape(res.weight_column)} covered<br>"
                f"covered share after: {r.covered_share_after:.1%}")
        folium.Marker([r.lat, r.lon], popup=folium.Popup(text, max_width=260), tooltip=f"proposed #{r.rank}",
                      icon=folium.DivIcon(html=f'<div style="background:#7b3294;color:white;border-radius:9px;'
                                               f'width:18px;height:18px;text-align:center;font:bold 11px sans-serif;'
                                               f'line-height:18px">{r.rank}</div>')).add_to(group)
    group.add_to(m)
