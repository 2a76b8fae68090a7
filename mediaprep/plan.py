"""Report + policy → plan: the ordered fix steps for one image, each with its reason, and the size and
format they will produce. Pure: a plan can be read, tested and explained before a pixel is touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .check import output_format_for
from .models import Action, ImageInfo, Policy, Report, Size, Target
from .rules import Box


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagePlan:
    """`passthrough` sends the input's bytes unchanged; otherwise `steps` run in order."""

    passthrough: bool
    steps: tuple[Action, ...]
    output_size: Size  # of each picture sent (the first tile when split)
    output_format: str | None  # "JPEG" / "PNG"; None on passthrough
    tiles: int = 1
    decode_long_px: int | None = None  # ask the decoder for at least this long a side (reduced decode)
    scaled_size: Size | None = None  # after downscaling, before split and pad

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(s.op for s in self.steps)


def fit_box(size: Size, box: Box) -> Size:
    """The largest size of the same shape that fits `box` (never larger than `size`)."""
    scale = min(1.0, box.long_px / size.long_px, box.short_px / size.short_px)
    if scale >= 1.0:
        return size
    return Size(max(1, math.floor(size.width_px * scale)), max(1, math.floor(size.height_px * scale)))


def fit_long_side(size: Size, long_px: int) -> Size:
    return fit_box(size, Box(long_px=long_px, short_px=long_px))


def padded_size(size: Size, *, min_side_exclusive_px: int, max_ratio: float) -> Size:
    """Pad each side to more than the floor, then the short side until the ratio holds."""
    w = max(size.width_px, min_side_exclusive_px + 1)
    h = max(size.height_px, min_side_exclusive_px + 1)
    need_short = math.ceil(max(w, h) / max_ratio)
    if w >= h:
        h = max(h, need_short)
    else:
        w = max(w, need_short)
    return Size(w, h)


def split_count(size: Size, max_ratio: float) -> int:
    return max(1, math.ceil(size.long_px / (size.short_px * max_ratio)))


