"""Remote inputs against a real HTTP server on 127.0.0.1 (tests/remote_server.py): what probing costs
(the server counts the bytes), the file object's semantics, the address guard, and every fault mode
ending in its code within its deadline. The loopback server is vouched for with `allow_private`
(or `private_hosts`) except where the refusal itself is the point."""

from __future__ import annotations

import re

import io
import json
import random
import socket
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import av
import pytest

import mediaprep as mp
from mediaprep import remote
from mediaprep.cli import main
from mediaprep.errors import UsageError
from mediaprep.models import Source
from mediaprep.remote import RemoteFile, RemoteOptions, address_problem, not_media, open_remote
from media import encoded, photo, save, with_orientation, marker
from remote_server import BytesBody, MediaServer, Route, big_jpeg, padded_mp4, small_mp4, tls_files, write_sparse

KiB, MiB = 1 << 10, 1 << 20
LOCAL = RemoteOptions(allow_private=True, backoff_s=0.05)
FAST = replace(LOCAL, deadline_s=1.5, read_timeout_s=10.0)  # the deadline, not the read timeout, must end it
CAP = 2 << 30


@pytest.fixture()
def server() -> Iterator[MediaServer]:
    srv = MediaServer()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def jpeg_20mb() -> bytes:
    """About 20 MB of real JPEG (4000 px wide noise at quality 100)."""
    data = big_jpeg(20_000_000)
    assert 18_000_000 < len(data) < 22_000_000
    return data


@pytest.fixture(scope="module")
def small_jpeg() -> bytes:
    return encoded(photo(120, 90), "JPEG")


def url_source(url: str) -> Source:
    return Source(label=url, kind="url", url=url)


def elapsed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - t0


# --------------------------------------------------------------------------------------------------
# what probing costs


def test_probe_20mb_jpeg_reads_at_most_128_kib(server: MediaServer, jpeg_20mb: bytes, tmp_path: Path) -> None:
    """The issue's number: a 20 MB JPEG is probed with ≤ 128 KiB, and gives the local file's probe."""
    local = tmp_path / "big.jpg"
    local.write_bytes(jpeg_20mb)
    url = server.add("/big.jpg", Route(body=BytesBody(jpeg_20mb), content_type="image/jpeg"))
    info = mp.probe(url, remote=LOCAL)
    assert server.stats.body_bytes <= 128 * KiB
    assert info == mp.probe(local)
    assert info.size_bytes == len(jpeg_20mb)  # from Content-Range, not from reading


def test_check_20mb_jpeg_is_header_only_and_says_so(server: MediaServer, jpeg_20mb: bytes) -> None:
    """Default check on a URL does not pull a big image through to decode it: the report says it
    read the header only, and the byte cap is judged from the declared size."""
    url = server.add("/big.jpg", Route(body=BytesBody(jpeg_20mb), content_type="image/jpeg"))
    report = mp.check(url, target=mp.Target(transport="url"), remote=LOCAL)
    assert server.stats.body_bytes <= 128 * KiB
    assert report.verified == "header-only" and report.info is not None and report.info.decode == "header-only"
    assert report.codes == ("image.too_large",) and report.status == "fixable"  # 20 MB > 10 MiB by URL
    out = report.to_json()["remote"]
    assert out["bytes"] == report.remote.bytes_read <= 128 * KiB and out["requests"] == 1
    assert out["size_bytes"] == len(jpeg_20mb) and out["range"] is True
    assert "header only" in out["read"] and "not decoded" in out["read"]


