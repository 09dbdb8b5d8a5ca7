"""The map and report page in a real browser (headless Chromium), offline, and under a GCJ-02 basemap.

The registry here is test input declared in conftest (CHENGDU_TEST_REGISTRY),
with one hostile facility name: it must reach the page as text and never run. The map draws compact
tables on canvas (servicecircle.maps, templates/map.js); the checks below read
what the browser decoded and drew and compare it with the run's own tables,
computed independently here (h3-py for cell boundaries and parents, shapely
for areas).
"""

import io
import json
import re
from dataclasses import replace
from html import escape

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import map_texts
from markupsafe import escape as markup_escape

from conftest import HOSTILE
from servicecircle import coords, maps, pipeline

TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "gtimg.com")


@pytest.fixture(scope="session")
def offline_run(chengdu_registry_run):
    """Chengdu with the shared test registry (conftest.CHENGDU_TEST_REGISTRY, its first row the hostile
    name) and offline pages."""
    assert chengdu_registry_run.config.output.offline
    return chengdu_registry_run


@pytest.fixture(scope="module")
def amap_files(offline_run, tmp_path_factory):
    """The same run drawn on AMap tiles (GCJ-02), labelled in English."""
    config = offline_run.config.with_settings(output={"basemap": "amap", "lang": "en", "out_dir": tmp_path_factory.mktemp("amap")})
    return pipeline.write_html(replace(offline_run, config=config))


