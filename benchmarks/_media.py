"""Shared helpers for the benchmark scripts: deterministic, photo-like media and small timing tools.

Everything is generated from a numpy RNG with a fixed seed into a folder the caller owns (usually a
`tempfile.TemporaryDirectory`); nothing is downloaded. The pictures are built to give realistic JPEG
sizes: smooth gradients (sky, walls), textures at several scales (foliage, fabric), hard-edged shapes
(objects, horizons) and per-pixel sensor noise.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# The raw JPEG bytes whose base64 data URL fits the 10 MiB cap (SPEC §1): the whole URL counts.
DATA_URL_CAP_BYTES = 10 * 1024 * 1024
JPEG_PREFIX = "data:image/jpeg;base64,"
RAW_JPEG_CAP_BYTES = (DATA_URL_CAP_BYTES - len(JPEG_PREFIX)) // 4 * 3

ORIENTATION_TAG = 0x0112


# --------------------------------------------------------------------------------------------------
# pictures


def _smooth_field(rng: np.random.Generator, width: int, height: int, cell_px: float, mode: str = "L") -> Image.Image:
    """Random 8-bit values on a coarse grid (one per `cell_px`), upscaled smoothly (bicubic) to
    width×height. `mode` "L" gives one channel, "RGB" three. Costs one 8-bit resize."""
    gw = max(2, round(width / cell_px) + 3)
    gh = max(2, round(height / cell_px) + 3)
    shape = (gh, gw) if mode == "L" else (gh, gw, 3)
    small = Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode)
    # crop a little inside the grid so the borders are not special
    return small.resize((width, height), Image.Resampling.BICUBIC, box=(1.0, 1.0, gw - 2.0, gh - 2.0))


def _centred(field: Image.Image) -> np.ndarray:
    """An 8-bit field as float32 in about [-1, 1]."""
    return (np.asarray(field, dtype=np.float32) - np.float32(127.5)) * np.float32(1 / 127.5)


def photo_like(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    detail: float = 1.0,
    noise: float = 4.0,
    shapes: int = 24,
) -> Image.Image:
    """An RGB picture whose JPEG size behaves like a photo's.

    `detail` scales the mid/fine texture (0 = smooth, 1 = ordinary, 2+ = foliage everywhere);
    `noise` is the per-pixel sensor noise (standard deviation, in 8-bit levels). Deterministic for a
    given RNG state. Cost: about 1 s per 24 MP."""
    w, h = int(width), int(height)
    long_px = max(w, h)
    # 1. smooth colour gradients (a few cells across the picture), contrast reduced around mid-grey
    img = _smooth_field(rng, w, h, long_px / 3.0, "RGB")
    img = Image.eval(img, lambda v: 64 + v // 2)
    # 2. hard edges: objects, horizons, window frames
    draw = ImageDraw.Draw(img)
    for _ in range(shapes):
        colour = tuple(int(c) for c in rng.integers(30, 226, size=3))
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        sw, sh = int(rng.integers(max(2, w // 40), max(3, w // 3))), int(rng.integers(max(2, h // 40), max(3, h // 3)))
        kind = rng.integers(0, 4)
        if kind == 0:
            draw.rectangle((x0, y0, x0 + sw, y0 + sh), fill=colour)
        elif kind == 1:
            draw.ellipse((x0, y0, x0 + sw, y0 + sh), fill=colour)
        elif kind == 2:
            pts = [(int(x0 + rng.integers(0, sw)), int(y0 + rng.integers(0, sh))) for _ in range(5)]
            draw.polygon(pts, fill=colour)
        else:
            draw.line((x0, y0, x0 + sw, y0 + sh), fill=colour, width=max(1, long_px // 400))
    arr = np.asarray(img, dtype=np.float32)
    # 3. luminance texture at a few scales, its amount varying across the picture (calm sky, busy grass)
    lum = np.zeros((h, w), dtype=np.float32)
    if detail > 0:
        amount = np.clip(_centred(_smooth_field(rng, w, h, long_px / 4.0)) * np.float32(0.9) + np.float32(0.55), 0.0, 1.0)
        tex = _centred(_smooth_field(rng, w, h, 24.0)) * np.float32(16.0)
        tex += _centred(_smooth_field(rng, w, h, 6.0)) * np.float32(12.0)
        tex += _centred(_smooth_field(rng, w, h, 2.5)) * np.float32(8.0)
        lum += tex * amount * np.float32(detail)
        del tex, amount
    # 4. sensor noise: triangular (sum of two uniforms), luminance plus weaker colour noise
    if noise > 0:
        scale = np.float32(noise / 52.0)  # the sum of two uniforms on 0..255 has sd 104; /2 → 52
        tri = rng.integers(0, 128, size=(h, w), dtype=np.uint8) + rng.integers(0, 128, size=(h, w), dtype=np.uint8)
        lum += (tri.astype(np.float32) - np.float32(127.0)) * scale * np.float32(2.0)
        del tri
        chroma = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        arr += (chroma.astype(np.float32) - np.float32(127.5)) * (scale * np.float32(0.35 * 52 / 74))
        del chroma
    arr += lum[..., None]
    np.clip(arr, 0, 255, out=arr)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def jpeg_bytes(im: Image.Image, quality: int) -> bytes:
    """Encode exactly as mediaprep does for compress-to-cap: baseline, default subsampling, no optimize."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


