"""The HTML pages (``index.html``, ``map.html``): Jinja2 templates that escape by default.

One :data:`ENV` renders every page and panel from ``templates/`` with
autoescape on, so every text from inputs (facility, community and file
names, goal names, the study area's name) is escaped by the template that
shows it; templates name their texts by key in the one catalogue
(:mod:`servicecircle.texts`) through ``t(key, **values)``, and an undefined
name in a template raises (``StrictUndefined``) instead of printing nothing.

Markup that is not escaped is made in this module only:

* :func:`script_json`, the data blocks ``<script type="application/json">``;
* :func:`asset_tags`, the declared script and style assets (the package's own
  ``map.js``/``sort.js`` and Leaflet from its CDN or, offline, inline from the
  installed xstatic-leaflet, its images as data URIs);
* :func:`script_text`, other text for the inside of a ``<script>`` element
  (the map's base85 tables), checked to hold no ``<``.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module, resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from . import texts
from .errors import InputError

ENV = Environment(
    loader=PackageLoader("servicecircle", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def script_json(data: Any, ascii_only: bool = True) -> Markup:
    """``data`` as compact JSON for the inside of a ``<script type="application/json">`` element.

    Keys keep their order (Jinja's ``tojson`` sorts them). Inside a script element only ``<`` can
    start what ends it (``</script``) or opens a comment (``<!--``), so every ``<`` is written
    ``\\u003c``; ``&`` and ``>`` mean nothing there and stay as they are.
    """
    text = json.dumps(data, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c"))


def script_text(text: str) -> Markup:
    """Plain text (the map's base85 tables) for the inside of a ``<script type="text/plain">`` element."""
    if "<" in text:
        raise ValueError("script text may not hold '<'")
    return Markup(text)


ENV.filters["script_json"] = script_json


@dataclass(frozen=True)
class Asset:
    """A script or style sheet a page needs.

    ``url`` is where an online page loads it from (None: always inline); ``package`` and
    ``path`` the installed file it is inlined from: ``package`` an XStatic package
    (``xstatic.pkg.<package>``), or None for this package's ``templates/``.
    """

    kind: str  # "script" or "style"
    path: str
    package: str | None = None
    url: str | None = None


#: The Leaflet a ``--cdn`` page loads when xstatic-leaflet is not installed.
LEAFLET_VERSION = "1.9.3"


def leaflet_assets() -> tuple[Asset, Asset]:
    """Leaflet's style sheet and script: the CDN's files of the installed xstatic-leaflet's version
    (:data:`LEAFLET_VERSION` without it: an online page needs no local copy)."""
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError:
        version = LEAFLET_VERSION
    else:
        version = xleaflet.VERSION
    cdn = f"https://cdn.jsdelivr.net/npm/leaflet@{version}/dist"
    return (Asset("style", "leaflet.css", "leaflet", f"{cdn}/leaflet.css"),
            Asset("script", "leaflet.js", "leaflet", f"{cdn}/leaflet.js"))


#: The package's own scripts, always inline.
MAP_JS = Asset("script", "map.js")
SORT_JS = Asset("script", "sort.js")


def _base_dir(package: str) -> Path:
    try:
        return Path(import_module(f"xstatic.pkg.{package}").BASE_DIR)
    except ImportError:  # a broken install: a --cdn page still loads the library from the CDN
        raise InputError(key="error.xstatic_missing", package=package) from None


@functools.lru_cache(maxsize=None)
def asset_text(asset: Asset) -> str:
    """The installed file of an asset; a style sheet's ``url(images/….png)`` become data URIs."""
    if asset.package is None:
        text = resources.files("servicecircle").joinpath("templates", asset.path).read_text(encoding="utf-8")
    else:
        text = (_base_dir(asset.package) / asset.path).read_text(encoding="utf-8")
    if asset.kind == "style" and asset.package is not None:
        folder = (_base_dir(asset.package) / asset.path).parent

        def data_uri(match: re.Match) -> str:
            data = base64.b64encode((folder / "images" / match.group(1)).read_bytes()).decode("ascii")
            return f"url(data:image/png;base64,{data})"

        text = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, text)
        left = re.findall(r"url\((?!data:|#)[^)]*\)", text)  # url(#default#VML) is IE's, no file
        if left:
            raise RuntimeError(f"{asset.path} still refers to {left[0]}")
    end = "</script" if asset.kind == "script" else "</style"
    if end in text.lower():
        raise RuntimeError(f"{asset.path} holds {end}: it cannot be inlined")
    return text


def asset_tags(assets: Iterable[Asset], offline: bool) -> list[dict]:
    """What a template writes for each asset: ``{"kind", "url"}`` to load it, or ``{"kind", "text"}`` inline.

    Online, an asset with a URL is loaded from it; offline, or without a URL, its installed
    file's text is written into the page (marked safe here: it is the package's or Leaflet's
    own code, checked by :func:`asset_text` not to close its element).
    """
    out = []
    for a in assets:
        if a.url is not None and not offline:
            out.append({"kind": a.kind, "url": a.url, "text": None})
        else:
            out.append({"kind": a.kind, "url": None, "text": Markup(asset_text(a))})
    return out


def translator(lang: str):
    """``t(key, **values)`` in ``lang`` (:func:`servicecircle.texts.text`)."""
    return functools.partial(texts.text, lang)


def render(template: str, lang: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``t`` in ``lang`` and ``context``."""
    return ENV.get_template(template).render(t=translator(lang), lang=lang, **context)
