"""Tests for hotspots.read.datasets: named paths, and downloads against a local HTTP server.

Every download test talks to a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) that serves
files generated into ``tmp_path``; nothing leaves the machine.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import logging
import socket
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner

from hotspots.cli.download import download
from hotspots.errors import DownloadError, HotspotsError, InputDataError
from hotspots.read import datasets
from hotspots.read.datasets import get_path
from hotspots.read.download_layers import (
    BOUNDARY_SOURCES,
    download_boundaries,
    download_osm_streets,
)
from hotspots.read.download_police import download_police_uk, months_between
from hotspots.read.fetch import download_file

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context\n"
)


def _street_csv(month: str, force: str) -> bytes:
    """Return a two-row police.uk street CSV for one month and force."""
    row = f"abc1,{month},{force} police,{force} police,-0.1,51.5,On or near X Street,,,Burglary,,\n"
    return (HEADER + row + row.replace("abc1", "")).encode()


def _police_zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write a zip archive with the given member names and contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the server's folder, plus /slow, /truncated and the POST routes of the server."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/slow"):
            self.server.release.wait(5)  # type: ignore[attr-defined]
            self._reply(200, b"late")
        elif self.path.startswith("/truncated"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
        else:
            super().do_GET()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, body))  # type: ignore[attr-defined]
        status, payload = self.server.post_routes.get(self.path, (404, b"not found"))  # type: ignore[attr-defined]
        self._reply(status, payload)

    def _reply(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


class LocalServer(http.server.ThreadingHTTPServer):
    """A local HTTP server whose handler threads are joined on close."""

    daemon_threads = False

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self.root = root
        self.requests: list[str] = []
        self.posts: list[tuple[str, bytes]] = []
        self.post_routes: dict[str, tuple[int, bytes]] = {}
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to resolve a host other than 127.0.0.1 fail loudly."""
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost"):
            msg = f"test tried to reach {host}; tests must use the local server"
            raise OSError(msg)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    root = tmp_path / "www"
    root.mkdir()
    srv = LocalServer(root)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join()


@pytest.fixture
def archives(server: LocalServer) -> str:
    """Serve police.uk-like archives for 2017-01 (holding 2016-12 too) and 2016-06."""
    folder = server.root / "data" / "archive"
    _police_zip(
        folder / "2017-01.zip",
        {
            "2017-01/2017-01-metropolitan-street.csv": _street_csv("2017-01", "metropolitan"),
            "2017-01/2017-01-city-of-london-street.csv": _street_csv("2017-01", "city-of-london"),
            "2017-01/2017-01-metropolitan-outcomes.csv": b"Crime ID,Month\n",
            "2017-01/2017-01-metropolitan-stop-and-search.csv": b"Type,Date\n",
            "2016-12/2016-12-metropolitan-street.csv": _street_csv("2016-12", "metropolitan"),
        },
    )
    _police_zip(
        folder / "2016-06.zip",
        {"2016-06/2016-06-metropolitan-street.csv": _street_csv("2016-06", "metropolitan")},
    )
    _police_zip(folder / "2015-01.zip", {"2015-01/2015-01-metropolitan-outcomes.csv": b"x\n"})
    (folder / "2015-02.zip").write_bytes(b"<html>maintenance</html>")
    return f"{server.url}/data/archive"


OVERPASS_REPLY: dict[str, Any] = {
    "version": 0.6,
    "generator": "Overpass API",
    "elements": [
        {
            "type": "way",
            "id": 30,
            "geometry": [{"lat": 51.51, "lon": -0.12}, {"lat": 51.511, "lon": -0.121}],
            "tags": {"highway": "residential", "name": "Floral Street"},
        },
        {
            "type": "way",
            "id": 4,
            "geometry": [{"lat": 51.512, "lon": -0.119}, {"lat": 51.513, "lon": -0.118}],
            "tags": {"highway": "primary"},
        },
        {"type": "way", "id": 7, "geometry": [{"lat": 51.5, "lon": -0.1}], "tags": {}},
    ],
}


