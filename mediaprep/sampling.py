"""Which instants of a video become the frames of an image list (SPEC §2). Pure.

- N = floor(duration × fps) frames (at least 1) at t_k = k / fps;
- when N > max_frames: N = max_frames and t_k = k × duration / N, sent with fps N / duration;
- the frame taken for t_k is the one on screen at t_k: the last frame whose pts ≤ t_k, all times
  measured from the first frame's pts (`frame_on_screen`).

A clip too short for four samples at any allowed fps can still be sent as an image list when it has
at least four decodable frames (`plan_short_clip`): the samples are spread evenly over the clip and
the list claims the highest fps allowed.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .codes import violation
from .models import Violation
from .rules import Limits

_EPS = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplePlan:
    times_s: tuple[float, ...]
    fps: float  # the rate to send with the list (the effective one when capped)
    requested_fps: float
    capped: bool = False
    stretched: bool = False  # a short clip whose list claims a slower clock than it ran (plan_short_clip)
    reason: str = ""

    @property
    def count(self) -> int:
        return len(self.times_s)


def _round_up(value: float, per_unit: int) -> float:
    """`value` rounded up to 1/per_unit, ignoring float noise below the sampling epsilon (4 / 0.39999…
    is 10.000000000000002, which is fps 10, not 10.001: floor(0.4 × 10) is 4 frames by SPEC's rule)."""
    return math.ceil(value * per_unit - _EPS * per_unit) / per_unit


def validate(fps: float, max_frames: int, limits: Limits, *, source: str) -> list[Violation]:
    """fps in [fps_min, fps_max] and max_frames in [1, max_frames_limit]."""
    out = []
    if not (limits.fps_min - _EPS <= fps <= limits.fps_max + _EPS) or math.isnan(fps):
        out.append(violation("frames.fps_out_of_range", source=source, field="fps", observed=fps, limit=f"[{limits.fps_min:g}, {limits.fps_max:g}]"))
    if not 1 <= max_frames <= limits.max_frames_limit:
        out.append(violation("frames.max_frames_out_of_range", source=source, field="max_frames", observed=max_frames, limit=f"[1, {limits.max_frames_limit}]"))
    return out


def sample_times(duration_s: float, fps: float, max_frames: int) -> SamplePlan:
    """SPEC §2's rule, with no validation (see `validate`)."""
    n = max(1, math.floor(duration_s * fps + _EPS))
    if n > max_frames:
        n = max_frames
        times = tuple(k * duration_s / n for k in range(n))
        return SamplePlan(
            times_s=times,
            fps=n / duration_s,
            requested_fps=fps,
            capped=True,
            reason=f"{duration_s:g} s at fps {fps:g} is {math.floor(duration_s * fps + _EPS)} frames, over max_frames {max_frames}: {n} frames taken evenly, sent at fps {n / duration_s:.6g}",
        )
    return SamplePlan(times_s=tuple(k / fps for k in range(n)), fps=fps, requested_fps=fps, reason=f"{n} frames at fps {fps:g}")


def below_fps_min(plan: SamplePlan, duration_s: float, max_frames: int, limits: Limits, *, source: str) -> Violation | None:
    """`frames.fps_out_of_range` when SPEC's list is sent below fps_min: past max_frames / fps_min
    seconds (20,000 s, about 5.6 h, at 2,000 frames) the capped list N = max_frames spread over the
    whole duration claims fps N / duration < fps_min, which the service refuses. SPEC's rule takes
    the frames evenly over the whole video, so no sendable list covers it: the remedy is a higher
    max_frames when that is enough, else trimming the video or splitting it into parts."""
    if plan.fps >= limits.fps_min - _EPS:
        return None
    v = violation("frames.fps_out_of_range", source=source, field="fps", observed=round(plan.fps, 6), limit=f"[{limits.fps_min:g}, {limits.fps_max:g}]")
    if not plan.capped:  # the fps asked for is itself too low: `validate` says so for callers that check it
        return v
    most = min(limits.max_frames_limit, limits.image_list_max_frames)
    need = math.ceil(duration_s * limits.fps_min - _EPS)
    covers = max_frames / limits.fps_min
    if need <= most:
        remedy = f"{max_frames} frames over {duration_s:g} s; raise max_frames to {need} or more (up to {most}), or trim the video to at most {covers:g} s"
    else:
        longest = most / limits.fps_min
        remedy = (
            f"an image list takes at most {most} frames, and at fps {limits.fps_min:g} or more they cover at most {longest:g} s of its {duration_s:g} s; "
            f"no image list within SPEC's limits can cover the whole video: trim it, or split it into parts of at most {longest:g} s and send each"
        )
    # the code's template has no remedy field: the advice is appended to the message it made
    return dataclasses.replace(v, message=f"{v.message}: {remedy}")


def too_few(plan: SamplePlan, duration_s: float, limits: Limits, *, source: str) -> Violation | None:
    """`frames.too_few` when the plan has fewer frames than an image list needs, naming the fps that
    would give enough (or saying none can)."""
    need = limits.image_list_min_frames
    if plan.count >= need:
        return None
    fps_needed = _round_up(need / duration_s, 100) if duration_s > 0 else math.inf
    # the video file is an alternative only when it is long enough to be sent as one (SPEC §2)
    as_file = duration_s >= limits.video_min_duration_s
    if fps_needed <= limits.fps_max:
        remedy = f"use fps {fps_needed:g} or more (≤ {limits.fps_max:g})" + (", or send the video file instead" if as_file else "")
    elif as_file:
        remedy = f"no fps up to {limits.fps_max:g} gives {need} frames from {duration_s:g} s; send the video file instead"
    else:
        remedy = f"no fps up to {limits.fps_max:g} gives {need} frames from {duration_s:g} s, and a clip under {limits.video_min_duration_s:g} s cannot be sent as a video file either"
    return violation("frames.too_few", source=source, field="frames", observed=plan.count, limit=need, remedy=remedy)


def plan_for_list(duration_s: float, fps: float, max_frames: int, limits: Limits, *, decodable_frames: int | None = None) -> SamplePlan:
    """The image-list plan for a video: SPEC's rule at the requested fps; for a clip too short for
    enough frames at that fps, the smallest fps that gives `image_list_min_frames` (within the
    allowed range); for a clip too short even at the highest fps, `plan_short_clip`."""
    plan = sample_times(duration_s, fps, max_frames)
    need = limits.image_list_min_frames
    if plan.count >= need:
        return plan
    faster = _round_up(need / duration_s, 1000) if duration_s > 0 else math.inf
    if faster <= limits.fps_max:
        raised = sample_times(duration_s, faster, max_frames)
        if raised.count >= need:
            return SamplePlan(
                times_s=raised.times_s,
                fps=raised.fps,
                requested_fps=fps,
                capped=raised.capped,
                reason=f"{duration_s:g} s at fps {fps:g} gives {plan.count} frames, fewer than {need}: fps raised to {faster:g}",
            )
    if decodable_frames is not None and decodable_frames >= need:
        return plan_short_clip(duration_s, decodable_frames, limits, fps)
    return plan


def plan_short_clip(duration_s: float, decodable_frames: int, limits: Limits, requested_fps: float) -> SamplePlan:
    """`need` evenly spread samples over a clip too short for any allowed fps, sent at fps_max."""
    need = limits.image_list_min_frames
    n = min(max(need, math.floor(max(duration_s, 0) * limits.fps_max + _EPS)), decodable_frames)
    span = max(duration_s, 0.0)
    times = tuple(k * span / n for k in range(n))
    return SamplePlan(
        times_s=times,
        fps=limits.fps_max,
        requested_fps=requested_fps,
        stretched=True,
        reason=f"{duration_s:g} s is too short for {need} frames at fps ≤ {limits.fps_max:g}; {n} of its {decodable_frames} frames taken evenly and sent at fps {limits.fps_max:g} (the list plays slower than the clip ran)",
    )


def frame_on_screen(frame_times_s: Sequence[float], t_s: float) -> int:
    """Index of the last frame whose time ≤ t_s (times sorted, measured from the first frame)."""
    i = bisect.bisect_right(frame_times_s, t_s + _EPS) - 1
    return max(0, i)
