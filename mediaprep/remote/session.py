"""One URL's fetching state: the deadline, retries, redirects, pinned addresses and the httpx client.

A `_Session` is what `open_remote` / `download` (`file.py`) fetch through. What it guarantees:

- Addresses: every hop's host is checked by the address guard (`guard.py`) before any connection.
  The connection then goes to the checked address itself (the URL's host is replaced by it, the
  `Host` header and TLS SNI / certificate check keep the name), so a second DNS answer can never
  point the socket elsewhere. With `RemoteOptions.transport` the host is checked the same way, but
  the request keeps the URL's own host: the transport, not a socket, decides where it goes.
- Redirects are followed by hand, at most `max_redirects`, each hop checked the same way. No proxies
  from the environment are used.
- Time: connect and read timeouts per request, and a total deadline per URL (`deadline_s`) that
  covers every phase. Resolving, connecting and the TLS handshake are bounded by what is left of it;
  past the handshake httpx's timeouts are per read (a server sending a byte a second never trips
  them), so a watchdog (`_Watchdog`) shuts the session's sockets down at the deadline, which ends a
  read blocked in the headers or the body at once; the violation is then `remote.timeout`.
- Retries only for transient failures — connection errors, 408, 429 (honouring Retry-After when it
  falls within the deadline) and 5xx other than 501/505 — with exponential backoff; other 4xx are
  the caller's error and fail at once.

Every failure is raised as `_Failed`, carrying the `remote.*` violation that names the URL.
Costs: one resolution per host (cached for the session), one request per `send` plus one per
retry and per redirect hop; bodies are streamed chunk by chunk, never held whole.
"""

from __future__ import annotations

import email.utils
import functools
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import httpx

from ..codes import violation
from ..models import Source, Transfer, Violation
from ..sniff import HEAD_BYTES, sniff
from .guard import IPAddress, RemoteOptions, _resolve, address_problem

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_RETRIED_5XX = frozenset({501, 505})  # "not implemented", "version not supported": a retry cannot help
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


class _Failed(Exception):
    """Internal: a fetch ended in a violation."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


def _user_agent() -> str:
    """`mediaprep/<version>`, sent with every request. Pure (after the first import)."""
    from .._version import __version__

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
    """`n` as "1,234 bytes" for messages. Pure."""
    return f"{n:,} bytes"


class _Borrowed(httpx.BaseTransport):
    """An injected transport, lent to one session's client: requests go through, `close` does not
    (the transport outlives the session; its owner closes it)."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)

    def close(self) -> None:
        pass


