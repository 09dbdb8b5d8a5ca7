"""The map and report page in a real browser (headless Chromium), offline, and under a GCJ-02 basemap.

The registry here is test input built in the test, with one hostile facility
name: it must reach the page as text and never run.
"""

import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import shapely

from servicecircle import coords, maps, pipeline, run
from servicecircle.config import Registry

HOSTILE = '<img src=x onerror="window.__pwned=1">测试养老院'
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "gtimg.com")


@pytest.fixture(scope="module")
def offline_run(chengdu_config, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offline")
    rows = [  # test input, not real facilities
        {"机构名称": HOSTILE, "类别": "养老院", "经度": 104.0855, "纬度": 30.6580, "床位": 30},
        {"机构名称": "测试托育园", "类别": "托育机构", "经度": 104.0500, "纬度": 30.6590, "托位": 40},
    ]
    path = tmp / "registry.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    spec = Registry(path=path, coord_system="wgs84", encoding=None, sheet=None, category=None, columns=(),
                    category_values=())
    return run(replace(chengdu_config, registries=(spec,), out_dir=tmp / "out", offline=True), progress=False)


@pytest.fixture(scope="module")
def amap_files(offline_run, tmp_path_factory):
    """The same run drawn on AMap tiles (GCJ-02), labelled in English."""
    config = replace(offline_run.config, basemap="amap", lang="en", out_dir=tmp_path_factory.mktemp("amap"))
    return pipeline.write_html(replace(offline_run, config=config))


def open_page(browser, path):
    """Open a local page with every non-file request blocked; return the page, JS errors and blocked URLs."""
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
    page.wait_for_timeout(500)
    return page, errors, external


def not_blank(png: bytes) -> bool:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").resize((160, 112))
    colours = img.getcolors(maxcolors=160 * 112)
    most = max(n for n, _ in colours)
    return len(colours) > 30 and most < 0.9 * 160 * 112


def test_offline_map_renders_its_layers_without_the_network(browser, offline_run):
    path = offline_run.files["map"]
    html = path.read_text(encoding="utf-8")
    assert not re.search(r'<script[^>]+src="http|<link[^>]+href="http', html)
    assert path.stat().st_size < 10e6  # the bound for the Chengdu page
    page, errors, external = open_page(browser, path)
    assert errors == []
    assert all(any(h in url for h in TILE_HOSTS) for url in external), external  # only basemap tiles were asked for
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    for key, label in (("elder_care", "养老服务"), ("nursery", "托育服务"), ("health_centre", "卫生服务")):
        assert f"步行时间: {label} ({key})" in labels
        assert any(t.startswith(f"盲区（>15分钟）: {label}") for t in labels)
        assert f"5分钟服务范围: {label}" in labels and f"15分钟服务范围: {label}" in labels
    assert "社区（点击查看评估）" in labels
    legend = page.locator("#servicecircle-legend")
    assert legend.is_visible() and "分钟" in legend.inner_text() and "WGS-84" in legend.inner_text()
    assert page.evaluate("document.querySelectorAll('path.leaflet-interactive').length") > 100
    assert not_blank(page.screenshot())
    page.close()


