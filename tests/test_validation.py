"""Library misuse is refused at once, with mediaprep's own exception (issue 12, item 21).

`Policy`, `Limits` and `Target` check every value when they are made: a wrong value raises
`UsageError` (a `MediaprepError` and a `ValueError`) naming the field, the value and what is allowed,
never a `ZeroDivisionError`, a `TypeError` deep inside, a silent 11×11 output or an `image.unreadable`
for a good file. The entry points refuse inputs and arguments of the wrong type the same way.
Also here (item 24): a valid data URL that is percent-encoded rather than base64 is read, not refused.
Pure except the last tests, which read small generated images.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest

import mediaprep as mp
from mediaprep import Limits, MediaprepError, Policy, Target, TargetError, UsageError
from mediaprep.rules import DEFAULT_LIMITS, TUNING, Box
from media import encoded, photo, save

FLOOR = DEFAULT_LIMITS.image_min_side_exclusive_px


def refused(make: object, *words: str) -> UsageError:
    """`make()` raises UsageError (a MediaprepError and a ValueError) whose message holds `words`."""
    with pytest.raises(UsageError) as caught:
        make()  # type: ignore[operator]
    exc = caught.value
    assert isinstance(exc, MediaprepError) and isinstance(exc, ValueError)
    for word in words:
        assert word in str(exc), (word, str(exc))
    return exc


# ---------------------------------------------------------------------------------------------
# Policy


@pytest.mark.parametrize("fps", [math.nan, math.inf, -math.inf, "2", None, True])
def test_policy_fps_must_be_a_finite_number(fps: object) -> None:
    refused(lambda: Policy(fps=fps), "Policy.fps", repr(fps), "finite number")


def test_policy_fps_outside_the_service_range_is_a_check_time_violation_not_an_exception() -> None:
    """fps within [fps_min, fps_max] belongs to the target's limits: check reports it."""
    for fps in (0.05, 11.0, 0, -1):
        policy = Policy(fps=fps)
        assert policy.fps == fps


@pytest.mark.parametrize("max_frames", [0, -5, 2.5, "100", None, True])
def test_policy_max_frames_must_be_a_whole_number_of_at_least_one(max_frames: object) -> None:
    refused(lambda: Policy(max_frames=max_frames), "Policy.max_frames", repr(max_frames), "≥ 1")


def test_policy_max_frames_over_the_service_limit_is_a_check_time_violation() -> None:
    assert Policy(max_frames=5000).max_frames == 5000


@pytest.mark.parametrize("quality", [-3, 0, 101, "high", 90.0, None, True])
def test_policy_jpeg_quality_is_a_whole_number_from_1_to_100(quality: object) -> None:
    refused(lambda: Policy(jpeg_quality=quality, jpeg_quality_floor=1), "Policy.jpeg_quality", repr(quality), "1 to 100")


def test_policy_jpeg_quality_floor_is_at_most_the_quality() -> None:
    refused(lambda: Policy(jpeg_quality=50), "Policy.jpeg_quality_floor", str(TUNING.jpeg_quality_floor), "jpeg_quality (50)")
    refused(lambda: Policy(jpeg_quality_floor=0), "Policy.jpeg_quality_floor")
    assert Policy(jpeg_quality=50, jpeg_quality_floor=50).jpeg_quality_floor == 50
    assert Policy(jpeg_quality=1, jpeg_quality_floor=1).jpeg_quality == 1
    assert Policy(jpeg_quality=100).jpeg_quality == 100


@pytest.mark.parametrize("encodes", [0, -1, 1.5, "6"])
def test_policy_max_encodes_is_at_least_one(encodes: object) -> None:
    refused(lambda: Policy(max_encodes=encodes), "Policy.max_encodes", repr(encodes), "≥ 1")


@pytest.mark.parametrize("name", ["max_side_px", "frame_max_side_px"])
@pytest.mark.parametrize("value", [0, -1, FLOOR, 100.0, "400", True])
def test_policy_sides_are_more_than_the_smallest_side_or_none(name: str, value: object) -> None:
    refused(lambda: Policy(**{name: value}), f"Policy.{name}", repr(value), f"more than {FLOOR}")


def test_policy_sides_accept_none_and_any_side_over_the_floor() -> None:
    for name in ("max_side_px", "frame_max_side_px"):
        assert getattr(Policy(**{name: None}), name) is None
        assert getattr(Policy(**{name: FLOOR + 1}), name) == FLOOR + 1


@pytest.mark.parametrize(
    "name,value,allowed",
    [
        ("too_small", "crop", "'pad', 'reject'"),
        ("aspect_ratio", "squash", "'pad', 'split', 'reject'"),
        ("above_8k", None, "'downscale', 'keep'"),
        ("animated", "all", "'first-frame', 'keep', 'frames'"),
        ("output_format", "webp", "'auto', 'jpeg', 'png'"),
        ("output_format", "JPEG", "'auto', 'jpeg', 'png'"),
        ("video_as", "gif", "'auto', 'file', 'frames'"),
    ],
)
def test_policy_choices_are_one_of_the_allowed(name: str, value: object, allowed: str) -> None:
    refused(lambda: Policy(**{name: value}), f"Policy.{name}", repr(value), allowed)


