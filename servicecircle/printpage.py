"""The printable report ``report_print.html``: what goes into a 汇报, laid out for A4.

One page of the district (its goals, a map of its communities by the share of residents
within the walk of every category, its facilities and proposed sites), then one page per
street (街道): its goals, its map, the communities failing a goal and the sites proposed
inside it. The maps are SVG drawn here from the run's outlines, not screenshots of tiles:
they print sharp and need no network. Print it from the browser (打印 → A4, 另存为 PDF): the
browser embeds the fonts it drew the Chinese text with (any Chinese system font — 宋体, 微软雅黑,
Noto Sans CJK — the style sheet names them), so the PDF reads the same on any machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup

from . import pages, texts
from .config import Config
from .maps import CATEGORY_COLOURS
from .reportpage import _goal_rows, _l, _table, _td
from .results import RunResult
from .siting import SitingResult

#: Fill of a community by the share of its residents within the walk of every category (ColorBrewer RdYlGn).
SHARE_CLASSES = np.array([0.2, 0.4, 0.6, 0.8])
SHARE_COLOURS = np.array(["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"])
NO_DATA_COLOUR = "#dddddd"
#: Map sizes (px at 96 dpi): the district's two to a row, a street's three to a row of an A4 page.
DISTRICT_MAP_PX, STREET_MAP_PX = (340, 300), (228, 210)


def svg_view(bounds: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Offset and scale of an equirectangular view of ``bounds`` (west, south, east, north) in a map of ``size``."""
    west, south, east, north = bounds
    kx = np.cos(np.radians((south + north) / 2.0))  # metres per degree of longitude shrink with latitude
    width, height = max((east - west) * kx, 1e-9), max(north - south, 1e-9)
    scale = min((size[0] - 12) / width, (size[1] - 12) / height)
    return west - 6 / (kx * scale), north + 6 / scale, kx * scale, scale


def svg_paths(geoms: np.ndarray, view: tuple[float, float, float, float]) -> list[str]:
    """An SVG path ``d`` per polygon, all rings of all geometries converted in one pass."""
    west, north, sx, sy = view
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # exteriors and holes, each once
    ring_owner = owner[ring_part]
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    x = np.round((coords[:, 0] - west) * sx, 1)
    y = np.round((north - coords[:, 1]) * sy, 1)
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    words = np.where(first, "M", "L")
    text = np.char.add(np.char.add(np.char.add(words, x.astype(str)), " "), y.astype(str))
    by_ring = np.split(text, np.flatnonzero(first)[1:]) if len(text) else []
    d = [" ".join(r) + "Z" for r in by_ring]
    out = [""] * len(geoms)
    for ring, path in zip(ring_owner, d):
        out[ring] += path
    return out


def share_colours(shares: np.ndarray) -> np.ndarray:
    """Fill colour per community (grey where no resident is counted)."""
    cls = np.searchsorted(SHARE_CLASSES, np.nan_to_num(shares, nan=0.0), side="right")
    return np.where(np.isfinite(shares), SHARE_COLOURS[cls], NO_DATA_COLOUR)


def map_svg(*, outline: gpd.GeoSeries, communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
            category: str, colour: str, sites: gpd.GeoDataFrame | None, size: tuple[int, int]) -> Markup:
    """An SVG map of one category: communities filled by their covered share, the outline, the category's
    facilities and the proposed sites.

    Every text in it is a number or a colour of this module's: the markup is built here, not from inputs.
    """
    bounds = np.asarray(outline.total_bounds if len(outline) else communities.total_bounds, float)
    if not np.all(np.isfinite(bounds)):
        return Markup("")
    view = svg_view(bounds, size)
    west, north, sx, sy = view
    column = f"covered_share_{category}"
    drawn = len(communities) and column in communities
    fills: Any = share_colours(communities[column].to_numpy(float)) if drawn else []
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size[0]}" height="{size[1]}" '
           f'viewBox="0 0 {size[0]} {size[1]}" class="printmap">']
    for d, fill in zip(svg_paths(communities.geometry.to_numpy(), view), fills):
        out.append(f'<path d="{d}" fill="{fill}" stroke="#777" stroke-width="0.5" fill-rule="evenodd"/>')
    for d in svg_paths(outline.to_numpy(), view):
        out.append(f'<path d="{d}" fill="none" stroke="#222" stroke-width="1.6"/>')
    pts = facilities[facilities["category"] == category].geometry if len(facilities) else facilities.geometry
    x, y = (pts.x.to_numpy() - west) * sx, (north - pts.y.to_numpy()) * sy
    out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.2" fill="{colour}" stroke="#fff" stroke-width="0.8"/>'
               for a, b in zip(x, y))
    if sites is not None and len(sites):
        x, y = (sites.geometry.x.to_numpy() - west) * sx, (north - sites.geometry.y.to_numpy()) * sy
        out.extend(f'<rect x="{a - 4:.1f}" y="{b - 4:.1f}" width="8" height="8" fill="#000" '
                   f'transform="rotate(45 {a:.1f} {b:.1f})"/>' for a, b in zip(x, y))
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704  (numbers and this module's colours only)


def category_maps(config: Config, *, outline: gpd.GeoSeries, communities: gpd.GeoDataFrame,
                  facilities: gpd.GeoDataFrame, sites: gpd.GeoDataFrame | None, siting_category: str | None,
                  size: tuple[int, int]) -> list[dict]:
    """One small map per category (proposed sites drawn on their own category's)."""
    out = []
    for i, key in enumerate(config.categories):
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        out.append({"label": config.categories[key].label,
                    "svg": map_svg(outline=outline, communities=communities, facilities=facilities, category=key,
                                   colour=colour, sites=sites if key == siting_category else None, size=size)})
    return out


def _legend(config: Config) -> dict:
    """The maps' legend: share classes, categories, proposed sites."""
    edges = [0.0, *SHARE_CLASSES.tolist(), 1.0]
    classes = [{"colour": c, "text": f"{a:.0%}–{b:.0%}"} for c, a, b in zip(SHARE_COLOURS, edges[:-1], edges[1:])]
    cats = [{"colour": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)], "text": config.categories[k].label}
            for i, k in enumerate(config.categories)]
    return {"classes": classes, "categories": cats}


