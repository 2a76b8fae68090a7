"""Pillow and pillow-heif: the only module that opens images with them.

Opening never trips Pillow's global decompression-bomb check and never changes Pillow's globals:
the plugin's factory is called directly (as `Image.open` would after sniffing), HEIF goes through
pillow-heif's plugin class without registering it, and mediaprep applies its own pixel guard from
`Limits.max_decode_pixels` before any decode.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Iterator
from typing import IO, Any

from PIL import Image

from ..models import ImageInfo, Source
from ..rules import IMAGE_MIME, OTHER_MIME, Limits
from ..sniff import HEAD_BYTES, Sniffed, sniff

# mediaprep format → Pillow plugin id. Formats absent here are tried through `_FALLBACK_PLUGINS`.
_PLUGIN_BY_FORMAT = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "GIF": "GIF",
    "BMP": "BMP",
    "TIFF": "TIFF",
    "BIGTIFF": "TIFF",
    "WEBP": "WEBP",
    "AVIF": "AVIF",
    "JPEG2000": "JPEG2000",
    "ICO": "ICO",
    "PSD": "PSD",
    "PPM": "PPM",
    "QOI": "QOI",
    "ICNS": "ICNS",
}
# Plugins worth a try when the magic numbers named nothing. Never EPS (runs Ghostscript) or the
# stub plugins (WMF, GRIB, BUFR, HDF5, FITS) that need a handler installed by the caller.
_FALLBACK_PLUGINS = ("PCX", "SGI", "DDS", "SUN", "XBM", "XPM", "MSP", "DCX", "FLI", "BLP", "CUR", "DIB", "TGA")
_HEIF_FORMATS = frozenset({"HEIC", "HEIF"})
_ANIMATION_FORMATS = frozenset({"GIF", "PNG", "WEBP", "AVIF"})

_TIFF_EXOTIC_COMPRESSION = {
    "tiff_jpeg": "old-style JPEG compression (TIFF compression 6)",
    "webp": "WebP compression inside TIFF",
    "tiff_sgilog": "SGI LogLuv compression",
    "tiff_sglog24": "SGI LogLuv compression",
    "tiff_thunderscan": "ThunderScan compression",
    "lzma": "LZMA compression inside TIFF",
    "zstd": "Zstandard compression inside TIFF",
    "jpeg2000": "JPEG 2000 compression inside TIFF",
}
_MODE_ISSUES = {
    "CMYK": "CMYK colour",
    "LAB": "CIE L*a*b* colour",
    "F": "32-bit floating-point samples",
    "I": "32-bit integer samples",
    "YCbCr": "raw YCbCr samples",
    "HSV": "HSV colour",
}
_XMP_ORIENTATION = re.compile(rb"tiff:Orientation(?:\s*=\s*[\"']|>)\s*([1-8])")
_ORIENTATION_TAG = 0x0112

Image.init()


class UnreadableImage(Exception):
    """The bytes are not an image this backend can open; the message says why."""


@contextlib.contextmanager
def open_bytes(source: Source) -> Iterator[IO[bytes]]:
    """A binary file object over the source's bytes (a path is opened, never read whole). A URL is
    read through Range requests: the pipeline's open `RemoteFile` (a fresh cursor on its shared
    cache, so closing it — as PyAV does — is harmless), or one opened here with the defaults."""
    if source.path is not None:
        with open(source.path, "rb") as fp:
            yield fp
    elif source.data is not None:
        yield io.BytesIO(source.data)
    elif source.kind == "url" and source.remote is not None:
        with source.remote.reopen() as fp:
            yield fp
    elif source.kind == "url":
        from .. import remote
        from ..rules import DEFAULT_LIMITS

        cap = max(DEFAULT_LIMITS.image_max_file_bytes, DEFAULT_LIMITS.video_max_url_bytes)
        opened = remote.open_remote(source, options=remote.DEFAULT_REMOTE, cap_bytes=cap)
        if not isinstance(opened, remote.RemoteFile):
            raise UnreadableImage(opened.message)
        with opened as fp:
            yield fp
    else:  # pragma: no cover - every Source kind has bytes somewhere
        raise UnreadableImage("no bytes for this source")


def source_size_bytes(source: Source) -> int:
    if source.path is not None:
        return source.path.stat().st_size
    if source.remote is not None:
        return int(source.remote.size_bytes)  # from Content-Range / Content-Length, nothing read
    return len(source.data or b"")


def read_head(fp: IO[bytes]) -> bytes:
    fp.seek(0)
    head = fp.read(HEAD_BYTES)
    fp.seek(0)
    return head


def _open_plugin(fp: IO[bytes], sniffed: Sniffed) -> Image.Image:
    """Header-only open through the plugin the bytes name, without Pillow's global bomb check."""
    if sniffed.format in _HEIF_FORMATS:
        from pillow_heif import HeifImageFile

        return HeifImageFile(fp)
    if sniffed.kind == "video" or sniffed.format in ("EMPTY", "TEXT", "JXL", "BPG"):
        raise UnreadableImage(_unknown_reason(sniffed))
    plugin = _PLUGIN_BY_FORMAT.get(sniffed.format)
    candidates = (plugin,) if plugin else _FALLBACK_PLUGINS
    head = read_head(fp)
    last: Exception | None = None
    for plugin_id in candidates:
        factory, accept = Image.OPEN[plugin_id]
        try:
            if accept is not None and not accept(head):
                continue
        except Exception:
            continue
        fp.seek(0)
        try:
            return factory(fp, None)  # type: ignore[arg-type]
        except (SyntaxError, IndexError, TypeError, OSError, ValueError, EOFError) as exc:
            last = exc
    if last is not None and plugin:
        raise UnreadableImage(_describe(last)) from last
    raise UnreadableImage(_unknown_reason(sniffed))  # no magic matched: the plugins' guesses say nothing


