"""Generated test videos whose frames carry their own index as big black/white blocks, a code that
survives scaling, rotation back to upright, and JPEG. Made with PyAV (libx264, libx265, mpeg2video,
mpeg4, vp9)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

BITS = 12  # up to 4095 frames; a 4×4 grid: 12 code blocks + 4 fixed orientation blocks
_GRID = 4
# Fixed corner blocks of four different colours: any rotation or mirror of the picture moves one,
# so a frame read back in the wrong orientation reads as None.
_COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "red": (230, 30, 30), "blue": (30, 30, 230)}
_FIXED = {(0, 0): "black", (0, 3): "white", (3, 0): "red", (3, 3): "blue"}
_CODE_CELLS = [(r, c) for r in range(_GRID) for c in range(_GRID) if (r, c) not in _FIXED]


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """RGB pixels showing `index` as blocks (white = 1), with a mid-grey border between cells."""
    img = np.full((height, width, 3), 128, dtype=np.uint8)
    cw, ch = width / _GRID, height / _GRID
    values: dict[tuple[int, int], tuple[int, int, int]] = {cell: _COLOURS[name] for cell, name in _FIXED.items()}
    for bit, cell in enumerate(_CODE_CELLS):
        values[cell] = _COLOURS["white"] if (index >> bit) & 1 else _COLOURS["black"]
    for (r, c), rgb in values.items():
        x0, x1 = int(c * cw + cw * 0.1), int((c + 1) * cw - cw * 0.1)
        y0, y1 = int(r * ch + ch * 0.1), int((r + 1) * ch - ch * 0.1)
        img[y0:y1, x0:x1] = rgb
    return img


def read_index(image: Image.Image) -> int | None:
    """The index a frame shows, or None when the fixed blocks are wrong (rotated, mirrored, garbled)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    cw, ch = w / _GRID, h / _GRID

    def colour(r: int, c: int) -> str:
        y, x = int((r + 0.5) * ch), int((c + 0.5) * cw)
        mean = rgb[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(axis=0)
        return min(_COLOURS, key=lambda name: float(((mean - np.array(_COLOURS[name])) ** 2).sum()))

    if any(colour(r, c) != name for (r, c), name in _FIXED.items()):
        return None
    bits = [colour(r, c) for r, c in _CODE_CELLS]
    if any(b not in ("black", "white") for b in bits):
        return None
    return sum((b == "white") << bit for bit, b in enumerate(bits))


def make_video(
    path: Path,
    *,
    frames: int,
    fps: float = 10.0,
    size: tuple[int, int] = (96, 64),
    pts_s: list[float] | None = None,
    codec: str = "libx264",
    gop: int | None = None,
    bframes: int = 0,
    start_s: float = 0.0,
    rotation_deg: int = 0,
    hflip: bool = False,
    container: str | None = None,
    audio: bool = False,
) -> list[float]:
    """Write a video of `frames` index frames; returns each frame's time from the first frame.
    `pts_s` gives variable frame times; `start_s` offsets every pts (the first frame is not at 0)."""
    width, height = size
    times = pts_s if pts_s is not None else [i / fps for i in range(frames)]
    tb = Fraction(1, 1000) if pts_s is not None or start_s else None
    with av.open(str(path), mode="w", format=container) as out:
        rate = Fraction(fps).limit_denominator(1000)
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {}
        if codec == "libx264":
            options = {"preset": "ultrafast" if not bframes else "veryfast", "bf": str(bframes), "g": str(gop or 250), "keyint_min": str(min(gop or 250, 25))}
            if bframes:
                options["b-pyramid"] = "normal"
        elif codec == "libx265":  # open GOPs (CRA keyframes whose leading B-frames refer back) by default
            options = {"preset": "ultrafast", "x265-params": f"keyint={gop or 250}:min-keyint={gop or 250}:scenecut=0:bframes={bframes}:open-gop=1:log-level=error"}
        else:
            if gop:
                stream.codec_context.gop_size = gop
            if bframes:
                stream.codec_context.max_b_frames = bframes
        stream.options = options
        if tb is not None:
            stream.time_base = tb
            stream.codec_context.time_base = tb  # keep every frame's own time (VFR), not the nominal rate
        if rotation_deg or hflip:
            stream.set_display_rotation(rotation_deg, hflip=hflip)
        astream = out.add_stream("aac", rate=8000) if audio else None
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(index_frame(i, width, height), format="rgb24").reformat(format="yuv420p")
            if tb is not None:
                frame.pts = int(round((t + start_s) * 1000))
                frame.time_base = tb
            else:
                frame.pts = i
                frame.time_base = Fraction(1) / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if astream is not None:
            samples = int(8000 * (times[-1] + 1 / fps))
            aframe = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype=np.float32), format="fltp", layout="mono")
            aframe.sample_rate = 8000
            aframe.pts = 0
            for packet in astream.encode(aframe):
                out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return times


def expected_frame(times: list[float], t: float) -> int:
    """SPEC's rule: the last frame whose time ≤ t."""
    best = 0
    for i, ft in enumerate(times):
        if ft <= t + 1e-9:
            best = i
    return best


def trim_edit_list(src: Path, dest: Path, end_s: float) -> None:
    """A copy of an MP4 whose single edit list entry ends at `end_s` (a lossless trim, as phones
    write): the samples after it stay in the file and in FFmpeg's index, flagged discard."""
    import struct

    data = bytearray(src.read_bytes())

    def find(path: list[str], start: int, end: int) -> tuple[int, int] | None:
        off = start
        while off < end:
            size, kind = struct.unpack(">I4s", data[off : off + 8])
            if kind.decode("latin1") == path[0]:
                if len(path) == 1:
                    return off, size
                found = find(path[1:], off + 8, off + size)
                if found:
                    return found
            off += size
        return None

    mvhd = find(["moov", "mvhd"], 0, len(data))
    elst = find(["moov", "trak", "edts", "elst"], 0, len(data))
    assert mvhd is not None and elst is not None, "the muxer wrote no edit list"
    version = data[mvhd[0] + 8]
    scale_at = mvhd[0] + (20 if version == 0 else 28)
    timescale = struct.unpack(">I", data[scale_at : scale_at + 4])[0]
    o = elst[0]
    assert data[o + 8] == 0 and struct.unpack(">I", data[o + 12 : o + 16])[0] == 1, "one version-0 entry expected"
    data[o + 16 : o + 20] = struct.pack(">I", int(end_s * timescale))
    dest.write_bytes(bytes(data))
