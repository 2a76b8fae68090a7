"""Which format a rewritten image is written in: one choice that check names in its messages
("convert to PNG") and plan makes. Pure."""

from __future__ import annotations

from .models import ImageInfo
from .rules import TUNING, Tuning

# Formats whose pictures are photos (lossy sources): rewritten as JPEG.
_PHOTO_FORMATS = frozenset({"JPEG", "HEIC", "HEIF", "AVIF", "WEBP", "JPEG2000", "MPO"})


def output_format_for(info: ImageInfo, tuning: Tuning = TUNING) -> str:
    """JPEG or PNG by content: alpha, palettes, 1-bit and lossless graphics → PNG; photos → JPEG;
    other lossless pictures larger than `tuning.png_max_pixels` → JPEG."""
    if info.has_alpha or info.mode in ("P", "PA", "1"):
        return "PNG"
    if info.format in _PHOTO_FORMATS:
        return "JPEG"
    return "PNG" if info.size.pixels <= tuning.png_max_pixels else "JPEG"


def why_format(info: ImageInfo, fmt: str) -> str:
    """The reason `output_format_for` gives, in words."""
    if fmt == "PNG":
        if info.has_alpha:
            return "it has transparency"
        if info.mode in ("P", "PA", "1"):
            return "palette or 1-bit graphics"
        return "lossless graphics"
    return "a photo"
