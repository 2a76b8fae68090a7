"""Deterministic test media, made with Pillow / pillow-heif / numpy. Each maker names what it exercises."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112


def photo(width: int, height: int, *, seed: int = 0, noise: float = 12.0) -> Image.Image:
    """Photo-like RGB: smooth gradients, a few edges, and noise (so JPEG sizes are realistic)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / max(width, 1) * 6.28 + seed)
    g = 128 + 100 * np.cos(y / max(height, 1) * 6.28)
    b = 128 + 60 * np.sin((x + y) / max(width + height, 1) * 12.0)
    arr = np.stack([r, g, b], axis=-1)
    arr[(x // max(1, width // 7) + y // max(1, height // 5)) % 2 == 0] *= 0.7
    if noise:
        arr += rng.normal(0, noise, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def marker(width: int, height: int) -> Image.Image:
    """A picture whose orientation can be read back: red top-left quadrant, blue top-right,
    green bottom-left, white bottom-right."""
    im = Image.new("RGB", (width, height), (255, 255, 255))
    w2, h2 = width // 2, height // 2
    im.paste((255, 0, 0), (0, 0, w2, h2))
    im.paste((0, 0, 255), (w2, 0, width, h2))
    im.paste((0, 255, 0), (0, h2, w2, height))
    return im


def quadrant_colours(im: Image.Image) -> tuple[str, str, str, str]:
    """Names of the dominant colour near the centre of each quadrant (TL, TR, BL, BR)."""
    rgb = im.convert("RGB")
    w, h = rgb.size
    out = []
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        r, g, b = rgb.getpixel((int(w * fx), int(h * fy)))[:3]
        if r > 200 and g > 200 and b > 200:
            out.append("white")
        elif r > 150 and g < 100 and b < 100:
            out.append("red")
        elif b > 150 and r < 100 and g < 100:
            out.append("blue")
        elif g > 150 and r < 100 and b < 100:
            out.append("green")
        else:
            out.append(f"?{r},{g},{b}")
    return tuple(out)  # type: ignore[return-value]


def save(im: Image.Image, path: Path, fmt: str, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "HEIC":
        import pillow_heif

        pillow_heif.from_pillow(im).save(path, quality=80, **kwargs)
        return path
    im.save(path, fmt, **kwargs)
    return path


def with_orientation(im: Image.Image, path: Path, orientation: int, fmt: str = "JPEG") -> Path:
    """Store `im` as is, with an EXIF orientation tag (the viewer would transform it)."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return save(im, path, fmt, exif=exif.tobytes())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb_header(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR declaring width×height, with one tiny IDAT: a bomb header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def encoded(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def animated_gif(path: Path, frames: int = 3, size: tuple[int, int] = (32, 32)) -> Path:
    images = [Image.new("RGB", size, ((i * 60) % 256, 255 - (i * 60) % 256, 0)) for i in range(frames)]
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def animated_png(path: Path, frames: int = 3, size: tuple[int, int] = (32, 32)) -> Path:
    images = [Image.new("RGBA", size, (i * 60, 0, 0, 255)) for i in range(frames)]
    images[0].save(path, "PNG", save_all=True, append_images=images[1:], duration=100)
    return path
