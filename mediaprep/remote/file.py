"""A seekable file over HTTP Range requests (`open_remote`, `connect`) and capped downloads (`download`).

What each call costs, per URL:

- `open_remote` / `connect`: one GET of the first block (`Range: bytes=0-65535`), whose answer also
  gives the size (`Content-Range`) and type (`Content-Type`). A server that ignores Range answers
  200 with the whole body, which is then streamed (capped) into a temporary spooled file.
- reading the returned `RemoteFile`: one Range request per cache miss. Reads that continue where the
  last fetch ended double the request size (64 KiB up to 1 MiB); a jump resets it to one block.
  Blocks live in a 64-block (4 MiB) LRU cache, so memory is bounded whatever the file's size.
- `download`: one streaming GET of the whole body into a temporary file, capped; memory is one chunk.

Every request goes through a `_Session` (`session.py`: address guard, redirects, retries, deadline).
Nothing here raises for a bad URL except reads after `open` (`RemoteReadError`, whose `.violation`
says why): every failure is returned as a `remote.*` violation naming the URL.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from ..codes import violation
from ..errors import SourceError, UsageError
from ..models import Source, Transfer, Violation
from .guard import DEFAULT_REMOTE, RemoteOptions
from .session import _exc_text, _Failed, _parse_content_range, _Session, _stream_into, not_media

KiB = 1 << 10
MiB = 1 << 20
BLOCK_BYTES = 64 * KiB  # the unit of Range requests and of the cache
MAX_READ_AHEAD_BLOCKS = 16  # sequential reads grow a request up to 1 MiB
CACHE_BLOCKS = 64  # 4 MiB of cached blocks per URL at most
SPOOL_MEMORY_BYTES = 1 * MiB  # a spooled body moves to disk past this


class RemoteReadError(SourceError):
    """A read through a `RemoteFile` failed after it was opened (timeout, reset, inconsistent answer).
    `.violation` is the `remote.*` violation that says why; the file's `.failure` holds it too."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


# --------------------------------------------------------------------------------------------------
# the body: Range-backed blocks, or a spooled copy when the server ignores Range


