"""Run an image plan: decode once (reduced where possible), fix, encode, and fit the byte cap.

Costs one decode of the first picture and, for each output, one encode plus at most
`Policy.max_encodes - 1` more when the bytes must be squeezed under the transport's cap.
"""

from __future__ import annotations

import math

from ..backends import pillow_backend, pillow_ops
from ..caps import image_raw_cap
from ..compress import next_quality
from ..media import Media
from ..models import Action, EncodedPicture, ImageInfo, Policy, Size, Target
from ..plan import ImagePlan, padded_size
from ..rules import IMAGE_MIME, TUNING



def read_all(media: Media) -> bytes:
    """Every byte of the input. Costs one read of the whole file."""
    with media.open() as fp:
        return fp.read()


def apply_image(media: Media, info: ImageInfo, plan: ImagePlan, target: Target, policy: Policy) -> tuple[list[EncodedPicture], list[Action]]:
    """Outputs (one per tile) and the actions taken beyond the plan's (compression, fallbacks).
    Raises `UnreadableImage` when the pixels do not decode."""
    if plan.passthrough:
        return [EncodedPicture(data=read_all(media), format=info.format, mime=info.mime, size=info.size)], []
    assert plan.output_format is not None
    extra: list[Action] = []
    im = pillow_backend.load_first_frame(media, info, target.limits, want_long_px=plan.decode_long_px)
    icc = im.info.get("icc_profile")
    if "orient" in plan.ops:
        # a reduced decode shrinks the stored picture; orientation applies the same way
        im = pillow_ops.orient(im, info.orientation)
    keep_tag = info.orientation if policy.keep_orientation else 1
    fmt = plan.output_format
    im, colour_converted = pillow_ops.normalise_mode(im, fmt)
    if colour_converted:
        icc = None
    scaled = plan.scaled_size or info.size
    if (im.width, im.height) != (scaled.width_px, scaled.height_px):
        if keep_tag in (5, 6, 7, 8):  # pixels still stored sideways: the displayed size is swapped
            scaled = Size(scaled.height_px, scaled.width_px)
        im = pillow_ops.resize(im, scaled)
    outputs: list[EncodedPicture] = []
    lim = target.limits
    for tile in pillow_ops.split(im, plan.tiles):
        tile_size = pillow_ops.size_of(tile)
        want = padded_size(tile_size, min_side_exclusive_px=lim.image_min_side_exclusive_px, max_ratio=lim.image_max_aspect_ratio)
        tile = pillow_ops.pad(tile, want)
        encoded, actions = _encode_to_cap(tile, fmt, target, policy, icc=icc, orientation=keep_tag)
        outputs.append(encoded)
        extra.extend(actions)
    return outputs, extra


def _encode_to_cap(im, fmt: str, target: Target, policy: Policy, *, icc: bytes | None, orientation: int) -> tuple[EncodedPicture, list[Action]]:  # type: ignore[no-untyped-def]
    """Encode once; when over the cap, search JPEG quality (bounded), then downscale; PNG first tries
    harder compression, then JPEG when it has no alpha, then downscales."""
    actions: list[Action] = []
    encodes = 0
    while True:
        mime = IMAGE_MIME[fmt]
        cap = image_raw_cap(mime, target)
        if fmt == "PNG":
            data = pillow_ops.encode(im, "PNG", icc=icc, orientation=orientation)
            encodes += 1
            if len(data) <= cap:
                return EncodedPicture(data=data, format="PNG", mime=mime, size=pillow_ops.size_of(im), encodes=encodes), actions
            data = pillow_ops.encode(im, "PNG", icc=icc, orientation=orientation, optimize=True)
            encodes += 1
            if len(data) <= cap:
                actions.append(Action(op="compress", reason=f"PNG over the {cap}-byte cap; re-encoded with maximum compression ({len(data)} bytes)"))
                return EncodedPicture(data=data, format="PNG", mime=mime, size=pillow_ops.size_of(im), encodes=encodes), actions
            if im.mode not in ("RGBA", "LA", "P", "1"):
                actions.append(Action(op="compress", reason=f"PNG is {len(data)} bytes, over the {cap}-byte cap; written as JPEG instead"))
                fmt = "JPEG"
                im, _ = pillow_ops.normalise_mode(im, fmt)
                continue
            im = _shrink(im, len(data), cap, actions, target)
            continue
        # JPEG: a bounded quality search
        samples: list[tuple[int, int]] = []
        best: tuple[int, bytes] | None = None
        quality: int | None = policy.jpeg_quality
        while quality is not None and len(samples) < policy.max_encodes:
            data = pillow_ops.encode(im, "JPEG", quality=quality, icc=icc, orientation=orientation)
            encodes += 1
            samples.append((quality, len(data)))
            if len(data) <= cap and (best is None or quality > best[0]):
                best = (quality, data)
            if len(samples) == 1 and len(data) <= cap:
                break
            quality = next_quality(samples, cap, floor=policy.jpeg_quality_floor, ceiling=policy.jpeg_quality)
        if best is not None:
            if len(samples) > 1:
                actions.append(
                    Action(
                        op="compress",
                        reason=f"JPEG quality {policy.jpeg_quality} gave {samples[0][1]} bytes, over the {cap}-byte cap for {target.transport}; quality {best[0]} gives {len(best[1])} bytes ({len(samples)} encodes)",
                        params={"quality": best[0], "encodes": len(samples)},
                    )
                )
            return EncodedPicture(data=best[1], format="JPEG", mime=mime, size=pillow_ops.size_of(im), quality=best[0], encodes=encodes), actions
        smallest = min(n for _, n in samples)
        im = _shrink(im, smallest, cap, actions, target)


def _shrink(im, size_bytes: int, cap: int, actions: list[Action], target: Target):  # type: ignore[no-untyped-def]
    scale = min(TUNING.shrink_step_max, math.sqrt(cap / size_bytes) * TUNING.shrink_margin)
    floor = target.limits.image_min_side_exclusive_px + 1  # never below the smallest side the service takes
    new = Size(max(floor, math.floor(im.width * scale)), max(floor, math.floor(im.height * scale)))
    actions.append(
        Action(
            op="compress",
            reason=f"{size_bytes} bytes is over the {cap}-byte cap even at the quality floor; downscaled {im.width}×{im.height} → {new}",
            params={"width_px": new.width_px, "height_px": new.height_px},
        )
    )
    return pillow_ops.resize(im, new)