def _failing(scorecard: pd.DataFrame) -> pd.DataFrame:
    """Communities failing at least one goal: name, street id, the goals failed (one row per community)."""
    failed = scorecard[(scorecard["level"] == "community") & scorecard["passed"].eq(False)]
    return (failed.groupby("unit_id", sort=False)
            .agg(name=("unit_name", "first"), street=("street_name", "first"),
                 goals=("goal_name", lambda g: "、".join(dict.fromkeys(g))))
            .reset_index())


def build_print_page(result: RunResult, *, siting: SitingResult | None = None) -> str:
    """The printable report of a run: ``templates/report_print.html``."""
    config, s = result.config, result.summary
    lang = config.output.lang
    sc = result.scorecard if result.scorecard is not None else pd.DataFrame(columns=["level", "unit_id"])
    head = [_l(config, k) for k in ("goal", "kind", "meaning", "value", "target", "passed", "gap")]
    comms = result.communities.to_crs(4326)
    facilities = result.facilities.to_crs(4326) if len(result.facilities) else result.facilities
    if "counted" in facilities:
        facilities = facilities[facilities["counted"].fillna(True).astype(bool)]
    sites = siting.sites.to_crs(4326) if siting is not None and len(siting.sites) else None
    area = gpd.GeoSeries([result.area], crs=4326)
    site_cat = siting.category if siting is not None else None
    district = {"goals": _table(head, _goal_rows(config, sc, "district"), sortable=False) if len(sc) else None,
                "maps": category_maps(config, outline=area, communities=comms, facilities=facilities, sites=sites,
                                      siting_category=site_cat, size=DISTRICT_MAP_PX)}
    failing = _failing(sc) if len(sc) else pd.DataFrame(columns=["unit_id", "name", "street", "goals"])
    fail_head = [_l(config, "unit_name"), texts.text(lang, "print.goals_failed")]
    streets_out = []
    if result.streets is not None and len(result.streets):
        streets = result.streets.to_crs(4326)
        # Each unit's rows and members found once (group indices), not searched per street.
        comm_of = comms.groupby("street_id").indices
        street_sc = sc[sc["level"] == "street"]
        street_rows = street_sc.groupby("unit_id").indices if len(sc) else {}  # positions in street_sc
        fail_of = failing.merge(comms[["community_id", "street_id"]], left_on="unit_id", right_on="community_id",
                                how="left").groupby("street_id").indices
        fac_street = _street_of_points(facilities, streets)
        site_street = _street_of_points(sites, streets) if sites is not None else None
        for i, (sid, name, geom) in enumerate(zip(streets["street_id"], streets["name"], streets.geometry)):
            members = comms.iloc[comm_of.get(sid, [])]
            rows = street_sc.iloc[street_rows.get(sid, [])] if len(sc) else sc
            fails = failing.iloc[fail_of.get(sid, [])] if len(failing) else failing
            streets_out.append({
                "name": name, "residents": float(members["residents"].sum()) if len(members) else 0.0,
                "communities": len(members),
                "goals": _table(head, _unit_goal_rows(config, rows), sortable=False) if len(rows) else None,
                "failing": _table(fail_head, [[_td(n), _td(g)] for n, g in zip(fails["name"], fails["goals"])],
                                  sortable=False) if len(fails) else None,
                "maps": category_maps(config, outline=gpd.GeoSeries([geom], crs=4326), communities=members,
                                      facilities=facilities[fac_street == i], siting_category=site_cat,
                                      sites=sites[site_street == i] if sites is not None else None,
                                      size=STREET_MAP_PX),
                "sites": int((site_street == i).sum()) if site_street is not None else 0,
            })
    return pages.render(
        "report_print.html", lang, html_lang="zh-CN" if lang == "zh" else "en", name=config.area.name,
        header=f"{s['population_total']:,.0f} {_l(config, 'residents')} · {config.access.speed_m_s:g} m/s · "
               f"{config.access.coverage_threshold_min:g} {_l(config, 'minutes')} · {_l(config, 'config')} "
               f"{config.config_hash}",
        district=district, streets=streets_out, legend=_legend(config),
        failing_total=len(failing), siting_category=(config.categories[siting.category].label if siting else ""),
        sites_total=0 if sites is None else len(sites))


def _unit_goal_rows(config: Config, rows: pd.DataFrame) -> list:
    """One unit's goal rows, without the level, unit and street columns the page heading already says."""
    return [r[3:] for r in _goal_rows(config, rows, None)]


def _street_of_points(points: gpd.GeoDataFrame | None, streets: gpd.GeoDataFrame) -> np.ndarray:
    """Per point, the position of the street it lies in (-1: none), one spatial-index query for all."""
    if points is None or not len(points):
        return np.zeros(0, int)
    out = np.full(len(points), -1)
    ip, istreet = streets.sindex.query(points.geometry.to_numpy(), predicate="intersects")
    out[ip[::-1]] = istreet[::-1]  # a point on a shared edge: the first street
    return out


def write_print_page(result: RunResult, siting: SitingResult | None = None) -> Path:
    """Write ``report_print.html`` into the run's output folder."""
    path = Path(result.config.output.out_dir) / "report_print.html"
    path.write_text(build_print_page(result, siting=siting), encoding="utf-8")
    return path