def test_small_image_is_decoded_like_a_file(server: MediaServer, tmp_path: Path) -> None:
    """Under the verify budget the cheap decode runs as for a file: a truncated JPEG is rejected."""
    good = encoded(photo(400, 300), "JPEG")
    cut = good[: len(good) * 2 // 3]
    ok_url = server.add("/ok.jpg", Route(body=BytesBody(good), content_type="image/jpeg"))
    cut_url = server.add("/cut.jpg", Route(body=BytesBody(cut), content_type="image/jpeg"))
    ok = mp.check(ok_url, remote=LOCAL)
    assert ok.status == "ok" and ok.verified == "decoded" and "decoded" in ok.remote.note
    bad = mp.check(cut_url, remote=LOCAL)
    assert bad.codes == ("image.unreadable",) and "truncated" in bad.violations[0].message
    local = tmp_path / "cut.jpg"
    local.write_bytes(cut)
    assert mp.check(local).codes == bad.codes


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-last", "moov-first"])
def test_pyav_opens_200mb_mp4_through_the_remote_file_reading_at_most_1_mib(server: MediaServer, faststart: bool) -> None:
    body = padded_mp4(small_mp4(faststart=faststart), 200_000_000)
    url = server.add("/v.mp4", Route(body=body, content_type="video/mp4"))
    fp = open_remote(url_source(url), options=LOCAL, cap_bytes=CAP)
    assert isinstance(fp, RemoteFile) and fp.size_bytes == 200_000_000
    with fp, av.open(fp.reopen()) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 120)
        assert stream.frames == 30 and float(stream.duration * stream.time_base) == pytest.approx(3.0)
        frame = next(container.decode(stream))  # the first frame decodes too
        assert frame.width == 160
    assert server.stats.body_bytes <= 1 * MiB
    assert fp.bytes_read == server.stats.body_bytes and fp.requests == len(server.stats.requests) <= 4


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-last", "moov-first"])
def test_probe_200mb_mp4_matches_the_local_file(server: MediaServer, faststart: bool, tmp_path: Path) -> None:
    """The issue's number through the pipeline: ≤ 1 MiB, and the same probe as the local file."""
    body = padded_mp4(small_mp4(faststart=faststart), 200_000_000)
    local = tmp_path / "v.mp4"
    write_sparse(body, local)
    url = server.add("/v.mp4", Route(body=body, content_type="video/mp4"))
    info = mp.probe(url, remote=LOCAL)
    assert server.stats.body_bytes <= 1 * MiB
    assert info == mp.probe(local)
    server.reset_stats()
    report = mp.check(url, target=mp.Target(transport="url"), remote=LOCAL)
    assert server.stats.body_bytes <= 1 * MiB
    assert report.status == "ok" and report.remote is not None and report.remote.bytes_read == server.stats.body_bytes


# --------------------------------------------------------------------------------------------------
# the file object


def test_remote_file_reads_like_bytesio(server: MediaServer) -> None:
    """Random seeks and reads (every whence, past the end, spanning blocks) give BytesIO's answers;
    the cache stays bounded."""
    data = random.Random(7).randbytes(3 * MiB + 12345)
    url = server.add("/blob.jpg", Route(body=BytesBody(b"\xff\xd8\xff" + data)))
    data = b"\xff\xd8\xff" + data
    fp = open_remote(url_source(url), options=LOCAL, cap_bytes=CAP)
    assert isinstance(fp, RemoteFile)
    ref = io.BytesIO(data)
    rng = random.Random(1)
    with fp:
        assert fp.seekable() and fp.readable() and not fp.writable()
        for _ in range(300):
            whence = rng.choice([0, 1, 2])
            offset = {0: rng.randrange(0, len(data) + 100), 1: rng.randrange(-1000, 200_000), 2: -rng.randrange(0, len(data))}[whence]
            if whence == 1 and ref.tell() + offset < 0:
                offset = 0
            assert fp.seek(offset, whence) == ref.seek(offset, whence)
            n = rng.choice([0, 1, 2, 100, 65535, 65536, 65537, 300_000])
            assert fp.read(n) == ref.read(n)
            assert fp.tell() == ref.tell()
        fp.seek(10)
        buf = bytearray(50)
        assert fp.readinto(buf) == 50 and bytes(buf) == data[10:60]
        assert len(fp._body._blocks) <= remote.CACHE_BLOCKS
    assert fp.closed


def test_sequential_reads_grow_the_requests(server: MediaServer) -> None:
    """Read-ahead: reading 8 MiB front to back costs a handful of requests, not 128."""
    data = b"\xff\xd8\xff" + bytes(8 * MiB)
    url = server.add("/seq.jpg", Route(body=BytesBody(data)))
    fp = open_remote(url_source(url), options=LOCAL, cap_bytes=CAP)
    assert isinstance(fp, RemoteFile)
    with fp:
        got = b"".join(iter(lambda: fp.read(16 * KiB), b""))
    assert got == data
    assert fp.requests <= 12 and fp.bytes_read == len(data) == server.stats.body_bytes


