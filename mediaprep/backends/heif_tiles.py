"""Reduced decode of a gridded HEIC (e.g. a 200 MP phone photo) one tile at a time.

libheif (through pillow-heif) can only materialise the whole picture. FFmpeg's HEIF demuxer exposes
each grid tile as its own HEVC stream, so decoding tile by tile and shrinking each tile before it is
pasted keeps memory at the size of the output, whatever the size of the picture. The grid layout
comes from the file's own boxes (the primary item's stored size and its irot/imir transforms);
the tiles are the first `rows × columns` video streams, in row-major order of the stored grid.
Costs one full HEVC decode; memory stays at one tile plus the output.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO

import av
from PIL import Image

from ..errors import UnreadableImage, UnreadableVideo
from ..media import Media
from .translate import image_errors, video_errors


def _boxes(buf: bytes, off: int, end: int) -> Iterator[tuple[str, int, int]]:
    while off + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[off : off + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", buf[off + 8 : off + 16])[0], 16
        elif size == 0:
            size = end - off
        if size < header:
            return
        yield kind.decode("latin-1"), off + header, off + size
        off += size


def _read_meta(fp: IO[bytes]) -> bytes:
    """The top-level `meta` box, found by seeking over the others (it may follow a large mdat)."""
    off = 0
    while True:
        fp.seek(off)
        head = fp.read(16)
        if len(head) < 8:
            raise ValueError("no meta box")
        size, kind = struct.unpack(">I4s", head[:8])
        if size == 1:
            size = struct.unpack(">Q", head[8:16])[0]
        if kind == b"meta":
            fp.seek(off)
            return fp.read(min(size, 64 << 20))
        if size < 8:
            raise ValueError("no meta box")
        off += size


def primary_transforms(fp: IO[bytes]) -> tuple[tuple[int, int], list[tuple[str, int]]]:
    """Header only: the primary item's stored size (ispe) and its irot/imir transforms, in order."""
    meta = _read_meta(fp)
    children = {kind: (start, end) for kind, start, end in _boxes(meta, 12, len(meta))}
    pitm_start, _ = children["pitm"]
    primary = struct.unpack(">H", meta[pitm_start + 4 : pitm_start + 6])[0] if meta[pitm_start] == 0 else struct.unpack(">I", meta[pitm_start + 4 : pitm_start + 8])[0]
    iprp_start, iprp_end = children["iprp"]
    props: list[tuple[str, bytes]] = []
    ipma: tuple[int, int] | None = None
    for kind, start, end in _boxes(meta, iprp_start, iprp_end):
        if kind == "ipco":
            props = [(k, meta[s:e]) for k, s, e in _boxes(meta, start, end)]
        elif kind == "ipma":
            ipma = (start, end)
    if ipma is None:
        raise ValueError("no ipma box")
    start, _ = ipma
    version, flags = meta[start], int.from_bytes(meta[start + 1 : start + 4], "big")
    pos = start + 4
    count = struct.unpack(">I", meta[pos : pos + 4])[0]
    pos += 4
    stored: tuple[int, int] | None = None
    transforms: list[tuple[str, int]] = []
    for _ in range(count):
        if version < 1:
            item = struct.unpack(">H", meta[pos : pos + 2])[0]
            pos += 2
        else:
            item = struct.unpack(">I", meta[pos : pos + 4])[0]
            pos += 4
        n = meta[pos]
        pos += 1
        for _ in range(n):
            if flags & 1:
                index = struct.unpack(">H", meta[pos : pos + 2])[0] & 0x7FFF
                pos += 2
            else:
                index = meta[pos] & 0x7F
                pos += 1
            if item != primary or not 0 < index <= len(props):
                continue
            kind, body = props[index - 1]
            if kind == "ispe":
                stored = struct.unpack(">II", body[4:12])
            elif kind == "irot":
                transforms.append(("irot", body[0] & 3))
            elif kind == "imir":
                transforms.append(("imir", body[0] & 1))
    if stored is None:
        raise ValueError("the primary item has no ispe")
    return stored, transforms


_ROTATE_CCW = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
_MIRROR = {0: Image.Transpose.FLIP_LEFT_RIGHT, 1: Image.Transpose.FLIP_TOP_BOTTOM}


def grid_layout(media: Media) -> dict[str, int]:
    """Header only: pillow-heif's `tiling` info (columns, rows, tile and image size)."""
    from pillow_heif import HeifImageFile

    with media.open() as fp, image_errors():
        tiling = HeifImageFile(fp).info.get("tiling")
    if not tiling:
        raise UnreadableImage("not a gridded HEIF picture")
    return dict(tiling)


def decode_reduced(media: Media, *, max_long_px: int) -> Image.Image:
    """Decode the primary picture shrunk so its long side is at most `max_long_px` (never enlarged).
    Raises `UnreadableImage` when the boxes or the tiles do not read."""
    grid = grid_layout(media)
    tile_w, tile_h = grid["tile_width"], grid["tile_height"]
    with media.open() as fp, image_errors("HEIF boxes: "):
        (width, height), transforms = primary_transforms(fp)
    cols, rows = -(-width // tile_w), -(-height // tile_h)  # the stored grid, before irot/imir
    scale = min(1.0, max_long_px / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = Image.new("RGB", (out_w, out_h))
    try:
        with video_errors("HEIF tiles: "):
            with media.open() as fp, av.open(fp) as container:
                streams = [s for s in container.streams if s.type == "video"][: cols * rows]
                if len(streams) < cols * rows:
                    raise UnreadableImage(f"the grid names {cols * rows} tiles but the file holds {len(streams)}")
                index = {s.index: n for n, s in enumerate(streams)}
                for packet in container.demux(streams):
                    n = index.get(packet.stream.index)
                    if n is None:
                        continue
                    for frame in packet.decode():
                        row, col = divmod(n, cols)
                        x0, y0 = col * tile_w, row * tile_h
                        x1, y1 = min(x0 + tile_w, width), min(y0 + tile_h, height)
                        dx0, dy0 = round(x0 * scale), round(y0 * scale)
                        dx1, dy1 = round(x1 * scale), round(y1 * scale)
                        if dx1 <= dx0 or dy1 <= dy0:
                            continue
                        tile = frame.to_image().crop((0, 0, x1 - x0, y1 - y0))
                        canvas.paste(tile.resize((dx1 - dx0, dy1 - dy0), Image.Resampling.BOX), (dx0, dy0))
    except UnreadableVideo as exc:  # the tiles are HEVC streams, but the verdict is on an image
        raise UnreadableImage(str(exc)) from exc
    for kind, value in transforms:
        if kind == "imir":
            canvas = canvas.transpose(_MIRROR[value])
        elif value:
            canvas = canvas.transpose(_ROTATE_CCW[value])
    return canvas