class _Body:
    """The bytes of one URL, read on demand. Shared by a `RemoteFile` and its `reopen()` views."""

    def __init__(self, session: _Session, cap_bytes: int) -> None:
        self.session = session
        self.cap_bytes = cap_bytes
        self.size = 0
        self.content_type: str | None = None
        self.ranged = True
        self.failure: Violation | None = None
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._spool: IO[bytes] | None = None
        self._window = 1
        self._next_block: int | None = None
        self.closed = False

    def _too_large(self, observed: int, how: str) -> Violation:
        return violation("remote.too_large", source=self.session.label, field="size_bytes", observed=observed, limit=self.cap_bytes, how=how)

    def _inconsistent(self, what: str) -> Violation:
        return violation("remote.unreachable", source=self.session.label, observed=f"the server's answer is inconsistent: {what}")

    def _check_media(self, head: bytes) -> None:
        why = not_media(self.content_type, head)
        if why is not None:
            raise _Failed(violation("remote.not_media", source=self.session.label, observed=why))

    def open(self) -> None:
        """The first request: size and type from the headers, the first block from the body."""
        session = self.session
        response = session.send(session.url, {"Range": f"bytes=0-{BLOCK_BYTES - 1}"}, ok=frozenset({200, 206, 416}))
        self.content_type = response.headers.get("content-type")
        if response.status_code == 206:
            span = _parse_content_range(response.headers.get("content-range"))
            if span is None or span[0] != 0 or span[1] < span[0]:
                response.close()
                raise _Failed(self._inconsistent(f"a 206 answer whose Content-Range {response.headers.get('content-range')!r} does not match the range asked for (bytes 0-{BLOCK_BYTES - 1})"))
            start, stop, total = span
            if total is None:  # size unknown: read it whole instead
                response.close()
                self._open_streamed(session.send(session.url, {}))
                return
            if total > self.cap_bytes:
                response.close()
                raise _Failed(self._too_large(total, "declared as"))
            self.size = total
            data = self._read_range(response, start, stop)
            self._check_media(data)
            self._store(0, data)
            self._next_block = len(data) // BLOCK_BYTES if len(data) % BLOCK_BYTES == 0 else None
            return
        if response.status_code == 416:  # typically an empty file: ask again without Range
            response.close()
            response = session.send(session.url, {})
            self.content_type = response.headers.get("content-type")
        self._open_streamed(response)

    def _open_streamed(self, response: httpx.Response) -> None:
        """The server ignores Range: stream the whole body (capped) into a spooled temporary file."""
        self.ranged = False
        self.content_type = response.headers.get("content-type") or self.content_type
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, prefix="mediaprep-")
        try:
            self.size = _stream_into(self.session, response, spool, self.cap_bytes, self._too_large, self._check_media)
        except BaseException:  # cleanup only: the spool is closed and the exception re-raised
            spool.close()
            raise
        self._spool = spool

    def _read_range(self, response: httpx.Response, start: int, stop: int) -> bytes:
        want = stop - start + 1
        buf = bytearray()
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != want:
            response.close()
            raise _Failed(self._inconsistent(f"Content-Length {declared} for the {want:,}-byte range bytes {start}-{stop}"))
        got = self.session.read_body(
            response,
            buf.extend,
            limit=want,
            on_over=lambda n: self._inconsistent(f"more than {want:,} bytes for the range bytes {start}-{stop}"),
            what=f"bytes {start}-{stop}",
        )
        if got != want:
            raise _Failed(self._inconsistent(f"{got:,} bytes for the {want:,}-byte range bytes {start}-{stop}"))
        return bytes(buf)

    def _store(self, first_block: int, data: bytes) -> None:
        for i in range(0, len(data), BLOCK_BYTES):
            self._blocks[first_block + i // BLOCK_BYTES] = data[i : i + BLOCK_BYTES]
            self._blocks.move_to_end(first_block + i // BLOCK_BYTES)
        while len(self._blocks) > CACHE_BLOCKS:
            self._blocks.popitem(last=False)

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes from `offset` (clipped to the size): from the spool or the cache, else one
        Range request per missing run. Raises `RemoteReadError` (and keeps `.failure`) on failure."""
        if self.failure is not None:
            raise RemoteReadError(self.failure)
        if self.closed:
            raise ValueError("I/O operation on a closed remote file")
        end = min(offset + n, self.size)
        if offset >= end:
            return b""
        if self._spool is not None:
            self._spool.seek(offset)
            return self._spool.read(end - offset)
        out = bytearray()
        pos = offset
        try:
            while pos < end:
                block = pos // BLOCK_BYTES
                data = self._blocks.get(block)
                if data is not None:
                    self._blocks.move_to_end(block)
                    run_start = block * BLOCK_BYTES
                else:
                    data = self._fetch_run(block, (end - 1) // BLOCK_BYTES)
                    run_start = block * BLOCK_BYTES
                chunk = data[pos - run_start : end - run_start]
                if not chunk:  # pragma: no cover - a consistent answer always covers pos
                    raise _Failed(self._inconsistent(f"no bytes at offset {pos}"))
                out += chunk
                pos += len(chunk)
        except _Failed as failed:
            self.failure = failed.violation
            raise RemoteReadError(failed.violation) from None
        return bytes(out)

    def _fetch_run(self, first: int, need_last: int) -> bytes:
        """One Range request from block `first`: at least through `need_last`, more when reading
        sequentially (read-ahead), never into a block already cached."""
        sequential = first == self._next_block
        self._window = min(self._window * 2, MAX_READ_AHEAD_BLOCKS) if sequential else 1
        last = min(first + max(self._window, need_last - first + 1) - 1, (self.size - 1) // BLOCK_BYTES)
        for b in range(first + 1, last + 1):
            if b in self._blocks:
                last = b - 1
                break
        start, stop = first * BLOCK_BYTES, min((last + 1) * BLOCK_BYTES, self.size) - 1
        response = self.session.send(self.session.url, {"Range": f"bytes={start}-{stop}"})
        if response.status_code != 206:
            response.close()
            raise _Failed(self._inconsistent(f"HTTP {response.status_code} to a Range request after the first was honoured"))
        span = _parse_content_range(response.headers.get("content-range"))
        if span is None or span[0] != start or span[1] != stop or (span[2] is not None and span[2] != self.size):
            response.close()
            raise _Failed(self._inconsistent(f"Content-Range {response.headers.get('content-range')!r} for the range bytes {start}-{stop} of {self.size:,} (did the file change?)"))
        data = self._read_range(response, start, stop)
        self._store(first, data)
        self._next_block = last + 1
        return data

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._blocks.clear()
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self.session.close()


# --------------------------------------------------------------------------------------------------
# the public surface


class RemoteFile(io.RawIOBase):
    """A read-only, seekable binary file over one URL (see the module docstring for the costs).

    Pillow, pillow-heif and PyAV read through it as through a local file. `.bytes_read` and
    `.requests` count what it has cost so far; `.transfer` is a snapshot for reports. A read that
    fails raises `RemoteReadError` (an `OSError`) and records `.failure`. `reopen()` gives another
    cursor over the same body and cache; closing a cursor never closes the body, closing the file
    returned by `open_remote` does.
    """

    def __init__(self, body: _Body, *, owner: bool) -> None:
        super().__init__()
        self._body = body
        self._owner = owner
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self._body.size + offset
        else:
            raise ValueError(f"whence {whence!r} is not one of 0, 1, 2")
        if pos < 0:
            raise OSError(22, f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()  # type: ignore[attr-defined]
        if size is None or size < 0:
            size = max(0, self._body.size - self._pos)
        data = self._body.read_at(self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self._owner:
            self._body.close()
        super().close()

    def reopen(self) -> RemoteFile:
        """Another cursor (position 0) over the same body, cache and counters; closing it is harmless."""
        return RemoteFile(self._body, owner=False)

    @property
    def size_bytes(self) -> int:
        return self._body.size

    @property
    def content_type(self) -> str | None:
        return self._body.content_type

    @property
    def ranged(self) -> bool:
        """True when read with Range requests; False when the server ignored Range (body spooled)."""
        return self._body.ranged

    @property
    def bytes_read(self) -> int:
        return self._body.session.bytes_read

    @property
    def requests(self) -> int:
        return self._body.session.requests

    @property
    def url(self) -> str:
        """Where the redirects ended (the URL the reads go to)."""
        return str(self._body.session.url)

    @property
    def failure(self) -> Violation | None:
        """The violation that ended reading, if a read after opening failed."""
        return self._body.failure

    @property
    def transfer(self) -> Transfer:
        return self._body.session.transfer(ranged=self._body.ranged, size_bytes=self._body.size, content_type=self._body.content_type)

    def __repr__(self) -> str:
        return f"RemoteFile({self._body.session.label!r}, {self._body.size} bytes, {self.requests} requests, {self.bytes_read} bytes read)"


def connect(source: Source, *, options: RemoteOptions = DEFAULT_REMOTE, cap_bytes: int) -> tuple[RemoteFile | Violation, Transfer]:
    """`open_remote`, with what the attempt cost (also when it failed: retries and redirects count)."""
    if source.kind != "url" or not source.url:
        raise UsageError(f"{source.label}: not an http(s) source")
    session: _Session | None = None
    try:
        session = _Session(source, options)
        body = _Body(session, cap_bytes)
        body.open()
        file = RemoteFile(body, owner=True)
        return file, file.transfer
    except _Failed as failed:
        return failed.violation, _close(session)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:  # anything unforeseen: this URL only
        return violation("remote.unreachable", source=source.label, observed=_exc_text(exc)), _close(session)


def _close(session: _Session | None) -> Transfer:
    """Close the session's client (no I/O) and say what the attempt cost."""
    if session is None:
        return Transfer()
    session.close()
    return session.transfer()


def open_remote(source: Source, *, options: RemoteOptions = DEFAULT_REMOTE, cap_bytes: int) -> RemoteFile | Violation:
    """A read-only, seekable binary file over the URL (Range requests, read-ahead, block cache),
    or the `remote.*` violation that says why it cannot be read. Costs one request (the first
    64 KiB block: size and type come with it), or the whole body, capped, when the server ignores
    Range. Bodies over `cap_bytes` are refused from their headers, before the body is read."""
    return connect(source, options=options, cap_bytes=cap_bytes)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class Downloaded:
    """A URL's body in a temporary file that the caller owns (and deletes)."""

    path: Path
    size_bytes: int
    transfer: Transfer


def download(source: Source, *, options: RemoteOptions = DEFAULT_REMOTE, cap_bytes: int, directory: str | os.PathLike[str] | None = None) -> Downloaded | Violation:
    """The whole body into a temporary file in `directory` (the system's temporary folder by
    default): one streaming GET, written as it arrives (memory: one chunk), refused from its
    Content-Length when over `cap_bytes` and stopped once it passes it. Redirects, the address
    guard, retries and the deadline (a fresh `deadline_s`) as for `open_remote`."""
    if source.kind != "url" or not source.url:
        raise UsageError(f"{source.label}: not an http(s) source")
    session: _Session | None = None
    fd, name = tempfile.mkstemp(prefix="mediaprep-", suffix=".download", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fp:
            session = _Session(source, options)
            body = _Body(session, cap_bytes)  # for its violations and media check
            response = session.send(session.url, {})
            body.content_type = response.headers.get("content-type")
            size = _stream_into(session, response, fp, cap_bytes, body._too_large, body._check_media)
        transfer = session.transfer(ranged=False, size_bytes=size, content_type=body.content_type)
        session.close()
        return Downloaded(path=path, size_bytes=size, transfer=transfer)
    except _Failed as failed:
        path.unlink(missing_ok=True)
        _close(session)
        return failed.violation
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        path.unlink(missing_ok=True)
        _close(session)
        return violation("remote.unreachable", source=source.label, observed=_exc_text(exc))
    except BaseException:  # cleanup only: the partial download is removed and the exception re-raised
        path.unlink(missing_ok=True)
        _close(session)
        raise


__all__ = [
    "BLOCK_BYTES",
    "CACHE_BLOCKS",
    "MAX_READ_AHEAD_BLOCKS",
    "Downloaded",
    "RemoteFile",
    "RemoteReadError",
    "connect",
    "download",
    "open_remote",
]