def open_page(browser, path):
    """Open a local page with every non-file request blocked; return the page, JS errors and blocked URLs.

    Waits until every layer shown at first has drawn its tiles.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, external = [], []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # A blocked basemap tile is logged as a failed resource at the tile's URL; anything else is an error.
    page.on("console", lambda m: errors.append(f"console: {m.text} at {m.location}")
            if m.type == "error" and not str(m.location.get("url", "")).startswith("http") else None)
    page.goto(path.as_uri(), wait_until="load")
    if page.evaluate("typeof window.servicecircleMap") == "object":
        page.evaluate("servicecircleMap.ready")
    page.wait_for_timeout(300)
    return page, errors, external


def not_blank(png: bytes) -> bool:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").resize((160, 112))
    colours = img.getcolors(maxcolors=160 * 112)
    most = max(n for n, _ in colours)
    return len(colours) > 30 and most < 0.9 * 160 * 112


def populated(result):
    return result.cells[result.cells["residents"] > 0].set_index("h3")


def popup_text(page):
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    return " | ".join(page.locator(".leaflet-popup-content").all_inner_texts())


def click_free_point(page, candidates, prefix):
    """Really click the first of ``candidates`` ([lat, lon]) that lies on the open map (not under a panel or
    control) and whose popup would start with ``prefix`` (no facility marker there); return its index."""
    index = page.evaluate("""async ([points, prefix]) => { const S = servicecircleMap, m = S.map;
        for (let k = 0; k < points.length; k++) {
          const p = m.latLngToContainerPoint(points[k]);
          const el = document.elementFromPoint(p.x, p.y);
          if (!el || !el.closest('#servicecircle-map') || el.closest('.leaflet-control')) continue;
          const html = await S.popupAt(L.latLng(points[k]));
          if (html && html.startsWith(prefix)) return k; }
        return -1; }""", [candidates, prefix])
    assert index >= 0
    p = page.evaluate("(ll) => { const p = servicecircleMap.map.latLngToContainerPoint(ll); return [p.x, p.y]; }",
                      candidates[index])
    page.mouse.click(p[0], p[1])
    return index


def test_offline_map_renders_its_layers_without_the_network(browser, offline_run):
    path = offline_run.files["map"]
    html = path.read_text(encoding="utf-8")
    assert not re.search(r'<script[^>]+src="http|<link[^>]+href="http', html)
    assert path.stat().st_size < 2e6  # the bound for the Chengdu page
    page, errors, external = open_page(browser, path)
    assert errors == []
    assert all(any(h in url for h in TILE_HOSTS) for url in external), external  # only basemap tiles were asked for
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    for key, label in (("elder_care", "养老服务"), ("nursery", "托育服务"), ("health_centre", "卫生服务")):
        assert f"步行时间: {label} ({key})" in labels
        assert any(t.startswith(f"盲区（>15分钟）: {label}") for t in labels)
        assert f"5分钟服务范围: {label}" in labels and f"15分钟服务范围: {label}" in labels
        assert f"设施: {label} ({key})" in labels
    assert "社区（点击查看评估）" in labels
    legend = page.locator("#servicecircle-legend")
    assert legend.is_visible() and "分钟" in legend.inner_text() and "WGS-84" in legend.inner_text()
    assert "© OpenStreetMap contributors, ODbL 1.0" in legend.inner_text()
    stats = page.evaluate("servicecircleMap.stats")
    assert stats["cellsDrawn"] > 100 and stats["facilitiesDrawn"] > 10
    assert not_blank(page.screenshot())
    page.close()


def test_page_is_deterministic_and_light(offline_run, tmp_path):
    """Same inputs, same bytes; and no cell or facility is written as a GeoJSON feature any more."""
    a = pipeline.write_html(replace(offline_run, config=offline_run.config.with_settings(output={"out_dir": tmp_path})))["map"]
    first = a.read_bytes()
    b = pipeline.write_html(replace(offline_run, config=offline_run.config.with_settings(output={"out_dir": tmp_path})))["map"]
    assert b.read_bytes() == first
    text = first.decode("utf-8")
    assert '"type":"Feature"' not in text.replace(" ", "") and "circle_marker_" not in text
    cell = populated(offline_run).index[0]
    assert cell not in text  # cell ids travel as integers in the compressed table, not as text


MARKUP_NAME = "<script>alert(1)</script>&\"'"


def test_names_from_inputs_reach_both_pages_escaped(offline_run, tmp_path):
    """A study area, a community and a facility named as markup: escaped by the page templates, and once
    in the map's tables (its script inserts those as HTML); never written raw into either page."""
    comms = offline_run.communities.copy()
    comms.loc[comms.index[0], "name"] = MARKUP_NAME + "社区"
    sc = offline_run.scorecard.copy()
    first = sc.index[(sc["level"] == "community").to_numpy()][0]
    sc.loc[first, "unit_name"] = MARKUP_NAME + "社区"
    result = replace(offline_run, communities=comms, scorecard=sc,
                     config=offline_run.config.with_settings(area={"name": MARKUP_NAME}, output={"out_dir": tmp_path}))
    files = pipeline.write_html(result)
    report, page = (files[k].read_text(encoding="utf-8") for k in ("report", "map"))
    for html in (report, page):
        assert "<script>alert" not in html and "<img src=x" not in html
    # Page text: escaped by the templates (markupsafe spells the quotes &#34; and &#39;).
    name = str(markup_escape(MARKUP_NAME))
    assert f"<title>{name} — " in page and f"<b>{name} — " in page
    assert f"<h1>一刻钟服务圈评估报告 — {name}</h1>" in report
    assert f"<td>{markup_escape(MARKUP_NAME + '社区')}</td>" in report
    assert f"<td>{markup_escape(HOSTILE)}</td>" in report  # the 医养结合 table
    # The map's tables: escaped once when packed.
    assert map_texts(files["map"], "communities", "name")[0] == escape(MARKUP_NAME + "社区")
    assert escape(HOSTILE) in map_texts(files["map"], "facilities", "label")