def _unknown_reason(sniffed: Sniffed) -> str:
    if sniffed.format == "EMPTY":
        return "the file is empty (0 bytes)"
    if sniffed.format == "TEXT":
        return "the bytes are text, not an image"
    if sniffed.kind == "video":
        return f"the bytes are a {sniffed.format} video, not an image"
    if sniffed.format in ("JXL", "BPG"):
        return f"{sniffed.format} is not a format any decoder here reads"
    return "the bytes match no image format mediaprep reads"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, UnreadableImage) else text


def _bit_depth(im: Image.Image, fmt: str, head: bytes) -> int:
    if "bit_depth" in im.info:
        return int(im.info["bit_depth"])
    if fmt == "PNG" and len(head) > 24:
        return head[24]
    mode = im.mode
    if mode == "1":
        return 1
    if mode.startswith("I;16"):
        return 16
    if mode in ("I", "F"):
        return 32
    return 8


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info)


def _orientation(im: Image.Image, fmt: str) -> tuple[int, str | None]:
    """EXIF, then a PNG raw-profile text chunk, then XMP. Reads no pixels (never `getexif()` on PNG)."""
    if fmt in _HEIF_FORMATS:
        return 1, None  # libheif applies irot/imir and reports the displayed size
    exif = Image.Exif()
    try:
        if fmt == "PNG":
            raw = im.info.get("exif")
            if raw:
                exif.load(raw)
                value = exif.get(_ORIENTATION_TAG)
                if value and value != 1:
                    return int(value), "exif"
            text = im.info.get("Raw profile type exif")
            if text:
                exif.load(bytes.fromhex("".join(text.split("\n")[3:])))
                value = exif.get(_ORIENTATION_TAG)
                if value and value != 1:
                    return int(value), "png-text"
        else:
            value = im.getexif().get(_ORIENTATION_TAG)
            if value and value != 1 and int(value) in range(2, 9):
                return int(value), "exif"
    except Exception:  # a malformed EXIF block is not a reason to reject the picture
        pass
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if fmt == "TIFF" and not xmp:
        xmp = getattr(im, "tag_v2", {}).get(700)
    if xmp:
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8", "replace")
        match = _XMP_ORIENTATION.search(bytes(xmp))
        if match and match.group(1) != b"1":
            return int(match.group(1)), "xmp"
    return 1, None