class _Watchdog:
    """Ends a session's connections at its deadline. httpx has no total timeout (its timeouts are per
    read), so every socket the session's requests open is registered here, through httpcore's
    documented `trace` request extension, and shut down when the deadline passes: a read blocked on
    a server that trickles its headers or body wakes at once with an error, which the session reports
    as `remote.timeout`. One timer thread per session, started with its first connection and
    cancelled by `cancel` (`_Session.close`)."""

    _EVENTS = frozenset({"connection.connect_tcp.complete", "connection.start_tls.complete"})

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self.fired = False

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: registers the socket of each new connection (and its TLS layer)."""
        if event not in self._EVENTS:
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if not self.fired:
                self._sockets.append(sock)
                if self._timer is None:
                    self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._fire)
                    self._timer.daemon = True
                    self._timer.start()
                return
        _shut(sock)  # connected after the deadline: end it at once

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
            self._sockets = []
        if timer is not None:
            timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways (the base class's call: an SSL socket's own would drop its TLS
    object under the thread reading it). A socket already closed or detached is left alone."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Session:
    """The state of fetching one URL. Not thread-safe; one per URL. Creating one parses the URL and
    nothing more (no I/O); `send` does the requests; `close` closes the httpx client (never an
    injected transport)."""

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
        self._watchdog = _Watchdog(self.deadline)
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

    def deadline_passed(self) -> bool:
        """True once the deadline is (about) reached or the watchdog has ended the connections."""
        return self._watchdog.fired or self.remaining_s() <= 0.01

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
            transport = self.options.transport
            self._client = httpx.Client(
                trust_env=False,
                follow_redirects=False,
                # An injected transport does its own I/O (no TLS context to build) and is the
                # caller's: wrapped so that closing this client never closes it.
                verify=_ssl_context(self.options.ca_file) if transport is None else True,
                transport=None if transport is None else _Borrowed(transport),
                headers={"User-Agent": _user_agent(), "Accept-Encoding": "identity", "Accept": "image/*, video/*;q=0.9, */*;q=0.5"},
            )
            self._client_host = host
        return self._client

    def close(self) -> None:
        self._watchdog.cancel()
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
            extensions: dict[str, Any] = {"trace": self._watchdog.trace}
            if url.scheme == "https":
                extensions["sni_hostname"] = host
            client = self._client_for(host)
            # Pinned: the socket goes to the checked address. An injected transport has no socket
            # and must see the URL as given (its host was checked all the same, by `_pin`).
            target = url if self.options.transport is not None else url.copy_with(host=str(address))
            request = client.build_request("GET", target, headers={**headers, "Host": host_header}, timeout=timeout, extensions=extensions)
            self.requests += 1
            try:
                response = client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if self.deadline_passed():
                    raise _Failed(self.timeout_violation(f"could not connect to {host_header} before the {_num(self.options.deadline_s)} s deadline")) from exc
                what = f"could not connect to {host_header} at {address}: {_exc_text(exc)}"
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or attempt >= self.options.max_retries:
                    raise _Failed(self._unreachable(what)) from exc
                attempt += 1
                self._backoff(attempt, None, what)
                continue
            except httpx.TimeoutException as exc:
                if self.deadline_passed():
                    raise _Failed(self.timeout_violation(f"no answer from {host_header} before the deadline")) from exc
                raise _Failed(self.timeout_violation(f"no answer from {host_header} within the {_num(timeout.read or 0)} s read timeout", timeout.read)) from exc
            except httpx.HTTPError as exc:
                if self.deadline_passed():  # the watchdog ended a connection the server kept busy
                    raise _Failed(self.timeout_violation(f"no complete answer from {host_header} before the {_num(self.options.deadline_s)} s deadline")) from exc
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
        # A transport that answers with a body already loaded (`httpx.Response(content=b"...")` from
        # a MockTransport) leaves no stream to iterate: take the loaded bytes as one chunk.
        chunks = iter((response.content,)) if response.is_stream_consumed else response.iter_raw()
        try:
            for chunk in chunks:
                got += len(chunk)
                self.bytes_read += len(chunk)
                if got > limit:
                    raise _Failed(on_over(got))
                sink(chunk)
                self.check_deadline(f"while reading {what} ({_fmt_bytes(got)} read)")
        except httpx.TimeoutException as exc:
            if self.deadline_passed():
                raise _Failed(self.timeout_violation(f"the {_num(self.options.deadline_s)} s deadline passed while reading {what} ({_fmt_bytes(got)} read)")) from exc
            raise _Failed(self.timeout_violation(f"the server stalled for the {_num(self.options.read_timeout_s)} s read timeout while sending {what} ({_fmt_bytes(got)} read)", self.options.read_timeout_s)) from exc
        except httpx.HTTPError as exc:
            if self.deadline_passed():  # the watchdog ended the connection at the deadline
                raise _Failed(self.timeout_violation(f"the {_num(self.options.deadline_s)} s deadline passed while reading {what} ({_fmt_bytes(got)} read)")) from exc
            declared = response.headers.get("content-length")
            short = f", short of the {int(declared):,} its Content-Length promised" if declared and declared.isdigit() else ""
            raise _Failed(self._unreachable(f"the connection broke off after {_fmt_bytes(got)} of {what}{short} ({_exc_text(exc)})")) from exc
        finally:
            response.close()
        return got

    def transfer(self, **known: Any) -> Transfer:
        return Transfer(bytes_read=self.bytes_read, requests=self.requests, retries=self.retries, redirects=self.redirects, **known)


def _exc_text(exc: BaseException) -> str:
    """An exception as "Type: message" (or just its type) for a violation's text. Pure."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _num(value: float | None) -> float | int | None:
    """A number of seconds for messages and limits: whole numbers as int, others to 3 places. Pure."""
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
    """(first, last, total) from `Content-Range: bytes first-last/total`, total None for `*`;
    None when absent or malformed. Pure."""
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _stream_into(session: _Session, response: httpx.Response, sink: IO[bytes], cap_bytes: int, too_large: Callable[[int, str], Violation], check_media: Callable[[bytes], None]) -> int:
    """Stream a 200 body into `sink`, refusing it from its Content-Length when over the cap, checking
    the first bytes are media before keeping more than a chunk, and stopping past the cap. Reads the
    body once (at most `cap_bytes` + one chunk); memory is one chunk plus the sniffed head."""
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
