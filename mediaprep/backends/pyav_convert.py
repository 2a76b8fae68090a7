"""Decoded frames into the output images: `_Converter` (swscale straight to the output size, then
the display matrix's transpose) and `TakenFrame`, the image taken for one sample time.

Costs one swscale conversion (and a transpose when the video is rotated) per source frame taken:
a frame chosen for several consecutive samples is converted once. Used by the decode plan's
segment decoders (one converter per decoder thread) and by the scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..models import Size
from .pyav_container import _frame_matrix, _swaps, display_transform


@dataclass(frozen=True, slots=True)
class TakenFrame:
    index: int  # k, the sample's number
    time_s: float  # t_k, from the first frame
    pts_s: float  # the source frame's presentation time, from the first frame
    image: Image.Image


class _Converter:
    """swscale to the output size, then the display matrix's transpose; one conversion per source frame."""

    def __init__(self, out_size: Size, fallback: tuple[int, ...] | None = None) -> None:
        self.out_size = out_size
        self.fallback = fallback  # a stream-level rotation (HTC's track name) when frames carry none
        self.method: Image.Transpose | None = None
        self.known = False
        self.last: tuple[float, Image.Image] | None = None

    def learn(self, frame: Any) -> None:
        if not self.known:
            _, _, self.method = display_transform(_frame_matrix(frame) or self.fallback)
            self.known = True

    def image(self, frame: Any, t: float) -> Image.Image:
        if self.last is not None and self.last[0] == t:
            return self.last[1]
        w, h = self.out_size.width_px, self.out_size.height_px
        if _swaps(self.method):
            w, h = h, w
        # bgr24 is swscale's fast path to packed RGB here (half rgb24's time, same pixels within
        # rounding); the 4-byte formats are faster still but smear the left edge at some widths.
        bgr = frame.reformat(width=w, height=h, format="bgr24")
        plane = bgr.planes[0]
        im = Image.frombuffer("RGB", (w, h), plane, "raw", "BGR", plane.line_size, 1)
        if self.method is not None:
            im = im.transpose(self.method)
        self.last = (t, im)
        return im
