"""Self-contained map pages: Folium's CDN scripts and styles inlined from installed packages.

Folium pages load Leaflet, jQuery, Bootstrap and plugins from CDNs. Machines without a CDN
get them from package registries at set-up time instead: the npm packages pinned in the
repository's ``package.json`` and, for the heat-map script, the folium wheel from PyPI.
Nothing third-party is committed to the repository. A built wheel carries the files it needs
in ``hotspots/_vendor/`` (copied there by the build step in ``setup.py`` from ``npm ci``,
listed by :func:`vendored_files`); a development checkout reads ``node_modules/``, installed
by ``make setup``. This module imports only the standard library and ``hotspots.errors``:
``setup.py`` loads it at build time, before any dependency is installed.

:func:`inline_assets` replaces each ``<script src="https://...">`` and
``<link rel="stylesheet" href="https://...">`` with the file's content, and rewrites the
images and fonts that stylesheets reference as ``data:`` URIs. :func:`find_external_urls`
lists what a page would still fetch from the network.

Three stylesheets are dropped, not inlined, when the page does not use them:

- Font Awesome (``all.min.css``, 100 kB plus 290 kB of fonts): kept only when the page uses an
  ``fa`` icon; then only the WOFF2 fonts are embedded, each file once (the Font Awesome 4/5
  compatibility font families, which reuse the same files, are dropped).
- Leaflet.awesome-markers' stylesheet (150 kB of marker sprites): kept only when the page uses
  ``L.AwesomeMarkers`` icons.
- Bootstrap 3.0.0's ``bootstrap-glyphicons.css`` and folium's
  ``leaflet.awesome.rotate.min.css``: no package registry ships them (npm has no
  ``bootstrap@3.0.0``; the folium wheel does not include the CSS), so a page that uses
  glyphicon icons or rotated icons cannot be made offline and :func:`inline_assets` raises.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import importlib.resources
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from hotspots.errors import HotspotsError

__all__ = [
    "ASSETS",
    "Asset",
    "MissingAssetError",
    "OfflineAssetError",
    "default_assets_dir",
    "find_external_urls",
    "inline_assets",
    "vendored_files",
]

#: Environment variable naming the ``node_modules`` folder to read the npm packages from.
ASSETS_ENV = "HOTSPOTS_WEB_ASSETS"
#: Folder inside the installed package that a built wheel carries the npm files in.
VENDOR_DIR = "_vendor"
_FIX = (
    "reinstall hotspots from a wheel built with npm available, run `make setup` (npm ci) "
    "in the repository, or set HOTSPOTS_WEB_ASSETS"
)


class OfflineAssetError(HotspotsError):
    """A map page loads something from the network that cannot be inlined."""


class MissingAssetError(OfflineAssetError, FileNotFoundError):
    """A package that provides a map script or style is not installed."""


@dataclass(frozen=True)
class Asset:
    """Where the offline copy of one CDN file comes from.

    Parameters
    ----------
    url
        Regular expression searched in the CDN URL; a ``v`` group captures the version.
    package
        The npm package name, or ``"folium"`` for a file inside the installed folium wheel.
        ``None`` when no registry ships the file: it is dropped, and the page may not use it.
    file
        The file's path inside the package.
    needed_if
        Regular expression searched in the rest of the page: when it does not match, the
        file is dropped instead of inlined. ``None`` means always needed.
    why
        For a file no registry ships: what uses it, and why it cannot be had.
    """

    url: str
    package: str | None
    file: str = ""
    needed_if: str | None = None
    why: str = ""


_FA_USED = r"""(?<![\w-])fa[srbl]?(?:-[a-z0-9]|['"\s])|"prefix":\s*"fa[srbl]?\""""
_NPM = r"(?:@(?P<v>[^/]+))?/"  # jsdelivr/unpkg: /npm/<pkg>@<version>/<file>

#: CDN URL pattern -> package file, for every script and stylesheet Folium 0.20 and the
#: plugins used here (Fullscreen, Search, MarkerCluster, HeatMap) load.
ASSETS: tuple[Asset, ...] = (
    Asset(r"/leaflet" + _NPM + r"dist/leaflet\.js$", "leaflet", "dist/leaflet.js"),
    Asset(r"/leaflet" + _NPM + r"dist/leaflet\.css$", "leaflet", "dist/leaflet.css"),
    Asset(r"/jquery-(?P<v>[\d.]+)\.min\.js$", "jquery", "dist/jquery.min.js"),
    Asset(r"/jquery/(?P<v>[\d.]+)/jquery\.min\.js$", "jquery", "dist/jquery.min.js"),
    Asset(
        r"/bootstrap" + _NPM + r"dist/js/bootstrap\.bundle\.min\.js$",
        "bootstrap",
        "dist/js/bootstrap.bundle.min.js",
    ),
    Asset(
        r"/bootstrap" + _NPM + r"dist/css/bootstrap\.min\.css$",
        "bootstrap",
        "dist/css/bootstrap.min.css",
    ),
    Asset(
        r"/bootstrap/3\.0\.0/css/bootstrap-glyphicons\.css$",
        None,
        needed_if=r"glyphicon",
        why="glyphicon icons, e.g. folium.Icon()'s default; npm has no bootstrap@3.0.0",
    ),
    Asset(
        r"/@fortawesome/fontawesome-free" + _NPM + r"css/all\.min\.css$",
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
        needed_if=_FA_USED,
    ),
    Asset(
        r"/Leaflet\.awesome-markers/(?P<v>[\d.]+)/leaflet\.awesome-markers\.js$",
        "drmonty-leaflet-awesome-markers",
        "js/leaflet.awesome-markers.min.js",
    ),
    Asset(
        r"/Leaflet\.awesome-markers/(?P<v>[\d.]+)/leaflet\.awesome-markers\.css$",
        "drmonty-leaflet-awesome-markers",
        "css/leaflet.awesome-markers.css",
        needed_if=r"L\.AwesomeMarkers\.icon|awesome-marker",
    ),
    Asset(
        r"/folium/templates/leaflet\.awesome\.rotate\.min\.css$",
        None,
        needed_if=r"fa-rotate-(?!0\b)\d",
        why="rotated icons, folium.Icon(angle=...); the folium wheel does not ship it",
    ),
    Asset(
        r"/leaflet-search" + _NPM + r"dist/leaflet-search\.min\.js$",
        "leaflet-search",
        "dist/leaflet-search.min.js",
    ),
    Asset(
        r"/leaflet-search" + _NPM + r"dist/leaflet-search\.min\.css$",
        "leaflet-search",
        "dist/leaflet-search.min.css",
    ),
    # jsdelivr minifies on request; the npm package has the plain file only
    Asset(
        r"/leaflet\.fullscreen" + _NPM + r"Control\.FullScreen(?:\.min)?\.js$",
        "leaflet.fullscreen",
        "Control.FullScreen.js",
    ),
    Asset(
        r"/leaflet\.fullscreen" + _NPM + r"Control\.FullScreen\.css$",
        "leaflet.fullscreen",
        "Control.FullScreen.css",
    ),
    Asset(
        r"/leaflet\.markercluster/(?P<v>[\d.]+)/leaflet\.markercluster\.js$",
        "leaflet.markercluster",
        "dist/leaflet.markercluster.js",
    ),
    Asset(
        r"/leaflet\.markercluster/(?P<v>[\d.]+)/MarkerCluster\.css$",
        "leaflet.markercluster",
        "dist/MarkerCluster.css",
    ),
    Asset(
        r"/leaflet\.markercluster/(?P<v>[\d.]+)/MarkerCluster\.Default\.css$",
        "leaflet.markercluster",
        "dist/MarkerCluster.Default.css",
    ),
    # folium's own patched Leaflet.heat (weights fix); npm's leaflet.heat 0.2.0 lacks the patch
    Asset(
        r"/folium(?:@[^/]+)?/folium/templates/leaflet_heat\.min\.js$",
        "folium",
        "templates/leaflet_heat.min.js",
    ),
)

#: Leaflet's default marker images, by ``L.Icon.Default`` option.
_LEAFLET_ICONS = {
    "iconUrl": "marker-icon.png",
    "iconRetinaUrl": "marker-icon-2x.png",
    "shadowUrl": "marker-shadow.png",
}
_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}
_EXTERNAL = r"(?:https?:)?//[^\s\"'<>()`]+"
_TAG = re.compile(r"<script\b[^>]*>\s*</script\s*>|<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_SOURCE_MAP = re.compile(r"^\s*(?://|/\*)# sourceMappingURL=\S+(?:\s*\*/)?\s*$", re.MULTILINE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")


def default_assets_dir() -> Path:
    """Return the ``node_modules``-like folder that :func:`inline_assets` reads by default.

    Returns
    -------
    Path
        The first that applies: ``hotspots/_vendor`` inside the installed package (a wheel
        carries it, see :func:`vendored_files`); ``$HOTSPOTS_WEB_ASSETS`` when set;
        ``node_modules`` in the repository root (the parent of the ``hotspots`` package
        folder), where ``make setup`` installs it for development and editable installs.
    """
    packaged = importlib.resources.files("hotspots") / VENDOR_DIR
    if packaged.is_dir():
        return Path(str(packaged))
    env = os.environ.get(ASSETS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "node_modules"


def vendored_files(root: Path) -> list[str]:
    """Return every npm file :func:`inline_assets` may read, relative to ``root``.

    The one list a wheel's build step copies into ``hotspots/_vendor``: for each npm package
    of :data:`ASSETS`, its ``package.json`` (the version), the asset files, the images and
    WOFF2 fonts their stylesheets reference, and Leaflet's default marker images.

    Parameters
    ----------
    root
        A ``node_modules`` folder with the packages of ``package.json`` installed.

    Returns
    -------
    list[str]
        POSIX paths relative to ``root``, sorted, without repeats.

    Raises
    ------
    MissingAssetError
        A listed file is not installed under ``root`` (all of them are named).
    """
    files: set[str] = set()
    for asset in ASSETS:
        if asset.package in {None, "folium"}:
            continue
        files |= {f"{asset.package}/package.json", f"{asset.package}/{asset.file}"}
        path = root / str(asset.package) / asset.file
        if asset.file.endswith(".css") and path.is_file():
            css = _woff2_only(path.read_text(encoding="utf-8"))
            for match in _CSS_URL.finditer(css):
                ref = _local_ref(match.group(2))
                if ref is not None:
                    target = os.path.normpath(path.parent.relative_to(root) / ref)
                    files.add(Path(target).as_posix())
        if asset.package == "leaflet" and asset.file.endswith(".js"):
            files |= {f"leaflet/dist/images/{name}" for name in _LEAFLET_ICONS.values()}
    missing = sorted(f for f in files if not (root / f).is_file())
    if missing:
        msg = f"npm files for offline maps not found under {root}: {', '.join(missing)}"
        raise MissingAssetError(msg)
    return sorted(files)


def inline_assets(html: str, *, assets_dir: Path | None = None) -> str:
    """Return a rendered Folium page with its CDN scripts and stylesheets inlined.

    Each ``<script src>`` and ``<link rel="stylesheet">`` whose URL matches :data:`ASSETS`
    becomes an inline ``<script>`` or ``<style>`` read from the installed package; images and
    fonts referenced by the stylesheets become ``data:`` URIs. Stylesheets the page does not
    use are dropped (see the module notes). The result fetches nothing from the network.

    Parameters
    ----------
    html
        A whole rendered page, e.g. ``m.get_root().render()``.
    assets_dir
        The ``node_modules`` folder with the npm packages of ``package.json``; by default
        :func:`default_assets_dir`.

    Returns
    -------
    str
        The self-contained page.

    Raises
    ------
    MissingAssetError
        A package or file the page needs is not installed (all of them are named).
    OfflineAssetError
        The page loads a URL that is not in :data:`ASSETS` (a tile server, an unknown
        plugin), or uses icons that no package registry ships (all of them are named).
    """
    root = assets_dir if assets_dir is not None else default_assets_dir()
    body = _TAG.sub("", html)
    problems: list[str] = []
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        url = _tag_url(tag)
        if url is None:
            return tag
        asset = _asset_for(url)
        if asset is None:
            return tag  # reported below by find_external_urls
        if asset.needed_if is not None and not re.search(asset.needed_if, body):
            name = url.split("?")[0].rsplit("/", 1)[-1]
            return f"<!-- offline: {name} not used by this page, dropped -->"
        if asset.package is None:
            problems.append(f"{url} (for {asset.why}; no package registry ships it)")
            return tag
        try:
            return _inline_tag(asset, url, root)
        except MissingAssetError as err:
            missing.append(str(err))
            return tag

    out = _TAG.sub(replace, html)
    if missing:
        msg = (
            f"offline maps need these files from installed packages; not found: "
            f"{'; '.join(sorted(set(missing)))}. Fix: {_FIX} to a node_modules folder."
        )
        raise MissingAssetError(msg)
    problems += [u for u in find_external_urls(out) if not any(u in p for p in problems)]
    if problems:
        msg = (
            f"an offline map must load nothing from the network; found {len(problems)} "
            f"external URL(s): {', '.join(problems)}. Fix: build the map with tiles=None "
            f"and only the plugins listed in hotspots.output.offline.ASSETS (no glyphicon or "
            f"rotated icons: use folium.Icon(prefix='fa', angle=0))."
        )
        raise OfflineAssetError(msg)
    return out


def find_external_urls(html: str) -> list[str]:
    """Return the http(s) URLs a page would load from the network, in order, without repeats.

    Looks at ``src`` of ``script``, ``img``, ``iframe``, ``source``, ``embed``, ``audio``,
    ``video`` and ``input`` tags, ``href`` of ``link`` tags, CSS ``url(...)`` and
    ``@import``, tile URL templates (string literals with ``{z}``/``{x}``/``{y}``, or the first
    argument of ``L.tileLayer(...)``) and ``fetch``/``$.getJSON``/``$.ajax`` URLs.
    Protocol-relative URLs (``//host/...``) count too. Plain links (``<a href>``) do not.

    Parameters
    ----------
    html
        A rendered page.

    Returns
    -------
    list[str]
        The external URLs; empty for a self-contained page.
    """
    patterns = [
        rf"""<(?:script|img|iframe|source|embed|audio|video|input)\b[^>]*?\ssrc\s*=\s*["']?({_EXTERNAL})""",
        rf"""<link\b[^>]*?\shref\s*=\s*["']?({_EXTERNAL})""",
        rf"""url\(\s*["']?({_EXTERNAL})""",
        rf"""@import\s+["']({_EXTERNAL})""",
        r"""["'`]((?:https?:)?//[^"'`\s]*\{[xyz]\}[^"'`\s]*)["'`]""",
        rf"""L\.tileLayer(?:\.wms)?\(\s*["'`]({_EXTERNAL})""",
        rf"""(?:fetch|getJSON|url:)\s*\(?\s*["'`]({_EXTERNAL})""",
    ]
    found = [
        (m.start(1), m.group(1)) for p in patterns for m in re.finditer(p, html, re.IGNORECASE)
    ]
    return list(dict.fromkeys(url for _, url in sorted(found)))


def _tag_url(tag: str) -> str | None:
    """Return the external URL a script or stylesheet tag loads, or None."""
    attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag)}
    is_script = tag[:7].lower() == "<script"
    if not is_script and "stylesheet" not in attrs.get("rel", "").lower():
        return None
    url = attrs.get("src" if is_script else "href", "")
    return url if re.fullmatch(_EXTERNAL, url) else None


def _asset_for(url: str) -> Asset | None:
    path = re.sub(r"^(?:https?:)?//[^/]+", "", url).split("?")[0].split("#")[0]
    return next((a for a in ASSETS if re.search(a.url, path)), None)


def _inline_tag(asset: Asset, url: str, root: Path) -> str:
    """Return the inline ``<script>`` or ``<style>`` element for one asset."""
    path, version = _locate(asset, root)
    wanted = re.search(asset.url, url.split("?", maxsplit=1)[0])
    _check_version(
        asset, wanted.group("v") if wanted and "v" in wanted.re.groupindex else None, version
    )
    return _inline_body(asset, path, version, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _inline_body(asset: Asset, path: Path, version: str, mtime_ns: int) -> str:
    """Return the inline element of one file: read and rewritten once per run (and change)."""
    text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
    label = f"/* {asset.package} {version}: {asset.file} (inlined for offline use) */\n"
    if asset.file.endswith(".css"):
        css = _embed_css_urls(_woff2_only(text), path.parent, asset)
        return "<style>" + label + re.sub(r"</(style)", r"<\\/\1", css, flags=re.I) + "</style>"
    if asset.package == "leaflet":
        text += _leaflet_default_icon(path.parent / "images")
    return "<script>" + label + re.sub(r"</(script)", r"<\\/\1", text, flags=re.I) + "</script>"


def _locate(asset: Asset, root: Path) -> tuple[Path, str]:
    """Return the asset's file and the installed package version (``asset.package`` set)."""
    if asset.package == "folium":
        base = Path(str(importlib.resources.files("folium")))
        version = importlib.metadata.version("folium")
        where = f"folium {version} (PyPI) {asset.file}; reinstall folium with pip"
    else:
        base = root / str(asset.package)
        meta = base / "package.json"
        version = json.loads(meta.read_text())["version"] if meta.is_file() else "?"
        where = f"npm package {asset.package} ({asset.file}) under {root}"
    path = base / asset.file
    if not path.is_file():
        raise MissingAssetError(where)
    return path, version


def _check_version(asset: Asset, wanted: str | None, installed: str) -> None:
    """Warn when the CDN URL asks for another major.minor version than the one installed."""
    if wanted and wanted.split(".")[:2] != installed.split(".")[:2]:
        msg = (
            f"the map asks for {asset.package} {wanted} but {installed} is installed; "
            f"inlining {installed}. Pin {asset.package}@{wanted} in package.json and "
            f"run `npm install` to match folium."
        )
        warnings.warn(msg, UserWarning, stacklevel=5)  # the caller of inline_assets


def _woff2_only(css: str) -> str:
    """Keep only WOFF2 sources in ``@font-face`` rules, each font file embedded once."""
    seen: set[str] = set()

    def keep(face: re.Match[str]) -> str:
        rule = face.group(0)
        srcs = re.findall(r"url\([^)]*\)\s*format\([^)]*\)", rule)
        woff2 = [s for s in srcs if ".woff2" in s]
        if not woff2:
            return rule
        files = {re.sub(r"url\(\s*[\"']?([^\"')]+).*", r"\1", s) for s in woff2}
        if files <= seen:
            return ""  # a compatibility family reusing a file already embedded
        seen.update(files)
        return re.sub(r"src\s*:[^;}]*", "src:" + ",".join(woff2), rule, count=1)

    return _FONT_FACE.sub(keep, css)


def _embed_css_urls(css: str, base: Path, asset: Asset) -> str:
    """Rewrite relative ``url(...)`` references in a stylesheet as ``data:`` URIs."""

    def embed(match: re.Match[str]) -> str:
        ref = _local_ref(match.group(2))
        if ref is None:
            return match.group(0)  # external ones are reported by find_external_urls
        path = (base / ref).resolve()
        if not path.is_file():
            where = f"npm package {asset.package} ({ref}, referenced by {asset.file})"
            raise MissingAssetError(where)
        return f'url("{_data_uri(path)}")'

    return _CSS_URL.sub(embed, css)


def _local_ref(ref: str) -> str | None:
    """Return a stylesheet ``url(...)`` reference as a relative file path, or None."""
    ref = ref.strip()
    if ref.startswith(("data:", "#")) or re.match(_EXTERNAL, ref):
        return None
    return ref.split("?")[0].split("#")[0]


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _leaflet_default_icon(images: Path) -> str:
    """Return JS that points Leaflet's default marker icon at ``data:`` URIs.

    Leaflet finds its marker images relative to ``leaflet.css``'s URL, which an inline
    stylesheet does not have.
    """
    names = _LEAFLET_ICONS
    lost = [n for n in names.values() if not (images / n).is_file()]
    if lost:
        msg = f"npm package leaflet (dist/images/{', '.join(lost)})"
        raise MissingAssetError(msg)
    urls = {key: _data_uri(images / name) for key, name in names.items()}
    return f"\n;L.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({json.dumps(urls)});\n"
