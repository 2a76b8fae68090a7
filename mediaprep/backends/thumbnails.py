"""Small previews' pixel work (Pillow): a reduced decode of one picture, a strip of video frames, a
JPEG data URL. The HTML report (`mediaprep.report.previews`) decides what to preview; this module
is the only place its pixels are touched.

Errors for bad bytes come out as `UnreadableImage` (through `translate.image_errors`); an input that
cannot be opened at all (a missing file) raises `OSError` from its `Media.open()`.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import TypeAlias

from PIL import Image

from ..media import Media
from ..rules import DEFAULT_LIMITS
from . import pillow_backend, pillow_ops
from .translate import image_errors

# What a preview holds between calls; callers outside the backends name it without importing Pillow.
Picture: TypeAlias = Image.Image

_STRIP_GAP_PX = 2
_STRIP_BACKGROUND = (32, 32, 32)


def load_small(media: Media, long_px: int, *, max_decode_pixels: int) -> Picture | None:
    """`media`'s first picture, upright, as L or RGB (alpha composited on white), long side ≤
    `long_px`; None when decoding it would take more than `max_decode_pixels` (a JPEG counts at its
    1/8 draft size). Costs a header read, then one decode (a JPEG reduced by draft to 1/2–1/8 while
    decoding, a large HEIF grid tile by tile). Raises `UnreadableImage` when the bytes are not an
    image the Pillow backend reads."""
    info = pillow_backend.read_info(media)
    stored = info.stored_size
    # a JPEG decodes reduced (draft_scale: 0 when even 1/8 is over the budget); others whole
    over = pillow_backend.draft_scale(stored.width_px, stored.height_px, max_pixels=max_decode_pixels) == 0 if info.format == "JPEG" else stored.pixels > max_decode_pixels
    if over:
        return None
    limits = dataclasses.replace(DEFAULT_LIMITS, max_decode_pixels=max_decode_pixels)
    im = pillow_backend.load_first_frame(media, info, limits, want_long_px=long_px)
    with image_errors("making a thumbnail: "):
        im = pillow_ops.orient(im, info.orientation)
        im, _ = pillow_ops.normalise_mode(im, "JPEG")  # L or RGB; alpha composited on white
        im.thumbnail((long_px, long_px))
    return im


def strip(images: Sequence[Picture], *, frame_height_px: int, max_width_px: int) -> Picture:
    """The pictures side by side in one RGB strip (2 px dark gaps), each scaled to
    `frame_height_px` high and at most `max_width_px` wide, centred vertically. Costs one bilinear
    resize per picture; memory is the strip. Raises `ValueError` for no pictures."""
    if not images:
        raise ValueError("a strip needs at least one picture")
    with image_errors("making a strip of frames: "):
        scaled = []
        for f in images:
            f = f.convert("RGB")
            w = max(1, min(max_width_px, round(f.width * frame_height_px / max(1, f.height))))
            h = max(1, min(frame_height_px, round(f.height * w / max(1, f.width))))
            scaled.append(f.resize((w, h), Image.Resampling.BILINEAR))
        width = sum(f.width for f in scaled) + _STRIP_GAP_PX * (len(scaled) - 1)
        sheet = Image.new("RGB", (width, max(f.height for f in scaled)), _STRIP_BACKGROUND)
        x = 0
        for f in scaled:
            sheet.paste(f, (x, (sheet.height - f.height) // 2))
            x += f.width + _STRIP_GAP_PX
    return sheet


def to_jpeg_data_url(image: Picture, quality: int) -> tuple[str, int, int]:
    """(`data:image/jpeg;base64,…`, width px, height px) of `image` (L or RGB). Costs one JPEG
    encode and a base64 pass: negligible at thumbnail sizes."""
    with image_errors("encoding a thumbnail: "):
        data = pillow_ops.encode(image, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), image.width, image.height


__all__ = ["Picture", "load_small", "strip", "to_jpeg_data_url"]
