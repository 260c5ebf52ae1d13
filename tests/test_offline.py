"""Tests of hotspots.output.offline: CDN scripts and styles inlined from the npm packages."""

from __future__ import annotations

import os
import re
from pathlib import Path

import folium
import pytest

from hotspots.errors import HotspotsError
from hotspots.output import offline
from hotspots.output.offline import (
    MissingAssetError,
    OfflineAssetError,
    find_external_urls,
    inline_assets,
)
from tests.browser_helpers import small_offline_map

#: Upper bound of the small self-contained page (measured: 0.54 MB for an empty map, 0.65 MB
#: for this one with Fullscreen, Search, MarkerCluster and HeatMap; Font Awesome marker icons,
#: when a page uses them, add 0.63 MB of fonts and marker sprites).
MAX_ASSETS_MB = 0.75


@pytest.fixture(scope="module")
def assets_dir() -> Path:
    root = offline.default_assets_dir()
    if not (root / "leaflet" / "package.json").is_file():
        reason = f"npm packages not installed in {root} (run `make setup`, which runs npm ci)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must test offline maps: {reason}")
        pytest.skip(reason)
    return root


@pytest.fixture(scope="module")
def small_page() -> str:
    return small_offline_map().get_root().render()


# inputs


def test_missing_assets_dir_names_packages_and_fix(small_page: str, tmp_path: Path) -> None:
    with pytest.raises(MissingAssetError, match=r"npm package leaflet \(dist/leaflet\.js\)") as err:
        inline_assets(small_page, assets_dir=tmp_path / "nowhere")
    message = str(err.value)
    for package in (
        "jquery",
        "bootstrap",
        "leaflet-search",
        "leaflet.fullscreen",
        "leaflet.markercluster",
    ):
        assert f"npm package {package} " in message
    assert "make setup" in message and "npm ci" in message
    assert isinstance(err.value, HotspotsError)


def test_env_variable_chooses_assets_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTSPOTS_WEB_ASSETS", str(tmp_path))
    assert offline.default_assets_dir() == tmp_path
    monkeypatch.delenv("HOTSPOTS_WEB_ASSETS")
    assert offline.default_assets_dir() == Path(offline.__file__).parents[2] / "node_modules"


def test_tile_layer_is_refused(assets_dir: Path) -> None:
    page = folium.Map(location=[51.5, -0.1]).get_root().render()  # OpenStreetMap tiles
    match = r"found 1 external URL.*tile\.openstreetmap.*tiles=None"
    with pytest.raises(OfflineAssetError, match=match):
        inline_assets(page, assets_dir=assets_dir)


def test_unknown_script_is_refused(assets_dir: Path) -> None:
    m = folium.Map(tiles=None)
    m.get_root().header.add_child(folium.JavascriptLink("https://example.org/lib/thing.js"))
    with pytest.raises(OfflineAssetError, match=r"https://example\.org/lib/thing\.js"):
        inline_assets(m.get_root().render(), assets_dir=assets_dir)


@pytest.mark.parametrize(
    ("icon", "url"),
    [
        (folium.Icon(), "bootstrap-glyphicons.css"),
        (folium.Icon(prefix="fa", icon="home", angle=45), "leaflet.awesome.rotate.min.css"),
    ],
)
def test_icons_no_registry_ships_are_refused(assets_dir: Path, icon: folium.Icon, url: str) -> None:
    m = folium.Map(tiles=None)
    folium.Marker([51.5, -0.1], icon=icon).add_to(m)
    with pytest.raises(OfflineAssetError, match=rf"{re.escape(url)} \(.*no package registry"):
        inline_assets(m.get_root().render(), assets_dir=assets_dir)


def test_other_major_version_warns(assets_dir: Path) -> None:
    page = folium.Map(tiles=None).get_root().render().replace("leaflet@1.9.3", "leaflet@2.0.0")
    with pytest.warns(UserWarning, match=r"asks for leaflet 2\.0\.0 but 1\.9\.3 is installed"):
        inline_assets(page, assets_dir=assets_dir)


# outputs


def test_small_map_is_self_contained(assets_dir: Path, small_page: str) -> None:
    before = find_external_urls(small_page)
    assert len(before) == 18  # folium 0.20 + Fullscreen, Search, MarkerCluster, HeatMap
    out = inline_assets(small_page, assets_dir=assets_dir)
    assert find_external_urls(out) == []
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*stylesheet", out)
    for library in (
        "leaflet 1.9.3",
        "jquery 3.7.1",
        "bootstrap 5.2.2",
        "leaflet-search 2.9.7",
        "leaflet.fullscreen 3.0.0",
        "leaflet.markercluster 1.1.0",
        "folium 0.20",
    ):
        assert f"/* {library}" in out
    assert "data:image/png;base64," in out  # leaflet layers.png, search-icon.png, marker icons
    assert "data:image/svg+xml;base64," in out  # fullscreen icon
    assert "sourceMappingURL" not in out
    assert len(out.encode()) / 1e6 < MAX_ASSETS_MB


def test_unused_icon_styles_are_dropped(assets_dir: Path, small_page: str) -> None:
    out = inline_assets(small_page, assets_dir=assets_dir)
    for name in (
        "bootstrap-glyphicons.css",
        "all.min.css",
        "leaflet.awesome-markers.css",
        "leaflet.awesome.rotate.min.css",
    ):
        assert f"<!-- offline: {name} not used by this page, dropped -->" in out
    assert "font/woff2" not in out


def test_font_awesome_icons_embed_woff2_once(assets_dir: Path) -> None:
    m = folium.Map(tiles=None)
    folium.Marker([51.5, -0.1], icon=folium.Icon(prefix="fa", icon="home")).add_to(m)
    out = inline_assets(m.get_root().render(), assets_dir=assets_dir)
    fonts = re.findall(r"data:font/woff2;base64,[A-Za-z0-9+/=]{40}", out)
    assert len(fonts) == len(set(fonts)) == 4  # brands, regular, solid, v4compatibility
    assert ".ttf" not in out and "font/ttf" not in out
    assert "/* drmonty-leaflet-awesome-markers 2.0.2: css/leaflet.awesome-markers.css" in out
    assert find_external_urls(out) == []


def test_inline_scripts_cannot_close_their_tag(assets_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "leaflet"
    (fake / "dist" / "images").mkdir(parents=True)
    (fake / "package.json").write_text('{"version": "1.9.3"}')
    (fake / "dist" / "leaflet.js").write_text('var s = "</script><script>alert(1)</script>";')
    for image in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"):
        (fake / "dist" / "images" / image).write_bytes(b"\x89PNG")
    page = '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
    out = inline_assets(page, assets_dir=tmp_path)
    assert out.count("</script>") == 1
    assert '"<\\/script><script>alert(1)<\\/script>"' in out


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img src="https://a.example/x.png">', ["https://a.example/x.png"]),
        ("<link rel=icon href=//a.example/f.ico>", ["//a.example/f.ico"]),
        ("<style>b{background:url('http://a.example/b.gif')}</style>", ["http://a.example/b.gif"]),
        (
            'L.tileLayer("https://{s}.tile.example/{z}/{x}/{y}.png", {})',
            ["https://{s}.tile.example/{z}/{x}/{y}.png"],
        ),
        ('fetch("https://a.example/data.geojson")', ["https://a.example/data.geojson"]),
        ('<a href="https://a.example/about">about</a> data:image/png;base64,AAA', []),
    ],
)
def test_find_external_urls(html: str, expected: list[str]) -> None:
    assert find_external_urls(html) == expected
