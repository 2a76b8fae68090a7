"""http(s) inputs: a seekable file over HTTP Range requests, capped downloads, and the address guard.

The only module that imports httpx. What each call costs, per URL:

- `open_remote` / `connect`: one GET of the first block (`Range: bytes=0-65535`), whose answer also
  gives the size (`Content-Range`) and type (`Content-Type`). A server that ignores Range answers
  200 with the whole body, which is then streamed (capped) into a temporary spooled file.
- reading the returned `RemoteFile`: one Range request per cache miss. Reads that continue where the
  last fetch ended double the request size (64 KiB up to 1 MiB); a jump resets it to one block.
  Blocks live in a 64-block (4 MiB) LRU cache, so memory is bounded whatever the file's size.
- `download`: one streaming GET of the whole body into a temporary file, capped; memory is one chunk.

Safety (SPEC §3): http and https only. Every hop's host is resolved once, and every address it
resolves to must be public: private, loopback, link-local, multicast, reserved and other
non-global addresses are refused with `remote.private_address` before any connection is attempted,
unless `RemoteOptions` vouches for the host. The connection then goes to the checked address itself
(the URL's host is replaced by it, the `Host` header and TLS SNI / certificate check keep the name),
so a second DNS answer can never point the socket elsewhere. Redirects are followed by hand, at most
`max_redirects`, each hop checked the same way. No proxies from the environment are used.

Time: connect and read timeouts per request, and a total deadline per URL (`deadline_s`) that every
request and every body chunk is measured against (a read that blocks may overrun it by at most one
read timeout). Retries only for transient failures — connection errors, 408, 429 (honouring
Retry-After when it falls within the deadline) and 5xx other than 501/505 — with exponential
backoff; other 4xx are the caller's error and fail at once. Every failure is a `remote.*` violation
naming the URL; nothing here raises for a bad URL except reads after `open` (`RemoteReadError`,
whose `.violation` says why).
"""

from __future__ import annotations

import email.utils
import functools
import io
import ipaddress
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from .codes import violation
from .errors import SourceError, UsageError
from .models import Source, Transfer, Violation
from .sniff import HEAD_BYTES, sniff

