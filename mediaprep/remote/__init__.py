"""http(s) inputs, the only part of mediaprep that imports httpx. Three modules, each importing
only the ones before it:

- `guard`: the address guard — which hosts may be fetched (`RemoteOptions`, `address_problem`);
  pure except one bounded DNS resolution per host.
- `session`: one URL's fetching state — pinned addresses, redirects, retries, the deadline, the
  httpx client (or the transport injected through `RemoteOptions.transport`).
- `file`: what callers use — `open_remote` / `connect` (a seekable `RemoteFile` over Range
  requests with a bounded block cache) and `download` (one capped streaming GET); their costs are
  in that module's docstring.

Every failure is a `remote.*` violation naming the URL, returned rather than raised.
"""

from __future__ import annotations

from .file import (
    BLOCK_BYTES,
    CACHE_BLOCKS,
    MAX_READ_AHEAD_BLOCKS,
    Downloaded,
    RemoteFile,
    RemoteReadError,
    connect,
    download,
    open_remote,
)
from .guard import DEFAULT_REMOTE, RemoteOptions, address_problem
from .session import not_media

__all__ = [
    "BLOCK_BYTES",
    "CACHE_BLOCKS",
    "DEFAULT_REMOTE",
    "MAX_READ_AHEAD_BLOCKS",
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
