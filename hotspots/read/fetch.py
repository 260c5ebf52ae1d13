"""Fetching one URL to a file or buffer: retries, progress, checksums and one-line errors."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hotspots.errors import DownloadError, InputDataError

__all__ = [
    "CHUNK_BYTES",
    "USER_AGENT",
    "announce",
    "check_sha256",
    "content_length",
    "copy_body",
    "download_file",
    "fetch",
    "http_hint",
    "network_message",
    "progress",
    "rebase_url",
    "request",
    "sha256_of",
]

log = logging.getLogger("hotspots")

CHUNK_BYTES = 1 << 16


USER_AGENT = "hotspots/0.1 (+https://pypi.org/project/hotspots/; python-urllib)"


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    sha256: str | None = None,
    timeout_s: float = 60,
    quiet: bool = False,
) -> Path:
    """Download ``url`` to ``dest``, streaming to a ``.part`` file that is renamed when complete.

    Parameters
    ----------
    url
        The http(s) URL to fetch.
    dest
        The file to write. Its folder is created when missing.
    overwrite
        If False (default), an existing ``dest`` is kept and not fetched again (unless it fails
        the ``sha256`` check). If True, it is downloaded again.
    sha256
        Expected SHA-256 hex digest of the file. When given, the download is checked and
        rejected (the partial file deleted) on a mismatch.
    timeout_s
        Seconds to wait for the server to connect or send the next bytes.
    quiet
        If True, show no progress bar and log nothing.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        On an HTTP error, a timeout, a broken connection, a truncated body or a checksum
        mismatch. The message names the URL.

    Examples
    --------
    >>> download_file("https://example.org/data.csv", "data/data.csv")  # doctest: +SKIP
    PosixPath('data/data.csv')
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        if sha256 is None or sha256_of(dest) == sha256.lower():
            announce(f"Kept existing {dest} (pass overwrite=True to download it again)", quiet)
            return dest
        announce(f"Existing {dest} fails the sha256 check; downloading it again", quiet)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as sink:
            digest = fetch(request(url), sink, label=dest.name, timeout_s=timeout_s, quiet=quiet)
        check_sha256(url, digest, sha256)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest


def request(url: str, data: bytes | None = None) -> urllib.request.Request:
    """Build a GET (or, with ``data``, form POST) request that names the client."""
    headers = {"User-Agent": USER_AGENT}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return urllib.request.Request(url, data=data, headers=headers)


def fetch(
    request: urllib.request.Request, sink: IO[bytes], *, label: str, timeout_s: float, quiet: bool
) -> str:
    """Stream the body of ``request`` into ``sink``; return its SHA-256 hex digest."""
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            total = content_length(response)
            digest, size = copy_body(response, sink, total=total, label=label, quiet=quiet)
    except urllib.error.HTTPError as err:
        err.close()
        hint = http_hint(err.code)
        msg = f"download failed: {url} answered HTTP {err.code} {err.reason}. {hint}"
        raise DownloadError(msg) from err
    except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
        raise DownloadError(network_message(url, err, timeout_s)) from err
    if total is not None and size != total:
        msg = f"download failed: {url} sent {size} of {total} bytes. Try again."
        raise DownloadError(msg)
    return digest


def content_length(response: http.client.HTTPResponse) -> int | None:
    """Return the Content-Length of ``response``, or None when absent or not a number."""
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def copy_body(
    response: http.client.HTTPResponse,
    sink: IO[bytes],
    *,
    total: int | None,
    label: str,
    quiet: bool,
) -> tuple[str, int]:
    """Copy ``response`` to ``sink`` in chunks; return (sha256 hex digest, bytes copied)."""
    digest = hashlib.sha256()
    size = 0
    with progress(label, total, quiet=quiet) as advance:
        while chunk := response.read(CHUNK_BYTES):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            advance(len(chunk))
    return digest.hexdigest(), size


@contextlib.contextmanager
def progress(label: str, total: int | None, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """Yield a function that advances a rich progress bar by n bytes (a no-op when quiet)."""
    if quiet:
        yield lambda n: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def http_hint(code: int) -> str:
    """Return the fix to suggest for an HTTP error status."""
    if code == 404:
        return "Check the URL (for police.uk: that the month is published yet)."
    if code in (429, 503, 504):
        return "The server is busy: wait a minute and try again (or query a smaller area)."
    return "Check the URL, or try again later."


def network_message(url: str, err: Exception, timeout_s: float) -> str:
    """Describe a timeout or connection failure for ``url``."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, TimeoutError):
        return (
            f"download failed: {url} sent nothing for {timeout_s:g} s (timeout). "
            "Try again, or pass a longer timeout."
        )
    return f"download failed: could not read {url} ({reason}). Check the network and URL."


def check_sha256(url: str, digest: str, expected: str | None) -> None:
    """Raise DownloadError if ``expected`` is given and differs from ``digest``."""
    if expected is not None and digest != expected.lower():
        msg = (
            f"`sha256` must match the download; {url} gave {digest}, expected {expected}. "
            "The partial file was deleted: check the URL and checksum, or try again."
        )
        raise DownloadError(msg)


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def rebase_url(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by those of ``base_url`` (keeping its path)."""
    if base_url is None:
        return url
    base = urllib.parse.urlsplit(base_url)
    if not base.scheme or not base.netloc:
        msg = f"`base_url` must start with scheme://host; got {base_url!r}, e.g. 'http://127.0.0.1:8000'."
        raise InputDataError(msg)
    parts = urllib.parse.urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urllib.parse.urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def announce(message: str, quiet: bool) -> None:
    """Log ``message`` at INFO level unless ``quiet``."""
    if not quiet:
        log.info(message)
