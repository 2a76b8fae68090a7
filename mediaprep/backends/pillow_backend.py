"""Pillow and pillow-heif: the only module that opens images with them.

Opening never trips Pillow's global decompression-bomb check and never changes Pillow's globals:
the plugin's factory is called directly (as `Image.open` would after sniffing), HEIF goes through
pillow-heif's plugin class without registering it, and mediaprep applies its own pixel guard from
`Limits.max_decode_pixels` before any decode.
"""

from __future__ import annotations

import contextlib
import re
import struct
import warnings
from collections.abc import Iterator
from typing import IO, Any

from PIL import Image

from ..errors import UnreadableImage
from ..media import Media
from ..models import ImageInfo
from ..rules import IMAGE_MIME, OTHER_MIME, TUNING, Limits
from ..sniff import HEAD_BYTES, Sniffed, sniff
from .translate import IMAGE_LIBRARY_ERRORS, describe, image_errors

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
        except IMAGE_LIBRARY_ERRORS:  # a plugin that cannot even judge the head does not accept it
            continue
        fp.seek(0)
        try:
            return factory(fp, None)  # type: ignore[arg-type]
        except (SyntaxError, IndexError, TypeError, OSError, ValueError, EOFError, struct.error) as exc:
            last = exc
    if last is not None and plugin:
        raise UnreadableImage(describe(last)) from last
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
    except IMAGE_LIBRARY_ERRORS:  # a malformed EXIF block is not a reason to reject the picture
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


def _count_frames(im: Image.Image, fmt: str, animated: bool) -> int:
    """Frames (animations) or pages (TIFF and other multi-picture files), counted up to a bound: a
    count equal to the bound means "at least that many". Only the first picture is ever sent as an
    image, so nothing needs more. A TIFF's pages are walked one IFD at a time up to
    `TUNING.max_counted_pages` (Pillow's own count checks each page's offset against every one
    before it: quadratic, minutes for 200,000 chained pages); a declared count (APNG's acTL, WebP,
    AVIF) is believed up to `TUNING.max_animation_frames`, so a header claiming 2^31 frames reads as
    that bound. A GIF that is not animated is one frame (its count would walk the whole file)."""
    if fmt == "GIF" and not animated:
        return 1
    if fmt in ("TIFF", "BIGTIFF"):  # before any look at `n_frames`: the property itself walks every page
        bound = max(1, TUNING.max_counted_pages)
        pages = 1
        try:
            while pages < bound:
                im.seek(pages)
                pages += 1
        except EOFError:  # the last page (or an IFD chain that loops back): counted
            pass
        im.seek(0)
        return pages
    bound = max(1, TUNING.max_animation_frames if animated else TUNING.max_counted_pages)
    return max(1, min(int(getattr(im, "n_frames", 1) or 1), bound))


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


def read_info(media: Media, fp: IO[bytes] | None = None, head: bytes | None = None) -> ImageInfo:
    """Header only (lazy open; no pixels). Raises `UnreadableImage` saying why it cannot be read.
    Pass an already open `fp` (and the `head` read from it) to avoid opening the media again."""
    if fp is None:
        with media.open() as own:
            return read_info(media, own, None)
    if head is None:
        head = read_head(fp)
    sniffed = sniff(head)
    try:
        with warnings.catch_warnings(), image_errors():
            warnings.simplefilter("ignore")
            fp.seek(0)
            im = _open_plugin(fp, sniffed)
            fmt = sniffed.format
            stored_w, stored_h = im.size
            if stored_w <= 0 or stored_h <= 0:
                raise UnreadableImage(f"the header declares an empty picture ({stored_w}×{stored_h})")
            orientation, orientation_source = _orientation(im, fmt)
            # is_animated reads at most two frames; n_frames may walk the whole file (GIF): only then
            animated = fmt in _ANIMATION_FORMATS and bool(getattr(im, "is_animated", False))
            frames = _count_frames(im, fmt, animated)
            mode, bit_depth, has_alpha = im.mode, _bit_depth(im, fmt, head), _has_alpha(im)
            encoding_issue, reduced = _encoding_issue(im, fmt), _reduced_decode(im, fmt)
    except UnreadableImage as exc:
        bomb = exc.__cause__
        # Some plugins (GIF) run Pillow's bomb check inside their header parse; the header still
        # told the size, so report the guard's verdict rather than "unreadable".
        if isinstance(bomb, Image.DecompressionBombError):
            if sniffed.format == "GIF" and len(head) >= 10:
                w, h = int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
                if w > 0 and h > 0:  # the logical screen; a frame larger than it tripped the guard
                    return _declared_only(media, "GIF", w, h, "P")
            raise UnreadableImage(f"the header declares too many pixels to open ({bomb})") from bomb
        raise
    w, h = (stored_h, stored_w) if orientation in (5, 6, 7, 8) else (stored_w, stored_h)
    return ImageInfo(
        format=fmt,
        mime=_mime(fmt),
        width_px=w,
        height_px=h,
        stored_width_px=stored_w,
        stored_height_px=stored_h,
        size_bytes=media.size_bytes,
        mode=mode,
        bit_depth=bit_depth,
        has_alpha=has_alpha,
        frames=frames,
        animated=animated and frames > 1,
        orientation=orientation,
        orientation_source=orientation_source,
        encoding_issue=encoding_issue,
        reduced_decode=reduced,
    )


