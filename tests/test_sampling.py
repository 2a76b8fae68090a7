"""Unit tests for `mediaprep.sampling` (SPEC §2, "Sampling"): which instants of a video become the
frames of an image list.

Covers `sample_times` (N = floor(duration × fps), t_k = k / fps; the max_frames cap with
t_k = k × duration / N sent at fps N / duration), `validate` (the fps and max_frames ranges),
`too_few` (an image list needs `image_list_min_frames` frames, and the remedy it gives),
`plan_for_list` (raising the fps for a short clip, falling back to `plan_short_clip`) and
`frame_on_screen` (the last frame whose time ≤ t). Pure functions only: no media files.
Every number comes from `Limits`, the rule table, never from a literal copy of it.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from mediaprep.rules import Limits
from mediaprep.sampling import SamplePlan, frame_on_screen, plan_for_list, plan_short_clip, sample_times, too_few, validate

LIMITS = Limits()
NEED = LIMITS.image_list_min_frames
EPS = 1e-9  # the tolerance SPEC's floor is taken with (sampling._EPS)


def _assert_increasing_and_inside(plan: SamplePlan, duration_s: float) -> None:
    times = plan.times_s
    assert times[0] == 0.0
    assert all(a < b for a, b in zip(times, times[1:])), times
    if len(times) > 1 or duration_s > 0:
        assert times[-1] < duration_s, (times[-1], duration_s)


# --- sample_times ----------------------------------------------------------------------------


def test_sample_times_ten_seconds_at_fps_2_gives_20_frames_at_k_over_2():
    plan = sample_times(10.0, 2.0, LIMITS.max_frames_default)

    assert plan.count == 20
    assert plan.times_s == tuple(k / 2 for k in range(20))
    assert plan.fps == 2.0
    assert plan.requested_fps == 2.0
    assert plan.capped is False
    assert plan.stretched is False


@pytest.mark.parametrize(
    ("duration_s", "fps", "expected"),
    [
        (2.99, 2.0, 5),  # 5.98 → 5
        (2.5, 2.0, 5),
        (1.9, 1.0, 1),
        (10.49, 0.5, 5),  # 5.245 → 5
        (59.95, 0.1, 5),  # 5.995 → 5
    ],
)
def test_sample_times_floors_a_fractional_frame_count(duration_s, fps, expected):
    plan = sample_times(duration_s, fps, LIMITS.max_frames_default)

    assert plan.count == expected
    assert plan.times_s == tuple(k / fps for k in range(expected))


@pytest.mark.parametrize(("duration_s", "fps", "expected"), [(3.0, 2.0, 6), (0.3, 10.0, 3), (2.0, LIMITS.fps_min, 1), (0.4, LIMITS.fps_max, 4)])
def test_sample_times_exact_boundary_counts_the_last_frame(duration_s, fps, expected):
    assert sample_times(duration_s, fps, LIMITS.max_frames_default).count == expected


@pytest.mark.parametrize(
    ("duration_s", "fps", "expected"),
    [
        (0.3 / 0.1, 2.0, 6),  # 2.9999999999999996 s: "3 s" that binary floating point misses
        (sum([0.1] * 10), 2.0, 2),  # 0.9999999999999999 s
        (0.7 * 3, 10.0, 21),  # 2.0999999999999996 s
        (15 / 7, 1.4, 3),  # d × fps = 2.9999999999999996
        (1.4 - 1.0, 10.0, 4),  # 0.3999999999999999 s: a 0.4 s clip whose first frame is at 1.0 s
    ],
)
def test_sample_times_boundary_survives_floating_point_error(duration_s, fps, expected):
    assert duration_s * fps < expected  # the product really falls short of the whole number
    assert sample_times(duration_s, fps, LIMITS.max_frames_default).count == expected


@pytest.mark.parametrize("duration_s", [0.0, 1e-6, 0.01, 0.49])
def test_sample_times_gives_at_least_one_frame_for_a_tiny_duration(duration_s):
    plan = sample_times(duration_s, 2.0, LIMITS.max_frames_default)

    assert plan.count == 1
    assert plan.times_s == (0.0,)


def test_sample_times_caps_at_max_frames_and_spreads_evenly():
    duration_s, fps, cap = 1100.0, 2.0, LIMITS.max_frames_limit

    plan = sample_times(duration_s, fps, cap)

    assert plan.capped is True
    assert plan.count == cap
    for k, t in enumerate(plan.times_s):
        assert t == pytest.approx(k * duration_s / cap, abs=1e-9)
    assert plan.fps == pytest.approx(cap / duration_s)
    assert plan.requested_fps == fps


def test_sample_times_cap_reason_names_both_counts():
    plan = sample_times(1100.0, 2.0, LIMITS.max_frames_limit)

    assert str(math.floor(1100 * 2)) in plan.reason  # 2200 asked for
    assert str(LIMITS.max_frames_limit) in plan.reason  # 2000 taken


def test_sample_times_cap_does_not_apply_at_exactly_max_frames():
    cap = LIMITS.max_frames_limit
    plan = sample_times(cap / 2, 2.0, cap)

    assert plan.count == cap
    assert plan.capped is False
    assert plan.fps == 2.0


@pytest.mark.parametrize(("duration_s", "fps", "cap"), [(10.0, 2.0, 2000), (2.99, 2.0, 2000), (1100.0, 2.0, 2000), (3600.0, 10.0, 2000), (7.0, 3.0, 5)])
def test_sample_times_are_strictly_increasing_and_inside_the_clip(duration_s, fps, cap):
    _assert_increasing_and_inside(sample_times(duration_s, fps, cap), duration_s)


def test_sample_times_invariants_over_a_grid():
    durations = [0.0, 0.05, 0.3, 0.4, 1.4 - 1.0, 1.0, 1.5, 2.0, 2.99, 3.0, 0.3 / 0.1, 10.0, 59.9, 100.0, 999.5, 1000.0, 1100.0, 3600.0, 7200.0]
    rates = [LIMITS.fps_min, 0.25, 0.5, 1.0, 1.4, 2.0, 2.5, 3.0, 7.5, LIMITS.fps_max]
    caps = [1, NEED, 100, LIMITS.max_frames_limit]
    checked = 0
    for d in durations:
        for fps in rates:
            for cap in caps:
                plan = sample_times(d, fps, cap)
                label = f"d={d!r} fps={fps!r} max_frames={cap}"
                expected = min(max(1, math.floor(d * fps + EPS)), cap)
                assert plan.count == expected, label
                assert plan.times_s[0] == 0.0, label
                assert list(plan.times_s) == sorted(set(plan.times_s)), label
                if plan.count == 1:
                    assert plan.times_s[-1] == 0.0, label
                else:
                    assert plan.times_s[-1] < d, label
                assert plan.requested_fps == fps, label
                if plan.capped:
                    assert plan.fps * d == pytest.approx(plan.count, abs=1e-9), label
                    assert plan.count == cap, label
                else:
                    assert plan.fps == fps, label
                    assert plan.times_s == tuple(k / fps for k in range(plan.count)), label
                checked += 1
    assert checked == len(durations) * len(rates) * len(caps)


# --- validate --------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [LIMITS.fps_min, LIMITS.fps_max, LIMITS.fps_default])
def test_validate_allows_fps_at_both_ends_of_the_range(fps):
    assert validate(fps, LIMITS.max_frames_default, LIMITS, source="clip") == []


@pytest.mark.parametrize("fps", [LIMITS.fps_min / 2, 0.0, -1.0])
def test_validate_rejects_fps_below_the_minimum(fps):
    (v,) = validate(fps, LIMITS.max_frames_default, LIMITS, source="clip")

    assert v.code == "frames.fps_out_of_range"
    assert v.severity == "error"
    assert v.field == "fps"
    assert v.observed == fps
    assert v.limit == f"[{LIMITS.fps_min:g}, {LIMITS.fps_max:g}]"
    assert v.message.startswith("clip:")


@pytest.mark.parametrize("fps", [LIMITS.fps_max + 0.01, LIMITS.fps_max * 2, math.inf])
def test_validate_rejects_fps_above_the_maximum(fps):
    (v,) = validate(fps, LIMITS.max_frames_default, LIMITS, source="clip")

    assert v.code == "frames.fps_out_of_range"
    assert v.observed == fps
    assert v.limit == f"[{LIMITS.fps_min:g}, {LIMITS.fps_max:g}]"


def test_validate_rejects_nan_fps():
    (v,) = validate(math.nan, LIMITS.max_frames_default, LIMITS, source="clip")

    assert v.code == "frames.fps_out_of_range"
    assert math.isnan(v.observed)
    assert v.limit is not None


@pytest.mark.parametrize("max_frames", [1, LIMITS.max_frames_limit])
def test_validate_allows_max_frames_at_both_ends_of_the_range(max_frames):
    assert validate(LIMITS.fps_default, max_frames, LIMITS, source="clip") == []


@pytest.mark.parametrize("max_frames", [0, -5, LIMITS.max_frames_limit + 1])
def test_validate_rejects_max_frames_outside_the_range(max_frames):
    (v,) = validate(LIMITS.fps_default, max_frames, LIMITS, source="clip")

    assert v.code == "frames.max_frames_out_of_range"
    assert v.field == "max_frames"
    assert v.observed == max_frames
    assert v.limit == f"[1, {LIMITS.max_frames_limit}]"


def test_validate_reports_both_problems_at_once():
    codes = [v.code for v in validate(LIMITS.fps_max * 2, 0, LIMITS, source="clip")]

    assert codes == ["frames.fps_out_of_range", "frames.max_frames_out_of_range"]


def test_validate_reads_its_range_from_the_limits_table():
    tight = dataclasses.replace(LIMITS, fps_max=5.0, max_frames_limit=100, max_frames_default=100)  # a consistent table (Limits validates itself)

    assert [v.code for v in validate(6.0, 101, tight, source="clip")] == ["frames.fps_out_of_range", "frames.max_frames_out_of_range"]
    assert validate(6.0, 101, LIMITS, source="clip") == []


# --- too_few ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("duration_s", "fps"), [(10.0, 2.0), (2.0, 2.0), (NEED / LIMITS.fps_min, LIMITS.fps_min)])
def test_too_few_is_none_when_the_plan_has_enough_frames(duration_s, fps):
    plan = sample_times(duration_s, fps, LIMITS.max_frames_default)
    assert plan.count >= NEED

    assert too_few(plan, duration_s, LIMITS, source="clip") is None


@pytest.mark.parametrize(("duration_s", "fps"), [(1.0, 2.0), (3.0, 1.0), (0.7, 2.0), (1.5, LIMITS.fps_min), (0.45, 2.0)])
def test_too_few_names_an_fps_that_really_gives_enough_frames(duration_s, fps):
    plan = sample_times(duration_s, fps, LIMITS.max_frames_default)
    assert plan.count < NEED

    v = too_few(plan, duration_s, LIMITS, source="clip")

    assert v is not None
    assert v.code == "frames.too_few"
    assert v.observed == plan.count
    assert v.limit == NEED
    match = re.search(r"use fps ([0-9.]+) or more", v.message)
    assert match, v.message
    suggested = float(match.group(1))
    assert LIMITS.fps_min <= suggested <= LIMITS.fps_max
    assert sample_times(duration_s, suggested, LIMITS.max_frames_default).count >= NEED
    # the file is an alternative only when it is long enough to be sent as one (SPEC §2: ≥ 2 s);
    # advising it for a shorter clip would be advising video.too_short (issue 11, item 7)
    assert ("send the video file instead" in v.message) == (duration_s >= LIMITS.video_min_duration_s)


def test_too_few_one_second_at_fps_2_suggests_fps_4():
    v = too_few(sample_times(1.0, 2.0, LIMITS.max_frames_default), 1.0, LIMITS, source="clip")

    assert v is not None
    assert f"use fps {NEED / 1.0:g} or more" in v.message


@pytest.mark.parametrize("duration_s", [0.3, 0.1, 0.0])
def test_too_few_says_send_the_video_file_when_no_fps_is_enough(duration_s):
    plan = sample_times(duration_s, 2.0, LIMITS.max_frames_default)

    v = too_few(plan, duration_s, LIMITS, source="clip")

    assert v is not None
    assert v.code == "frames.too_few"
    assert f"no fps up to {LIMITS.fps_max:g} gives {NEED} frames" in v.message
    assert "send the video file instead" not in v.message  # under 2 s the file is video.too_short
    assert "cannot be sent as a video file either" in v.message
    assert "use fps" not in v.message


def test_too_few_suggests_the_video_file_only_when_it_could_be_sent():
    """A long enough clip sampled too sparsely (e.g. 10 s at fps 0.3 = 3 frames) may go as a file."""
    v = too_few(sample_times(10.0, 0.3, LIMITS.max_frames_default), 10.0, LIMITS, source="clip")
    assert v is not None and "send the video file instead" in v.message
    short = too_few(sample_times(1.5, 2.0, LIMITS.max_frames_default), 1.5, LIMITS, source="clip")
    assert short is not None and "send the video file" not in short.message


def test_too_few_suggests_fps_max_for_a_clip_that_just_reaches_four_frames_at_it():
    duration_s = 1.4 - 1.0  # 0.3999999999999999 s: frames from pts 1.0 s to 1.4 s
    assert sample_times(duration_s, LIMITS.fps_max, LIMITS.max_frames_default).count >= NEED  # fps_max is enough

    v = too_few(sample_times(duration_s, 2.0, LIMITS.max_frames_default), duration_s, LIMITS, source="clip")

    assert v is not None
    assert f"use fps {LIMITS.fps_max:g} or more" in v.message, v.message


# --- plan_for_list ---------------------------------------------------------------------------


def test_plan_for_list_keeps_the_requested_fps_when_it_gives_enough_frames():
    assert plan_for_list(10.0, 2.0, LIMITS.max_frames_default, LIMITS) == sample_times(10.0, 2.0, LIMITS.max_frames_default)


@pytest.mark.parametrize(("duration_s", "fps"), [(1.0, 2.0), (3.0, 1.0), (0.7, 2.0), (1.9, LIMITS.fps_min), (0.5, 2.0)])
def test_plan_for_list_raises_the_fps_for_a_short_clip(duration_s, fps):
    plan = plan_for_list(duration_s, fps, LIMITS.max_frames_default, LIMITS)

    assert plan.count >= NEED
    assert fps < plan.fps <= LIMITS.fps_max
    assert plan.requested_fps == fps
    assert plan.stretched is False
    assert "raised" in plan.reason
    assert plan.times_s == tuple(k / plan.fps for k in range(plan.count))
    _assert_increasing_and_inside(plan, duration_s)


def test_plan_for_list_raises_to_fps_max_for_a_clip_that_just_reaches_four_frames_at_it():
    duration_s = 1.4 - 1.0  # 0.3999999999999999 s
    assert sample_times(duration_s, LIMITS.fps_max, LIMITS.max_frames_default).count >= NEED

    plan = plan_for_list(duration_s, 2.0, LIMITS.max_frames_default, LIMITS)

    assert plan.count >= NEED, plan
    assert plan.fps <= LIMITS.fps_max
    assert plan.stretched is False, plan


def test_plan_for_list_falls_back_to_a_short_clip_plan_with_enough_decodable_frames():
    duration_s, decodable = 0.3, 9

    plan = plan_for_list(duration_s, 2.0, LIMITS.max_frames_default, LIMITS, decodable_frames=decodable)

    assert plan.stretched is True
    assert plan.fps == LIMITS.fps_max
    assert plan.requested_fps == 2.0
    assert plan.count == NEED
    assert plan == plan_short_clip(duration_s, decodable, LIMITS, 2.0)
    for k, t in enumerate(plan.times_s):
        assert t == pytest.approx(k * duration_s / plan.count)
    _assert_increasing_and_inside(plan, duration_s)


def test_plan_short_clip_takes_no_more_frames_than_can_be_decoded():
    plan = plan_short_clip(0.3, NEED, LIMITS, 2.0)

    assert plan.count == NEED
    assert plan.stretched is True
    assert str(NEED) in plan.reason


@pytest.mark.parametrize("decodable", [None, 0, NEED - 1])
def test_plan_for_list_does_not_stretch_without_enough_decodable_frames(decodable):
    duration_s = 0.3

    plan = plan_for_list(duration_s, 2.0, LIMITS.max_frames_default, LIMITS, decodable_frames=decodable)

    assert plan.stretched is False
    assert plan.count < NEED
    assert plan == sample_times(duration_s, 2.0, LIMITS.max_frames_default)
    assert too_few(plan, duration_s, LIMITS, source="clip") is not None


# --- frame_on_screen -------------------------------------------------------------------------

FRAMES_25FPS = [k * 0.04 for k in range(10)]


@pytest.mark.parametrize(("t", "expected"), [(0.0, 0), (0.03, 0), (0.05, 1), (0.2, 5), (0.199, 4), (0.35, 8)])
def test_frame_on_screen_is_the_last_frame_at_or_before_t(t, expected):
    assert frame_on_screen(FRAMES_25FPS, t) == expected


def test_frame_on_screen_exact_equality_picks_that_frame():
    for i, t in enumerate(FRAMES_25FPS):
        assert frame_on_screen(FRAMES_25FPS, t) == i


def test_frame_on_screen_before_the_first_frame_is_the_first():
    assert frame_on_screen([0.5, 1.0, 1.5], 0.0) == 0
    assert frame_on_screen(FRAMES_25FPS, -1.0) == 0


def test_frame_on_screen_after_the_last_frame_is_the_last():
    assert frame_on_screen(FRAMES_25FPS, 100.0) == len(FRAMES_25FPS) - 1


def test_frame_on_screen_tolerates_floating_point_near_equality():
    frames = [0.0, 0.1, 0.2, 0.3, 0.4]
    assert 0.1 + 0.2 != 0.3
    assert frame_on_screen(frames, 0.1 + 0.2) == 3  # t a hair above 0.3
    assert frame_on_screen([0.0, 0.1, 0.1 + 0.2, 0.4], 0.3) == 2  # t a hair below the frame's time


def test_frame_on_screen_follows_variable_frame_rate_timestamps():
    frames = [0.0, 0.5, 0.6, 2.0, 2.1, 5.0]

    assert [frame_on_screen(frames, t) for t in (0.0, 0.49, 0.55, 1.0, 1.99, 2.0, 2.05, 4.99, 5.0, 9.0)] == [0, 0, 1, 2, 2, 3, 3, 4, 5, 5]


def test_frame_on_screen_with_sample_times_takes_each_frame_of_a_matching_clip_once():
    frames = [k / 30 for k in range(300)]  # 10 s at 30 fps
    plan = sample_times(10.0, 2.0, LIMITS.max_frames_default)

    picked = [frame_on_screen(frames, t) for t in plan.times_s]

    assert picked == [15 * k for k in range(plan.count)]
