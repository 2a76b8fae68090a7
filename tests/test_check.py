"""check_image is pure: every image rule and both sides of every boundary, without media files."""

from __future__ import annotations

import dataclasses

import pytest

from mediaprep import Limits, Policy, Target
from mediaprep.check import check_image, status_of
from mediaprep.encode import data_url_length, max_raw_bytes_for_data_url
from mediaprep.models import ImageInfo

MiB = 1 << 20


def info(width: int, height: int, fmt: str = "PNG", *, size_bytes: int = 1000, **kw: object) -> ImageInfo:
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "HEIC": "image/heic", "TIFF": "image/tiff", "BMP": "image/bmp"}.get(fmt, "image/x")
    base = dict(
        format=fmt,
        mime=mime,
        width_px=width,
        height_px=height,
        stored_width_px=width,
        stored_height_px=height,
        size_bytes=size_bytes,
        mode="RGB",
        bit_depth=8,
        has_alpha=False,
        decode="verified",
    )
    base.update(kw)
    return ImageInfo(**base)  # type: ignore[arg-type]


def codes(i: ImageInfo, target: Target | None = None, policy: Policy | None = None) -> set[str]:
    return set(check_image(i, target or Target(), policy, source="x").codes)


@pytest.mark.parametrize("w,h,bad", [(10, 500, True), (11, 500, False), (500, 10, True), (500, 11, False), (10, 10, True), (11, 11, False)])
def test_min_side_boundary(w: int, h: int, bad: bool) -> None:
    report = check_image(info(w, h), Target(), source="x")
    assert ("image.too_small" in report.codes) is bad
    if bad:
        v = next(v for v in report.violations if v.code == "image.too_small")
        assert v.observed == 10 and v.limit == 10 and v.fix == "pad"
        assert "10 px is not more than 10 px" in v.message and "pad to 11 px" in v.message
        assert report.status == "fixable"


@pytest.mark.parametrize("w,h,bad", [(2200, 11, False), (2211, 11, True), (11, 2200, False), (11, 2211, True), (4000, 20, False), (4020, 20, True)])
def test_aspect_ratio_boundary(w: int, h: int, bad: bool) -> None:
    # 2200/11 = 200.0 passes, 2211/11 = 201 fails
    assert ("image.aspect_ratio" in codes(info(w, h))) is bad


def test_aspect_ratio_policy_decides_the_fix() -> None:
    i = info(3000, 12)
    assert check_image(i, Target(), Policy(aspect_ratio="split"), source="x").violations[0].fix == "split"
    rejected = check_image(i, Target(), Policy(aspect_ratio="reject"), source="x")
    assert rejected.status == "rejected" and rejected.violations[0].fix is None


def test_too_small_reject_policy() -> None:
    report = check_image(info(5, 50), Target(), Policy(too_small="reject"), source="x")
    assert report.status == "rejected"


@pytest.mark.parametrize(
    "w,h,fmt,code",
    [
        (3839, 2159, "WEBP", None),  # below 4K: strictly inside 3840×2160 (SPEC §1, 「未満」)
        (3840, 2160, "WEBP", "image.format_above_4k"),  # exactly 4K is the 4K–8K tier
        (3840, 1000, "WEBP", "image.format_above_4k"),
        (3000, 2160, "WEBP", "image.format_above_4k"),
        (3841, 2160, "WEBP", "image.format_above_4k"),
        (3840, 2161, "WEBP", "image.format_above_4k"),
        (2159, 3839, "HEIC", None),  # portrait form of the same box
        (2160, 3840, "HEIC", "image.format_above_4k"),
        (2160, 3841, "HEIC", "image.format_above_4k"),
        (2161, 3840, "TIFF", "image.format_above_4k"),
        (3840, 2160, "JPEG", None),
        (3841, 2160, "JPEG", None),  # JPEG and PNG are accepted up to 8K
        (3841, 2160, "PNG", None),
        (4000, 2000, "BMP", "image.format_above_4k"),
    ],
)
def test_4k_tier_boundary(w: int, h: int, fmt: str, code: str | None) -> None:
    found = codes(info(w, h, fmt)) & {"image.format_above_4k"}
    assert found == ({code} if code else set())