@pytest.mark.parametrize("budget", [0, -100, 1.5, "none", "1000", True])
def test_policy_token_budget_is_a_positive_number_auto_or_none(budget: object) -> None:
    refused(lambda: Policy(token_budget=budget), "Policy.token_budget", repr(budget), '"auto" or None')


def test_policy_token_budget_and_reserve_accept_what_they_should() -> None:
    assert Policy(token_budget=None).token_budget is None
    assert Policy(token_budget="auto").token_budget == "auto"
    assert Policy(token_budget=1).token_budget == 1
    assert Policy(token_reserve=0).token_reserve == 0
    refused(lambda: Policy(token_reserve=-1), "Policy.token_reserve", "-1", "≥ 0")
    refused(lambda: Policy(token_reserve=1.5), "Policy.token_reserve")
    refused(lambda: Policy(keep_orientation="yes"), "Policy.keep_orientation", "'yes'")


def test_dataclasses_replace_validates_too() -> None:
    refused(lambda: dataclasses.replace(Policy(), jpeg_quality=0), "Policy.jpeg_quality")
    refused(lambda: dataclasses.replace(Limits(), fps_min=0), "Limits.fps_min")


def test_the_default_policy_and_every_cli_default_are_valid() -> None:
    from mediaprep.cli.options import _parser, _policy

    Policy()
    for command in ("check", "prepare"):
        extra = ["--out", "o"] if command == "prepare" else []
        args = _parser().parse_args([command, *extra, "x.png"])
        assert _policy(args) == Policy(jpeg_quality_floor=TUNING.jpeg_quality_floor)


# ---------------------------------------------------------------------------------------------
# Limits


@pytest.mark.parametrize(
    "name,value",
    [
        ("image_max_aspect_ratio", 0),
        ("image_max_aspect_ratio", 0.5),
        ("image_max_aspect_ratio", math.nan),
        ("image_min_side_exclusive_px", -1),
        ("image_max_file_bytes", 0),
        ("image_max_data_url_bytes", -1),
        ("max_decode_pixels", 0),
        ("video_max_url_bytes", 0),
        ("video_max_path_bytes", 0),
        ("video_max_data_url_bytes_exclusive", 0),
        ("image_list_min_frames", 0),
        ("image_list_max_frames", 0),
        ("max_frames_limit", 0),
        ("max_frames_default", 0),
        ("fps_min", 0),
        ("fps_min", -0.1),
        ("fps_max", math.inf),
        ("fps_default", math.nan),
        ("video_max_duration_s", 0),
        ("video_min_duration_s", -1.0),
        ("image_max_file_bytes", 1.5),
        ("image_max_file_bytes", "10"),
        ("fps_min", True),
        ("image_box_4k", Box(long_px=0, short_px=0)),
        ("image_box_8k", (7680, 4320)),
        ("video_recommended_box", Box(long_px=100, short_px=200)),
        ("image_formats_below_4k", "JPEG"),
        ("video_containers", frozenset({1})),
    ],
)
def test_limits_refuse_values_that_would_divide_by_zero_or_make_no_sense(name: str, value: object) -> None:
    refused(lambda: Limits(**{name: value}), f"Limits.{name}", repr(value), "must be")


def test_limits_relations() -> None:
    refused(lambda: Limits(fps_default=20.0), "Limits.fps_default", "[fps_min, fps_max] = [0.1, 10]")
    refused(lambda: Limits(fps_min=3.0), "Limits.fps_default", "[3, 10]")
    refused(lambda: Limits(max_frames_default=3000), "Limits.max_frames_default", "max_frames_limit (2000)")
    refused(lambda: Limits(image_list_min_frames=3000), "Limits.image_list_min_frames")
    refused(lambda: Limits(video_min_duration_s=4000.0), "Limits.video_min_duration_s")
    # coherent changes are fine
    assert Limits(fps_min=0.5, fps_default=1.0, fps_max=4.0).fps_max == 4.0
    assert Limits(image_max_aspect_ratio=1).image_max_aspect_ratio == 1
    assert Limits(image_min_side_exclusive_px=0, video_min_duration_s=0.0).video_min_duration_s == 0.0


def test_the_cli_limit_option_is_a_usage_error_for_a_value_limits_refuse() -> None:
    import io

    from mediaprep.cli import main

    for item in ("image_max_aspect_ratio=0", "fps_min=0", "image_max_file_bytes=inf", "max_frames_default=0"):
        err = io.StringIO()
        assert main(["check", "--limit", item, "x.png"], stdout=io.StringIO(), stderr=err) == 2, item
        assert err.getvalue().startswith("mediaprep: error: ") and err.getvalue().count("\n") == 1


