"""Report + policy → plan: the ordered fix steps for one input, each with its reason, and what they
will produce. Pure: a plan can be read, tested and explained before a pixel is touched.

- `plan_image`: an `ImagePlan` (pass through, or decode → orient → convert → resize → split/pad →
  encode, with the output size and format).
- `plan_video`: a `VideoPlan` (pass the file through, remux, transcode, or send an image list), with
  the fps the budget allows and, for remux/transcode, the image list to fall back to should the fix
  fail.
- `plan_frames`: a `FramesPlan` for an image list made from a video or an animation: which
  instants, at what size, sent at what fps, after the token budget; or the violation that stops it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from . import sampling
from .budget import FrameChoice, fit_frame_size, fit_image_list, fit_video_file, resolve_budget
from .caps import video_raw_cap
from .check import service_max_frames
from .codes import violation
from .formats import output_format_for, why_format
from .models import Action, ImageInfo, Policy, Report, Size, Target, VideoInfo, Violation
from .rules import REMUXABLE_CODECS, Box
from .tokens import frame_size


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

    fmt = output_format_for(info)
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
        steps.append(Action(op="convert", reason=f"{what} is not accepted; converted to {fmt} ({why_format(info, fmt)})", params={"to": fmt}))
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


# --------------------------------------------------------------------------------------------------
# image lists (videos and animations) and videos


@dataclass(frozen=True, slots=True, kw_only=True)
class FramesPlan:
    """An image list: the instants sampled (seconds from the first frame), the size frames are
    written at, the fps sent with the list, and the steps that chose them. With `problem` set the
    list cannot be made and nothing is decoded."""

    times_s: tuple[float, ...] = ()
    fps: float = 0.0
    frame_size: Size = Size(0, 0)
    steps: tuple[Action, ...] = ()
    problem: Violation | None = None
    reason: str = ""

    @property
    def count(self) -> int:
        return len(self.times_s)


def _budgeted(sample: sampling.SamplePlan, choice: FrameChoice, duration_s: float) -> sampling.SamplePlan:
    """The sample after the budget: the same instants when only the frame size changed, else the
    budget's count spread evenly over the duration (sent at count / duration)."""
    if choice.frames == sample.count:
        return sampling.SamplePlan(times_s=sample.times_s, fps=sample.fps, requested_fps=sample.requested_fps, capped=sample.capped, stretched=sample.stretched, reason=choice.reason)
    n = choice.frames
    return sampling.SamplePlan(times_s=tuple(k * duration_s / n for k in range(n)), fps=n / duration_s, requested_fps=sample.requested_fps, capped=True, reason=choice.reason)


def _fps_problem(fps: float, target: Target, label: str) -> Violation | None:
    lim = target.limits
    if fps < lim.fps_min - 1e-9:
        return violation("frames.fps_out_of_range", source=label, field="fps", observed=round(fps, 6), limit=f"[{lim.fps_min:g}, {lim.fps_max:g}]")
    return None


def plan_frames(duration_s: float, *, decodable_frames: int | None, size: Size, target: Target, policy: Policy, label: str) -> FramesPlan:
    """The image list SPEC §2 makes of `duration_s` seconds at `policy.fps` (raised for a short clip,
    spread over a clip too short for any fps when it has enough `decodable_frames`), at the frame
    size the model uses (or `policy.frame_max_side_px`), fitted to the token budget (fewer frames,
    then smaller ones). Pure."""
    lim = target.limits
    sample = sampling.plan_for_list(duration_s, policy.fps, policy.max_frames, lim, decodable_frames=decodable_frames)
    few = sampling.too_few(sample, duration_s, lim, source=label) or sampling.below_fps_min(sample, duration_s, policy.max_frames, lim, source=label)
    if few is not None:
        return FramesPlan(problem=few, reason=sample.reason)
    fsize = frame_size(size, policy.frame_max_side_px)
    budget = resolve_budget(policy.token_budget, target.model, reserve_tokens=policy.token_reserve)
    steps: list[Action] = []
    if sample.stretched:  # a short clip: its few frames stay; only their size can give
        choice = fit_frame_size(sample.count, sample.fps, fsize, budget)
    else:
        choice = fit_image_list(duration_s, sample.fps, policy.max_frames, fsize, budget, lim)
    if not choice.fits:
        return FramesPlan(problem=violation("request.over_token_limit", source=label, observed=choice.tokens, limit=budget), reason=choice.reason)
    if choice.changed:
        sample = _budgeted(sample, choice, duration_s)
        fsize = choice.size
        steps.append(Action(op="budget", reason=choice.reason, params={"tokens": choice.tokens, "budget": budget}))
    v = _fps_problem(sample.fps, target, label)
    if v is not None:
        return FramesPlan(steps=tuple(steps), problem=v, reason=sample.reason)
    steps.append(Action(op="sample", reason=sample.reason, params={"frames": sample.count, "fps": round(sample.fps, 6), "width_px": fsize.width_px, "height_px": fsize.height_px}))
    return FramesPlan(times_s=sample.times_s, fps=sample.fps, frame_size=fsize, steps=tuple(steps), reason=sample.reason)


