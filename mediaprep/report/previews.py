"""What a report row previews: the prepared outputs that will be sent (image outputs; for a video,
a strip of its frame JPEGs), else the input itself when it is a local file (an image's thumbnail, or
a strip of a few frames sampled from a video). The pixels are made by `backends.thumbnails`; a
video's frames are sampled by `pipeline.extract_frames`.

Costs per row: at most one reduced decode of an image (JPEG draft, ≤ THUMB_MAX_DECODE_PIXELS
decoded, else no preview), or for a video six small frames (its prepared frame JPEGs, else a sparse
decode of the source stopped after SHEET_BUDGET_S). Nothing is fetched: a URL input has no preview.
The backends and the pipeline are imported on the first preview, not with this module.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UnreadableMedia, UsageError
from ..media import PathMedia
from ..models import ResultLine, Source
from ..resolve import resolve
from ..rules import DEFAULT_LIMITS
from .constants import (
    NO_INPUT_PREVIEW,
    SHEET_BUDGET_S,
    SHEET_FRAME_HEIGHT_PX,
    SHEET_FRAMES,
    THUMB_JPEG_QUALITY,
    THUMB_MAX_DECODE_PIXELS,
    THUMB_PX,
)

if TYPE_CHECKING:
    from ..backends.thumbnails import Picture

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic")


def local_path(text: str) -> Path | None:
    """The file a source names, when it is a local path or file:// URL of an existing regular file;
    None otherwise (a URL, a data: URL, `<stdin>`-like labels, a missing file). Costs one `stat`;
    never touches the network."""
    if not text or text.startswith("<") or text[:8].lower().startswith(("http://", "https://", "data:")):
        return None
    try:
        source = resolve(text)
    except (UsageError, OSError, ValueError):  # a file:// URL naming another host; a NUL in the path
        return None
    return source.path if isinstance(source, Source) and source.kind == "path" and source.path is not None else None


def _spread(items: list[Path], n: int) -> list[Path]:
    """n items evenly spread from first to last."""
    if n < 2 or len(items) <= n:
        return items[: max(n, 1)] if n < 2 else items
    return [items[round(k * (len(items) - 1) / (n - 1))] for k in range(n)]


def _is_image_output(line: ResultLine, rel: str) -> bool:
    """Whether the output `rel` (relative to the out folder) is a picture: its `output_info` mime,
    else its suffix."""
    for info in line.get("output_info") or []:
        if isinstance(info, Mapping) and info.get("path") == rel:
            return str(info.get("mime", "")).startswith("image/")
    return Path(rel).suffix.lower() in _IMAGE_SUFFIXES


def _small(path: Path) -> Picture | None:
    """A thumbnail-sized picture of the image file at `path`, or None when it is not a picture the
    image backend reads, cannot be opened, or is over the decode budget. Costs a header read and at
    most one reduced decode (see `thumbnails.load_small`)."""
    from ..backends import thumbnails

    try:
        return thumbnails.load_small(PathMedia(str(path), path), THUMB_PX, max_decode_pixels=THUMB_MAX_DECODE_PIXELS)
    except (UnreadableMedia, OSError):
        return None


def _jpeg(im: Picture) -> tuple[str, int, int]:
    """`im` as a JPEG data URL at THUMB_JPEG_QUALITY. Costs one small encode."""
    from ..backends import thumbnails

    return thumbnails.to_jpeg_data_url(im, THUMB_JPEG_QUALITY)


def _sheet(frames: list[Picture]) -> tuple[str, int, int] | None:
    """The frames side by side, each SHEET_FRAME_HEIGHT_PX high (≤ THUMB_PX wide), as a JPEG data
    URL; None for no frames."""
    from ..backends import thumbnails

    if not frames:
        return None
    return thumbnails.to_jpeg_data_url(thumbnails.strip(frames, frame_height_px=SHEET_FRAME_HEIGHT_PX, max_width_px=THUMB_PX), THUMB_JPEG_QUALITY)


def _video_frames_from_source(path: Path) -> list[Picture]:
    """Up to SHEET_FRAMES frames spread over the video: probing costs a few frame decodes, then the
    GOPs holding the samples are decoded, until SHEET_BUDGET_S has passed."""
    deadline = time.monotonic() + SHEET_BUDGET_S
    from ..pipeline import extract_frames

    extraction = extract_frames(str(path), fps=DEFAULT_LIMITS.fps_max, max_frames=SHEET_FRAMES, max_side_px=THUMB_PX)
    if extraction.info is not None and extraction.violations and all(v.code == "frames.too_few" for v in extraction.violations):
        # too few frames for an image list is no reason to show none of them
        extraction = dataclasses.replace(extraction, violations=())
    frames = []
    for frame in extraction:
        frames.append(frame.image)
        if len(frames) >= SHEET_FRAMES or time.monotonic() > deadline:
            break
    return frames


def thumbnail_for(line: ResultLine, *, out_dir: Path | None) -> tuple[str, int, int] | None:
    """(JPEG data URL, width px, height px) of the row's preview, or None. Prepared outputs come
    first (what will be sent: image outputs under `out_dir`), then the input when it is a local file
    whose line does not say it crashed, hung or failed to decode. Never raises: a preview that
    cannot be made is simply absent. Costs: see the module docstring."""
    try:
        kind = line.get("kind")
        outputs = [str(o) for o in line.get("outputs") or []]
        images = [out_dir / o for o in outputs if _is_image_output(line, o)] if out_dir is not None else []
        if kind == "video" and images:
            frames = [im for im in (_small(p) for p in _spread(images, SHEET_FRAMES)) if im is not None]
            if frames:
                return _sheet(frames)
        elif images:
            im = _small(images[0])
            if im is not None:
                return _jpeg(im)
        codes = {v.get("code") for v in line.get("violations") or [] if isinstance(v, Mapping)}
        path = local_path(str(line.get("source", "")))
        if path is None or codes & NO_INPUT_PREVIEW:
            return None
        if kind == "video":
            return _sheet(_video_frames_from_source(path))
        if kind == "image":
            im = _small(path)
            return _jpeg(im) if im is not None else None
        return None
    except Exception:  # noqa: BLE001  (isolation is the point: one odd file, or a decoder's surprise, costs its preview, never the report)
        return None


__all__ = ["local_path", "thumbnail_for"]
