"""A real HTTP/1.1 server on 127.0.0.1 for the remote tests and benchmarks.

Range support (single ranges: `a-b`, `a-`, `-n`), keep-alive, and per-path fault modes. It counts
what it did: connections accepted, requests (with their Range, Host and User-Agent headers) and body
bytes written, so tests assert on the server's own numbers rather than the client's. Bodies may be
sparse (`SparseBody`): a 200 MB file costs only its real pieces in memory.

`GET /__stats` answers the counts as JSON and `GET /__reset` zeroes them (neither is counted), for a
server run in another process.

Modes (`Route.mode`):
    normal     Range honoured (206 + Content-Range), 200 without Range
    norange    Range ignored: always 200 with the whole body
    silent     reads the request, never answers (until the server stops)
    trickle    answers headers at once, then one body byte every `trickle_s`
    reset      sends half the body, then resets the connection (RST)
    cl_short   206 whose Content-Length is half the range it sends (then closes)
    cl_short_200   Range ignored; Content-Length half the body, whole body sent (then closes)
    cl_long    Range ignored; Content-Length 1000 more than the body sent (then closes)
    endless    Range ignored; no Content-Length, the body then zeros forever
    redirect   `status` (302) to `location`
    status     always `status`
    flaky      the first `fail_first` requests get `status` (+ `retry_after`), then normal
    break_after    the first `good_first` requests are normal, every later one gets `status`
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK = 64 * 1024


class BytesBody:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def slice(self, start: int, stop: int) -> bytes:
        return self.data[start:stop]


class SparseBody:
    """`size` bytes: the given pieces at their offsets, zeros everywhere else."""

    def __init__(self, size: int, pieces: list[tuple[int, bytes]]) -> None:
        self.size = size
        self.pieces = sorted(pieces)

    def slice(self, start: int, stop: int) -> bytes:
        stop = min(stop, self.size)
        out = bytearray(max(0, stop - start))
        for offset, data in self.pieces:
            a, b = max(start, offset), min(stop, offset + len(data))
            if a < b:
                out[a - start : b - start] = data[a - offset : b - offset]
        return bytes(out)


@dataclass
class Route:
    body: Any = None  # BytesBody | SparseBody
    content_type: str = "application/octet-stream"
    mode: str = "normal"
    status: int = 302
    location: str | None = None
    fail_first: int = 0
    retry_after: str | None = None
    trickle_s: float = 1.0
    good_first: int = 0
    hits: int = 0


@dataclass
class Stats:
    connections: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    body_bytes: int = 0


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MediaServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _write(self, data: bytes) -> bool:
        try:
            for i in range(0, len(data), CHUNK):
                piece = data[i : i + CHUNK]
                self.server.count_bytes(len(piece))  # before the write: a reader never sees bytes not yet counted
                self.wfile.write(piece)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False

    def _headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        srv = self.server
        path = self.path.split("?", 1)[0]
        if path in ("/__stats", "/__reset"):  # control, for a server in another process (benchmarks)
            if path == "/__reset":
                srv.reset_stats()
            st = srv.stats
            data = json.dumps({"connections": st.connections, "requests": len(st.requests), "body_bytes": st.body_bytes}).encode()
            self._headers(200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
            self.wfile.write(data)
            return
        srv.record({"path": path, "range": self.headers.get("Range"), "host": self.headers.get("Host"), "user_agent": self.headers.get("User-Agent")})
        if srv.latency_s:
            time.sleep(srv.latency_s)
        route = srv.routes.get(path)
        if route is None:
            self._headers(404, {"Content-Length": "9", "Content-Type": "text/plain"})
            self._write(b"not found")
            return
        route.hits += 1
        mode = route.mode
        if mode == "silent":
            srv.stopping.wait(120)
            self.close_connection = True
            return
        if mode == "redirect":
            self._headers(route.status, {"Location": route.location or "/", "Content-Length": "0"})
            return
        failing = mode == "status" or (mode == "flaky" and route.hits <= route.fail_first) or (mode == "break_after" and route.hits > route.good_first)
        if failing:
            body = f"error {route.status}".encode()
            headers = {"Content-Length": str(len(body)), "Content-Type": "text/plain"}
            if route.retry_after is not None:
                headers["Retry-After"] = route.retry_after
            self._headers(route.status, headers)
            self._write(body)
            return
        body = route.body
        size = body.size
        if mode == "endless":
            self._headers(200, {"Content-Type": route.content_type, "Connection": "close"})
            self.close_connection = True
            if not self._write(body.slice(0, size)):
                return
            zeros = bytes(CHUNK)
            while not srv.stopping.is_set() and self._write(zeros):
                pass
            return
        if mode == "cl_long":
            self._headers(200, {"Content-Type": route.content_type, "Content-Length": str(size + 1000), "Connection": "close"})
            self._write(body.slice(0, size))
            self.close_connection = True
            return
        if mode == "cl_short_200":
            self._headers(200, {"Content-Type": route.content_type, "Content-Length": str(size // 2), "Connection": "close"})
            self._write(body.slice(0, size))
            self.close_connection = True
            return
        start, stop = 0, size  # [start, stop)
        status = 200
        asked = self.headers.get("Range")
        if asked and mode not in ("norange",):
            m = _RANGE.match(asked.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    stop = min(size, int(m.group(2)) + 1) if m.group(2) else size
                else:
                    start, stop = max(0, size - int(m.group(2))), size
                if start >= size:
                    self._headers(416, {"Content-Range": f"bytes */{size}", "Content-Length": "0"})
                    return
                status = 206
        headers = {"Content-Type": route.content_type, "Accept-Ranges": "bytes" if mode != "norange" else "none"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        length = stop - start
        headers["Content-Length"] = str(length // 2 if mode == "cl_short" else length)
        if mode == "cl_short":
            headers["Connection"] = "close"
        self._headers(status, headers)
        if mode == "trickle":
            for offset in range(start, stop):
                if srv.stopping.wait(route.trickle_s) or not self._write(body.slice(offset, offset + 1)):
                    break
            self.close_connection = True
            return
        if mode == "reset":
            half = start + length // 2
            self._write(body.slice(start, half))
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        for offset in range(start, stop, 1 << 20):
            if not self._write(body.slice(offset, min(stop, offset + (1 << 20)))):
                return
        if mode == "cl_short":
            self.close_connection = True


class MediaServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", *, latency_s: float = 0.0, tls: Any = None) -> None:
        super().__init__((host, 0), _Handler)
        self.scheme = "http"
        self.sni: list[str | None] = []  # the TLS server names clients asked for
        if tls is not None:  # an ssl.SSLContext with the server's certificate
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self.routes: dict[str, Route] = {}
        self.latency_s = latency_s
        self.stopping = threading.Event()
        self.stats = Stats()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # counting
    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._lock:
            self.stats.connections += 1
        return True

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.stats.requests.append(entry)

    def count_bytes(self, n: int) -> None:
        with self._lock:
            self.stats.body_bytes += n

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = Stats()
        for route in self.routes.values():
            route.hits = 0

    def handle_error(self, request: Any, client_address: Any) -> None:  # disconnects are expected
        pass

    # routes
    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}{path}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


# --------------------------------------------------------------------------------------------------
# big media, cheaply


def big_jpeg(target_bytes: int = 20_000_000, *, seed: int = 1) -> bytes:
    """A real JPEG of about `target_bytes` (noise at quality 100: about 2 bytes a pixel)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = max(1, target_bytes // 2)
    width = 4000
    height = max(16, pixels // width)
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(buf, "JPEG", quality=100)
    return buf.getvalue()


def small_mp4(*, faststart: bool, frames: int = 30, fps: int = 10, size: tuple[int, int] = (160, 120)) -> bytes:
    """A real H.264 MP4 (3 s at 10 fps by default), moov at the end or (faststart) at the front."""
    import os
    import tempfile

    import av
    import numpy as np

    fd, name = tempfile.mkstemp(suffix=".mp4")  # faststart rewrites the file by name: no BytesIO
    os.close(fd)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(name, mode="w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            img = np.full((size[1], size[0], 3), (i * 8) % 256, dtype=np.uint8)
            img[:, : (i * 5) % size[0]] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    try:
        with open(name, "rb") as fp:
            return fp.read()
    finally:
        os.unlink(name)


def _boxes(data: bytes) -> list[tuple[int, int, bytes, int]]:
    """Top-level ISO boxes: (offset, size, type, header_bytes)."""
    out = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        out.append((pos, size, kind, header))
        pos += size
    return out


def padded_mp4(mp4: bytes, total_bytes: int) -> SparseBody:
    """`mp4` with its mdat grown (zeros after the real samples) so the file is `total_bytes` long.
    Sample offsets are unchanged: with moov at the end it moves back, with moov first nothing else
    moves. Returns a sparse body: only the real bytes are held in memory."""
    boxes = _boxes(mp4)
    mdat = next(b for b in boxes if b[2] == b"mdat")
    offset, size, _, header = mdat
    pad = total_bytes - len(mp4)
    assert pad > 0 and header == 8 and size + pad < 2**32
    head = bytearray(mp4[: offset + size])
    head[offset : offset + 4] = struct.pack(">I", size + pad)
    tail = mp4[offset + size :]  # moov (and anything else) after mdat, or nothing with faststart
    pieces = [(0, bytes(head))]
    if tail:
        pieces.append((offset + size + pad, tail))
    return SparseBody(total_bytes, pieces)


def write_sparse(body: SparseBody, path: Any) -> None:
    """The same bytes as a (sparse) local file."""
    with open(path, "wb") as fp:
        for offset, data in body.pieces:
            fp.seek(offset)
            fp.write(data)
        fp.truncate(body.size)


def tls_files(folder: Any, name: str = "localhost") -> tuple[Any, Any, Any]:
    """A throw-away CA and a server certificate for `name` (and nothing else), as PEM files:
    (ca_file, cert_file, key_file)."""
    import datetime
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder)
    now = datetime.datetime.now(datetime.timezone.utc)

    def make(subject: str, issuer_key: Any, issuer: Any, key: Any, *, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = make("mediaprep test CA", ca_key, None, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make(name, ca_key, ca_cert.subject, key, ca=False)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_file, cert_file, key_file