@pytest.mark.parametrize("w,h,warn", [(7680, 4320, False), (7681, 4320, True), (7680, 4321, True), (4320, 7680, False), (4320, 7681, True), (4321, 7680, True)])
def test_8k_boundary_is_a_warning(w: int, h: int, warn: bool) -> None:
    report = check_image(info(w, h, "JPEG"), Target(), source="x")
    assert ("image.above_8k" in report.codes) is warn
    assert report.status == "ok"  # a warning only: not a hard limit


@pytest.mark.parametrize("transport", ["path", "url"])
@pytest.mark.parametrize("size,bad", [(10 * MiB, False), (10 * MiB + 1, True)])
def test_file_cap_boundary(transport: str, size: int, bad: bool) -> None:
    target = Target(api="dashscope", transport=transport)  # type: ignore[arg-type]
    report = check_image(info(100, 100, "JPEG", size_bytes=size), target, source="x")
    assert ("image.too_large" in report.codes) is bad
    if bad:
        v = report.violations[0]
        assert (v.observed, v.limit, v.field, v.fix) == (10_485_761, 10_485_760, "size_bytes", "compress")


def test_base64_cap_boundary_counts_the_whole_data_url() -> None:
    largest = max_raw_bytes_for_data_url(10 * MiB, "image/jpeg")
    assert data_url_length(largest, "image/jpeg") <= 10 * MiB
    assert data_url_length(largest + 1, "image/jpeg") > 10 * MiB
    assert largest == 7_864_302  # (10485760 - len("data:image/jpeg;base64,")) // 4 * 3
    ok = check_image(info(100, 100, "JPEG", size_bytes=largest), Target(transport="base64"), source="x")
    over = check_image(info(100, 100, "JPEG", size_bytes=largest + 1), Target(transport="base64"), source="x")
    assert "image.too_large" not in ok.codes
    v = next(v for v in over.violations if v.code == "image.too_large")
    assert v.field == "data_url_bytes" and v.observed == data_url_length(largest + 1, "image/jpeg") and v.limit == 10 * MiB


def test_format_unsupported_for_unlisted_formats_and_encodings() -> None:
    for fmt in ("GIF", "AVIF", "HEIF", "JPEG2000", "ICO", "PSD", "PPM", "BIGTIFF"):
        assert "image.format_unsupported" in codes(info(100, 100, fmt)), fmt
    cmyk = check_image(info(100, 100, "JPEG", mode="CMYK", encoding_issue="CMYK colour"), Target(), source="a.jpg")
    v = cmyk.violations[0]
    assert v.code == "image.format_unsupported" and "JPEG with CMYK colour" in v.message and cmyk.status == "fixable"
    assert "image.format_above_4k" not in codes(info(5000, 3000, "GIF"))  # one format error, not two


def test_too_many_pixels_depends_on_reduced_decode() -> None:
    big = dict(width=20000, height=14000)
    jpeg = check_image(info(big["width"], big["height"], "JPEG", reduced_decode="jpeg-draft", decode="header-only"), Target(), source="x")
    png = check_image(info(big["width"], big["height"], "PNG", decode="header-only"), Target(), source="x")
    assert jpeg.status == "fixable" and "image.too_many_pixels" in jpeg.codes
    assert png.status == "rejected"
    v = next(v for v in png.violations if v.code == "image.too_many_pixels")
    assert v.observed == 280_000_000 and v.limit == 178_956_970 and v.fix is None


def test_pixel_guard_boundary_and_override() -> None:
    limit = Limits().max_decode_pixels
    assert "image.too_many_pixels" not in codes(info(limit, 1, "PNG"))
    assert "image.too_many_pixels" in codes(info(limit + 1, 1, "PNG"))
    looser = Target(limits=dataclasses.replace(Limits(), max_decode_pixels=limit * 2))
    assert "image.too_many_pixels" not in codes(info(limit + 1, 1, "PNG"), looser)