# --------------------------------------------------------------------------------------------------
# a mixed folder of images


@dataclass(frozen=True, slots=True)
class MediaFile:
    path: Path
    format: str  # JPEG, PNG, WEBP, BMP, TIFF, GIF, HEIC
    width_px: int
    height_px: int
    orientation: int = 1
    animated: bool = False


ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16, 1.0, 4 / 3, 3.0)
# share of each format in a mixed folder (HEIC is added on top, a fixed handful)
FORMAT_WEIGHTS = {"JPEG": 0.44, "PNG": 0.20, "WEBP": 0.12, "TIFF": 0.08, "BMP": 0.08, "GIF": 0.08}
_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif", "HEIC": ".heic"}


def heic_encoder_works() -> bool:
    """True when pillow_heif can write HEIC here (it needs an x265 encoder)."""
    try:
        import pillow_heif

        buf = io.BytesIO()
        pillow_heif.from_pillow(Image.new("RGB", (64, 64), (10, 120, 200))).save(buf, quality=50)
        return len(buf.getvalue()) > 0
    except Exception:
        return False


def _masters(rng: np.random.Generator, count: int, long_px: int) -> list[Image.Image]:
    """A few big photo-like pictures that the mixed folder crops from (cheaper than one each)."""
    out = []
    for k in range(count):
        out.append(photo_like(rng, long_px, long_px, detail=0.6 + 0.4 * k, noise=2.0 + 1.5 * k, shapes=40))
    return out


def _save(im: Image.Image, path: Path, fmt: str, rng: np.random.Generator, orientation: int) -> bool:
    """Write `im` as `fmt`; returns True when the file is animated."""
    exif = exif_with_orientation(orientation) if orientation != 1 else None
    extra = {"exif": exif} if exif else {}
    if fmt == "JPEG":
        im.save(path, "JPEG", quality=int(rng.integers(70, 96)), **extra)
    elif fmt == "PNG":
        kind = rng.random()
        if kind < 0.15:
            im = im.convert("RGBA")
            a = np.asarray(im).copy()
            a[..., 3] = np.linspace(255, 40, a.shape[1], dtype=np.uint8)[None, :]
            im = Image.fromarray(a, "RGBA")
        elif kind < 0.25:
            im = im.convert("L")
        im.save(path, "PNG", compress_level=1, **extra)
    elif fmt == "WEBP":
        im.save(path, "WEBP", quality=int(rng.integers(70, 91)), method=0, **extra)
    elif fmt == "TIFF":
        compression = "tiff_adobe_deflate" if rng.random() < 0.3 else None
        im.save(path, "TIFF", compression=compression, **extra)
    elif fmt == "BMP":
        im.save(path, "BMP")
    elif fmt == "GIF":
        if rng.random() < 0.3:  # a short animation
            frames = [im.convert("P", palette=Image.Palette.WEB)]
            for k in range(1, 4):
                frames.append(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT if k % 2 else Image.Transpose.FLIP_TOP_BOTTOM).convert("P", palette=Image.Palette.WEB))
            frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
            return True
        im.convert("P", palette=Image.Palette.WEB).save(path, "GIF")
    elif fmt == "HEIC":
        import pillow_heif

        pillow_heif.from_pillow(im).save(path, quality=int(rng.integers(50, 80)))
    else:  # pragma: no cover
        raise ValueError(fmt)
    return False