def test_clicks_show_cell_and_community_details_and_names_stay_text(browser, offline_run):
    page, errors, _ = open_page(browser, offline_run.files["map"])
    # Open every facility popup: the hostile name must show as text and never run.
    texts = page.evaluate("""() => Object.keys(window).filter(k => k.startsWith('circle_marker_') && window[k] instanceof L.CircleMarker).map(k => {
        window[k].openPopup(); const c = document.querySelector('.leaflet-popup-content');
        const text = c ? c.textContent : ''; window[k].closePopup(); return text; })""")
    assert any(HOSTILE in t for t in texts)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    # A cell: residents, and walk time and nearest facility per category.
    cell = page.evaluate("""() => { const k = Object.keys(window).find(k => k.startsWith('geo_json_') && window[k] instanceof L.GeoJSON && window[k]._map &&
        window[k].getLayers().length && window[k].getLayers()[0].feature.properties.h3 !== undefined);
        const l = window[k].getLayers()[0]; l._map.closePopup();
        l.fire('click', {latlng: l.getBounds().getCenter()}, true);
        return Array.from(document.querySelectorAll('.leaflet-popup-content')).map(c => c.textContent).join(' | '); }""")
    assert "居民" in cell and "养老服务" in cell and "托育服务" in cell and "卫生服务" in cell
    # A community: its scorecard rows (the layer is off at first: switch it on).
    page.locator(".leaflet-control-layers-overlays label", has_text="社区（点击查看评估）").locator("input").check()
    comm = page.evaluate("""() => { const k = Object.keys(window).find(k => k.startsWith('geo_json_') && window[k] instanceof L.GeoJSON && window[k]._map &&
        window[k].getLayers().length && window[k].getLayers()[0].feature.properties.complete_pct !== undefined);
        const l = window[k].getLayers()[0]; l._map.closePopup();
        l.fire('click', {latlng: l.getBounds().getCenter()}, true);
        return Array.from(document.querySelectorAll('.leaflet-popup-content')).map(c => c.textContent).join(' | '); }""")
    assert "社区日间照料机构覆盖率" in comm
    assert errors == []
    page.close()


def test_report_page_offline(browser, offline_run):
    page, errors, external = open_page(browser, offline_run.files["report"])
    assert errors == [] and all(any(h in u for h in TILE_HOSTS) for u in external)
    for section in ("#found", "#goals", "#map", "#charts", "#scorecard", "#gaps", "#methods"):
        assert page.locator(section).count() == 1, section
    assert page.locator("#chart-walk-time .series").count() == len(offline_run.config.categories)
    assert page.locator("#chart-community-coverage .series").count() > 0
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
    assert not_blank(page.screenshot(full_page=False))
    page.close()


def test_gcj02_basemap_shifts_overlays_for_display_only(browser, offline_run, amap_files):
    html = amap_files["map"].read_text(encoding="utf-8")
    assert "webrd0{s}.is.autonavi.com" in html
    # Every facility marker sits at its GCJ-02 position; the analysis tables stay in WGS-84.
    fac = offline_run.facilities.iloc[0]
    glon, glat = coords.wgs84_to_gcj02(np.array([fac.geometry.x]), np.array([fac.geometry.y]))
    assert f"[{round(float(glat[0]), 6)}, {round(float(glon[0]), 6)}]" in html
    assert f"[{round(fac.geometry.y, 6)}, {round(fac.geometry.x, 6)}]" not in html
    cells = maps.display_frame(offline_run.cells.iloc[:50], offline_run.config)
    shifted = maps.display_frame(offline_run.cells.iloc[:50], replace(offline_run.config, basemap="amap"))
    a, b = shapely.get_coordinates(cells.geometry.values), shapely.get_coordinates(shifted.geometry.values)
    gx, gy = coords.wgs84_to_gcj02(a[:, 0], a[:, 1])
    np.testing.assert_allclose(b, np.column_stack([gx, gy]), atol=2e-5)  # both rounded to 1e-5°
    assert 200 < np.median(np.hypot((b - a)[:, 0] * 96_000, (b - a)[:, 1] * 111_000)) < 800  # the GCJ-02 offset
    page, errors, external = open_page(browser, amap_files["map"])
    assert errors == [] and external and all("autonavi.com" in u for u in external)
    legend = page.locator("#servicecircle-legend").inner_text()
    assert "GCJ-02" in legend and "overlays shifted" in legend and "walk time" in legend
    labels = page.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                           ".map(l => l.textContent.trim())")
    assert "Walk time: 养老服务 (elder_care)" in labels
    page.close()
    report = amap_files["report"].read_text(encoding="utf-8")
    assert "15-minute service circle report" in report and "overlays shifted to GCJ-02" in report
    assert json.dumps(offline_run.config.config_hash)[1:-1] in report
