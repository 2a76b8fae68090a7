"""Image info + target (+ policy) → report. Pure: reads nothing but the values it is given."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from . import caps, sampling
from .codes import violation
from .formats import output_format_for
from .models import ImageInfo, Policy, Report, Status, Target, TokenEstimate, VideoInfo, Violation
from .rules import MODELS, REMUXABLE_CODECS
from .tokens import estimate_frames, estimate_image, frame_size

_ORIENTATION_HOW = {
    2: "mirrored left-right",
    3: "rotated 180°",
    4: "mirrored top-bottom",
    5: "transposed (mirrored, rotated 90° clockwise)",
    6: "rotated 90° clockwise",
    7: "transversed (mirrored, rotated 90° counter-clockwise)",
    8: "rotated 90° counter-clockwise",
}
_SEEN = {2: "mirrored", 3: "upside down", 4: "upside down and mirrored"}


def status_of(violations: tuple[Violation, ...] | list[Violation]) -> Status:
    """`ok` with no error; `fixable` when every error has a fix; `rejected` otherwise."""
    errors = [v for v in violations if v.severity == "error"]
    if not errors:
        return "ok"
    return "fixable" if all(v.fix for v in errors) else "rejected"


def model_violations(target: Target, *, source: str) -> list[Violation]:
    """SPEC §5 at check time: media for a retired or text-only model can never be sent. (Rules that
    need the request — thinking flags, the token total — are the request's, see `request`.)"""
    info = MODELS.get(target.model.removeprefix("kimi/"))
    if info is None:
        return []  # an unknown name is misuse, refused where a model is chosen (CLI, build_request)
    out: list[Violation] = []
    if info.retired_on is not None:
        out.append(violation("request.model_retired", source=source, field="model", observed=target.model, limit=info.retired_on, replacements=", ".join(info.replacements)))
    if not info.takes_media:
        vision = [m.name for m in MODELS.values() if m.takes_media and m.retired_on is None]
        out.append(violation("request.model_text_only", source=source, field="model", observed=target.model, limit=", ".join(vision)))
    return out


def service_max_frames(target: Target, policy: Policy) -> int:
    """The most frames the service samples from a video file: `policy.max_frames` with DashScope,
    which takes the field; the service's default with the OpenAI-compatible API, which drops it."""
    return policy.max_frames if target.api == "dashscope" else target.limits.max_frames_default


def check_image(info: ImageInfo, target: Target, policy: Policy | None = None, *, source: str) -> Report:
    """Every image rule of SPEC §1 for `target`. The fixes named follow `policy`."""
    policy = policy or Policy()
    lim = target.limits
    out: list[Violation] = []
    w, h = info.width_px, info.height_px
    size_text = f"{w}×{h}"

    if info.decode == "failed":
        out.append(violation("image.unreadable", source=source, observed=info.decode_error or "the pixels do not decode"))

    if info.stored_size.pixels > lim.max_decode_pixels:
        can = info.reduced_decode is not None
        remedy = (
            "it decodes reduced ("
            + ("JPEG draft mode" if info.reduced_decode == "jpeg-draft" else "HEIF tile by tile")
            + "), so prepare downscales it"
            if can
            else "it is never decoded (a decompression bomb guard); reject it, or raise max_decode_pixels if you trust it"
        )
        out.append(
            violation(
                "image.too_many_pixels",
                source=source,
                field="pixels",
                observed=info.stored_size.pixels,
                limit=lim.max_decode_pixels,
                fix="downscale" if can else None,
                size=size_text,
                remedy=remedy,
            )
        )

    floor = lim.image_min_side_exclusive_px
    for field, value in (("width", w), ("height", h)):
        if value <= floor:
            fix = "pad" if policy.too_small == "pad" else None
            remedy = f"pad to {floor + 1} px (prepare does this) or drop the file" if fix else "drop the file (the policy rejects small images)"
            out.append(violation("image.too_small", source=source, field=field, observed=value, limit=floor, fix=fix, remedy=remedy))

    ratio = max(w, h) / max(1, min(w, h))
    if ratio > lim.image_max_aspect_ratio:
        fix = {"pad": "pad", "split": "split", "reject": None}[policy.aspect_ratio]
        need = math.ceil(max(w, h) / lim.image_max_aspect_ratio)
        remedy = {
            "pad": f"pad the short side to {need} px (prepare does this)",
            "split": f"split into {math.ceil(ratio / lim.image_max_aspect_ratio)} tiles (prepare does this)",
            None: "crop it, or choose the pad or split policy",
        }[fix]
        out.append(
            violation(
                "image.aspect_ratio",
                source=source,
                field="aspect_ratio",
                observed=round(ratio, 2),
                limit=_num(lim.image_max_aspect_ratio),
                fix=fix,
                remedy=remedy,
            )
        )

    below_4k = lim.image_box_4k.strictly_inside(w, h)  # SPEC §1: 「4K(3840x2160) 未満」, exactly 4K is the next tier
    in_8k = lim.image_box_8k.fits(w, h)
    listed = lim.image_formats_below_4k
    to = output_format_for(info)
    if info.format not in listed or info.encoding_issue:
        family = "TIFF" if info.format == "BIGTIFF" else info.format
        observed = f"{family} with {info.encoding_issue}" if info.encoding_issue else info.format
        out.append(
            violation(
                "image.format_unsupported",
                source=source,
                field="format",
                observed=observed,
                limit=", ".join(sorted(listed)),
                fix="convert",
                to=to,
            )
        )
    elif not below_4k and info.format not in lim.image_formats_4k_to_8k:
        out.append(
            violation(
                "image.format_above_4k",
                source=source,
                field="format",
                observed=info.format,
                limit=" and ".join(sorted(lim.image_formats_4k_to_8k)),
                fix="convert",
                size=size_text,
                box4k=str(lim.image_box_4k),
                to=to,
            )
        )
    if not in_8k:
        out.append(violation("image.above_8k", source=source, field="size", observed=size_text, limit=str(lim.image_box_8k), fix="downscale"))

    cap_field, cap, measured = caps.image_byte_check(info.size_bytes, info.mime, target)
    if measured > cap:
        out.append(
            violation(
                "image.too_large",
                source=source,
                field=cap_field,
                observed=measured,
                limit=cap,
                fix="compress",
                transport=target.transport,
            )
        )

    if info.animated:
        out.append(violation("image.animated", source=source, field="frames", observed=info.frames, fix="first-frame"))

    if info.orientation != 1:
        out.append(
            violation(
                "image.orientation",
                source=source,
                field=f"{info.orientation_source} metadata",
                observed=info.orientation,
                fix="orient",
                how=_ORIENTATION_HOW.get(info.orientation, "transformed"),
                seen=_SEEN.get(info.orientation, "sideways"),
            )
        )

    out.extend(model_violations(target, source=source))
    return _report(source, "image", out, info, lambda: estimate_image(info.size))


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def list_frames_possible(info: VideoInfo, target: Target) -> bool:
    lim = target.limits
    if info.decodable_frames is not None:
        return info.decodable_frames >= lim.image_list_min_frames
    return info.duration_s * lim.fps_max + 1e-9 >= lim.image_list_min_frames


def check_video(info: VideoInfo, target: Target, policy: Policy | None = None, *, source: str) -> Report:
    """Every video rule of SPEC §2 for `target`; fps and max_frames from `policy`."""
    policy = policy or Policy()
    lim = target.limits
    out: list[Violation] = list(sampling.validate(policy.fps, policy.max_frames, lim, source=source))
    sampling_ok = not out
    if info.decode == "failed":
        out.append(violation("video.unreadable", source=source, observed=info.decode_error or "the frames do not decode"))
    elif info.width_px <= 0 or info.height_px <= 0:
        out.append(violation("video.unreadable", source=source, observed=f"the stream declares an empty picture ({info.width_px}×{info.height_px})"))
    if info.format not in lim.video_containers:
        fix = "remux" if info.codec in REMUXABLE_CODECS else "transcode"
        out.append(violation("video.container_unlisted", source=source, field="container", observed=info.format, limit=", ".join(sorted(lim.video_containers)), fix=fix))
    duration = info.duration_s
    if duration < lim.video_min_duration_s:
        possible = list_frames_possible(info, target)
        frames = f"{info.decodable_frames} decodable frames" if info.decodable_frames is not None else f"{duration:g} s"
        remedy = (
            f"send it as an image list ({frames}; prepare does this)"
            if possible
            else f"too short for an image list too ({frames}; an image list needs {lim.image_list_min_frames} frames)"
        )
        out.append(violation("video.too_short", source=source, field="duration_s", observed=round(duration, 3), limit=_num(lim.video_min_duration_s), fix="frames" if possible else None, remedy=remedy))
    if duration > lim.video_max_duration_s:
        out.append(violation("video.too_long", source=source, field="duration_s", observed=round(duration, 3), limit=_num(lim.video_max_duration_s), fix="frames"))
    if sampling_ok and (policy.video_as == "frames" or duration > lim.video_max_duration_s):
        # what prepare will send is an image list (`plan.plan_frames`): past max_frames / fps_min
        # seconds no list is sendable, so check says so instead of promising a fix prepare refuses
        sample = sampling.plan_for_list(duration, policy.fps, policy.max_frames, lim, decodable_frames=info.decodable_frames)
        slow = sampling.below_fps_min(sample, duration, policy.max_frames, lim, source=source)
        if slow is not None:
            out.append(slow)
    field, cap, measured, over = caps.video_byte_check(info.size_bytes, info.mime, target)
    if over:
        out.append(violation("video.too_large", source=source, field=field, observed=measured, limit=cap, fix="transcode", transport=target.transport))
    if not lim.video_recommended_box.fits(info.width_px, info.height_px):
        out.append(violation("video.resolution_above_2k", source=source, field="size", observed=f"{info.width_px}×{info.height_px}", limit=str(lim.video_recommended_box)))
    if target.api != "dashscope" and policy.max_frames != lim.max_frames_default and policy.video_as != "frames":
        out.append(violation("frames.max_frames_ignored", source=source, field="max_frames", observed=policy.max_frames, limit=lim.max_frames_default))
    out.extend(model_violations(target, source=source))
    cap = policy.max_frames if policy.video_as == "frames" else service_max_frames(target, policy)  # an image list is ours to cap
    n = min(max(1, int(duration * policy.fps + 1e-9)), cap)
    return _report(source, "video", out, info, lambda: estimate_frames(frame_size(info.size, policy.frame_max_side_px), n))


def _report(source: str, kind: Literal["image", "video"], out: list[Violation], info: ImageInfo | VideoInfo, estimate: Callable[[], TokenEstimate]) -> Report:
    """The report of a check: its status from the violations, an estimate unless rejected."""
    status = status_of(out)
    return Report(
        source=source,
        kind=kind,
        status=status,
        violations=tuple(out),
        info=info,
        estimate=estimate() if status != "rejected" else None,
        verified="header-only" if info.decode == "header-only" else "decoded",
    )
