"""Remote inputs through an injected `httpx.MockTransport` (`RemoteOptions.transport`): the same
behaviours as the real-server tests in test_remote.py — Range or not, retries, status codes,
redirect limits, the media check, probing — without a socket, plus what the address guard still
does when a transport replaces the network. No test here may open a socket (`no_sockets`)."""

from __future__ import annotations

import pickle
import random
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import mediaprep as mp
from mediaprep import remote
from mediaprep.errors import UsageError
from mediaprep.models import Source, Transfer, Violation
from mediaprep.remote import RemoteFile, RemoteOptions, connect, download, open_remote
from media import encoded, photo

KiB = 1 << 10
CAP = 2 << 30
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A MockTransport never opens a socket: any attempt fails the test loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a socket was opened in a MockTransport test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


class Site:
    """An `httpx.MockTransport` over path → handler (404 for other paths), recording each request."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get(request.url.path)
        return handler(request) if handler is not None else httpx.Response(404)

    def options(self, **kwargs: Any) -> RemoteOptions:
        return RemoteOptions(**{"allow_private": True, "backoff_s": 0.01, "transport": self.transport, **kwargs})


def whole(data: bytes, ctype: str = "image/jpeg") -> Handler:
    """A server that ignores Range: 200 with the whole body (loaded, as MockTransport users write it)."""
    return lambda request: httpx.Response(200, content=data, headers={"content-type": ctype})


def ranged(data: bytes, ctype: str = "image/jpeg") -> Handler:
    """A server that honours `Range: bytes=a-b` with 206 and Content-Range, streaming the part in chunks."""

    def handle(request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers.get("range", ""))
        if match is None:
            return whole(data, ctype)(request)
        start, stop = int(match[1]), min(int(match[2]), len(data) - 1)
        part = data[start : stop + 1]
        headers = {"content-type": ctype, "content-range": f"bytes {start}-{stop}/{len(data)}", "content-length": str(len(part))}
        return httpx.Response(206, headers=headers, content=iter([part[:1000], part[1000:]]))

    return handle


def url_source(url: str) -> Source:
    return Source(label=url, kind="url", url=url)


def jpeg_like(n: int, seed: int = 1) -> bytes:
    return b"\xff\xd8\xff" + random.Random(seed).randbytes(n - 3)


def opened(site: Site, url: str, **kwargs: Any) -> tuple[RemoteFile | Violation, Transfer]:
    return connect(url_source(url), options=site.options(**kwargs), cap_bytes=CAP)


# --------------------------------------------------------------------------------------------------
# Range or not


def test_a_200_that_ignores_range_is_read_whole() -> None:
    data = jpeg_like(150 * KiB)
    site = Site({"/a.jpg": whole(data)})
    fp = open_remote(url_source("http://127.0.0.1/a.jpg"), options=site.options(), cap_bytes=CAP)
    assert isinstance(fp, RemoteFile)
    with fp:
        assert fp.ranged is False and fp.size_bytes == len(data)
        assert fp.read() == data
        fp.seek(100_000)
        assert fp.read(10) == data[100_000:100_010]
        assert fp.requests == 1 == len(site.requests)  # the spooled body answers every read
    first = site.requests[0]
    assert first.headers["range"] == f"bytes=0-{remote.BLOCK_BYTES - 1}"
    assert first.headers["user-agent"].startswith("mediaprep/")
    assert str(first.url) == "http://127.0.0.1/a.jpg"  # the transport sees the URL as given


def test_a_206_gives_the_size_and_reads_by_range() -> None:
    data = jpeg_like(300 * KiB + 7)
    site = Site({"/b.jpg": ranged(data)})
    fp, transfer = opened(site, "http://127.0.0.1:8080/b.jpg")
    assert isinstance(fp, RemoteFile)
    with fp:
        assert fp.ranged is True and fp.size_bytes == len(data)  # from Content-Range, one block read
        assert transfer.requests == 1 and transfer.bytes_read == remote.BLOCK_BYTES
        assert fp.read() == data
        assert fp.requests == 2 and fp.bytes_read == len(data)  # the rest in one read-ahead request
    assert [r.headers["range"] for r in site.requests] == [f"bytes=0-{remote.BLOCK_BYTES - 1}", f"bytes={remote.BLOCK_BYTES}-{len(data) - 1}"]
    assert all(r.url.host == "127.0.0.1" and r.url.port == 8080 for r in site.requests)


# --------------------------------------------------------------------------------------------------
# status codes, retries, redirects, the media check


def test_a_503_then_200_is_retried_once() -> None:
    data = jpeg_like(10 * KiB)
    answers = iter([httpx.Response(503, headers={"retry-after": "0"})])
    site = Site({"/c.jpg": lambda request: next(answers, None) or ranged(data)(request)})
    fp, transfer = opened(site, "http://127.0.0.1/c.jpg")
    assert isinstance(fp, RemoteFile)
    with fp:
        assert fp.read() == data
    assert transfer.retries == 1 and transfer.requests == 2 == len(site.requests)


def test_a_404_fails_at_once() -> None:
    site = Site({})
    got, transfer = opened(site, "http://127.0.0.1/missing.jpg")
    assert isinstance(got, Violation) and got.code == "remote.http_status" and got.observed == 404
    assert "removed" in got.message and "http://127.0.0.1/missing.jpg" in got.message
    assert transfer.retries == 0 and transfer.requests == 1 == len(site.requests)


def test_a_503_that_persists_is_retried_max_retries_times() -> None:
    site = Site({"/d.jpg": lambda request: httpx.Response(503)})
    got, transfer = opened(site, "http://127.0.0.1/d.jpg", max_retries=3)
    assert isinstance(got, Violation) and got.code == "remote.http_status" and "after 3 retries" in got.message
    assert transfer.retries == 3 and transfer.requests == 4 == len(site.requests)


def test_a_redirect_chain_past_max_redirects() -> None:
    def hop(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("n", "0"))
        return httpx.Response(302, headers={"location": f"/r?n={n + 1}"})

    site = Site({"/r": hop})
    got, transfer = opened(site, "http://127.0.0.1/r", max_redirects=2)
    assert isinstance(got, Violation) and got.code == "remote.too_many_redirects" and got.limit == 2
    assert transfer.redirects == 2 and transfer.requests == 3 == len(site.requests)
    assert [r.url.params.get("n") for r in site.requests] == [None, "1", "2"]


def test_redirects_within_the_limit_are_followed() -> None:
    data = jpeg_like(5 * KiB)
    site = Site({"/old": lambda request: httpx.Response(301, headers={"location": "/new.jpg"}), "/new.jpg": ranged(data)})
    fp, transfer = opened(site, "http://127.0.0.1/old")
    assert isinstance(fp, RemoteFile)
    with fp:
        assert fp.read() == data and fp.url == "http://127.0.0.1/new.jpg"
    assert transfer.redirects == 1 and transfer.requests == 2


@pytest.mark.parametrize("handler", [whole, ranged], ids=["200", "206"])
def test_an_html_page_is_not_media(handler: Callable[[bytes, str], Handler]) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    site = Site({"/login": handler(page, "text/html; charset=utf-8")})
    got, _ = opened(site, "http://127.0.0.1/login")
    assert isinstance(got, Violation) and got.code == "remote.not_media"
    assert "HTML page" in got.message and "text/html" in got.message


def test_download_through_the_transport(tmp_path: Path) -> None:
    data = jpeg_like(200 * KiB)
    site = Site({"/e.jpg": whole(data)})
    got = download(url_source("http://127.0.0.1/e.jpg"), options=site.options(), cap_bytes=CAP, directory=tmp_path)
    assert isinstance(got, remote.Downloaded)
    assert got.path.read_bytes() == data and got.size_bytes == len(data) and got.transfer.requests == 1
    assert "range" not in site.requests[0].headers
    too_small = download(url_source("http://127.0.0.1/e.jpg"), options=site.options(), cap_bytes=100 * KiB, directory=tmp_path)
    assert isinstance(too_small, Violation) and too_small.code == "remote.too_large"
    assert list(tmp_path.iterdir()) == [got.path]  # the refused download left no file


# --------------------------------------------------------------------------------------------------
# the public API


def test_probe_and_check_a_png_served_by_the_mock() -> None:
    png = encoded(photo(37, 23), "PNG")
    site = Site({"/tiny.png": ranged(png, "image/png")})
    url = "http://127.0.0.1/tiny.png"
    info = mp.probe(url, remote=RemoteOptions(allow_private=True, transport=site.transport))
    assert info.format == "PNG" and (info.width_px, info.height_px) == (37, 23) and info.size_bytes == len(png)
    report = mp.check(url, remote=RemoteOptions(allow_private=True, transport=site.transport))
    assert report.status == "ok" and report.remote is not None and report.remote.requests >= 1


# --------------------------------------------------------------------------------------------------
# the address guard with a transport: still resolved and checked, never pinned


def test_a_private_address_is_refused_before_the_transport_is_asked() -> None:
    site = Site({"/a.jpg": whole(jpeg_like(1 * KiB))})
    got, transfer = connect(url_source("http://127.0.0.1/a.jpg"), options=RemoteOptions(transport=site.transport), cap_bytes=CAP)
    assert isinstance(got, Violation) and got.code == "remote.private_address" and "loopback" in got.message
    assert transfer.requests == 0 and site.requests == []


@pytest.fixture()
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names resolved from this table instead of the network (what the guard asks is real)."""
    table: dict[str, str] = {}

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_a_public_name_keeps_its_host_for_the_transport(dns: dict[str, str]) -> None:
    dns["media.test"] = "93.184.215.14"
    data = jpeg_like(3 * KiB)
    site = Site({"/f.jpg": ranged(data)})
    fp, _ = connect(url_source("https://media.test/f.jpg"), options=RemoteOptions(transport=site.transport), cap_bytes=CAP)
    assert isinstance(fp, RemoteFile)
    with fp:
        assert fp.read() == data
    assert str(site.requests[0].url) == "https://media.test/f.jpg"  # not pinned to 93.184.215.14
    assert site.requests[0].headers["host"] == "media.test"