def test_offline_pages_load_nothing_from_the_network(offline_run, tmp_path):
    """Offline, no page refers to an http(s) script, style sheet, image or frame; online, Leaflet comes from its CDN."""
    for key in ("report", "map"):
        html = offline_run.files[key].read_text(encoding="utf-8")
        assert not re.search(r"url\(\s*[\"']?(https?:)?//|@import", html), key  # style sheets load nothing
        markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", html, flags=re.S | re.I)
        tags = re.findall(r"<(?:script|link|img|iframe|embed|object|source)\b[^>]*>", markup, flags=re.I)
        refs = [m for t in tags for m in re.findall(r"""\b(?:src|href|data)\s*=\s*["']?([^"'\s>]+)""", t)]
        assert not [r for r in refs if re.match(r"(https?:)?//", r)], (key, refs)
        assert "<script>" in markup and not re.search(r"<script[^>]*\bsrc=", markup), key
    assert "url(data:image/png;base64," in offline_run.files["map"].read_text(encoding="utf-8")
    online = pipeline.write_html(replace(offline_run, config=offline_run.config.with_settings(output={"offline": False, "out_dir": tmp_path})))
    html = online["map"].read_text(encoding="utf-8")
    assert re.search(r'<script src="https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.js"></script>', html)
    assert re.search(r'<link rel="stylesheet" href="https://cdn\.jsdelivr\.net/npm/leaflet@[\d.]+/dist/leaflet\.css"/>',
                     html)
    assert "url(data:image" not in html
    assert 'id="sc-no-library"' in html and 'id="sc-no-library"' not in offline_run.files["map"].read_text(encoding="utf-8")


def test_a_cdn_page_without_internet_says_why_it_is_empty(browser, offline_run, tmp_path):
    """On an intranet the --cdn page cannot load Leaflet: it shows, in Chinese, why and how to get the offline page."""
    online = pipeline.write_html(replace(offline_run, config=offline_run.config.with_settings(
        output={"offline": False, "out_dir": tmp_path})))
    page, _, external = open_page(browser, online["map"])
    assert any("leaflet" in url for url in external)  # the CDN was asked and refused
    message = page.locator("#sc-no-library")
    assert message.is_visible() and "--cdn" in message.inner_text() and "内网" in message.inner_text()
    page.close()
    page, errors, _ = open_page(browser, offline_run.files["map"])  # the default page has no such message
    assert errors == [] and page.locator("#sc-no-library").count() == 0
    page.close()