def make_mixed_folder(
    folder: Path,
    count: int,
    *,
    seed: int = 1234,
    min_long_px: int = 64,
    max_long_px: int = 3000,
    heic: int = 12,
    progress: bool = True,
) -> list[MediaFile]:
    """`count` images of mixed formats and sizes (long side log-uniform in [min, max]), some with an
    EXIF orientation tag, a few animated GIFs, and `heic` HEIC files when the encoder works. Each is
    a crop of one of a few photo-like masters, so the bytes look like photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    masters = _masters(rng, 3, max_long_px)
    heic_ok = heic > 0 and heic_encoder_works()
    n_heic = min(heic, count // 10) if heic_ok else 0
    names = list(FORMAT_WEIGHTS)
    weights = np.array([FORMAT_WEIGHTS[n] for n in names])
    formats = list(rng.choice(names, size=count - n_heic, p=weights / weights.sum())) + ["HEIC"] * n_heic
    rng.shuffle(formats)
    files: list[MediaFile] = []
    started = time.perf_counter()
    for i, fmt in enumerate(formats):
        fmt = str(fmt)
        long_px = int(round(np.exp(rng.uniform(np.log(min_long_px), np.log(max_long_px)))))
        if fmt == "GIF":
            long_px = min(long_px, 1200)  # GIFs are small in practice (and quantising is slow)
        elif fmt == "HEIC":
            long_px = min(long_px, 1024)  # x265 is slow; keep the handful cheap
        aspect = float(rng.choice(ASPECTS))
        w, h = (long_px, max(16, round(long_px / aspect))) if aspect >= 1 else (max(16, round(long_px * aspect)), long_px)
        master = masters[int(rng.integers(0, len(masters)))]
        x0, y0 = int(rng.integers(0, master.width - w + 1)), int(rng.integers(0, master.height - h + 1))
        im = master.crop((x0, y0, x0 + w, y0 + h))
        orientation = 1
        if fmt in ("JPEG", "WEBP", "PNG", "TIFF") and rng.random() < 0.15:
            orientation = int(rng.choice([3, 6, 8, 2]))
        path = folder / f"img{i:04d}{_EXT[fmt]}"
        animated = _save(im, path, fmt, rng, orientation)
        files.append(MediaFile(path, fmt, w, h, orientation, animated))
        if progress and (i + 1) % 100 == 0:
            log(f"  generated {i + 1}/{count} images ({time.perf_counter() - started:.0f} s)")
    return files


# --------------------------------------------------------------------------------------------------
# timing and printing


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best wall time of `repeat` runs of `fn` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def warm(paths: Sequence[Path]) -> None:
    """Read every file once so the timed passes measure the library, not the disk."""
    for p in paths:
        with open(p, "rb") as fp:
            while fp.read(1 << 20):
                pass


def log(text: str) -> None:
    """Progress goes to stderr; the results table goes to stdout."""
    print(text, file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def machine_line() -> str:
    import PIL

    try:
        import pillow_heif

        heif = pillow_heif.__version__
    except Exception:  # pragma: no cover
        heif = "absent"
    return f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}, pillow-heif {heif}, numpy {np.__version__}, {os.cpu_count()} CPUs"