def test_a_name_on_a_private_address_needs_vouching(dns: dict[str, str]) -> None:
    dns["media.test"] = "10.1.2.3"
    site = Site({"/g.jpg": ranged(jpeg_like(3 * KiB))})
    got, _ = connect(url_source("http://media.test/g.jpg"), options=RemoteOptions(transport=site.transport), cap_bytes=CAP)
    assert isinstance(got, Violation) and got.code == "remote.private_address"
    assert "media.test resolves to 10.1.2.3 (private)" in got.message and site.requests == []
    vouched = RemoteOptions(private_hosts=("media.test",), transport=site.transport)
    fp, _ = connect(url_source("http://media.test/g.jpg"), options=vouched, cap_bytes=CAP)
    assert isinstance(fp, RemoteFile) and len(site.requests) == 1
    fp.close()


def test_a_redirect_to_a_private_address_is_refused(dns: dict[str, str]) -> None:
    dns["media.test"] = "93.184.215.14"
    site = Site({"/h.jpg": lambda request: httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})})
    got, transfer = connect(url_source("http://media.test/h.jpg"), options=RemoteOptions(transport=site.transport), cap_bytes=CAP)
    assert isinstance(got, Violation) and got.code == "remote.private_address"
    assert "a redirect to http://169.254.169.254/latest/meta-data" in got.message and "link-local" in got.message
    assert transfer.requests == 1 and len(site.requests) == 1  # the metadata service was never asked