def _mime(fmt: str) -> str:
    return IMAGE_MIME.get(fmt) or OTHER_MIME.get(fmt) or f"image/x-{fmt.lower()}"


def _declared_only(media: Media, fmt: str, width_px: int, height_px: int, mode: str) -> ImageInfo:
    return ImageInfo(
        format=fmt,
        mime=_mime(fmt),
        width_px=width_px,
        height_px=height_px,
        stored_width_px=width_px,
        stored_height_px=height_px,
        size_bytes=media.size_bytes,
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


def verify(media: Media, info: ImageInfo, *, reduced: bool) -> None:
    """Prove the first picture decodes: JPEG in draft mode at 1/8 (every byte of the entropy stream
    is still read), a HEIF grid over the pixel guard tile by tile at 1024 px (`reduced`), others in
    full. The caller decides whether a decode is allowed at all (the pixel guard). Raises
    `UnreadableImage` saying why it failed. Costs one (reduced) decode."""
    if reduced and info.reduced_decode == "heif-tiles":
        from . import heif_tiles

        heif_tiles.decode_reduced(media, max_long_px=1024)
        return
    with media.open() as fp, warnings.catch_warnings(), image_errors():
        warnings.simplefilter("ignore")
        im = _open_plugin(fp, sniff(read_head(fp)))
        if info.format == "JPEG":
            _draft(im, 8)
        im.load()


def load_first_frame(media: Media, info: ImageInfo, limits: Limits, *, want_long_px: int | None) -> Image.Image:
    """Decode the first picture, reduced when the format allows it and a smaller size is wanted
    (JPEG draft: 1/2–1/8 while decoding; HEIF grids tile by tile). Costs one decode. Raises
    `UnreadableImage` when the pixels do not decode."""
    if info.reduced_decode == "heif-tiles" and info.stored_size.pixels > limits.max_decode_pixels:
        from . import heif_tiles

        return heif_tiles.decode_reduced(media, max_long_px=want_long_px or limits.image_box_8k.long_px)
    with media.open() as fp, warnings.catch_warnings(), image_errors():
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



def animation_timeline(media: Media) -> list[float]:
    """Start time (s) of every frame of an animation and, last, its end. Reads every frame's header
    (GIF, APNG: no decode; WebP, AVIF: each frame is decoded to learn its duration), at most
    `TUNING.max_animation_frames` of them (a longer animation's timeline ends there). A frame of
    0 ms is shown for 100 ms, as browsers do."""
    with media.open() as fp, warnings.catch_warnings(), image_errors():
        warnings.simplefilter("ignore")
        im = _open_plugin(fp, sniff(read_head(fp)))
        times = [0.0]
        # a declared count is believed only up to the bound (an acTL may claim 2^31 frames)
        for n in range(min(int(getattr(im, "n_frames", 1) or 1), max(1, TUNING.max_animation_frames))):
            im.seek(n)
            if "duration" not in im.info:
                im.load()  # WebP and AVIF tell a frame's duration only once it is decoded
            duration_ms = im.info.get("duration") or 0
            times.append(times[-1] + (duration_ms if duration_ms > 0 else 100) / 1000.0)
        return times


def iter_animation_frames(media: Media, frame_indexes: list[int], out_size: tuple[int, int]) -> Iterator[Image.Image]:
    """The given frames (sorted, repeats allowed), composited as the animation shows them, scaled to
    `out_size`. Decodes frames in order up to the last one asked for."""
    with media.open() as fp, warnings.catch_warnings(), image_errors():
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
