"""Pixel operations on decoded pictures (Pillow): orient, normalise the mode, resize, split, pad, encode.

Each works on an `Image` already in memory; none reads a file.
"""

from __future__ import annotations

import io

from PIL import Image

from ..models import Size

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112


def size_of(im: Image.Image) -> Size:
    return Size(im.width, im.height)


def orient(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    import numpy as np  # only 16-bit and float pictures need it: loaded on first use

    arr = np.asarray(im)
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if 0.0 <= lo and hi <= 1.0:
            lo, hi = 0.0, 1.0
        scaled = (np.nan_to_num(arr, nan=lo) - lo) / max(hi - lo, 1e-12) * 255.0
    else:
        arr = arr.astype(np.float64)
        hi = float(arr.max()) if arr.size else 1.0
        top = 65535.0 if hi <= 65535 else hi
        scaled = arr / top * 255.0
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def normalise_mode(im: Image.Image, fmt: str) -> tuple[Image.Image, bool]:
    """A mode `fmt` stores well: JPEG → L/RGB; PNG → 1/L/LA/RGB/RGBA/P. Returns (image, colour
    was converted), so a caller knows an embedded ICC profile no longer describes the pixels. A
    converted image carries no `icc_profile` in its info (Pillow's LAB → RGB leaves a freshly made
    sRGB profile there, stamped with the time it was made; a CMYK picture's copy keeps its CMYK one)."""
    out, converted = _normalise_mode(im, fmt)
    if converted:
        out.info.pop("icc_profile", None)
    return out, converted


def _normalise_mode(im: Image.Image, fmt: str) -> tuple[Image.Image, bool]:
    mode = im.mode
    if mode in ("F", "I") or mode.startswith("I;16"):
        return _to_8bit_gray(im), True
    if mode in ("CMYK", "LAB", "YCbCr", "HSV"):
        return im.convert("RGB"), True
    if mode in ("RGBa", "La"):
        return im.convert("RGBA" if mode == "RGBa" else "LA"), False
    if mode == "P":
        has_alpha = "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA"
        if fmt == "JPEG":
            return im.convert("RGB"), False
        return (im.convert("RGBA") if has_alpha else im), False
    if mode == "PA":
        return im.convert("RGBA"), False
    if fmt == "JPEG":
        if mode in ("RGBA", "LA"):
            base = Image.new("RGB", im.size, (255, 255, 255))
            base.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
            return base, False
        if mode == "1":
            return im.convert("L"), False
    return im, False


def to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """`im` (RGB or RGBA) converted from the colour space `icc` describes to sRGB, carrying no
    profile; None when the profile does not read or does not fit the pixels (the caller then keeps
    them as they are). Costs one colour transform over the pixels."""
    from PIL import ImageCms

    if im.mode not in ("RGB", "RGBA"):
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=im.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):  # a profile lcms cannot read or apply to these pixels
        return None
    if out is None:  # pragma: no cover - only with inPlace=True
        return None
    out.info.pop("icc_profile", None)
    return out


def resize(im: Image.Image, size: Size) -> Image.Image:
    if (im.width, im.height) == (size.width_px, size.height_px):
        return im
    if im.mode in ("1", "P"):
        im = im.convert("L" if im.mode == "1" else "RGBA")
    return im.resize((size.width_px, size.height_px), Image.Resampling.LANCZOS, reducing_gap=3.0)


def split(im: Image.Image, tiles: int) -> list[Image.Image]:
    """Cut along the long side into `tiles` nearly equal pieces."""
    if tiles <= 1:
        return [im]
    horizontal = im.width >= im.height
    long_px = im.width if horizontal else im.height
    step = -(-long_px // tiles)
    out = []
    for start in range(0, long_px, step):
        end = min(long_px, start + step)
        box = (start, 0, end, im.height) if horizontal else (0, start, im.width, end)
        out.append(im.crop(box))
    return out


def pad(im: Image.Image, size: Size) -> Image.Image:
    """Centre `im` on a canvas of `size`: white, or transparent when the picture has alpha."""
    if (im.width, im.height) == (size.width_px, size.height_px):
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    fill: int | tuple[int, ...]
    fill = {"1": 1, "L": 255, "LA": (255, 0), "RGB": (255, 255, 255), "RGBA": (255, 255, 255, 0)}.get(im.mode, 0)
    canvas = Image.new(im.mode, (size.width_px, size.height_px), fill)
    canvas.paste(im, ((size.width_px - im.width) // 2, (size.height_px - im.height) // 2))
    return canvas


def encode(im: Image.Image, fmt: str, *, quality: int = 90, icc: bytes | None = None, orientation: int = 1, optimize: bool = False) -> bytes:
    """One encode, embedding `icc` (and nothing from `im.info`) as the ICC profile. Costs a full
    pass over the pixels (JPEG ~0.1 s per 24 MP; PNG more)."""
    buf = io.BytesIO()
    # The profile is always passed, None included: Pillow's PNG writer would otherwise embed whatever
    # `im.info` still holds (a converted picture's old profile), and only what the caller says
    # describes these pixels may go out.
    kwargs: dict[str, object] = {"icc_profile": icc or None}
    if orientation != 1:
        exif = Image.Exif()
        exif[_ORIENTATION_TAG] = orientation
        kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        im.save(buf, "JPEG", quality=quality, optimize=optimize, **kwargs)
    elif fmt == "PNG":
        im.save(buf, "PNG", optimize=optimize, compress_level=9 if optimize else 6, **kwargs)
    else:  # pragma: no cover - plans only choose JPEG or PNG
        raise ValueError(f"cannot encode {fmt}")
    return buf.getvalue()
