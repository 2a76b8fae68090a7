"""The contact sheet: one JPEG grid of an image list's frames, each labelled with its number and
time, so a person sees what the model sees (`mediaprep frames --contact-sheet`)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw

from ..rules import TUNING


class ContactSheet:
    """One JPEG grid of frames, each labelled with its number and time, so a person sees what the
    model sees. Built as frames arrive (one thumbnail decoded at a time, JPEG draft-reduced); the grid
    grows wider and its cells smaller with the count, so 2,000 frames still make one ~3600 px
    wide sheet instead of one taller than JPEG allows. Memory: the sheet itself."""

    def __init__(self, count: int, *, max_cell_px: int = 240, min_cell_px: int = 80) -> None:
        self.columns = 6 if count <= 36 else math.ceil(math.sqrt(count))
        self.cell_px = max(min_cell_px, min(max_cell_px, max_cell_px * 6 // self.columns))
        self.label_h = 18 if self.cell_px >= 160 else 14
        rows = max(1, math.ceil(count / self.columns))
        self.sheet = Image.new("RGB", (self.columns * self.cell_px, rows * (self.cell_px + self.label_h)), (24, 24, 24))
        self.draw = ImageDraw.Draw(self.sheet)
        self.count = count
        self.added = 0

    def add(self, time_s: float, jpeg: bytes) -> None:
        n = self.added
        if n >= self.count:
            raise ValueError(f"the sheet was made for {self.count} frames")
        im = Image.open(io.BytesIO(jpeg))
        im.draft("RGB", (self.cell_px, self.cell_px))
        im = im.convert("RGB")
        im.thumbnail((self.cell_px, self.cell_px))
        cell, x = self.cell_px, (n % self.columns) * self.cell_px
        y = (n // self.columns) * (cell + self.label_h)
        self.sheet.paste(im, (x + (cell - im.width) // 2, y + (cell - im.height) // 2))
        label = f"#{n}  {time_s:.2f} s" if cell >= 120 else f"{time_s:.1f}s"
        self.draw.text((x + 3, y + cell + 1), label, fill=(235, 235, 235))
        self.added += 1

    def to_jpeg(self) -> bytes:
        """The sheet as JPEG bytes (the caller writes them, atomically)."""
        buf = io.BytesIO()
        self.sheet.save(buf, "JPEG", quality=TUNING.contact_sheet_quality)
        return buf.getvalue()
