"""The one boundary where Pillow, pillow-heif and PyAV errors become mediaprep's own.

Every backend call that hands bytes to a decoder runs inside `image_errors()` or `video_errors()`;
what those libraries raise for bad bytes comes out as `UnreadableImage` / `UnreadableVideo` (whose
message names the library's exception), the way httpx maps httpcore's errors in one place. Only the
exception types these libraries use for malformed input are translated: anything else is a bug and
propagates as it is.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import PIL
from PIL import Image

from ..errors import UnreadableImage, UnreadableMedia, UnreadableVideo

# What Pillow's plugins and pillow-heif raise on malformed, truncated or exotic input (a plugin's
# header parser indexes and unpacks raw bytes, so IndexError, KeyError, TypeError and struct.error
# are its ways of saying "not what I expected"; libheif's errors arrive as RuntimeError). An
# ArithmeticError is translated only when it comes from the libraries' own code (`image_errors`).
IMAGE_LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    MemoryError,
    RuntimeError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


@functools.lru_cache(maxsize=1)
def _image_library_dirs() -> tuple[str, ...]:
    """The folders of Pillow's and pillow-heif's Python code (found without importing pillow-heif)."""
    dirs = [os.path.dirname(PIL.__file__)]
    spec = importlib.util.find_spec("pillow_heif")
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(spec.submodule_search_locations)
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def _raised_in(exc: BaseException, dirs: tuple[str, ...]) -> bool:
    """True when the innermost frame of `exc`'s traceback is code under one of `dirs`."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.realpath(tb.tb_frame.f_code.co_filename).startswith(dirs)


def _video_library_errors() -> tuple[type[BaseException], ...]:
    """What PyAV raises for bad containers and streams (FFmpeg's errors, and I/O from the file
    object). PyAV is imported here, on first use: checking images never loads it."""
    import av

    return (av.FFmpegError, OSError, ValueError, EOFError, MemoryError)  # type: ignore[attr-defined]


def __getattr__(name: str) -> Any:
    if name == "VIDEO_LIBRARY_ERRORS":  # PEP 562: resolved (and PyAV loaded) when a video module asks
        value = _video_library_errors()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe(exc: BaseException) -> str:
    """`Type: message`, or the message alone for mediaprep's own errors."""
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, UnreadableMedia) else f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def image_errors(doing: str = "") -> Iterator[None]:
    """Translate what the image libraries raise for bad bytes into `UnreadableImage`."""
    try:
        yield
    except UnreadableMedia:
        raise
    except IMAGE_LIBRARY_ERRORS as exc:
        raise UnreadableImage(f"{doing}{describe(exc)}") from exc
    except ArithmeticError as exc:
        # A plugin computing with a header's zero or huge field (an AVIF track whose timescale is 0
        # divides by it) says "bad bytes" this way; the same error from mediaprep's own arithmetic
        # is a bug and propagates.
        if not _raised_in(exc, _image_library_dirs()):
            raise
        raise UnreadableImage(f"{doing}{describe(exc)}") from exc


@contextlib.contextmanager
def video_errors(doing: str = "") -> Iterator[None]:
    """Translate what PyAV raises for bad bytes into `UnreadableVideo`."""
    try:
        yield
    except UnreadableMedia:
        raise
    except _video_library_errors() as exc:
        raise UnreadableVideo(f"{doing}{describe(exc)}") from exc