def test_user_agent_host_header_and_the_pinned_address(server: MediaServer, small_jpeg: bytes) -> None:
    """A name is resolved once and the socket goes to that address; the Host header keeps the name."""
    url = server.add("/a.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    by_name = url.replace("127.0.0.1", "localhost")
    report = mp.check(by_name, remote=RemoteOptions(private_hosts=("localhost",)))
    assert report.status == "ok"
    seen = server.stats.requests[0]
    assert seen["host"] == f"localhost:{server.port}"
    assert seen["user_agent"] == f"mediaprep/{mp.__version__}"
    assert seen["range"] == "bytes=0-65535"


def test_https_keeps_the_name_for_sni_and_the_certificate(small_jpeg: bytes, tmp_path: Path) -> None:
    """The socket goes to the resolved address, while TLS asks for (SNI) and verifies the name."""
    import ssl

    ca_file, cert_file, key_file = tls_files(tmp_path, "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    srv = MediaServer(tls=context)
    try:
        url = srv.add("/a.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg")).replace("127.0.0.1", "localhost")
        trusted = RemoteOptions(private_hosts=("localhost", "127.0.0.1"), ca_file=str(ca_file), backoff_s=0.05)
        report = mp.check(url, remote=trusted)
        assert report.status == "ok", report.violations
        assert srv.sni == ["localhost"] and srv.stats.requests[0]["host"] == f"localhost:{srv.port}"
        # the certificate names localhost only: by address it must fail, and is not retried
        by_address = mp.check(url.replace("localhost", "127.0.0.1"), remote=trusted)
        assert by_address.codes == ("remote.unreachable",) and "CERTIFICATE_VERIFY_FAILED" in by_address.violations[0].message
        assert by_address.remote.requests == 1
        # an untrusted CA fails the same way
        untrusted = mp.check(url, remote=replace(trusted, ca_file=None))
        assert untrusted.codes == ("remote.unreachable",) and "CERTIFICATE_VERIFY_FAILED" in untrusted.violations[0].message
    finally:
        srv.close()


# --------------------------------------------------------------------------------------------------
# the address guard


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback, as 127.0.0.1"),
        ("64:ff9b::a00:1", "private, as 10.0.0.1"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(ip_address(address)) == problem


def test_refused_before_any_connection(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/a.jpg", Route(body=BytesBody(small_jpeg)))
    for target_url in (url, url.replace("127.0.0.1", "localhost")):
        report = mp.check(target_url)  # the default options: nothing vouched for
        assert report.codes == ("remote.private_address",) and "loopback" in report.violations[0].message
        assert report.remote is not None and report.remote.requests == 0
    assert server.stats.connections == 0 and server.stats.requests == []


def test_redirect_to_a_private_address_is_refused_without_connecting(server: MediaServer, small_jpeg: bytes) -> None:
    """Only the first host (127.0.0.1) is vouched for; its redirect to 127.0.0.2 is not followed."""
    other = MediaServer("127.0.0.2")
    try:
        elsewhere = other.add("/a.jpg", Route(body=BytesBody(small_jpeg)))
        url = server.add("/go", Route(mode="redirect", location=elsewhere))
        report = mp.check(url, remote=RemoteOptions(private_hosts=("127.0.0.1",)))
        assert report.codes == ("remote.private_address",)
        assert "redirect" in report.violations[0].message and "127.0.0.2" in report.violations[0].message
        assert other.stats.connections == 0 and len(server.stats.requests) == 1
        # vouching for the network lets it through
        assert mp.check(url, remote=RemoteOptions(private_hosts=("127.0.0.0/8",))).status == "ok"
    finally:
        other.close()


def test_redirects_up_to_the_limit_are_followed_and_counted(server: MediaServer, small_jpeg: bytes) -> None:
    server.add("/img.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    for i in range(5):
        server.add(f"/r{i}", Route(mode="redirect", location=f"/r{i + 1}" if i < 4 else "/img.jpg", status=301 if i % 2 else 302))
    report = mp.check(server.url("/r0"), remote=LOCAL)
    assert report.status == "ok" and report.remote.redirects == 5
    # later reads go straight to where the redirects ended
    server.reset_stats()
    fp = open_remote(url_source(server.url("/r0")), options=LOCAL, cap_bytes=CAP)
    assert isinstance(fp, RemoteFile) and fp.url.endswith("/img.jpg")
    fp.close()


def test_redirect_loop(server: MediaServer) -> None:
    url = server.add("/loop", Route(mode="redirect", location="/loop"))
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.too_many_redirects",) and "loops" in report.violations[0].message
    assert len(server.stats.requests) == 6  # the first answer and 5 followed redirects


def test_redirect_to_another_scheme(server: MediaServer) -> None:
    url = server.add("/ftp", Route(mode="redirect", location="ftp://example.com/a.jpg"))
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.unreachable",) and "only http and https" in report.violations[0].message


# --------------------------------------------------------------------------------------------------
# statuses and retries


def test_404_is_not_retried(server: MediaServer) -> None:
    url = server.url("/missing.jpg")
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.http_status",)
    v = report.violations[0]
    assert v.observed == 404 and "Not Found" in v.message and url in v.message
    assert len(server.stats.requests) == 1


def test_500_then_200_is_retried_and_counted(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/flaky.jpg", Route(body=BytesBody(small_jpeg), mode="flaky", status=500, fail_first=1))
    report = mp.check(url, remote=LOCAL)
    assert report.status == "ok"
    assert report.remote.retries == 1 and report.remote.requests == 2 == len(server.stats.requests)


def test_persistent_503_gives_up_after_the_retries(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/down.jpg", Route(body=BytesBody(small_jpeg), mode="status", status=503))
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.http_status",) and "after 2 retries" in report.violations[0].message
    assert len(server.stats.requests) == 1 + LOCAL.max_retries


def test_429_retry_after_is_honoured_within_the_deadline(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/busy.jpg", Route(body=BytesBody(small_jpeg), mode="flaky", status=429, fail_first=1, retry_after="1"))
    report, took = elapsed(mp.check, url, remote=replace(LOCAL, deadline_s=5))
    assert report.status == "ok" and report.remote.retries == 1
    assert 1.0 <= took < 2.5


def test_429_retry_after_past_the_deadline_fails_at_once(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/busy.jpg", Route(body=BytesBody(small_jpeg), mode="flaky", status=429, fail_first=1, retry_after="60"))
    report, took = elapsed(mp.check, url, remote=replace(LOCAL, deadline_s=2))
    assert report.codes == ("remote.http_status",) and report.violations[0].observed == 429
    assert "past the 2 s deadline" in report.violations[0].message
    assert took < 0.5 and len(server.stats.requests) == 1


def test_a_failure_after_opening_is_reported_as_the_remote_code(server: MediaServer) -> None:
    """The first block is served, later Range requests fail: the verdict is the remote code, not
    `video.unreadable` from the decoder that saw the failed read."""
    body = padded_mp4(small_mp4(faststart=False), 50_000_000)
    url = server.add("/v.mp4", Route(body=body, mode="break_after", good_first=1, status=404))
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.http_status",) and report.status == "rejected"
    assert report.remote is not None and report.remote.requests >= 2


# --------------------------------------------------------------------------------------------------
# fault modes: each ends in its code, within its deadline, with bounded memory


def test_never_answers(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/silent.jpg", Route(body=BytesBody(small_jpeg), mode="silent"))
    report, took = elapsed(mp.check, url, remote=FAST)
    assert report.codes == ("remote.timeout",) and url in report.violations[0].message
    assert took < FAST.deadline_s + 0.5


def test_read_timeout_ends_a_stall_before_the_deadline(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/silent.jpg", Route(body=BytesBody(small_jpeg), mode="silent"))
    report, took = elapsed(mp.check, url, remote=replace(LOCAL, read_timeout_s=0.5, deadline_s=10))
    assert report.codes == ("remote.timeout",) and "0.5 s read timeout" in report.violations[0].message
    assert took < 1.5


def test_trickles_a_byte_a_second(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/slow.jpg", Route(body=BytesBody(small_jpeg), mode="trickle", trickle_s=1.0))
    report, took = elapsed(mp.check, url, remote=FAST)
    assert report.codes == ("remote.timeout",) and "deadline" in report.violations[0].message
    assert took < FAST.deadline_s + 1.2  # at most one trickle interval late


def test_resets_mid_body(server: MediaServer) -> None:
    url = server.add("/reset.jpg", Route(body=BytesBody(b"\xff\xd8\xff" + bytes(200_000)), mode="reset"))
    report = mp.check(url, remote=FAST)
    assert report.codes == ("remote.unreachable",) and "broke off" in report.violations[0].message


def test_content_length_longer_than_the_body(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/long.jpg", Route(body=BytesBody(small_jpeg), mode="cl_long"))
    report, took = elapsed(mp.check, url, remote=FAST)
    assert report.codes == ("remote.unreachable",)
    assert f"short of the {len(small_jpeg) + 1000:,} its Content-Length promised" in report.violations[0].message
    assert took < FAST.deadline_s


def test_content_length_shorter_than_the_range(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/short.jpg", Route(body=BytesBody(small_jpeg), mode="cl_short"))
    report = mp.check(url, remote=FAST)
    assert report.codes == ("remote.unreachable",) and "inconsistent" in report.violations[0].message


def test_content_length_shorter_without_range_is_a_truncated_file(server: MediaServer) -> None:
    """Without Range nothing tells a short Content-Length from a short file: the bytes decide, and
    the decode finds the truncation as it would in a local file."""
    data = encoded(photo(400, 300), "JPEG")
    url = server.add("/short.jpg", Route(body=BytesBody(data), mode="cl_short_200", content_type="image/jpeg"))
    report = mp.check(url, remote=FAST)
    assert report.codes == ("image.unreadable",) and report.remote.ranged is False
    assert report.info is None or report.info.size_bytes == len(data) // 2


def test_endless_body(server: MediaServer) -> None:
    """A body that never ends (no Content-Length, Range ignored) stops at the cap, spooled to disk:
    memory stays far below the bytes read."""
    url = server.add("/endless.jpg", Route(body=BytesBody(b"\xff\xd8\xff\xe0" + bytes(1000)), mode="endless", content_type="image/jpeg"))
    limits = replace(mp.Limits(), image_max_file_bytes=1 * MiB, video_max_url_bytes=32 * MiB)
    tracemalloc.start()
    try:
        report, took = elapsed(mp.check, url, target=mp.Target(limits=limits), remote=replace(LOCAL, deadline_s=10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.codes == ("remote.too_large",)
    v = report.violations[0]
    assert v.limit == 32 * MiB and v.observed > 32 * MiB and "at least" in v.message
    assert peak < 8 * MiB and took < 10


def test_declared_size_over_the_cap_is_refused_before_reading(server: MediaServer) -> None:
    url = server.add("/huge.jpg", Route(body=BytesBody(b"\xff\xd8\xff" + bytes(3 * MiB))))
    limits = replace(mp.Limits(), image_max_file_bytes=1 * MiB, video_max_url_bytes=2 * MiB)
    report = mp.check(url, target=mp.Target(limits=limits), remote=LOCAL)
    assert report.codes == ("remote.too_large",) and "declared as" in report.violations[0].message
    assert report.remote.bytes_read == 0


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html; charset=utf-8"),
        (b'{"error": "not found"}', "application/json"),
        (b"<!DOCTYPE html><html>served as an image</html>", "image/jpeg"),  # the bytes decide
    ],
)
@pytest.mark.parametrize("mode", ["normal", "norange"], ids=["206", "200"])
def test_html_or_json_served_as_200(server: MediaServer, body: bytes, ctype: str, mode: str) -> None:
    url = server.add("/page", Route(body=BytesBody(body), content_type=ctype, mode=mode))
    report = mp.check(url, remote=LOCAL)
    assert report.codes == ("remote.not_media",) and ctype.split(";")[0] in report.violations[0].message


def test_media_with_a_wrong_content_type_is_judged_by_its_bytes(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/x", Route(body=BytesBody(small_jpeg), content_type="text/html"))
    report = mp.check(url, remote=LOCAL)
    assert report.status == "ok" and report.info is not None and report.info.format == "JPEG"


def test_server_without_range_support(server: MediaServer, tmp_path: Path) -> None:
    data = encoded(photo(300, 200), "PNG")
    local = tmp_path / "a.png"
    local.write_bytes(data)
    url = server.add("/a.png", Route(body=BytesBody(data), mode="norange", content_type="image/png"))
    report = mp.check(url, remote=LOCAL)
    assert report.status == "ok" and report.remote.ranged is False and report.remote.requests == 1
    assert "ignores Range" in report.remote.note
    assert mp.probe(url, remote=LOCAL) == mp.probe(local)


def test_connection_refused_is_retried_then_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    report, took = elapsed(mp.check, f"http://127.0.0.1:{port}/a.jpg", remote=LOCAL)
    assert report.codes == ("remote.unreachable",) and "could not connect" in report.violations[0].message
    assert report.remote.requests == 1 + LOCAL.max_retries and report.remote.retries == LOCAL.max_retries
    assert took < 2


def test_unresolvable_host() -> None:
    report = mp.check("http://no-such-host.invalid/a.jpg", remote=replace(LOCAL, deadline_s=5))
    assert report.codes in (("remote.unreachable",), ("remote.timeout",))


def test_options_are_validated() -> None:
    with pytest.raises(UsageError):
        RemoteOptions(deadline_s=0)
    with pytest.raises(UsageError):
        RemoteOptions(max_retries=-1)
    with pytest.raises(UsageError):
        RemoteOptions(private_hosts="localhost")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        RemoteOptions(private_hosts=("10.0.0.0/33",))
    vouched = RemoteOptions(private_hosts=("Mirror.internal", "10.0.0.0/8"))
    assert vouched.vouches_for("mirror.internal", ip_address("192.168.0.1"))
    assert vouched.vouches_for("other", ip_address("10.9.9.9"))
    assert not vouched.vouches_for("other", ip_address("192.168.0.1"))


def test_not_media_is_decided_by_the_bytes() -> None:
    assert not_media("text/html", b"\xff\xd8\xff\xe0") is None
    assert not_media("image/png", b"<html><body>") is not None
    assert not_media(None, b'[{"a": 1}]') == "JSON (no Content-Type)"
    assert not_media("application/octet-stream", bytes(range(256))) is None  # unknown binary: the backends decide
    assert not_media("text/plain", b"\x00\x01\x02garbage") is not None


# --------------------------------------------------------------------------------------------------
# prepare and the command line


def test_prepare_ok_url_with_url_transport_emits_the_url(server: MediaServer, small_jpeg: bytes, tmp_path: Path) -> None:
    url = server.add("/ok.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    result = mp.prepare(url, target=mp.Target(transport="url"), out_dir=tmp_path, remote=LOCAL)
    assert result.status == "ready" and result.part == {"type": "image_url", "image_url": {"url": url}}
    assert result.outputs == () and [a.op for a in result.actions] == ["passthrough"]
    assert all(r["range"] for r in server.stats.requests)  # the check's Range read only, no download
    assert list(tmp_path.iterdir()) == []


def test_prepare_ok_video_url_emits_the_url_without_downloading(server: MediaServer) -> None:
    body = padded_mp4(small_mp4(faststart=False), 200_000_000)
    url = server.add("/v.mp4", Route(body=body, content_type="video/mp4"))
    result = mp.prepare(url, target=mp.Target(transport="url"), remote=LOCAL)
    assert result.status == "ready" and result.part == {"type": "video_url", "video_url": {"url": url}, "fps": 2}
    assert server.stats.body_bytes <= 1 * MiB


def test_prepare_url_that_needs_a_fix_downloads_it(server: MediaServer, tmp_path: Path) -> None:
    leftovers = set(Path(tempfile.gettempdir()).glob("mediaprep-*.download"))
    rotated = with_orientation(marker(40, 20), tmp_path / "rot.jpg", 6).read_bytes()
    url = server.add("/rot.jpg", Route(body=BytesBody(rotated), content_type="image/jpeg"))
    out = tmp_path / "out"
    result = mp.prepare(url, target=mp.Target(transport="url"), out_dir=out, remote=LOCAL)
    assert result.status == "ready"
    ops = [a.op for a in result.actions]
    assert ops[0] == "download" and "orient" in ops
    assert "base64" in result.actions[0].reason  # no url_prefix: the fixed bytes travel inline
    assert result.part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert result.outputs[0].path and (out / result.outputs[0].path).exists()
    assert result.outputs[0].width_px == 20 and result.outputs[0].height_px == 40
    assert any(r["range"] is None for r in server.stats.requests)  # the download: one plain GET
    # with a url_prefix the fixed file is published there instead
    published = mp.prepare(url, target=mp.Target(transport="url"), out_dir=out, url_prefix="https://cdn.example/x", remote=LOCAL)
    assert published.part["image_url"]["url"].startswith("https://cdn.example/x/")
    assert set(Path(tempfile.gettempdir()).glob("mediaprep-*.download")) <= leftovers  # the downloads were deleted


def test_prepare_rejected_url(server: MediaServer) -> None:
    result = mp.prepare(server.url("/missing.jpg"), target=mp.Target(transport="url"), remote=LOCAL)
    assert result.status == "rejected" and [v.code for v in result.violations] == ["remote.http_status"]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def test_cli_mixed_batch_reports_every_input(server: MediaServer, small_jpeg: bytes, tmp_path: Path) -> None:
    good_file = save(photo(64, 48), tmp_path / "ok.jpg", "JPEG")
    good_url = server.add("/ok.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    silent = server.add("/silent.jpg", Route(body=BytesBody(small_jpeg), mode="silent"))
    html = server.add("/page", Route(body=BytesBody(b"<html></html>"), content_type="text/html"))
    inputs = [str(good_file), good_url, server.url("/missing.jpg"), silent, str(tmp_path / "missing.png"), html]
    code, out, err = run_cli(["check", "--json", "--allow-private", "--timeout", "1", *inputs])
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["source"] for d in lines] == inputs
    codes = [[v["code"] for v in d["violations"]] for d in lines]
    assert codes == [[], [], ["remote.http_status"], ["remote.timeout"], ["source.not_found"], ["remote.not_media"]]
    assert "remote" not in lines[0] and lines[1]["remote"]["requests"] == 1 and lines[1]["remote"]["bytes"] == len(small_jpeg)
    assert "6 inputs" in err and re.search(r"^  ok +2$", err, re.M) and re.search(r"^  rejected +4$", err, re.M)
    # text output names the cost too
    code, out, _ = run_cli(["check", "--allow-private", good_url])
    assert code == 0 and f"remote  {len(small_jpeg):,} bytes in 1 request" in out


def test_cli_refuses_private_urls_unless_allowed(server: MediaServer, small_jpeg: bytes) -> None:
    url = server.add("/ok.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    code, out, _ = run_cli(["check", "--json", url])
    assert code == 1 and json.loads(out)["violations"][0]["code"] == "remote.private_address"
    assert server.stats.connections == 0
    code, out, _ = run_cli(["check", "--json", "--allow-private-host", "127.0.0.1", url])
    assert code == 0


def test_cli_prepare_url_defaults_to_the_url_transport(server: MediaServer, small_jpeg: bytes, tmp_path: Path) -> None:
    url = server.add("/ok.jpg", Route(body=BytesBody(small_jpeg), content_type="image/jpeg"))
    file = save(photo(64, 48), tmp_path / "ok.jpg", "JPEG")
    code, out, _ = run_cli(["prepare", "--json", "--allow-private", "--out", str(tmp_path / "out"), url, str(file)])
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["part"] == {"type": "image_url", "image_url": {"url": url}} and lines[0]["outputs"] == []
    assert lines[1]["part"]["image_url"]["url"].startswith("data:image/jpeg;base64,")  # files: base64