def _encoding_issue(im: Image.Image, fmt: str) -> str | None:
    if fmt == "BIGTIFF":
        return "BigTIFF (64-bit offsets)"
    issue = _MODE_ISSUES.get(im.mode)
    if issue:
        return issue
    if fmt == "TIFF":
        return _TIFF_EXOTIC_COMPRESSION.get(str(im.info.get("compression", "")))
    return None


def _reduced_decode(im: Image.Image, fmt: str) -> Any:
    if fmt == "JPEG":
        return "jpeg-draft"
    if fmt == "HEIC" and im.info.get("tiling"):
        return "heif-tiles"
    return None


def read_info(source: Source, fp: IO[bytes] | None = None, head: bytes | None = None) -> tuple[ImageInfo | None, str | None]:
    """Header only (lazy open; no pixels). Returns (info, None) or (None, why it is unreadable).
    Pass an already open `fp` (and the `head` read from it) to avoid opening the source again."""
    if fp is None:
        with open_bytes(source) as own:
            return read_info(source, own, None)
    if head is None:
        head = read_head(fp)
    sniffed = sniff(head)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fp.seek(0)
            im = _open_plugin(fp, sniffed)
            fmt = sniffed.format
            stored_w, stored_h = im.size
            if stored_w <= 0 or stored_h <= 0:
                return None, f"the header declares an empty picture ({stored_w}×{stored_h})"
            orientation, orientation_source = _orientation(im, fmt)
            w, h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
            # is_animated reads at most two frames; n_frames may walk the whole file (GIF): only then
            animated = fmt in _ANIMATION_FORMATS and bool(getattr(im, "is_animated", False))
            frames = int(getattr(im, "n_frames", 1) or 1) if animated or fmt not in ("GIF",) else 1
            info = ImageInfo(
                format=fmt,
                mime=IMAGE_MIME.get(fmt) or OTHER_MIME.get(fmt) or f"image/x-{fmt.lower()}",
                width_px=w,
                height_px=h,
                stored_width_px=stored_w,
                stored_height_px=stored_h,
                size_bytes=_size_of(source, fp),
                mode=im.mode,
                bit_depth=_bit_depth(im, fmt, head),
                has_alpha=_has_alpha(im),
                frames=frames,
                animated=animated and frames > 1,
                orientation=orientation,
                orientation_source=orientation_source,
                encoding_issue=_encoding_issue(im, fmt),
                reduced_decode=_reduced_decode(im, fmt),
            )
            return info, None
    except Image.DecompressionBombError as exc:
        # Some plugins (GIF) run Pillow's bomb check inside their header parse; the header still
        # told the size, so report the guard's verdict rather than "unreadable".
        if sniffed.format == "GIF" and len(head) >= 10:
            w, h = int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
            return _declared_only(source, "GIF", w, h, "P"), None
        return None, f"the header declares too many pixels to open ({exc})"
    except UnreadableImage as exc:
        return None, str(exc)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, MemoryError) as exc:
        return None, _describe(exc)


def _size_of(source: Source, fp: IO[bytes]) -> int:
    if source.path is not None:
        try:
            return os.fstat(fp.fileno()).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            pass
    return source_size_bytes(source)


def _declared_only(source: Source, fmt: str, width_px: int, height_px: int, mode: str) -> ImageInfo:
    return ImageInfo(
        format=fmt,
        mime=IMAGE_MIME.get(fmt) or OTHER_MIME.get(fmt) or f"image/x-{fmt.lower()}",
        width_px=width_px,
        height_px=height_px,
        stored_width_px=width_px,
        stored_height_px=height_px,
        size_bytes=source_size_bytes(source),
        mode=mode,
        bit_depth=8,
        has_alpha=False,
    )