# ---------------------------------------------------------------------------------------------
# Target


def test_target_fields() -> None:
    refused(lambda: Target(model=3), "Target.model", "3", "str")  # type: ignore[arg-type]
    refused(lambda: Target(model=""), "Target.model")
    refused(lambda: Target(limits={"fps_min": 0.1}), "Target.limits", "Limits")  # type: ignore[arg-type]
    refused(lambda: Target(limits=None), "Target.limits")  # type: ignore[arg-type]
    refused(lambda: Target(path_style="dos"), "Target.path_style", "'dos'", "'posix', 'windows-python', 'windows-java'")  # type: ignore[arg-type]
    for exc in (refused(lambda: Target(model=3)), refused(lambda: Target(api="grpc"))):  # type: ignore[arg-type]
        assert isinstance(exc, TargetError)
    assert Target(model="kimi-k2.5", path_style="windows-java").path_style == "windows-java"


# ---------------------------------------------------------------------------------------------
# the entry points


@pytest.mark.parametrize("call", [mp.check, mp.prepare, mp.probe, mp.extract_frames], ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [None, 3, 2.5, ["a.png"]], ids=repr)
def test_entry_points_refuse_inputs_of_the_wrong_type(call: object, bad: object) -> None:
    refused(lambda: call(bad), "an input must be")  # type: ignore[operator]


def test_entry_points_refuse_a_target_or_policy_of_the_wrong_type(tmp_path: Path) -> None:
    path = save(photo(40, 30), tmp_path / "a.png", "PNG")
    refused(lambda: mp.check(path, target="openai"), "target must be a mediaprep.Target")  # type: ignore[arg-type]
    refused(lambda: mp.check(path, policy={"fps": 2}), "policy must be a mediaprep.Policy")  # type: ignore[arg-type]
    refused(lambda: mp.probe(path, target=Policy()), "target must be")  # type: ignore[arg-type]
    refused(lambda: mp.prepare(path, policy=Target()), "policy must be")  # type: ignore[arg-type]
    refused(lambda: mp.prepare(path, out_dir=3), "out_dir must be")  # type: ignore[arg-type]
    refused(lambda: mp.extract_frames(path, target="x"), "target must be")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw,words",
    [
        ({"fps": "2"}, "fps = '2'"),
        ({"fps": True}, "fps = True"),
        ({"max_frames": 2.5}, "max_frames = 2.5"),
        ({"max_side_px": 0}, "max_side_px = 0"),
        ({"token_budget": 0}, "token_budget = 0"),
        ({"token_budget": "auto"}, "token_budget = 'auto'"),
    ],
)
def test_extract_frames_refuses_arguments_of_the_wrong_type(kw: dict[str, object], words: str, tmp_path: Path) -> None:
    refused(lambda: mp.extract_frames(tmp_path / "v.mp4", **kw), words)  # type: ignore[arg-type]


def test_extract_frames_reports_numbers_out_of_range_as_violations(tmp_path: Path) -> None:
    """A number of the right type outside SPEC's range is the extraction's violation (as before)."""
    path = save(photo(40, 30), tmp_path / "a.png", "PNG")  # sampling is judged before the bytes are read
    for fps in (math.nan, math.inf, 0.01, 11.0):
        ex = mp.extract_frames(path, fps=fps)
        assert not ex.ok and ex.violations[0].code == "frames.fps_out_of_range" and ex.fps is None


def test_a_valid_policy_still_prepares_a_good_file_with_one_encode(tmp_path: Path) -> None:
    """max_encodes=0 used to report a good file as image.unreadable; 1 (the least allowed) works."""
    src = save(photo(8, 8), tmp_path / "tiny.png", "PNG")
    result = mp.prepare(src, policy=Policy(max_encodes=1))
    assert result.status == "ready", result.violations


# ---------------------------------------------------------------------------------------------
# item 24: percent-encoded data URLs


def test_a_percent_encoded_data_url_is_read() -> None:
    """RFC 2397: without `;base64` the payload is percent-encoded octets. A PNG sent that way is ok."""
    raw = encoded(photo(40, 30), "PNG")
    url = "data:image/png," + quote_from_bytes(raw)
    assert "%" in url and ";base64" not in url
    report = mp.check(url)
    assert report.status == "ok", report.violations
    assert report.info is not None and report.info.format == "PNG" and report.info.size_bytes == len(raw)
    # parameters before the payload, and a payload where only the unsafe octets are escaped
    assert mp.check("data:image/png;charset=binary," + quote_from_bytes(raw, safe="")).status == "ok"
    prepared = mp.prepare(url)
    assert prepared.status == "ready" and prepared.outputs[0].size_bytes == len(raw)