def test_animated_and_orientation_are_warnings() -> None:
    apng = check_image(info(100, 100, "PNG", frames=5, animated=True), Target(), source="x")
    assert apng.status == "ok" and apng.codes == ("image.animated",)
    gif = check_image(info(100, 100, "GIF", frames=5, animated=True), Target(), source="x")
    assert gif.status == "fixable" and set(gif.codes) == {"image.format_unsupported", "image.animated"}
    rotated = check_image(info(100, 200, "JPEG", stored_width_px=200, stored_height_px=100, orientation=6, orientation_source="exif"), Target(), source="x")
    assert rotated.status == "ok" and rotated.codes == ("image.orientation",)
    assert "rotated 90° clockwise" in rotated.violations[0].message


def test_unreadable_is_rejected() -> None:
    report = check_image(info(100, 100, decode="failed", decode_error="OSError: truncated"), Target(), source="a.png")
    assert report.status == "rejected"
    assert report.violations[0].code == "image.unreadable" and "truncated" in report.violations[0].message


def test_limits_are_overridable() -> None:
    strict = Target(limits=dataclasses.replace(Limits(), image_max_file_bytes=1000), transport="url")
    assert "image.too_large" in codes(info(100, 100, size_bytes=1001), strict)


def test_status_of() -> None:
    r = check_image(info(5, 5, "GIF"), Target(), source="x")
    assert status_of(r.violations) == "fixable"
    assert status_of(()) == "ok"


def test_estimate_is_labelled() -> None:
    report = check_image(info(1920, 1080, "JPEG"), Target(), source="x")
    assert report.estimate is not None and report.estimate.tokens == 2691 + 4
    assert report.to_json()["estimate"]["is_estimate"] is True


# --- issue 11: model rules at check time, max_frames with the OpenAI-compatible API ---------------


@pytest.mark.parametrize("model,expected", [("kimi-k2-thinking", {"request.model_retired", "request.model_text_only"}), ("Moonshot-Kimi-K2-Instruct", {"request.model_retired", "request.model_text_only"}), ("kimi-k2.6", set()), ("kimi/kimi-k2.7-code", set())])
def test_media_for_a_text_only_or_retired_model_is_rejected_at_check(model: str, expected: set[str]) -> None:
    report = check_image(info(640, 480, "JPEG"), Target(model=model), source="photo.jpg")
    found = {c for c in report.codes if c.startswith("request.")}
    assert found == expected
    assert report.status == ("rejected" if expected else "ok")
    if expected:
        retired = next(v for v in report.violations if v.code == "request.model_retired")
        assert "qwen3.7-plus" in retired.message and retired.fix is None


def video_info(duration_s: float, **kw: object) -> "object":
    from mediaprep.models import VideoInfo

    base = dict(format="MP4", mime="video/mp4", container="mov,mp4,m4a,3gp,3g2,mj2", codec="h264", width_px=1280, height_px=720, stored_width_px=1280, stored_height_px=720, size_bytes=50_000_000, duration_s=duration_s, duration_source="decoded", header_duration_s=duration_s, fps=30.0, frame_count=None, has_audio=False, decode="verified")
    base.update(kw)
    return VideoInfo(**base)  # type: ignore[arg-type]


def test_max_frames_is_dashscope_only_so_openai_estimates_count_the_services_default() -> None:
    from mediaprep.check import check_video

    v = video_info(1100.0)
    policy = Policy(max_frames=100)
    openai = check_video(v, Target(transport="url"), policy, source="talk.mp4")
    dashscope = check_video(v, Target(api="dashscope", transport="url"), policy, source="talk.mp4")
    assert "frames.max_frames_ignored" in openai.codes and openai.status == "ok"  # a warning
    assert "frames.max_frames_ignored" not in dashscope.codes
    assert openai.estimate is not None and dashscope.estimate is not None
    # 1,100 s at fps 2 = 2,200 frames: the service caps them at 2,000 over OpenAI, at 100 over DashScope
    assert openai.estimate.tokens == 20 * dashscope.estimate.tokens
    assert openai.estimate.tokens > 500_000


