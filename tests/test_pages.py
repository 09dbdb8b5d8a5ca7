"""The page templates and the text catalogue, without a run: every key in both languages, every key a
template or the page code names exists, escaping by default, JSON safe inside script elements, and
assets loaded online or inlined offline."""

import json
import re
import string
from pathlib import Path

import pytest
from jinja2 import nodes
from markupsafe import Markup

from servicecircle import pages, texts

PACKAGE = Path(pages.__file__).parent
TEMPLATES = sorted((PACKAGE / "templates").glob("*.html"))


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_every_text_has_both_languages_with_the_same_placeholders():
    assert texts.LANGUAGES == ("zh", "en")
    for key, entry in texts.TEXTS.items():
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", key), key
        assert set(entry) == set(texts.LANGUAGES), key
        assert all(isinstance(v, str) and v.strip() for v in entry.values()), key
        assert _fields(entry["zh"]) == _fields(entry["en"]), key


def _template_keys() -> dict[str, set[str]]:
    """Per template, the keys it passes to ``t(...)``; a key that is not a constant string fails."""
    found = {}
    for path in TEMPLATES:
        tree = pages.ENV.parse(path.read_text(encoding="utf-8"))
        keys = set()
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "t":
                assert call.args and isinstance(call.args[0], nodes.Const), f"{path.name}: t() needs a constant key"
                keys.add(call.args[0].value)
        found[path.name] = keys
    return found


def test_templates_name_only_keys_of_the_catalogue():
    found = _template_keys()
    assert found["report.html"] and found["map_legend.html"] and found["map_panel.html"]
    for name, keys in found.items():
        assert keys <= set(texts.TEXTS), (name, keys - set(texts.TEXTS))


def test_page_code_names_only_keys_of_the_catalogue():
    """The keys the page modules name with a constant: ``_l(config, "k")`` (report.), ``_t(config, "k")``
    (map., or a full key), ``m("k")`` (methods.) and ``texts.text(lang, "k")``."""
    prefixes = {"_l": "report.", "m": "methods."}
    seen = 0
    for module in ("reportpage.py", "maps.py", "goals.py"):
        source = (PACKAGE / module).read_text(encoding="utf-8")
        for fn, key in re.findall(r"""\b(_l|_t|m)\((?:[\w.]+, )?["']([\w.]+)["']""", source):
            full = key if "." in key else prefixes.get(fn, "map.") + key
            assert full in texts.TEXTS, (module, fn, key)
            seen += 1
        for key in re.findall(r"""texts\.text\([\w.]+, f?["']([\w.{}]+)["']""", source):
            if "{" not in key:
                assert key in texts.TEXTS, (module, key)
    assert seen > 50


def test_a_missing_key_or_name_fails_instead_of_printing_nothing():
    with pytest.raises(KeyError):
        pages.ENV.from_string('{{ t("report.no_such_key") }}').render(t=pages.translator("zh"))
    with pytest.raises(Exception, match="undefined"):
        pages.ENV.from_string("{{ nothing_here }}").render()


HOSTILE = "<script>alert(1)</script>&\"'"


def test_templates_escape_by_default():
    for name in ("map_panel.html", "report.html", "map.html"):
        assert pages.ENV.get_template(name).environment.autoescape(name) is True
    assert pages.ENV.from_string("<p>{{ x }}</p>").render(x=HOSTILE) == \
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;&#39;</p>"


def test_script_json_keeps_order_and_cannot_close_its_element():
    data = {"b": HOSTILE, "a": ["</script><!--", "中文"]}
    text = pages.script_json(data, ascii_only=False)
    assert isinstance(text, Markup) and "<" not in text
    assert json.loads(text) == data and list(json.loads(text)) == ["b", "a"]
    assert "\\u4e2d" in pages.script_json(data) and "中文" in text
    with pytest.raises(ValueError):
        pages.script_text("abc<def")


def test_assets_load_from_the_cdn_online_and_are_inlined_offline():
    assets = pages.leaflet_assets()
    online = pages.asset_tags(assets, offline=False)
    assert [a["url"] for a in online] == [a.url for a in assets]
    assert all(a["url"].startswith("https://cdn.jsdelivr.net/npm/leaflet@") and a["text"] is None for a in online)
    offline = pages.asset_tags(assets, offline=True)
    assert all(a["url"] is None for a in offline)
    css, js = (a["text"] for a in offline)
    assert "leaflet-container" in css and "url(data:image/png;base64," in css
    assert not re.search(r"url\((?!data:|#)", css)  # no image left to load (url(#default#VML) is IE's, no file)
    assert "L.Map" in js or "Leaflet" in js
    # The package's own scripts have no URL: inline either way.
    for offline in (False, True):
        (tag,) = pages.asset_tags([pages.MAP_JS], offline=offline)
        assert tag["url"] is None and "servicecircle map" in tag["text"]
    html = pages.ENV.from_string('{% import "assets.html" as a %}{{ a.tags(x) }}').render(x=online)
    assert html.count('<link rel="stylesheet" href="https://') == 1 and html.count('<script src="https://') == 1


def test_the_map_script_reads_only_texts_it_is_given():
    """``UI.text`` holds the map texts without a placeholder and every ``script.`` text; map.js names no other."""
    given_plain = {k for k, v in texts.section("zh", "map.").items() if "{" not in v}
    script = set(texts.section("zh", "script."))
    assert not given_plain & script
    source = (PACKAGE / "templates" / "map.js").read_text(encoding="utf-8")
    named = set(re.findall(r"\bTXT\.(\w+)", source)) | set(re.findall(r"\bfmt\('(\w+)'", source))
    named |= {"col_" + h for h in re.findall(r"'(\w+)'", re.search(r"\[('unit'.*?)\]\.map", source).group(1))}
    assert named and named <= given_plain | script, named - given_plain - script
    for key in re.findall(r"\bfmt\('(\w+)'", source):
        assert key in script
