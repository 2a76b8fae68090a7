"""The address guard (SPEC §3): which hosts a URL may be fetched from, and how they are resolved.

Every hop's host is resolved once (`_resolve`), and every address it resolves to must be public:
private, loopback, link-local, multicast, reserved and other non-global addresses are refused
(`address_problem` says why) before any connection is attempted, unless `RemoteOptions` vouches for
the host. The session (`session.py`) then connects to the checked address itself, so a second DNS
answer can never point the socket elsewhere.

Pure except `_resolve`, which costs one getaddrinfo bounded by a timeout. Does not import httpx.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:  # only for the annotation: this module never needs httpx at run time
    import httpx

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_network(text: str) -> bool:
    """Whether `text` is an address or a CIDR network (not a host name). Pure."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=32)
def _vouched_networks(hosts: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks among `private_hosts` (addresses count as /32 or /128). Pure, cached; raises
    `UsageError` on an empty item or a malformed network."""
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

    `transport`: an `httpx.BaseTransport` that carries every request instead of a network
    connection (tests: `httpx.MockTransport`). The host is still resolved and refused exactly as
    without it (so a private address still needs `allow_private` / `private_hosts`), but the
    request keeps the URL's own host instead of being pinned to the checked address; the transport
    does its own I/O (no TLS context, `ca_file` unused) and is never closed by mediaprep — its
    owner closes it. It is left out of equality, hashing and repr; options carrying one cannot be
    pickled to worker processes.
    """

    allow_private: bool = False
    private_hosts: tuple[str, ...] = ()
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    deadline_s: float = 30.0  # total per URL
    max_redirects: int = 5
    max_retries: int = 2
    backoff_s: float = 0.5  # first retry delay; doubled for each further retry
    verify_max_bytes: int = 1 << 20  # 1 MiB
    ca_file: str | None = None  # extra trusted CA certificates (PEM), e.g. an internal mirror's CA
    # An httpx.BaseTransport (typed for checkers only, so this module needs no httpx at run time).
    transport: httpx.BaseTransport | None = field(default=None, compare=False, repr=False)

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
        if self.transport is not None and not callable(getattr(self.transport, "handle_request", None)):
            raise UsageError(f"RemoteOptions.transport must be an httpx.BaseTransport (e.g. httpx.MockTransport), not {type(self.transport).__name__}")
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


__all__ = ["DEFAULT_REMOTE", "IPAddress", "RemoteOptions", "address_problem"]