def test_the_budget_fits_what_the_service_will_take_not_the_dropped_field() -> None:
    from mediaprep.check import check_video
    from mediaprep.plan import plan_video

    v = video_info(1100.0)
    policy = Policy(max_frames=100)
    for api, lowered in (("openai", True), ("dashscope", False)):
        target = Target(api=api, transport="url")  # type: ignore[arg-type]
        plan = plan_video(check_video(v, target, policy, source="talk.mp4"), target, policy)
        assert plan.mode == "passthrough" and plan.problem is None
        assert ("budget" in [s.op for s in plan.steps]) is lowered, (api, plan.steps)
        assert (plan.fps is not None and plan.fps < policy.fps) is lowered


# ---------------------------------------------------------------------------------------------
# issue 12, item 22: a video too long for any image list within SPEC's fps range


@pytest.mark.parametrize("duration_s", [20_000.5, 21_600.0, 50_000.0])
def test_a_video_too_long_for_any_image_list_is_rejected_not_fixable(duration_s: float) -> None:
    """Past max_frames / fps_min = 2000 / 0.1 = 20,000 s (about 5.6 h) the capped list spreads its 2000
    frames over the whole video at fps 2000 / duration < 0.1, which SPEC §2 refuses: check must not
    promise the image-list fix prepare cannot deliver, and must say what to do instead."""
    from mediaprep.check import check_video

    report = check_video(video_info(duration_s), Target(transport="url"), source="long.mp4")
    assert report.status == "rejected" and report.estimate is None
    assert report.codes == ("video.too_long", "frames.fps_out_of_range")
    v = report.violations[1]
    lim = Limits()
    assert v.fix is None and v.field == "fps" and v.limit == f"[{lim.fps_min:g}, {lim.fps_max:g}]"
    assert v.observed == round(lim.max_frames_default / duration_s, 6) < lim.fps_min
    assert "20000 s" in v.message and "trim it, or split it into parts" in v.message and v.message.startswith("long.mp4: fps ")


@pytest.mark.parametrize("duration_s", [3_600.5, 7_200.0, 19_999.0, 20_000.0])
def test_a_long_video_an_image_list_can_cover_stays_fixable(duration_s: float) -> None:
    from mediaprep.check import check_video

    report = check_video(video_info(duration_s), Target(transport="url"), source="long.mp4")
    assert report.status == "fixable" and report.codes == ("video.too_long",)


def test_video_as_frames_with_a_small_max_frames_is_rejected_with_the_max_frames_that_would_do() -> None:
    from mediaprep.check import check_video

    report = check_video(video_info(3_000.0), Target(api="dashscope", transport="url"), Policy(video_as="frames", max_frames=100), source="talk.mp4")
    assert report.status == "rejected" and report.codes == ("frames.fps_out_of_range",)
    assert "raise max_frames to 300 or more (up to 2000)" in report.violations[0].message
    # the video file itself is fine: the service samples it, so nothing is said without --video-as frames
    assert check_video(video_info(3_000.0), Target(api="dashscope", transport="url"), Policy(max_frames=100), source="talk.mp4").status == "ok"


def test_a_video_declaring_an_empty_picture_is_unreadable_not_a_crash() -> None:
    """Found by benchmarks/fuzz.py: a zero-width stream made the token estimate divide by zero."""
    from mediaprep.check import check_video

    report = check_video(video_info(10.0, width_px=0, stored_width_px=0), Target(), source="zero.flv")  # type: ignore[arg-type]
    assert report.status == "rejected" and "video.unreadable" in report.codes
    assert "empty picture" in report.violations[0].message or any("empty picture" in v.message for v in report.violations)