def test_an_unresolvable_name_is_unreachable(dns: dict[str, str]) -> None:
    site = Site({})
    got, _ = connect(url_source("http://nowhere.test/x.jpg"), options=RemoteOptions(transport=site.transport), cap_bytes=CAP)
    assert isinstance(got, Violation) and got.code == "remote.unreachable" and "does not resolve" in got.message
    assert site.requests == []


# --------------------------------------------------------------------------------------------------
# the option itself


class CountingTransport(httpx.MockTransport):
    def __init__(self, handler: Handler) -> None:
        super().__init__(handler)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_sessions_never_close_the_injected_transport() -> None:
    data = jpeg_like(2 * KiB)
    transport = CountingTransport(ranged(data))
    options = RemoteOptions(allow_private=True, transport=transport)
    for _ in range(3):
        fp = open_remote(url_source("http://127.0.0.1/i.jpg"), options=options, cap_bytes=CAP)
        assert isinstance(fp, RemoteFile)
        with fp:
            assert fp.read() == data
    assert transport.closed == 0


def test_the_transport_is_left_out_of_equality_hash_repr_and_pickling() -> None:
    site = Site({})
    with_transport = RemoteOptions(allow_private=True, transport=site.transport)
    plain = RemoteOptions(allow_private=True)
    assert with_transport == plain and hash(with_transport) == hash(plain)
    assert "transport" not in repr(with_transport) and "MockTransport" not in repr(with_transport)
    assert pickle.loads(pickle.dumps(plain)) == plain and pickle.loads(pickle.dumps(plain)).transport is None
    with pytest.raises(UsageError, match="transport"):
        RemoteOptions(transport="http://proxy")  # type: ignore[arg-type]
