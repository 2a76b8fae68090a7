"""Run video fixes: frames for an image list (JPEG), remux to MP4, transcode to an H.264 MP4 that
fits a byte cap. Memory stays bounded: frames stream through, nothing holds the whole video.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..backends import pillow_ops, pyav_backend
from ..models import Size, Source, VideoInfo
from ..plan import padded_size
from ..rules import Limits


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedFrame:
    index: int
    time_s: float
    pts_s: float
    size: Size
    data: bytes = field(repr=False)


def encode_frames(
    source: Source,
    info: VideoInfo,
    times_s: tuple[float, ...],
    *,
    out_size: Size,
    limits: Limits,
    quality: int = 90,
) -> Iterator[EncodedFrame]:
    """JPEG frames on screen at `times_s`, padded where a frame would break SPEC §1's size rules.
    Lazy: one frame in memory at a time (plus the decoder's)."""
    for taken in pyav_backend.iter_frames(source, info, times_s, out_size=out_size):
        im = taken.image
        want = padded_size(pillow_ops.size_of(im), min_side_exclusive_px=limits.image_min_side_exclusive_px, max_ratio=limits.image_max_aspect_ratio)
        im = pillow_ops.pad(im, want)
        yield EncodedFrame(index=taken.index, time_s=taken.time_s, pts_s=taken.pts_s, size=pillow_ops.size_of(im), data=pillow_ops.encode(im, "JPEG", quality=quality))


def remux_mp4(source: Source, dest: Path) -> None:
    """Copy the video stream (and AAC/MP3 audio) into an MP4 without re-encoding. Costs one read of
    the file. Raises av.FFmpegError when the codec cannot be carried."""
    with pyav_backend.open_container(source) as src, av.open(str(dest), mode="w", format="mp4") as out:
        vin = pyav_backend._video_stream(src)
        vout = out.add_stream_from_template(vin)
        streams = {vin.index: vout}
        for a in src.streams.audio[:1]:
            if a.codec_context.name in ("aac", "mp3"):
                streams[a.index] = out.add_stream_from_template(a)
        for packet in src.demux(*[s for s in src.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def transcode_mp4(source: Source, info: VideoInfo, dest: Path, *, max_bytes: int, max_side_px: int | None = None) -> dict[str, Any]:
    """Re-encode to H.264 (yuv420p, libx264 veryfast, CRF 23) in MP4, its bitrate capped so the file
    fits `max_bytes`, scaled down when that cap leaves too few bits per pixel; audio dropped; the
    display matrix kept.
    Costs one decode and one encode of every frame."""
    duration = max(info.duration_s, 0.1)
    bitrate = int(max_bytes * 8 * 0.90 / duration)
    w, h = info.stored_width_px, info.stored_height_px
    fps = info.fps or 30.0
    # at least ~0.04 bits per pixel per frame for a watchable picture: shrink until it holds
    scale = 1.0
    if max_side_px is not None:
        scale = min(scale, max_side_px / max(w, h))
    while scale > 0.1 and bitrate / (w * scale * h * scale * fps) < 0.04:
        scale *= 0.8
    ow, oh = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
    with pyav_backend.open_container(source) as src, av.open(str(dest), mode="w", format="mp4") as out:
        vin = pyav_backend._video_stream(src)
        vin.thread_type = "AUTO"
        rate = Fraction(fps).limit_denominator(1001)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = ow, oh, "yuv420p"
        # quality first (CRF 23), with the cap's bitrate as a ceiling (VBV): a small video stays small
        ceiling = max(bitrate, 20_000)
        vout.options = {"preset": "veryfast", "crf": "23", "maxrate": str(ceiling), "bufsize": str(ceiling * 2)}
        vout.time_base = Fraction(1, 90000)
        if info.rotation_deg or info.mirrored:
            vout.set_display_rotation(info.rotation_deg, hflip=info.mirrored)
        tb = vin.time_base
        origin = info.start_s
        last = -1
        for frame in src.decode(vin):
            if frame.pts is None:
                continue
            pts = int(round((float(frame.pts * tb) - origin) * 90000))
            if pts <= last:
                continue
            last = pts
            new = frame.reformat(width=ow, height=oh, format="yuv420p")
            new.pts, new.time_base = pts, Fraction(1, 90000)
            for packet in vout.encode(new):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    return {"width_px": ow, "height_px": oh, "bit_rate": bitrate, "size_bytes": os.path.getsize(dest)}


class ContactSheet:
    """One JPEG grid of frames, each labelled with its number and time, so a person sees what the
    model sees. Built as frames arrive (one thumbnail decoded at a time, JPEG draft-reduced); the grid
    grows wider and its cells smaller with the count, so 2,000 frames still make one ~3600 px
    wide sheet instead of one taller than JPEG allows. Memory: the sheet itself."""

    def __init__(self, count: int, *, max_cell_px: int = 240, min_cell_px: int = 80) -> None:
        from PIL import Image, ImageDraw

        self.columns = 6 if count <= 36 else math.ceil(math.sqrt(count))
        self.cell_px = max(min_cell_px, min(max_cell_px, max_cell_px * 6 // self.columns))
        self.label_h = 18 if self.cell_px >= 160 else 14
        rows = max(1, math.ceil(count / self.columns))
        self.sheet = Image.new("RGB", (self.columns * self.cell_px, rows * (self.cell_px + self.label_h)), (24, 24, 24))
        self.draw = ImageDraw.Draw(self.sheet)
        self.count = count
        self.added = 0

    def add(self, time_s: float, jpeg: bytes) -> None:
        from PIL import Image

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

    def save(self, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        self.sheet.save(tmp, "JPEG", quality=85)
        os.replace(tmp, dest)


def contact_sheet(frames: list[tuple[float, bytes]], dest: Path) -> None:
    """The sheet of `frames` ((time_s, JPEG bytes) pairs) written to `dest`; nothing for no frames."""
    if not frames:
        return
    sheet = ContactSheet(len(frames))
    for t, data in frames:
        sheet.add(t, data)
    sheet.save(dest)