def draft_scale(stored_w: int, stored_h: int, *, max_pixels: int, want_long_px: int | None = None) -> int:
    """The JPEG draft denominator (1, 2, 4 or 8) to decode with: the largest reduction whose long
    side still reaches `want_long_px` (no reduction when None) among those within `max_pixels`.
    0 when even 1/8 is over the budget. Pure."""
    fitting = [d for d in (1, 2, 4, 8) if -(-stored_w // d) * -(-stored_h // d) <= max_pixels]
    if not fitting:
        return 0
    if want_long_px is None:
        return fitting[0]
    large_enough = [d for d in fitting if max(-(-stored_w // d), -(-stored_h // d)) >= want_long_px]
    return large_enough[-1] if large_enough else fitting[0]


def _draft(im: Image.Image, denom: int) -> None:
    if denom > 1:
        im.draft(im.mode, (max(1, im.size[0] // denom), max(1, im.size[1] // denom)))


def verify(source: Source, info: ImageInfo, limits: Limits) -> str | None:
    """Prove the first picture decodes: JPEG in draft mode at 1/8 (every byte of the entropy stream
    is still read), others in full under the pixel guard. Returns None, or why it failed."""
    over = info.stored_size.pixels > limits.max_decode_pixels
    if over and info.reduced_decode is None:
        return None  # never decoded: the guard already rejects it
    try:
        if info.reduced_decode == "heif-tiles" and over:
            from . import heif_tiles

            heif_tiles.decode_reduced(source, max_long_px=1024)
            return None
        with open_bytes(source) as fp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = _open_plugin(fp, sniff(read_head(fp)))
            if info.format == "JPEG":
                _draft(im, 8)
            im.load()
        return None
    except Exception as exc:  # any decoder failure is a verdict on the file, not a crash
        return _describe(exc)


def load_first_frame(source: Source, info: ImageInfo, limits: Limits, *, want_long_px: int | None) -> Image.Image:
    """Decode the first picture, reduced when the format allows it and a smaller size is wanted
    (JPEG draft: 1/2–1/8 while decoding; HEIF grids tile by tile). Costs one decode."""
    if info.reduced_decode == "heif-tiles" and info.stored_size.pixels > limits.max_decode_pixels:
        from . import heif_tiles

        return heif_tiles.decode_reduced(source, max_long_px=want_long_px or limits.image_box_8k.long_px)
    with open_bytes(source) as fp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = _open_plugin(fp, sniff(read_head(fp)))
        if info.format == "JPEG":
            _draft(im, draft_scale(*im.size, max_pixels=limits.max_decode_pixels, want_long_px=want_long_px))
        elif info.stored_size.pixels > limits.max_decode_pixels:
            raise UnreadableImage(f"{info.stored_size.pixels} pixels cannot be decoded under the guard")
        im.load()
        icc = im.info.get("icc_profile")
        out = im.copy()  # detach from the file before it closes
        if icc:
            out.info["icc_profile"] = icc
        return out



def animation_timeline(source: Source) -> list[float]:
    """Start time (s) of every frame of an animation and, last, its end. Reads every frame's header
    (GIF, APNG: no decode; WebP, AVIF: each frame is decoded to learn its duration). A frame of 0 ms
    is shown for 100 ms, as browsers do."""
    with open_bytes(source) as fp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = _open_plugin(fp, sniff(read_head(fp)))
        times = [0.0]
        for n in range(int(getattr(im, "n_frames", 1) or 1)):
            im.seek(n)
            if "duration" not in im.info:
                im.load()  # WebP and AVIF tell a frame's duration only once it is decoded
            duration_ms = im.info.get("duration") or 0
            times.append(times[-1] + (duration_ms if duration_ms > 0 else 100) / 1000.0)
        return times


def iter_animation_frames(source: Source, frame_indexes: list[int], out_size: tuple[int, int]) -> Iterator[Image.Image]:
    """The given frames (sorted, repeats allowed), composited as the animation shows them, scaled to
    `out_size`. Decodes frames in order up to the last one asked for."""
    with open_bytes(source) as fp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = _open_plugin(fp, sniff(read_head(fp)))
        last: tuple[int, Image.Image] | None = None
        for n in frame_indexes:
            if last is None or last[0] != n:
                im.seek(n)
                frame = im.convert("RGBA")
                if frame.size != out_size:
                    frame = frame.resize(out_size, Image.Resampling.LANCZOS)
                last = (n, frame)
            yield last[1]