def test_cell_geometry_decoded_in_the_browser_equals_the_cell_polygons(browser, offline_run):
    page, errors, _ = open_page(browser, offline_run.files["map"])
    full = page.evaluate("servicecircleMap.cellGeometry(0)")
    cells = populated(offline_run)
    assert sorted(full["h3"]) == sorted(cells.index)
    shown = maps.display_frame(cells.loc[full["h3"]].reset_index(), offline_run.config)
    ring = shapely.get_exterior_ring(shown.geometry.values)
    n = shapely.get_num_coordinates(ring)
    expected = np.delete(shapely.get_coordinates(ring), np.cumsum(n) - 1, axis=0)  # without the closing vertex
    got = np.asarray(full["q"], dtype=float).reshape(-1, 2) / 1e5
    assert np.diff(full["off"]).tolist() == (n - 1).tolist()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # The coarser level: parents from h3-py (an independent H3 implementation), with their boundaries.
    levels = page.evaluate("JSON.parse(document.getElementById('sc-data').textContent).ui.levels")
    coarse = page.evaluate("servicecircleMap.cellGeometry(1)")
    res = levels[1]["res"]
    assert res == offline_run.config.grid.h3_resolution - maps.COARSE_STEPS[0]
    assert sorted(coarse["h3"]) == sorted({h3.cell_to_parent(c, res) for c in cells.index})
    for k in range(0, len(coarse["h3"]), max(1, len(coarse["h3"]) // 20)):
        boundary = np.array([(lon, lat) for lat, lon in h3.cell_to_boundary(coarse["h3"][k])])
        mine = np.asarray(coarse["q"][2 * coarse["off"][k]:2 * coarse["off"][k + 1]], float).reshape(-1, 2) / 1e5
        np.testing.assert_allclose(mine, boundary, atol=1e-5, rtol=0)
    assert errors == []
    page.close()


def test_clicks_show_cell_facility_and_community_details_and_names_stay_text(browser, offline_run):
    page, errors, _ = open_page(browser, offline_run.files["map"])
    config = offline_run.config
    facs = offline_run.facilities
    # Every facility: its popup at its displayed position, built from the table; the hostile name shows as text.
    points = [list(maps.display_point(x, y, config)) for x, y in shapely.get_coordinates(facs.geometry.values)]
    texts = page.evaluate("""async (points) => { const out = [];
        for (const p of points) { const html = await servicecircleMap.popupAt(L.latLng(p));
          const div = document.createElement('div'); div.innerHTML = html || ''; out.push(div.textContent); }
        return out; }""", points)
    for text, name, cat in zip(texts, facs["name"], facs["category"]):
        assert (name or "（未命名）") in text and f"({cat})" in text
    assert any(HOSTILE in t for t in texts)
    # A real click on the hostile facility's marker opens its popup.
    hostile = int(np.flatnonzero(facs["name"].to_numpy() == HOSTILE)[0])
    p = page.evaluate("(ll) => { const p = servicecircleMap.map.latLngToContainerPoint(ll); return [p.x, p.y]; }",
                      points[hostile])
    page.mouse.click(p[0], p[1])
    text = popup_text(page)
    assert HOSTILE in text and "registry.csv 第 2 行" in text and "床位: 30" in text
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.evaluate("servicecircleMap.map.closePopup()")
    # A cell: a real click at its centre opens that cell's popup (residents; walk and nearest facility per category).
    cells = populated(offline_run).sort_values("residents", ascending=False)
    centres = [[lat, lon] for lat, lon in (h3.cell_to_latlng(c) for c in cells.index[:200])]
    k = click_free_point(page, centres, "<b>网格 ")
    text = popup_text(page)
    cell = cells.iloc[k]
    names = dict(zip(facs["facility_id"], facs["name"]))
    assert f"网格 {cells.index[k]}" in text and f"居民: {cell['residents']:,.0f}" in text
    for key, cat in config.categories.items():
        t = cell[f"walk_time_s_{key}"] / 60
        walk = f"{t:.1f} 分钟" if np.isfinite(t) else "不可达"
        near = cell[f"nearest_{key}"]
        assert f"{cat.label}: {walk}" + (f" — {names.get(near) or near}" if near else "") in text
    page.evaluate("servicecircleMap.map.closePopup()")
    # A community: its scorecard rows (the layer is off at first: switch it on).
    page.locator(".leaflet-control-layers-overlays label", has_text="社区（点击查看评估）").locator("input").check()
    comms = offline_run.communities
    shown = maps.display_frame(comms, config)
    inside = shapely.point_on_surface(shown.geometry.values)
    html = page.evaluate("(ll) => servicecircleMap.popupAt(L.latLng(ll))", [inside[0].y, inside[0].x])
    # Chengdu's units are OSM compounds: 社区 goals (社区日间照料机构覆盖率) are not scored on them.
    assert html is not None and comms["name"].iloc[0] in html and "一刻钟居家养老服务圈" in html
    assert "社区日间照料机构覆盖率" not in html
    rows = offline_run.scorecard.query("level == 'community' and unit_id == @comms.community_id.iloc[0]")
    assert html.count("<tr>") == len(rows) > 0
    assert errors == []
    page.close()


def test_zoomed_out_shows_parents_and_zooming_in_the_cells(browser, offline_run):
    page, errors, _ = open_page(browser, offline_run.files["map"])
    cells = populated(offline_run)
    zoom_to = """(z) => new Promise(resolve => { const m = servicecircleMap.map;
        m.once('zoomend', () => setTimeout(resolve, 0)); m.setZoom(z, {animate: false}); })"""
    page.evaluate(zoom_to, 11)
    page.wait_for_function("servicecircleMap.stats.parentsDrawn > 0")
    # The finest level whose mean edge is at least MIN_EDGE_PX pixels at zoom 11 (Web Mercator at the centre).
    lat0 = np.radians(np.mean(offline_run.area.bounds[1::2]))
    metres_per_px = 156543.03392804097 * np.cos(lat0) / 2 ** 11
    finest = offline_run.config.grid.h3_resolution
    levels = [finest] + [finest - k for k in maps.COARSE_STEPS]
    expected = next(r for r in levels if h3.average_hexagon_edge_length(r, "m") / metres_per_px >= maps.MIN_EDGE_PX)
    assert expected < finest and page.evaluate("servicecircleMap.levelFor(11).res") == expected
    # A parent's popup: the residents of all its populated children (summed here with h3-py's parents).
    level = page.evaluate("servicecircleMap.levelFor(11).res")
    parent_of = pd.Series([h3.cell_to_parent(c, level) for c in cells.index], index=cells.index)
    biggest = cells["residents"].groupby(parent_of).sum().sort_values().index[-1]
    lat, lon = h3.cell_to_latlng(biggest)
    html = page.evaluate("(ll) => servicecircleMap.popupAt(L.latLng(ll))", [lat, lon])
    total = cells["residents"].groupby(parent_of).sum()[biggest]
    assert html is not None and biggest in html and f"{round(total):,}" in html
    drawn = page.evaluate("servicecircleMap.stats.cellsDrawn")
    page.evaluate(zoom_to, 15)
    page.wait_for_function(f"servicecircleMap.stats.cellsDrawn > {drawn}")
    assert page.evaluate("servicecircleMap.levelFor(15).full")
    assert errors == []
    page.close()


def test_service_areas_on_the_page_match_the_merged_areas(browser, offline_run):
    """The rings the browser decoded enclose the merged area's area (simplified to 2 m, holes < 100 m² left out)."""
    page, errors, _ = open_page(browser, offline_run.files["map"])
    merged = offline_run.merged_service_areas
    keys = list(offline_run.config.categories)
    assert len(merged)
    for row in merged.itertuples():
        name = f"area_{keys.index(row.category)}_{row.minutes:g}"
        rings = page.evaluate("(name) => servicecircleMap.polygonRings(name)", name)
        q = np.asarray(rings["q"], dtype=float).reshape(-1, 2) / 1e5
        polys = shapely.polygons(shapely.linearrings(q, indices=np.repeat(np.arange(len(rings["off"]) - 1),
                                                                          np.diff(rings["off"]))))
        # Exteriors turn anticlockwise and holes clockwise on the page: the signed sum is the area.
        sign = np.where(shapely.is_ccw(shapely.get_exterior_ring(polys)), 1.0, -1.0)
        area = gpd.GeoSeries(polys, crs="EPSG:4326").to_crs(merged.crs).area.to_numpy() @ sign
        assert area == pytest.approx(shapely.area(row.geometry), rel=0.03), name
    assert errors == []
    page.close()


def test_blind_spot_outlines_follow_the_clusters(offline_run):
    """Boundary edges of blind-spot cells against h3-py's neighbours: an edge bounds the cluster exactly
    when the cell across it is not in the cluster."""
    cells = populated(offline_run).reset_index()
    ids = maps._h3_uint64(cells["h3"])
    order = np.argsort(ids, kind="stable")
    cells = cells.iloc[order].reset_index(drop=True)
    q, counts = maps._cell_rings(cells.geometry.values, offline_run.config)
    member = ~cells["covered_nursery"].to_numpy(bool)
    mask = maps._boundary_edges(q, counts, member)
    inside = set(cells["h3"][member])
    expected = [sum(nb not in inside for nb in h3.grid_ring(c, 1)) for c in cells["h3"][member]]
    got = [bin(int(v)).count("1") for v in mask[member]]
    assert got == expected and sum(got) > 0
    assert (mask[~member] == 0).all()


def test_scorecard_panel_is_capped_and_sorts(browser, offline_run):
    page, errors, _ = open_page(browser, offline_run.files["map"])
    page.locator("#servicecircle-scorecard > details > summary").click()
    page.wait_for_selector("#servicecircle-scorecard table.sc-table")
    sc = offline_run.scorecard
    rows = page.evaluate("document.querySelectorAll('#servicecircle-scorecard tbody tr').length")
    district = (sc["level"] == "district").sum()
    fails = sc[(sc["kind"] == "binding") & (sc["passed"] == False)]  # noqa: E712
    failing_units = fails.query("level == 'community'")["unit_id"].unique()
    shown = min(len(failing_units), maps.PANEL_COMMUNITIES)
    per_unit = sc.query("level == 'community'").groupby("unit_id").size()
    expected = district + (sc["level"] == "street").sum() + per_unit.loc[failing_units].sort_values().iloc[-shown:].sum()
    # Chengdu's units are OSM compounds: its 社区 goals are one district row (未评估), so few compounds fail.
    assert district <= rows <= expected and (rows > district) == (len(failing_units) > 0)
    assert "未评估" in page.locator("#servicecircle-scorecard").inner_text()
    text = page.locator("#servicecircle-scorecard").inner_text()
    assert "社区日间照料机构覆盖率" in text
    assert page.locator("#servicecircle-scorecard thead").first.inner_text().split() == \
        ["单位", "指标", "性质", "口径", "现状", "目标", "达标", "差距"]
    assert page.locator("#servicecircle-scorecard-body summary").all_inner_texts()[0] == "区"
    assert errors == []
    page.close()


def test_report_page_offline(browser, offline_run):
    page, errors, external = open_page(browser, offline_run.files["report"])
    assert errors == [] and all(any(h in u for h in TILE_HOSTS) for u in external)
    for section in ("#found", "#goals", "#map", "#charts", "#scorecard", "#gaps", "#methods"):
        assert page.locator(section).count() == 1, section
    assert page.locator("#chart-walk-time .series").count() == len(offline_run.config.categories)
    assert page.locator("#chart-community-coverage .series").count() > 0
    # Every chart text, legend entries with their long counts included, lies inside its chart as drawn.
    outside = page.evaluate("""() => Array.from(document.querySelectorAll('#charts svg')).flatMap(svg =>
        Array.from(svg.querySelectorAll('text')).filter(t => { const b = t.getBBox();
            return b.x < 0 || b.y < 0 || b.x + b.width > svg.width.baseVal.value + 0.5
                || b.y + b.height > svg.height.baseVal.value + 0.5; }).map(t => t.textContent))""")
    assert outside == []
    # Every column of the gaps tables has a header (the 2SFCA table's notes column had none).
    heads = page.evaluate("() => Array.from(document.querySelectorAll('#gaps table')).map(t => "
                          "Array.from(t.querySelectorAll('thead th')).map(h => h.textContent.trim()))")
    assert len(heads) >= 2 and all(h and all(heads_i for heads_i in h) for h in heads), heads
    assert heads[0][-1] == "说明"
    methods = page.locator("#methods").inner_text()
    assert offline_run.config.config_hash in methods and "1 m/s" in methods and "H3" in methods
    assert "chengdu_central.osm" in methods and "registry.csv" in methods
    # The hostile name reaches the gaps tables as text.
    assert HOSTILE in page.locator("#gaps").inner_text()
    assert page.evaluate("window.__pwned") is None
    # Sorting a scorecard column reorders its rows.
    table = page.locator("#scorecard table")
    values = "Array.from(document.querySelectorAll('#scorecard tbody tr')).map(r => r.cells[6].dataset.v)" \
             ".filter(v => v !== '').map(Number)"
    before = page.evaluate(values)
    assert before != sorted(before)
    table.locator("th").nth(6).click()
    assert page.evaluate(values) == sorted(before)
    frame = page.frame_locator("#map iframe")
    assert frame.locator("#servicecircle-legend").count() == 1
    # In the embedded map (a 640 px frame) the legend leaves the layer list whole, and both stay usable:
    # the legend scrolls inside itself and folds away on its title.
    frame.locator(".leaflet-control-layers").wait_for()
    page.locator("#map").scroll_into_view_if_needed()
    layers, legend = (frame.locator(sel).bounding_box() for sel in (".leaflet-control-layers", "#servicecircle-legend"))
    apart = (layers["y"] + layers["height"] <= legend["y"] or legend["x"] + legend["width"] <= layers["x"])
    assert apart, (layers, legend)
    iframe = page.locator("#map iframe").bounding_box()
    assert legend["y"] >= iframe["y"] and legend["y"] + legend["height"] <= iframe["y"] + iframe["height"]
    assert frame.locator("#servicecircle-legend").evaluate("e => e.scrollHeight > e.clientHeight")  # it scrolls
    frame.locator("#servicecircle-legend summary").click()
    assert frame.locator("#servicecircle-legend").bounding_box()["height"] < legend["height"] / 2
    frame.locator(".leaflet-control-layers input").first.click()  # the layer list takes clicks
    assert not_blank(page.screenshot(full_page=False))
    page.close()


def test_gcj02_basemap_shifts_overlays_for_display_only(browser, offline_run, amap_files):
    html = amap_files["map"].read_text(encoding="utf-8")
    assert "webrd0{s}.is.autonavi.com" in html
    cells = maps.display_frame(offline_run.cells.iloc[:50], offline_run.config)
    shifted = maps.display_frame(offline_run.cells.iloc[:50], offline_run.config.with_settings(output={"basemap": "amap"}))
    a, b = shapely.get_coordinates(cells.geometry.values), shapely.get_coordinates(shifted.geometry.values)
    gx, gy = coords.wgs84_to_gcj02(a[:, 0], a[:, 1])
    np.testing.assert_allclose(b, np.column_stack([gx, gy]), atol=2e-5)  # both rounded to 1e-5°
    assert 200 < np.median(np.hypot((b - a)[:, 0] * 96_000, (b - a)[:, 1] * 111_000)) < 800  # the GCJ-02 offset
    page, errors, external = open_page(browser, amap_files["map"])
    assert errors == [] and external and all("autonavi.com" in u for u in external)
    # Every facility marker sits at its GCJ-02 position (the analysis tables stay in WGS-84).
    facs = offline_run.facilities
    xy = shapely.get_coordinates(facs.geometry.values)
    gx, gy = coords.wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    shown = page.evaluate("""async () => { const F = await servicecircleMap.facilities();
        return {x: Array.from(F.ds.col.x), y: Array.from(F.ds.col.y), label: F.ds.text('label')}; }""")
    on_page = pd.DataFrame({"x": np.asarray(shown["x"]) / 1e5, "y": np.asarray(shown["y"]) / 1e5,
                            "label": shown["label"]})
    label = np.where(facs["name"].fillna("") != "", facs["name"], facs["facility_id"])
    for lbl, x, y in zip(label, gx, gy):
        same = on_page[on_page["label"] == escape(lbl)]
        assert (np.hypot(same["x"] - x, same["y"] - y) <= 2e-5).any(), lbl
    assert np.median(np.hypot((gx - xy[:, 0]) * 96_000, (gy - xy[:, 1]) * 111_000)) > 200
    # The cells the browser decoded are the GCJ-02-shifted polygons.
    full = page.evaluate("servicecircleMap.cellGeometry(0)")
    pop = populated(offline_run)
    want = maps.display_frame(pop.loc[full["h3"][:100]].reset_index(), offline_run.config.with_settings(output={"basemap": "amap"}))
    ring = shapely.get_exterior_ring(want.geometry.values)
    n = shapely.get_num_coordinates(ring)
    expected = np.delete(shapely.get_coordinates(ring), np.cumsum(n) - 1, axis=0)
    got_q = np.asarray(full["q"][:2 * full["off"][100]], float).reshape(-1, 2) / 1e5
    np.testing.assert_allclose(got_q, expected, atol=1e-5, rtol=0)
    legend = page.locator("#servicecircle-legend").inner_text()
    assert "GCJ-02" in legend and "overlays shifted" in legend and "walk time" in legend
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    assert "Walk time: 养老服务 (elder_care)" in labels
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#servicecircle-scorecard > details > summary").inner_text().startswith("Scorecard (click")
    panel_head = page.evaluate("""async () => { document.querySelector('#servicecircle-scorecard > details').open = true;
        await new Promise(r => setTimeout(r, 300));
        return Array.from(document.querySelectorAll('#servicecircle-scorecard thead th')).slice(0, 8).map(t => t.textContent); }""")
    assert panel_head == ["unit", "goal", "kind", "meaning", "actual", "target", "met", "gap"]
    page.close()
    report = amap_files["report"].read_text(encoding="utf-8")
    assert "15-minute service circle report" in report and "overlays shifted to GCJ-02" in report
    assert json.dumps(offline_run.config.config_hash)[1:-1] in report


def test_proposed_sites_have_their_own_layer(browser, offline_run, tmp_path):
    from servicecircle import siting

    candidates = siting.network_candidates(offline_run.network, 200.0, offline_run.area)
    res = siting.site(offline_run, "nursery", k=2, candidates=candidates)
    files = pipeline.write_html(replace(offline_run, config=offline_run.config.with_settings(output={"out_dir": tmp_path})), res)
    page, errors, _ = open_page(browser, files["map"])
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    assert "拟建选址: nursery (2)" in labels
    markers = page.evaluate("""() => { const out = []; servicecircleMap.map.eachLayer(l => {
        if (l instanceof L.Marker && l.getTooltip()) out.push([l.getLatLng().lat, l.getLatLng().lng,
                                                               l.getTooltip().getContent()]); }); return out; }""")
    expected = [(*maps.display_point(r.lon, r.lat, offline_run.config), f"拟建 #{r.rank}")
                for r in res.sites.itertuples()]
    assert sorted((round(a, 5), round(b, 5), t) for a, b, t in markers) == sorted(
        (round(a, 5), round(b, 5), t) for a, b, t in expected)
    name = page.evaluate("servicecircleMap.layers.find(e => e.kind === 'proposed').areas")
    rings = page.evaluate("(name) => servicecircleMap.polygonRings(name)", name)
    assert len(rings["off"]) > 2 and set(rings["feature"]) == set(range(len(res.sites)))
    assert errors == []
    page.close()


def test_outlines_and_names_give_context_without_tiles(browser, hexi_run):
    """Hexi's study area, 14 streets and 141 communities are outlined and named by default, each name
    anchored inside its own polygon, so a page whose tiles cannot load (all blocked here) still shows
    where everything is."""
    path = hexi_run.files["map"]
    streets = hexi_run.streets
    assert map_texts(path, "outline_streets", "name") == [escape(n) for n in streets["name"]]
    page, errors, external = open_page(browser, path)
    assert errors == []
    shown = page.evaluate("servicecircleMap.layers.filter(e => e.kind === 'outline')"
                          ".map(e => [e.level, servicecircleMap.map.hasLayer(e.leaflet)])")
    assert shown == [["district", True], ["street", True], ["community", True]]
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    assert {"研究范围边界", "街道边界与名称", "社区边界与名称"} <= set(labels)
    anchors = page.evaluate("""async () => { const out = {};
        for (const name of ['outline_streets', 'communities']) {
          const ds = await servicecircleMap.dataset(name);
          out[name] = [Array.from(ds.col.lx), Array.from(ds.col.ly)]; }
        return out; }""")
    for name, units in (("outline_streets", streets), ("communities", hexi_run.communities)):
        lx, ly = (np.asarray(v) / 1e5 for v in anchors[name])
        inside = shapely.contains_xy(units.to_crs(4326).geometry.values, lx, ly)
        # Rounded to 1e-5° (about a metre): a thin unit's anchor may sit on its edge, never elsewhere.
        near = shapely.distance(np.asarray(units.to_crs(4326).geometry.values), shapely.points(lx, ly)) < 2e-5
        assert np.all(inside | near), units["name"][~(inside | near)].tolist()
    assert page.evaluate("servicecircleMap.stats.labelsDrawn") >= len(streets)
    # Everything but the outlines off: the outlines alone still draw a map.
    page.evaluate("servicecircleMap.layers.filter(e => e.kind !== 'outline')"
                  ".forEach(e => servicecircleMap.map.removeLayer(e.leaflet))")
    page.wait_for_timeout(300)
    assert not_blank(page.screenshot())
    page.close()
