"""Run an image plan: decode once (reduced where possible), fix, encode, and fit the byte cap.

Costs one decode of the first picture and, for each output, one encode plus at most
`Policy.max_encodes - 1` more when the bytes must be squeezed under the transport's cap.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..backends import pillow_backend, pillow_ops
from ..caps import image_byte_check, image_raw_cap
from ..compress import next_quality
from ..media import Media
from ..models import Action, EncodedPicture, ImageInfo, Policy, Size, Target
from ..plan import ImagePlan, padded_size
from ..rules import IMAGE_MIME, TUNING


def read_all(media: Media) -> bytes:
    """Every byte of the input. Costs one read of the whole file."""
    with media.open() as fp:
        return fp.read()


@dataclass(frozen=True, slots=True, kw_only=True)
class CapUnreachable:
    """The byte cap cannot be met: even the smallest picture prepare may make (each side just over
    the service's minimum, JPEG at the quality floor or PNG at maximum compression, no ICC profile or
    EXIF) is over it. `field`, `observed` and `limit` are in the cap's own measure (the data URL's
    length for base64), as `image.too_large` reports them."""

    field: str
    observed: int
    limit: int
    reason: str
    actions: tuple[Action, ...] = ()


def apply_image(media: Media, info: ImageInfo, plan: ImagePlan, target: Target, policy: Policy) -> tuple[list[EncodedPicture], list[Action]] | CapUnreachable:
    """Outputs (one per tile) and the actions taken beyond the plan's (compression, fallbacks), or
    `CapUnreachable` when a tile cannot be brought under the byte cap at all.
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
        icc = None  # the profile described the old colour space, not these pixels
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
        encoded = _encode_to_cap(tile, fmt, target, policy, icc=icc, orientation=keep_tag)
        if isinstance(encoded, CapUnreachable):
            return dataclasses.replace(encoded, actions=tuple(extra) + encoded.actions)
        outputs.append(encoded[0])
        extra.extend(encoded[1])
    return outputs, extra


def _encode_to_cap(im, fmt: str, target: Target, policy: Policy, *, icc: bytes | None, orientation: int) -> tuple[EncodedPicture, list[Action]] | CapUnreachable:  # type: ignore[no-untyped-def]
    """Encode once; when over the cap, search JPEG quality (bounded), then downscale; PNG first tries
    harder compression, then JPEG when it has no alpha, then downscales. The ICC profile goes (the
    pixels converted to sRGB through it) when it alone fills the cap, when dropping it alone could
    meet the cap, or once the picture is as small as it may be (an EXIF orientation is then baked
    into the pixels); past that the cap cannot be met (`CapUnreachable`). Always ends: every round
    returns, shrinks the picture, or spends one of the one-off steps (PNG → JPEG, dropping the
    profile, baking the orientation), and the smallest size is reached after at most
    log(side) / log(1 / shrink_step_max) shrinks."""
    actions: list[Action] = []
    encodes = 0
    mime = IMAGE_MIME[fmt]
    cap = image_raw_cap(mime, target)
    if icc and len(icc) >= cap:
        im, icc = _drop_icc(im, icc, cap, actions, why=f"the {len(icc)}-byte ICC profile alone is over the {cap}-byte cap")
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
                im, converted = pillow_ops.normalise_mode(im, fmt)
                if converted:
                    icc = None
                continue
            smallest = len(data)
        else:
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
            floor_q = min(policy.jpeg_quality_floor, policy.jpeg_quality)
            if best is None and _smallest_size(im, target) and all(q != floor_q for q, _ in samples):
                # the last size there is: the quality floor is tried before anything else goes
                data = pillow_ops.encode(im, "JPEG", quality=floor_q, icc=icc, orientation=orientation)
                encodes += 1
                samples.append((floor_q, len(data)))
                if len(data) <= cap:
                    best = (floor_q, data)
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
        if icc and len(icc) >= smallest - cap:
            # dropping the profile alone may meet the cap: cheaper than pixels
            im, icc = _drop_icc(im, icc, cap, actions, why=f"{smallest} bytes is over the {cap}-byte cap by no more than the {len(icc)}-byte ICC profile")
            continue
        shrunk = _shrink(im, smallest, cap, actions, target)
        if shrunk is not None:
            im = shrunk
            continue
        # As small as it may be, and still over: metadata goes next (the orientation is baked into
        # the pixels rather than lost), then there is nothing left to try.
        if icc or orientation != 1:
            if icc:
                im, icc = _drop_icc(im, icc, cap, actions, why=f"{smallest} bytes at {im.width}×{im.height} is still over the {cap}-byte cap")
            if orientation != 1:
                im = pillow_ops.orient(im, orientation)
                actions.append(Action(op="orient", reason=f"{smallest} bytes at the smallest size is still over the {cap}-byte cap; the EXIF orientation {orientation} is baked into the pixels instead of stored"))
                orientation = 1
            continue
        field, limit, measured = image_byte_check(smallest, mime, target)
        how = f"JPEG quality {min(q for q, _ in samples)}" if fmt == "JPEG" else "PNG at maximum compression"
        reason = f"even at {im.width}×{im.height} px, {how} and without metadata the picture is {smallest} bytes"
        return CapUnreachable(field=field, observed=measured, limit=limit, reason=reason, actions=tuple(actions))


def _drop_icc(im, icc: bytes, cap: int, actions: list[Action], *, why: str):  # type: ignore[no-untyped-def]
    """Drop the ICC profile, converting the pixels to sRGB through it first when it reads (so the
    colours stay as they were); a profile that does not read is dropped as it is."""
    converted = pillow_ops.to_srgb(im, icc)
    how = "the pixels converted to sRGB through it" if converted is not None else "it does not read, so the pixels are kept as they are"
    actions.append(Action(op="compress", reason=f"{why}; the ICC profile is dropped ({how})"))
    return (converted if converted is not None else im), None


def _smallest_size(im, target: Target) -> bool:  # type: ignore[no-untyped-def]
    floor = target.limits.image_min_side_exclusive_px + 1
    return im.width <= floor and im.height <= floor


def _shrink(im, size_bytes: int, cap: int, actions: list[Action], target: Target):  # type: ignore[no-untyped-def]
    """The picture downscaled towards the cap (at most `shrink_step_max` of a side per round, never
    below the smallest side the service takes), or None when it is that small already."""
    scale = min(TUNING.shrink_step_max, math.sqrt(cap / size_bytes) * TUNING.shrink_margin)
    floor = target.limits.image_min_side_exclusive_px + 1  # never below the smallest side the service takes
    new = Size(min(im.width, max(floor, math.floor(im.width * scale))), min(im.height, max(floor, math.floor(im.height * scale))))
    if (new.width_px, new.height_px) == (im.width, im.height):
        return None
    actions.append(
        Action(
            op="compress",
            reason=f"{size_bytes} bytes is over the {cap}-byte cap even at the quality floor; downscaled {im.width}×{im.height} → {new}",
            params={"width_px": new.width_px, "height_px": new.height_px},
        )
    )
    return pillow_ops.resize(im, new)
