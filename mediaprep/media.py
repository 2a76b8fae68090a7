"""The one I/O seam between the pipeline and the backends: `Media`, an input's bytes that a backend
opens as binary file objects, as many times as it needs (PyAV's parallel decoders each own one).

A backend receives a `Media` and nothing else about where the bytes live: never a URL, never the
remote module. `media_for` builds one from a resolved `Source` (a path, bytes, or a URL whose
Range-backed file the probe stage has already opened). Opening costs an `open()` for a path, nothing
for bytes, and no request for a URL (a fresh cursor on the opened file's shared block cache).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from .errors import UsageError
from .models import Source


class Media(Protocol):
    """An input's bytes, openable as seekable binary file objects."""

    @property
    def label(self) -> str: ...

    @property
    def path(self) -> Path | None:
        """A local path when there is one (FFmpeg then does its own buffered I/O), else None."""
        ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def parallel_reads(self) -> bool:
        """Whether opening it several times at once is cheap (a URL is read once, not per core)."""
        ...

    def open(self) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A fresh binary file object at offset 0; closed when the context ends."""
        ...


@dataclass(frozen=True, slots=True)
class PathMedia:
    label: str
    path: Path
    parallel_reads: bool = True

    @property
    def size_bytes(self) -> int:
        return os.stat(self.path).st_size

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with open(self.path, "rb") as fp:
            yield fp


@dataclass(frozen=True, slots=True)
class BytesMedia:
    label: str
    data: bytes = field(repr=False)
    parallel_reads: bool = True

    @property
    def path(self) -> Path | None:
        return None

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        yield io.BytesIO(self.data)


@dataclass(frozen=True, slots=True)
class OpenedMedia:
    """Over an already opened seekable file that can hand out fresh cursors (`reopen()`), such as
    the remote module's Range-backed file; closing a cursor (as PyAV does) leaves the file open."""

    label: str
    opened: Any = field(repr=False)
    parallel_reads: bool = False

    @property
    def path(self) -> Path | None:
        return None

    @property
    def size_bytes(self) -> int:
        return int(self.opened.size_bytes)  # from the headers, nothing read

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with self.opened.reopen() as fp:
            yield fp


def media_for(source: Source) -> Media:
    """The `Media` of a resolved source. A URL must have been opened first (`Source.remote`)."""
    if source.path is not None:
        return PathMedia(source.label, source.path)
    if source.data is not None:
        return BytesMedia(source.label, source.data)
    if source.remote is not None:
        return OpenedMedia(source.label, source.remote)
    raise UsageError(f"{source.label}: a URL source must be opened by the probe stage before a backend reads it")