KiB = 1 << 10
MiB = 1 << 20
BLOCK_BYTES = 64 * KiB  # the unit of Range requests and of the cache
MAX_READ_AHEAD_BLOCKS = 16  # sequential reads grow a request up to 1 MiB
CACHE_BLOCKS = 64  # 4 MiB of cached blocks per URL at most
SPOOL_MEMORY_BYTES = 1 * MiB  # a spooled body moves to disk past this
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_RETRIED_5XX = frozenset({501, 505})  # "not implemented", "version not supported": a retry cannot help
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=32)
def _vouched_networks(hosts: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in hosts:
        if not isinstance(item, str) or not item.strip():
            raise UsageError(f"RemoteOptions.private_hosts: {item!r} is not a host name, address or network")
        if _is_network(item):
            nets.append(ipaddress.ip_network(item, strict=False))
        elif "/" in item:
            raise UsageError(f"RemoteOptions.private_hosts: {item!r} is not a valid network (e.g. 10.0.0.0/8)")
    return tuple(nets)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteOptions:
    """How URLs are fetched.

    `allow_private` vouches for every host on a private/loopback/link-local address (tests, internal
    mirrors); `private_hosts` vouches for some only: host names (exact, case-insensitive), addresses
    or networks in CIDR form. Without either, such URLs are refused — the service could never fetch
    them. `deadline_s` is the total time for one URL (open, reads, retries, redirects); `download`
    gets its own deadline of the same length. `verify_max_bytes`: `check` decodes an image read from
    a URL only when its whole body is at most this long; larger ones are judged from their headers.
    TLS certificates are always verified (certifi's bundle, plus `ca_file` when given).
    """

    allow_private: bool = False
    private_hosts: tuple[str, ...] = ()
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    deadline_s: float = 30.0  # total per URL
    max_redirects: int = 5
    max_retries: int = 2
    backoff_s: float = 0.5  # first retry delay; doubled for each further retry
    verify_max_bytes: int = 1 * MiB
    ca_file: str | None = None  # extra trusted CA certificates (PEM), e.g. an internal mirror's CA

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s", "deadline_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise UsageError(f"RemoteOptions.{name} must be a number of seconds above 0, not {value!r}")
        for name in ("max_redirects", "max_retries", "verify_max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise UsageError(f"RemoteOptions.{name} must be a whole number ≥ 0, not {value!r}")
        if not isinstance(self.backoff_s, (int, float)) or self.backoff_s < 0:
            raise UsageError(f"RemoteOptions.backoff_s must be ≥ 0 s, not {self.backoff_s!r}")
        if isinstance(self.private_hosts, str):
            raise UsageError("RemoteOptions.private_hosts takes a tuple of host names, addresses or networks, not one string")
        object.__setattr__(self, "private_hosts", tuple(self.private_hosts))  # a list is fine too
        _vouched_networks(self.private_hosts)  # raises on a malformed network

    def vouches_for(self, host: str, address: IPAddress) -> bool:
        """Whether the caller vouched for `host` at `address`. Pure."""
        if self.allow_private:
            return True
        names = {h.lower().rstrip(".") for h in self.private_hosts if not _is_network(h)}
        if host.lower().rstrip(".") in names:
            return True
        return any(address.version == net.version and address in net for net in _vouched_networks(self.private_hosts))


DEFAULT_REMOTE = RemoteOptions()


class RemoteReadError(SourceError):
    """A read through a `RemoteFile` failed after it was opened (timeout, reset, inconsistent answer).
    `.violation` is the `remote.*` violation that says why; the file's `.failure` holds it too."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


class _Failed(Exception):
    """Internal: a fetch ended in a violation."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


# --------------------------------------------------------------------------------------------------
# the address guard (pure except `_resolve`)


def address_problem(address: IPAddress) -> str | None:
    """Why the service could never fetch from `address` ("loopback", "private", ...), or None for a
    public address. IPv4 addresses embedded in IPv6 (mapped, NAT64) are judged as IPv4. Pure."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem}, as {inner}" if problem else None
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not globally routable"
    return None


def _resolve(host: str, port: int, timeout_s: float) -> list[IPAddress]:
    """The host's addresses (a literal address is its own). One getaddrinfo, bounded by `timeout_s`:
    a resolver that hangs costs the deadline, not the batch."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[Any] = []
    errors: list[OSError] = []

    def run() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, name=f"mediaprep-resolve-{host}", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout_s))
    if worker.is_alive():
        raise TimeoutError(f"resolving {host} took longer than {timeout_s:.3g} s")
    if errors:
        raise errors[0]
    addresses: list[IPAddress] = []
    for info in found:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    return addresses


# --------------------------------------------------------------------------------------------------
# one URL's session: deadline, pinned addresses, counters, retries, redirects


def _user_agent() -> str:
    from . import __version__

    return f"mediaprep/{__version__}"