def plan_image(report: Report, target: Target, policy: Policy | None = None) -> ImagePlan:
    """The steps that make `report`'s image sendable to `target` under `policy`. Rejected reports
    get an empty plan (nothing is written for them)."""
    policy = policy or Policy()
    info = report.info
    if report.status == "rejected" or info is None:
        return ImagePlan(passthrough=False, steps=(), output_size=Size(0, 0), output_format=None)
    lim = target.limits
    codes = set(report.codes)
    steps: list[Action] = []
    size = info.size

    wants_change = bool(codes - {"image.orientation", "image.animated", "image.above_8k"})
    if "image.orientation" in codes and not policy.keep_orientation:
        wants_change = True
    if "image.animated" in codes and policy.animated == "first-frame":
        wants_change = True
    if "image.above_8k" in codes and policy.above_8k == "downscale":
        wants_change = True
    if policy.max_side_px is not None and size.long_px > policy.max_side_px:
        wants_change = True
    if not wants_change:
        return ImagePlan(
            passthrough=True,
            steps=(Action(op="passthrough", reason="no rule is broken: the bytes are sent unchanged"),),
            output_size=size,
            output_format=None,
        )

    fmt = output_format_for(info, target)
    if policy.output_format != "auto":
        fmt = policy.output_format.upper()
        if fmt == "JPEG" and info.has_alpha:
            fmt = "PNG"  # JPEG has no alpha: flattening would lose what the picture shows

    # 1. decode (reduced when the header declares more than the guard allows)
    decode_long: int | None = None
    if "image.too_many_pixels" in codes:
        target_size = fit_box(size, lim.image_box_8k)
        budget_scale = math.sqrt(lim.max_decode_pixels / size.pixels)
        decode_long = min(target_size.long_px, math.floor(size.long_px * budget_scale))
        how = "JPEG draft mode" if info.reduced_decode == "jpeg-draft" else "HEIF tile by tile"
        steps.append(
            Action(
                op="decode-reduced",
                reason=f"{size.pixels} pixels is over the {lim.max_decode_pixels}-pixel guard; decoded reduced ({how})",
                params={"min_long_px": decode_long},
            )
        )
    if info.frames > 1:
        why = (
            f"animated, {info.frames} frames: the first frame is sent"
            if info.animated
            else f"{info.frames} pictures in the file ({info.format}): the first (primary) one is sent"
        )
        steps.append(Action(op="first-frame", reason=why))
    if info.orientation != 1 and not policy.keep_orientation:
        steps.append(
            Action(
                op="orient",
                reason=f"orientation {info.orientation} ({info.orientation_source}) baked into the pixels; the tag is dropped",
                params={"orientation": info.orientation},
            )
        )
    if "image.format_unsupported" in codes:
        what = f"{'TIFF' if info.format == 'BIGTIFF' else info.format} with {info.encoding_issue}" if info.encoding_issue else info.format
        steps.append(Action(op="convert", reason=f"{what} is not accepted; converted to {fmt} ({_why_format(info, fmt)})", params={"to": fmt}))
    elif "image.format_above_4k" in codes:
        steps.append(Action(op="convert", reason=f"{info.format} is not accepted above 4K ({size}); converted to {fmt}", params={"to": fmt}))

    # 2. geometry
    new = size
    if "image.above_8k" in codes and policy.above_8k == "downscale":
        new = fit_box(new, lim.image_box_8k)
        steps.append(Action(op="downscale", reason=f"{size} is above the recommended 8K box {lim.image_box_8k}; downscaled to {new}", params={"width_px": new.width_px, "height_px": new.height_px}))
    elif "image.too_many_pixels" in codes and decode_long is not None and decode_long < new.long_px:
        new = fit_long_side(new, decode_long)
        steps.append(Action(op="downscale", reason=f"decoded reduced under the pixel guard to {new}", params={"width_px": new.width_px, "height_px": new.height_px}))
    if policy.max_side_px is not None and new.long_px > policy.max_side_px:
        smaller = fit_long_side(new, policy.max_side_px)
        steps.append(Action(op="downscale", reason=f"--max-side {policy.max_side_px}: {new} → {smaller}", params={"width_px": smaller.width_px, "height_px": smaller.height_px}))
        new = smaller

    scaled = new
    tiles = 1
    ratio_bad = new.long_px / max(1, new.short_px) > lim.image_max_aspect_ratio
    if ratio_bad and policy.aspect_ratio == "split":
        tiles = split_count(new, lim.image_max_aspect_ratio)
        tile_long = math.ceil(new.long_px / tiles)
        tile = Size(tile_long, new.height_px) if new.width_px >= new.height_px else Size(new.width_px, tile_long)
        steps.append(Action(op="split", reason=f"aspect ratio {new.long_px / new.short_px:.1f}:1 is over {lim.image_max_aspect_ratio:g}:1; split into {tiles} tiles of {tile}", params={"tiles": tiles}))
        new = tile
    small = new.short_px <= lim.image_min_side_exclusive_px
    ratio_bad = new.long_px / max(1, new.short_px) > lim.image_max_aspect_ratio
    if small or ratio_bad:
        padded = padded_size(new, min_side_exclusive_px=lim.image_min_side_exclusive_px, max_ratio=lim.image_max_aspect_ratio)
        why = []
        if small:
            why.append(f"a side of {new.short_px} px is not more than {lim.image_min_side_exclusive_px} px")
        if ratio_bad:
            why.append(f"aspect ratio {new.long_px / new.short_px:.1f}:1 is over {lim.image_max_aspect_ratio:g}:1")
        steps.append(Action(op="pad", reason=f"{' and '.join(why)}; padded {new} → {padded}, centred", params={"width_px": padded.width_px, "height_px": padded.height_px}))
        new = padded

    # 3. encode (compress-to-cap happens while encoding, when the bytes say so)
    steps.append(Action(op="encode", reason=f"written as {fmt}" + (f" quality {policy.jpeg_quality}" if fmt == "JPEG" else ""), params={"format": fmt}))
    return ImagePlan(
        passthrough=False,
        steps=tuple(steps),
        output_size=new,
        output_format=fmt,
        tiles=tiles,
        decode_long_px=decode_long if decode_long is not None else (scaled.long_px if scaled != size else None),
        scaled_size=scaled,
    )


def _why_format(info: ImageInfo, fmt: str) -> str:
    if fmt == "PNG":
        if info.has_alpha:
            return "it has transparency"
        if info.mode in ("P", "PA", "1"):
            return "palette or 1-bit graphics"
        return "lossless graphics"
    return "a photo"