def plan_extraction(duration_s: float, *, fps: float, max_frames: int, size: Size, max_side_px: int | None, token_budget: int | None, target: Target, label: str) -> FramesPlan:
    """`extract_frames`' plan: SPEC §2's sampling at exactly `fps` (never raised: too few frames is
    `frames.too_few`, reported with the frames there are), fitted to `token_budget` when given.
    Pure."""
    lim = target.limits
    sample = sampling.sample_times(duration_s, fps, max_frames)
    slow = sampling.below_fps_min(sample, duration_s, max_frames, lim, source=label)
    if slow is not None:  # a list of max_frames over a video this long is sent below fps_min: none is planned
        return FramesPlan(problem=slow, reason=sample.reason)
    few = sampling.too_few(sample, duration_s, lim, source=label)
    fsize = frame_size(size, max_side_px)
    if few is None and token_budget is not None:
        choice = fit_image_list(duration_s, sample.fps, max_frames, fsize, token_budget, lim)
        if not choice.fits:
            return FramesPlan(problem=violation("request.over_token_limit", source=label, observed=choice.tokens, limit=token_budget), reason=choice.reason)
        if choice.changed:
            sample = _budgeted(sample, choice, duration_s)
            fsize = choice.size
        slow = _fps_problem(sample.fps, target, label)
        if slow is not None:
            return FramesPlan(problem=slow, reason=sample.reason)
    return FramesPlan(times_s=sample.times_s, fps=sample.fps, frame_size=fsize, problem=few, reason=sample.reason)


VideoMode = Literal["passthrough", "remux", "transcode", "frames"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoPlan:
    """How a video is sent. `mode` "frames" sends `frames`; the file modes send a file with `fps`
    (after the budget) and, for remux/transcode, keep `frames` as the fallback should the fix fail
    (its own `problem` says when no image list is possible either). `problem`: the video cannot be sent as
    planned (passthrough over the token budget), so the input is rejected with it."""

    mode: VideoMode
    reason: str
    steps: tuple[Action, ...]
    fps: float | None = None
    max_frames_field: int | None = None  # DashScope's max_frames, sent only when not the default
    cap_bytes: int | None = None  # what a transcode must fit under
    frames: FramesPlan | None = None
    problem: Violation | None = None


def _choose(report: Report, target: Target, policy: Policy) -> tuple[VideoMode, str]:
    codes = set(report.codes)
    info = report.info
    assert isinstance(info, VideoInfo)
    if policy.video_as == "frames":
        return "frames", "--video-as frames: sent as an image list"
    if "video.too_short" in codes:
        return "frames", f"{info.duration_s:g} s is shorter than {target.limits.video_min_duration_s:g} s: sent as an image list"
    if "video.too_long" in codes:
        return "frames", f"{info.duration_s:g} s is longer than {target.limits.video_max_duration_s:g} s: sent as an image list"
    if "video.too_large" in codes:
        return "transcode", "too large for the transport: re-encoded to an H.264 MP4 that fits"
    if "video.container_unlisted" in codes:
        if info.codec in REMUXABLE_CODECS:
            return "remux", f"{info.format} is not a listed container: its {info.codec} stream is copied into an MP4"
        return "transcode", f"{info.format} with {info.codec} is not listed: re-encoded to an H.264 MP4"
    return "passthrough", "no rule is broken: the file is sent unchanged"


def max_frames_field(target: Target, policy: Policy) -> int | None:
    """DashScope's `max_frames`, sent only when it differs from the service's default."""
    return policy.max_frames if target.api == "dashscope" and policy.max_frames != target.limits.max_frames_default else None


def plan_video(report: Report, target: Target, policy: Policy | None = None) -> VideoPlan:
    """The plan for a video `report` (not rejected). Pure."""
    policy = policy or Policy()
    info = report.info
    assert isinstance(info, VideoInfo), "plan_video needs a video report"
    mode, reason = _choose(report, target, policy)
    steps = [Action(op=mode, reason=reason)]
    frames = plan_frames(info.duration_s, decodable_frames=info.decodable_frames, size=info.size, target=target, policy=policy, label=report.source)
    if mode == "frames":
        return VideoPlan(mode="frames", reason=reason, steps=tuple(steps), frames=frames)
    budget = resolve_budget(policy.token_budget, target.model, reserve_tokens=policy.token_reserve)
    # the service, not mediaprep, samples a video file: with the OpenAI-compatible API it ignores
    # max_frames and takes up to its default, so the budget counts that (SPEC §2, §4)
    choice = fit_video_file(info.duration_s, policy.fps, service_max_frames(target, policy), frame_size(info.size), budget, target.limits)
    if not choice.fits:
        over = violation("request.over_token_limit", source=report.source, observed=choice.tokens, limit=budget)
        if mode == "passthrough":
            return VideoPlan(mode="passthrough", reason=reason, steps=tuple(steps), fps=policy.fps, problem=over)
        # a fixed file would be over the budget too: the image list (fewer, smaller frames) instead
        steps.append(Action(op="frames", reason=f"{mode} would not help: {over.message}; sent as an image list instead"))
        return VideoPlan(mode="frames", reason=reason, steps=tuple(steps), frames=frames)
    if choice.changed:
        steps.append(Action(op="budget", reason=choice.reason, params={"tokens": choice.tokens, "budget": budget, "fps": choice.fps}))
    return VideoPlan(
        mode=mode,
        reason=reason,
        steps=tuple(steps),
        fps=choice.fps,
        max_frames_field=max_frames_field(target, policy),
        cap_bytes=video_raw_cap(target) if mode == "transcode" else None,
        frames=frames,
    )