@functools.lru_cache(maxsize=8)
def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying TLS context per CA set, shared by every session (building one per URL costs
    tens of ms)."""
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def _fmt_bytes(n: int) -> str:
    return f"{n:,} bytes"


class _Session:
    """The state of fetching one URL. Not thread-safe; one per URL."""

    def __init__(self, source: Source, options: RemoteOptions) -> None:
        self.label = source.label
        self.options = options
        self.deadline = time.monotonic() + options.deadline_s
        self.requests = 0
        self.retries = 0
        self.redirects = 0
        self.bytes_read = 0
        self._pins: dict[tuple[str, int], list[IPAddress]] = {}
        self._client: httpx.Client | None = None
        self._client_host: str | None = None
        try:
            url = httpx.URL(source.url or "")
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise _Failed(self._unreachable(f"not a valid URL ({exc})")) from exc
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise _Failed(self._unreachable("not an http or https URL with a host"))
        self.url = url

    # violations -----------------------------------------------------------------------------------
    def _unreachable(self, what: str) -> Violation:
        return violation("remote.unreachable", source=self.label, observed=what)

    def timeout_violation(self, what: str, limit_s: float | None = None) -> Violation:
        return violation("remote.timeout", source=self.label, observed=what, limit=_num(limit_s if limit_s is not None else self.options.deadline_s))

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def check_deadline(self, doing: str) -> None:
        if self.remaining_s() <= 0:
            raise _Failed(self.timeout_violation(f"the {_num(self.options.deadline_s)} s deadline passed {doing}"))

    # addresses ------------------------------------------------------------------------------------
    def _pin(self, url: httpx.URL) -> list[IPAddress]:
        """The checked addresses of `url`'s host, resolved once per session. Raises before any
        connection when one of them is not public and the caller did not vouch for the host."""
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (host, port)
        if key in self._pins:
            return self._pins[key]
        self.check_deadline("before resolving the host")
        try:
            addresses = _resolve(host, port, min(self.options.connect_timeout_s, self.remaining_s()))
        except TimeoutError as exc:
            raise _Failed(self.timeout_violation(str(exc), self.options.connect_timeout_s)) from exc
        except (OSError, UnicodeError, ValueError) as exc:
            raise _Failed(self._unreachable(f"the host name {host!r} does not resolve ({exc})")) from exc
        for address in addresses:
            problem = address_problem(address)
            if problem and not self.options.vouches_for(host, address):
                hop = "" if url == self.url else f"a redirect to {url}: "
                named = f"{host} resolves to {address}" if str(address) != host else f"{address}"
                raise _Failed(violation("remote.private_address", source=self.label, field="host", observed=f"{hop}{named} ({problem})"))
        self._pins[key] = addresses
        return addresses

    def _client_for(self, host: str) -> httpx.Client:
        # One client per host name: a pooled TLS connection is never reused for another name.
        if self._client is None or self._client_host != host:
            if self._client is not None:
                self._client.close()
            self._client = httpx.Client(
                trust_env=False,
                follow_redirects=False,
                verify=_ssl_context(self.options.ca_file),
                headers={"User-Agent": _user_agent(), "Accept-Encoding": "identity", "Accept": "image/*, video/*;q=0.9, */*;q=0.5"},
            )
            self._client_host = host
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # requests -------------------------------------------------------------------------------------
    def _timeouts(self) -> httpx.Timeout:
        remaining = self.remaining_s()
        if remaining <= 0:
            self.check_deadline("before the next request")
        connect = min(self.options.connect_timeout_s, remaining)
        read = min(self.options.read_timeout_s, remaining)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def send(self, url: httpx.URL, headers: dict[str, str], *, ok: frozenset[int] = frozenset({200, 206})) -> httpx.Response:
        """GET `url`, following redirects (each hop checked) and retrying transient failures.
        Returns a response with a status in `ok` and its body unread, or raises `_Failed`."""
        hops: list[str] = [str(url)]
        while True:
            response = self._send_hop(url, headers, ok=ok)
            if response.status_code in _REDIRECTS and response.status_code not in ok:
                location = response.headers.get("location")
                response.close()
                if not location:
                    raise _Failed(self._status(response.status_code, response.reason_phrase, " without a Location header"))
                if len(hops) > self.options.max_redirects:
                    loop = " (it loops)" if location in hops or str(url.join(location)) in hops else ""
                    raise _Failed(violation("remote.too_many_redirects", source=self.label, observed=f"{' → '.join(hops[:3])}{' → …' if len(hops) > 3 else ''}{loop}", limit=self.options.max_redirects))
                try:
                    url = url.join(location)
                except (httpx.InvalidURL, ValueError) as exc:
                    raise _Failed(self._unreachable(f"a redirect to {location!r}, which is not a valid URL")) from exc
                if url.scheme not in ("http", "https") or not url.raw_host:
                    raise _Failed(self._unreachable(f"a redirect to {location!r}; only http and https URLs are fetched"))
                hops.append(str(url))
                self.redirects += 1
                continue
            if self.url != url:
                self.url = url  # later Range requests go straight to where the redirects ended
            return response

    def _send_hop(self, url: httpx.URL, headers: dict[str, str], *, ok: frozenset[int]) -> httpx.Response:
        addresses = self._pin(url)  # before any connection
        host = url.raw_host.decode("ascii")
        port = url.port
        host_header = f"[{host}]" if ":" in host else host
        if port is not None:
            host_header += f":{port}"
        attempt = 0
        while True:
            address = addresses[attempt % len(addresses)]
            timeout = self._timeouts()
            extensions = {"sni_hostname": host} if url.scheme == "https" else {}
            client = self._client_for(host)
            request = client.build_request("GET", url.copy_with(host=str(address)), headers={**headers, "Host": host_header}, timeout=timeout, extensions=extensions)
            self.requests += 1
            try:
                response = client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                what = f"could not connect to {host_header} at {address}: {_exc_text(exc)}"
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or attempt >= self.options.max_retries:
                    raise _Failed(self._unreachable(what)) from exc
                attempt += 1
                self._backoff(attempt, None, what)
                continue
            except httpx.TimeoutException as exc:
                if self.remaining_s() <= 0.01:
                    raise _Failed(self.timeout_violation(f"no answer from {host_header} before the deadline")) from exc
                raise _Failed(self.timeout_violation(f"no answer from {host_header} within the {_num(timeout.read or 0)} s read timeout", timeout.read)) from exc
            except httpx.HTTPError as exc:
                raise _Failed(self._unreachable(f"{host_header} dropped the connection before answering ({_exc_text(exc)})")) from exc
            status = response.status_code
            if status in ok or (status in _REDIRECTS and response.headers.get("location")):
                return response
            transient = status in (408, 429) or (500 <= status < 600 and status not in _NOT_RETRIED_5XX)
            retry_after = _retry_after_s(response.headers.get("retry-after"))
            response.close()
            if not transient:
                raise _Failed(self._status(status, response.reason_phrase, ""))
            if attempt >= self.options.max_retries:
                tries = f"; still so after {attempt} retr{'y' if attempt == 1 else 'ies'}" if attempt else ""
                raise _Failed(self._status(status, response.reason_phrase, tries))
            attempt += 1
            self._backoff(attempt, retry_after, None, status=status, reason=response.reason_phrase)

    def _backoff(self, attempt: int, retry_after_s: float | None, what: str | None, *, status: int | None = None, reason: str = "") -> None:
        """Sleep before retry `attempt` (1-based): backoff_s·2^(attempt−1), or the server's
        Retry-After when longer. Fails at once when the wait would pass the deadline."""
        delay = self.options.backoff_s * (2 ** (attempt - 1))
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        if delay >= self.remaining_s():
            if status is not None:
                asked = f"; it asked to retry after {_num(retry_after_s)} s, past the {_num(self.options.deadline_s)} s deadline" if retry_after_s is not None else f"; no time left to retry within the {_num(self.options.deadline_s)} s deadline"
                raise _Failed(self._status(status, reason, asked))
            raise _Failed(self._unreachable(f"{what}; no time left to retry within the {_num(self.options.deadline_s)} s deadline"))
        self.retries += 1
        time.sleep(delay)

    def _status(self, status: int, reason: str, detail: str) -> Violation:
        return violation("remote.http_status", source=self.label, field="status", observed=status, reason=reason or "no reason given", detail=detail + _status_remedy(status))

    # bodies ---------------------------------------------------------------------------------------
    def read_body(self, response: httpx.Response, sink: Callable[[bytes], None], *, limit: int, on_over: Callable[[int], Violation], what: str) -> int:
        """Stream `response`'s body into `sink`, counting bytes, checking the deadline after every
        chunk and `limit` before keeping any byte past it. Closes the response."""
        got = 0
        try:
            for chunk in response.iter_raw():
                got += len(chunk)
                self.bytes_read += len(chunk)
                if got > limit:
                    raise _Failed(on_over(got))
                sink(chunk)
                self.check_deadline(f"while reading {what} ({_fmt_bytes(got)} read)")
        except httpx.TimeoutException as exc:
            if self.remaining_s() <= 0.01:
                raise _Failed(self.timeout_violation(f"the {_num(self.options.deadline_s)} s deadline passed while reading {what} ({_fmt_bytes(got)} read)")) from exc
            raise _Failed(self.timeout_violation(f"the server stalled for the {_num(self.options.read_timeout_s)} s read timeout while sending {what} ({_fmt_bytes(got)} read)", self.options.read_timeout_s)) from exc
        except httpx.HTTPError as exc:
            declared = response.headers.get("content-length")
            short = f", short of the {int(declared):,} its Content-Length promised" if declared and declared.isdigit() else ""
            raise _Failed(self._unreachable(f"the connection broke off after {_fmt_bytes(got)} of {what}{short} ({_exc_text(exc)})")) from exc
        finally:
            response.close()
        return got

    def transfer(self, **known: Any) -> Transfer:
        return Transfer(bytes_read=self.bytes_read, requests=self.requests, retries=self.retries, redirects=self.redirects, **known)


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _num(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date. None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_remedy(status: int) -> str:
    if status in (401, 403):
        return "; the service fetches without credentials, so the URL must be public"
    if status in (404, 410):
        return "; the URL is wrong or the file was removed"
    if status == 429 or status >= 500:
        return "; the server is overloaded or failing, retry later"
    return ""


def not_media(content_type: str | None, head: bytes) -> str | None:
    """Why a 200 answer is not media (a page, JSON, text), or None. The bytes decide: media bytes
    pass whatever the Content-Type says; text bytes never pass; unknown bytes fail only when the
    Content-Type names a document. Pure."""
    sniffed = sniff(head[:HEAD_BYTES])
    if sniffed.kind in ("image", "video"):
        return None
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in stripped:
        looks = "an HTML page"
    elif stripped[:1] in (b"{", b"["):
        looks = "JSON"
    elif stripped[:1] == b"<":
        looks = "XML or markup"
    elif sniffed.format == "TEXT":
        looks = "text"
    elif sniffed.format == "EMPTY":
        looks = "an empty body"
    else:
        looks = None
    documentish = ctype.startswith("text/") or ctype in ("application/json", "application/xml", "application/xhtml+xml", "application/problem+json", "application/javascript") or ctype.endswith(("+json", "+xml"))
    if looks is None and not documentish:
        return None  # unknown binary: the backends decide (and say what they saw)
    if looks == "an empty body" and not documentish:
        return None
    said = f"Content-Type {ctype}" if ctype else "no Content-Type"
    return f"{looks or 'a document'} ({said})"


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


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
        except BaseException:
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


def _stream_into(session: _Session, response: httpx.Response, sink: IO[bytes], cap_bytes: int, too_large: Callable[[int, str], Violation], check_media: Callable[[bytes], None]) -> int:
    """Stream a 200 body into `sink`, refusing it from its Content-Length when over the cap, checking
    the first bytes are media before keeping more than a chunk, and stopping past the cap."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap_bytes:
        response.close()
        raise _Failed(too_large(int(declared), "declared as"))
    head = bytearray()
    checked = False

    def keep(chunk: bytes) -> None:
        nonlocal checked
        if not checked:
            head.extend(chunk)
            if len(head) < HEAD_BYTES:
                return
            check_media(bytes(head))
            checked = True
            sink.write(head)
            return
        sink.write(chunk)

    got = session.read_body(response, keep, limit=cap_bytes, on_over=lambda n: too_large(n, "at least"), what="the body")
    if not checked:
        check_media(bytes(head))
        sink.write(head)
    sink.flush()
    return got


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
    except BaseException:
        path.unlink(missing_ok=True)
        _close(session)
        raise


__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_REMOTE",
    "Downloaded",
    "RemoteFile",
    "RemoteOptions",
    "RemoteReadError",
    "address_problem",
    "connect",
    "download",
    "not_media",
    "open_remote",
]