def _overpass(server: LocalServer, reply: dict[str, Any], status: int = 200) -> str:
    """Route POST /api/interpreter to ``reply``; return the endpoint URL."""
    server.post_routes["/api/interpreter"] = (status, json.dumps(reply).encode())
    return f"{server.url}/api/interpreter"


def _free_port_url() -> str:
    """Return a URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.zip"


# inputs


def test_get_path_unknown_name() -> None:
    with pytest.raises(InputDataError, match=r"unknown dataset `nope`"):
        get_path("nope")


def test_get_path_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    with pytest.raises(
        InputDataError, match=r"dataset `london_wards` not found at .*HOTSPOTS_DATA"
    ):
        get_path("london_wards")


@pytest.mark.parametrize(
    ("months", "found"),
    [
        (["2017-1", "2017-13", "2017-02"], r"got \['2017-1', '2017-13'\]"),
        ([], "got none"),
    ],
)
def test_police_uk_rejects_bad_months(months: list[str], found: str, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=rf"`months` must be 'YYYY-MM' strings.*{found}"):
        download_police_uk(months, out_dir=tmp_path)


def test_police_uk_rejects_bad_force(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"`forces` must be police.uk force slugs.*'Met'"):
        download_police_uk(["2017-01"], forces=["Met"], out_dir=tmp_path)


def test_police_uk_404_names_url(archives: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(
        DownloadError, match=rf"{archives}/2030-01.zip answered HTTP 404.*published"
    ):
        download_police_uk(["2030-01"], out_dir=out, base_url=archives, quiet=True)
    assert list((out / "archives").iterdir()) == []  # no .part left behind


def test_police_uk_zip_without_street_csv(archives: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"2015-01.zip must hold a street CSV.*at all"):
        download_police_uk(["2015-01"], out_dir=tmp_path, base_url=archives, quiet=True)


def test_police_uk_force_not_in_archive(archives: str, tmp_path: Path) -> None:
    with pytest.raises(
        DownloadError,
        match=r"for 2017-01 and forces \['kent'\]; it has street CSVs of 2017-01 only for forces "
        r"\['city-of-london', 'metropolitan'\]",
    ):
        download_police_uk(
            ["2017-01"], forces=["kent"], out_dir=tmp_path, base_url=archives, quiet=True
        )


def test_police_uk_not_a_zip(archives: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"2015-02.zip is not a zip archive.*overwrite=True"):
        download_police_uk(["2015-02"], out_dir=tmp_path, base_url=archives, quiet=True)


def test_download_file_checksum_mismatch(server: LocalServer, tmp_path: Path) -> None:
    (server.root / "a.txt").write_bytes(b"hello")
    dest = tmp_path / "a.txt"
    with pytest.raises(DownloadError, match=r"`sha256` must match the download.*deleted"):
        download_file(f"{server.url}/a.txt", dest, sha256="0" * 64, quiet=True)
    assert list(tmp_path.iterdir()) == [server.root]


def test_download_file_timeout(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"/slow sent nothing for 0.2 s \(timeout\)"):
        download_file(f"{server.url}/slow", tmp_path / "slow.bin", timeout_s=0.2, quiet=True)
    assert not (tmp_path / "slow.bin.part").exists()


def test_download_file_truncated(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"download failed: .*/truncated"):
        download_file(f"{server.url}/truncated", tmp_path / "t.bin", quiet=True)
    assert not (tmp_path / "t.bin").exists()


def test_download_file_connection_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"could not read http://127.0.0.1:\d+/nothing.zip"):
        download_file(_free_port_url(), tmp_path / "x.zip", timeout_s=2, quiet=True)


def test_download_boundaries_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"`name` must be a known boundary source; got 'x'"):
        download_boundaries("x", out_dir=tmp_path)


def test_download_boundaries_bad_base_url(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"`base_url` must start with scheme://host"):
        download_boundaries("vancouver_local_areas", out_dir=tmp_path, base_url="127.0.0.1")


@pytest.mark.parametrize(
    ("bbox", "found"),
    [
        ((-0.1, 51.5, -0.2, 51.6), "west -0.1 is not less than east -0.2"),
        ((-0.2, 51.6, -0.1, 51.5), "south 51.6 is not less than north 51.5"),
        ((200, 95, 10, 96), "longitudes outside .*; latitudes outside .*; west 200.0"),
        ((0, 1, 2), "got 3"),
    ],
)
def test_osm_streets_rejects_bad_bbox(bbox: tuple[float, ...], found: str, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=rf"`bbox` must be .*{found}"):
        download_osm_streets(bbox, out_path=tmp_path / "s.gpkg")


def test_osm_streets_rejects_odd_highway_class(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"`highway_classes` must be OSM highway values"):
        download_osm_streets(
            (0, 0, 1, 1), out_path=tmp_path / "s.gpkg", highway_classes=['x"];out;']
        )


def test_osm_streets_overpass_error_remark(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, {"elements": [], "remark": "runtime error: Query timed out"})
    with pytest.raises(DownloadError, match=r"Overpass at .* reported an error: runtime error"):
        download_osm_streets(
            (0, 0, 1, 1), out_path=tmp_path / "s.gpkg", overpass_url=url, quiet=True
        )


def test_osm_streets_overpass_busy(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, {}, status=429)
    with pytest.raises(DownloadError, match=r"answered HTTP 429.*busy"):
        download_osm_streets(
            (0, 0, 1, 1), out_path=tmp_path / "s.gpkg", overpass_url=url, quiet=True
        )


def test_osm_streets_none_found(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, {"elements": []})
    with pytest.raises(InputDataError, match=r"`bbox` must hold streets.*bbox order"):
        download_osm_streets(
            (0, 0, 1, 1), out_path=tmp_path / "s.gpkg", overpass_url=url, quiet=True
        )
    assert not (tmp_path / "s.gpkg").exists()


def test_months_between_rejects_backwards() -> None:
    with pytest.raises(InputDataError, match=r"must run forwards.*2017-02 after end 2017-01"):
        months_between("2017-02", "2017-01")


def test_errors_are_hotspots_errors() -> None:
    assert issubclass(DownloadError, HotspotsError)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["police-uk", "--out", "x"], 2, "give the months"),
        (["police-uk", "--month", "2017-01", "--from", "2017-01", "--out", "x"], 2, "not both"),
        (["police-uk", "--from", "2017-01", "--out", "x"], 2, "both --from YYYY-MM and --to"),
        (["police-uk", "--month", "2017-1", "--out", "x"], 1, "Error: `months` must be"),
        (["police-uk", "--from", "2017-03", "--to", "2017-01", "--out", "x"], 1, "forwards"),
        (["boundaries", "nope", "--out", "x"], 2, "Invalid value for"),
        (["osm-streets", "--bbox", "1", "0", "0", "1", "--out", "s.gpkg"], 1, "west 1.0 is not"),
    ],
)
def test_cli_user_errors(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(download, args)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_cli_download_error_is_click_exception(archives: str, tmp_path: Path) -> None:
    args = ["police-uk", "--month", "2030-01", "--out", str(tmp_path), "--base-url", archives]
    result = CliRunner().invoke(download, [*args, "--quiet"])
    assert result.exit_code == 1
    assert "Error: download failed:" in result.output
    assert "Traceback" not in result.output


# outputs


def test_get_path_finds_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    (tmp_path / "london").mkdir()
    (tmp_path / "london" / "wards_2014.gpkg").write_bytes(b"")
    assert datasets.data_dir() == tmp_path
    assert get_path("london_wards") == tmp_path / "london" / "wards_2014.gpkg"


def test_police_uk_extracts_street_csvs_only(
    archives: str, server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = download_police_uk(["2017-01"], out_dir=out, base_url=archives, quiet=True)
    assert paths == [
        out / "2017-01-city-of-london-street.csv",
        out / "2017-01-metropolitan-street.csv",
    ]
    assert paths[1].read_bytes() == _street_csv("2017-01", "metropolitan")
    assert sorted(p.name for p in out.iterdir()) == [
        "2017-01-city-of-london-street.csv",
        "2017-01-metropolitan-street.csv",
        "archives",
    ]
    assert [p.name for p in (out / "archives").iterdir()] == ["2017-01.zip"]
    assert server.requests == ["/data/archive/2017-01.zip"]


def test_police_uk_forces_and_months_share_an_archive(
    archives: str, server: LocalServer, tmp_path: Path
) -> None:
    paths = download_police_uk(
        ["2016-12", "2017-01", "2016-06"],
        forces=["metropolitan"],
        out_dir=tmp_path,
        base_url=archives,
        quiet=True,
    )
    assert [p.name for p in paths] == [
        "2016-06-metropolitan-street.csv",
        "2016-12-metropolitan-street.csv",
        "2017-01-metropolitan-street.csv",
    ]
    # 2016-12 comes from the 2017-01 archive; 2016-06 is not in it, so its own archive is fetched
    assert server.requests == ["/data/archive/2017-01.zip", "/data/archive/2016-06.zip"]


def test_police_uk_warns_about_missing_force_months(archives: str, tmp_path: Path) -> None:
    with pytest.warns(
        UserWarning, match=r"no street CSV for 1 requested .*: city-of-london 2016-12"
    ):
        paths = download_police_uk(
            ["2016-12", "2017-01"],
            forces=["metropolitan", "city-of-london"],
            out_dir=tmp_path,
            base_url=archives,
            quiet=True,
        )
    assert len(paths) == 3


def test_police_uk_skips_files_on_disk(archives: str, server: LocalServer, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"out_dir": tmp_path, "base_url": archives, "quiet": True}
    first = download_police_uk(["2017-01"], forces=["metropolitan"], **kwargs)
    first[0].write_text("edited")
    assert download_police_uk(["2017-01"], forces=["metropolitan"], **kwargs) == first
    assert download_police_uk(["2017-01"], **kwargs)[1] == first[0]  # archive on disk is reused
    assert len(server.requests) == 1
    assert first[0].read_text() == "edited"
    download_police_uk(["2017-01"], forces=["metropolitan"], overwrite=True, **kwargs)
    assert len(server.requests) == 2
    assert first[0].read_bytes() == _street_csv("2017-01", "metropolitan")


def test_download_file_checksum_and_skip(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (server.root / "a.txt").write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    dest = tmp_path / "sub" / "a.txt"
    assert download_file(f"{server.url}/a.txt", dest, sha256=digest.upper(), quiet=True) == dest
    assert dest.read_bytes() == b"hello"
    with caplog.at_level(logging.INFO, logger="hotspots"):
        download_file(f"{server.url}/a.txt", dest, sha256=digest)
    assert "Kept existing" in caplog.text
    assert len(server.requests) == 1
    dest.write_bytes(b"corrupt")
    download_file(f"{server.url}/a.txt", dest, sha256=digest, quiet=True)
    assert dest.read_bytes() == b"hello"
    assert len(server.requests) == 2


def test_download_file_with_progress_bar(server: LocalServer, tmp_path: Path) -> None:
    (server.root / "big.bin").write_bytes(bytes(200_000))
    dest = download_file(f"{server.url}/big.bin", tmp_path / "big.bin", quiet=False)
    assert dest.stat().st_size == 200_000


@pytest.mark.parametrize("name", sorted(BOUNDARY_SOURCES))
def test_download_boundaries_rebases_url(name: str, server: LocalServer, tmp_path: Path) -> None:
    source = BOUNDARY_SOURCES[name]
    remote = urllib.parse.urlsplit(source.url).path
    served = server.root / "mirror" / remote.lstrip("/")
    served.parent.mkdir(parents=True)
    served.write_bytes(b"payload")
    path = download_boundaries(
        name, out_dir=tmp_path / "b", base_url=f"{server.url}/mirror/", quiet=True
    )
    assert path == tmp_path / "b" / source.filename
    assert path.read_bytes() == b"payload"
    assert server.requests == [f"/mirror{remote}"]


def test_osm_streets_writes_geopackage(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, OVERPASS_REPLY)
    out = download_osm_streets(
        (-0.132, 51.502, -0.108, 51.522), out_path=tmp_path / "s.gpkg", overpass_url=url, quiet=True
    )
    assert pyogrio.list_layers(out).tolist() == [["streets", "LineString"]]
    streets = gpd.read_file(out, layer="streets")
    assert list(streets.columns) == ["street_id", "name", "road_class", "geometry"]
    assert streets.crs.to_epsg() == 4326
    assert streets["street_id"].tolist() == ["way/4", "way/30"]
    assert streets["name"].isna().tolist() == [True, False]
    assert streets["road_class"].tolist() == ["primary", "residential"]
    assert streets.geometry.iloc[1].coords[0] == (-0.12, 51.51)
    query = urllib.parse.parse_qs(server.posts[0][1].decode())["data"][0]
    assert "(51.5020000,-0.1320000,51.5220000,-0.1080000)" in query
    assert '["highway"~"^(residential|unclassified|' in query
    assert '["area"!="yes"]' in query
    assert "out geom;" in query


def test_osm_streets_replaces_existing_file(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, OVERPASS_REPLY)
    out = tmp_path / "s.gpkg"
    out.write_bytes(b"old")
    download_osm_streets((0, 0, 1, 1), out_path=out, overpass_url=url, quiet=True)
    assert len(gpd.read_file(out)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.gpkg", "www"]


def test_months_between_crosses_years() -> None:
    assert months_between("2016-11", "2017-02") == [
        "2016-11",
        "2016-12",
        "2017-01",
        "2017-02",
    ]


def test_cli_police_uk(archives: str, tmp_path: Path) -> None:
    args = ["police-uk", "--from", "2016-12", "--to", "2017-01", "--force", "metropolitan"]
    args += ["--out", str(tmp_path), "--base-url", archives, "--quiet"]
    result = CliRunner().invoke(download, args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        str(tmp_path / "2016-12-metropolitan-street.csv"),
        str(tmp_path / "2017-01-metropolitan-street.csv"),
    ]


def test_cli_boundaries(server: LocalServer, tmp_path: Path) -> None:
    remote = urllib.parse.urlsplit(BOUNDARY_SOURCES["vancouver_local_areas"].url).path
    served = server.root / remote.lstrip("/")
    served.parent.mkdir(parents=True)
    served.write_text('{"type": "FeatureCollection", "features": []}')
    args = ["boundaries", "vancouver_local_areas", "--out", str(tmp_path / "b")]
    result = CliRunner().invoke(download, [*args, "--base-url", server.url, "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "b" / "local-area-boundary.geojson")


def test_cli_osm_streets_negative_bbox(server: LocalServer, tmp_path: Path) -> None:
    url = _overpass(server, OVERPASS_REPLY)
    args = ["osm-streets", "--bbox", "-0.132", "51.502", "-0.108", "51.522"]
    args += ["--out", str(tmp_path / "s.gpkg"), "--overpass-url", url, "--quiet"]
    result = CliRunner().invoke(download, args)
    assert result.exit_code == 0, result.output
    assert len(gpd.read_file(tmp_path / "s.gpkg")) == 2


def test_cli_help_has_examples() -> None:
    for command in ["police-uk", "boundaries", "osm-streets"]:
        result = CliRunner().invoke(download, [command, "--help"])
        assert result.exit_code == 0
        assert f"hotspots download {command} " in result.output
