"""The plan stage, pure: hand-built `ImageInfo` / `VideoInfo` values → `check_*` → `plan_*`.

No media file is read or written; every number comes from `Limits()` / `TUNING` / the helpers
the plan itself uses, so a change to the rule table moves the expectations with it.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from mediaprep.budget import fit_video_file, resolve_budget
from mediaprep.caps import video_raw_cap
from mediaprep.check import check_image, check_video
from mediaprep.formats import output_format_for
from mediaprep.models import ImageInfo, Policy, Report, Size, Target, VideoInfo
from mediaprep.plan import (
    FramesPlan,
    ImagePlan,
    VideoPlan,
    fit_box,
    max_frames_field,
    padded_size,
    plan_extraction,
    plan_frames,
    plan_image,
    plan_video,
    split_count,
)
from mediaprep.rules import IMAGE_MIME, MiB, OTHER_MIME, REMUXABLE_CODECS, TUNING, VIDEO_MIME, Limits
from mediaprep.tokens import estimate_frames, frame_size

LIM = Limits()
TARGET = Target()
FLOOR = LIM.image_min_side_exclusive_px
RATIO = LIM.image_max_aspect_ratio
BOX_8K = LIM.image_box_8k
NEED = LIM.image_list_min_frames
EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# builders


def image(
    fmt: str = "JPEG",
    width: int = 1280,
    height: int = 720,
    *,
    mode: str | None = None,
    has_alpha: bool = False,
    orientation: int = 1,
    size_bytes: int = 200_000,
    **kw: object,
) -> ImageInfo:
    """An image as a header would describe it; `width`×`height` as displayed."""
    if mode is None:
        mode = "RGBA" if has_alpha else ("P" if fmt == "GIF" else "RGB")
    stored_w, stored_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return ImageInfo(
        format=fmt,
        mime=IMAGE_MIME.get(fmt) or OTHER_MIME[fmt],
        width_px=width,
        height_px=height,
        stored_width_px=stored_w,
        stored_height_px=stored_h,
        size_bytes=size_bytes,
        mode=mode,
        bit_depth=8,
        has_alpha=has_alpha,
        orientation=orientation,
        orientation_source="exif" if orientation != 1 else None,
        **kw,  # type: ignore[arg-type]
    )


def video(
    fmt: str = "MP4",
    codec: str = "h264",
    *,
    width: int = 1280,
    height: int = 720,
    duration_s: float = 60.0,
    size_bytes: int = 2 * MiB,
    decodable_frames: int | None = None,
    **kw: object,
) -> VideoInfo:
    containers = {"MP4": "mov,mp4,m4a,3gp,3g2,mj2", "MKV": "matroska,webm", "WEBM": "matroska,webm", "MPEG-TS": "mpegts"}
    return VideoInfo(
        format=fmt,
        mime=VIDEO_MIME.get(fmt, "video/mp2t"),
        container=containers.get(fmt, fmt.lower()),
        codec=codec,
        width_px=width,
        height_px=height,
        stored_width_px=width,
        stored_height_px=height,
        size_bytes=size_bytes,
        duration_s=duration_s,
        duration_source="packets",
        header_duration_s=duration_s,
        fps=30.0,
        frame_count=round(duration_s * 30),
        has_audio=False,
        decodable_frames=decodable_frames,
        **kw,  # type: ignore[arg-type]
    )


def img_report(info: ImageInfo, policy: Policy | None = None, target: Target = TARGET) -> Report:
    return check_image(info, target, policy, source="test.img")


def img_plan(info: ImageInfo, policy: Policy | None = None, target: Target = TARGET) -> tuple[Report, ImagePlan]:
    report = img_report(info, policy, target)
    return report, plan_image(report, target, policy)


def vid_report(info: VideoInfo, policy: Policy | None = None, target: Target = TARGET) -> Report:
    return check_video(info, target, policy, source="test.vid")


def vid_plan(info: VideoInfo, policy: Policy | None = None, target: Target = TARGET) -> tuple[Report, VideoPlan]:
    report = vid_report(info, policy, target)
    assert report.status != "rejected", report.violations
    return report, plan_video(report, target, policy)


def ops(steps: tuple) -> tuple[str, ...]:  # type: ignore[type-arg]
    return tuple(s.op for s in steps)


def list_tokens(plan: FramesPlan) -> int:
    return estimate_frames(plan.frame_size, plan.count).tokens


def assert_sendable_list(plan: FramesPlan, duration_s: float, max_frames: int) -> None:
    """What SPEC §2 asks of an image list that is planned (no problem)."""
    assert plan.problem is None
    assert NEED <= plan.count <= min(max_frames, LIM.image_list_max_frames)
    assert LIM.fps_min - EPS <= plan.fps <= LIM.fps_max + EPS
    assert list(plan.times_s) == sorted(plan.times_s) and len(set(plan.times_s)) == plan.count
    assert plan.times_s[0] == 0.0 and all(0.0 <= t < duration_s for t in plan.times_s)
    assert plan.frame_size.width_px >= 1 and plan.frame_size.height_px >= 1
    assert ops(plan.steps)[-1] == "sample"


# ---------------------------------------------------------------------------------------------
# images: pass through


def test_ok_jpeg_passes_through() -> None:
    info = image("JPEG", 1280, 720)
    report, plan = img_plan(info)
    assert report.status == "ok" and report.violations == ()
    assert plan.passthrough is True
    assert plan.ops == ("passthrough",) and len(plan.steps) == 1
    assert plan.output_size == info.size
    assert plan.output_format is None
    assert plan.tiles == 1 and plan.decode_long_px is None


# ---------------------------------------------------------------------------------------------
# images: too small, aspect ratio


def test_too_small_png_is_padded_to_the_floor_plus_one() -> None:
    info = image("PNG", 8, 8)
    report, plan = img_plan(info)
    assert report.status == "fixable" and report.codes.count("image.too_small") == 2
    assert plan.passthrough is False
    assert plan.ops[-2:] == ("pad", "encode")
    assert plan.output_size == Size(FLOOR + 1, FLOOR + 1) == Size(11, 11)
    assert plan.output_format == "PNG" == output_format_for(info)
    pad = plan.steps[-2]
    assert pad.params == {"width_px": FLOOR + 1, "height_px": FLOOR + 1}
    assert plan.steps[-1].params == {"format": "PNG"}


def test_too_small_with_the_reject_policy_is_an_empty_plan() -> None:
    policy = Policy(too_small="reject")
    report, plan = img_plan(image("PNG", 8, 8), policy)
    assert report.status == "rejected"
    assert plan.passthrough is False and plan.steps == () and plan.output_format is None


def test_long_thin_image_padded_on_the_short_side() -> None:
    info = image("PNG", 3000, 10)
    report, plan = img_plan(info, Policy(aspect_ratio="pad"))
    assert {"image.aspect_ratio", "image.too_small"} <= set(report.codes) and report.status == "fixable"
    assert "split" not in plan.ops and plan.ops[-2:] == ("pad", "encode")
    need = math.ceil(3000 / RATIO)
    assert need == 15
    assert plan.output_size == Size(3000, need)
    assert plan.output_size.long_px / plan.output_size.short_px <= RATIO
    assert plan.tiles == 1


def test_long_thin_portrait_pads_the_width() -> None:
    _, plan = img_plan(image("PNG", 10, 3000), Policy(aspect_ratio="pad"))
    assert plan.output_size == Size(math.ceil(3000 / RATIO), 3000)


def test_long_thin_image_split_into_tiles() -> None:
    info = image("PNG", 3000, 10)
    policy = Policy(aspect_ratio="split")
    report, plan = img_plan(info, policy)
    assert report.status == "fixable"
    tiles = split_count(info.size, RATIO)
    assert tiles == 2
    assert plan.tiles == tiles
    assert plan.ops == ("split", "pad", "encode")  # the tile is still 10 px high: padded to 11
    split = plan.steps[0]
    assert split.params == {"tiles": tiles}
    tile = Size(math.ceil(3000 / tiles), 10)
    assert plan.output_size == padded_size(tile, min_side_exclusive_px=FLOOR, max_ratio=RATIO) == Size(1500, FLOOR + 1)
    assert plan.scaled_size == info.size  # no downscale before splitting
    assert tiles * tile.width_px >= info.width_px


def test_split_tiles_obey_the_ratio_without_padding_when_tall_enough() -> None:
    info = image("PNG", 6000, 20)
    _, plan = img_plan(info, Policy(aspect_ratio="split"))
    tiles = split_count(info.size, RATIO)
    assert tiles == math.ceil(6000 / (20 * RATIO)) == 2
    assert plan.ops == ("split", "encode")
    assert plan.tiles == tiles and plan.output_size == Size(3000, 20)
    assert plan.output_size.long_px / plan.output_size.short_px <= RATIO


def test_long_thin_image_with_the_reject_policy_is_rejected_and_the_plan_empty() -> None:
    policy = Policy(aspect_ratio="reject")
    report, plan = img_plan(image("PNG", 3000, 10), policy)
    assert report.status == "rejected"
    v = next(v for v in report.violations if v.code == "image.aspect_ratio")
    assert v.fix is None
    assert plan.passthrough is False and plan.steps == () and plan.ops == ()
    assert plan.output_format is None and plan.output_size == Size(0, 0)


# ---------------------------------------------------------------------------------------------
# images: size tiers and formats


def test_above_8k_jpeg_is_downscaled_to_fit_the_8k_box() -> None:
    info = image("JPEG", 9000, 5000)
    report, plan = img_plan(info)
    assert "image.above_8k" in report.codes and report.status == "ok"  # a warning only
    expected = fit_box(info.size, BOX_8K)
    assert BOX_8K.fits(expected.width_px, expected.height_px) and expected.width_px == BOX_8K.long_px
    assert plan.passthrough is False
    assert plan.ops == ("downscale", "encode")
    assert plan.steps[0].params == {"width_px": expected.width_px, "height_px": expected.height_px}
    assert plan.output_size == expected == plan.scaled_size
    assert plan.output_format == "JPEG"
    assert plan.decode_long_px == expected.long_px


def test_above_8k_portrait_is_downscaled_in_its_own_orientation() -> None:
    info = image("JPEG", 5000, 9000)
    _, plan = img_plan(info)
    assert plan.output_size == fit_box(info.size, BOX_8K)
    assert plan.output_size.height_px == BOX_8K.long_px and plan.output_size.width_px < plan.output_size.height_px


def test_above_8k_kept_when_the_policy_says_keep() -> None:
    info = image("JPEG", 9000, 5000)
    report, plan = img_plan(info, Policy(above_8k="keep"))
    assert "image.above_8k" in report.codes
    assert "downscale" not in plan.ops
    assert plan.passthrough is True and plan.output_size == info.size


def test_webp_between_4k_and_8k_is_converted() -> None:
    info = image("WEBP", 5000, 3000)
    report, plan = img_plan(info)
    assert "image.format_above_4k" in report.codes and report.status == "fixable"
    fmt = output_format_for(info)
    assert fmt in ("JPEG", "PNG")
    assert plan.ops == ("convert", "encode")
    assert plan.steps[0].params == {"to": fmt}
    assert plan.output_format == fmt
    assert plan.output_size == info.size  # inside 8K: no resize


def test_webp_below_4k_passes_through() -> None:
    _, plan = img_plan(image("WEBP", 1000, 800))
    assert plan.passthrough is True


def test_cmyk_tiff_is_converted_naming_the_issue() -> None:
    info = image("TIFF", 1000, 800, mode="CMYK", encoding_issue="CMYK colour")
    report, plan = img_plan(info)
    assert "image.format_unsupported" in report.codes
    fmt = output_format_for(info)
    assert plan.ops == ("convert", "encode")
    convert = plan.steps[0]
    assert convert.params == {"to": fmt}
    assert "CMYK colour" in convert.reason and "TIFF" in convert.reason
    assert plan.output_format == fmt


def test_rgba_png_never_becomes_jpeg() -> None:
    info = image("PNG", 800, 600, has_alpha=True, orientation=6)
    _, plan = img_plan(info, Policy(output_format="jpeg"))
    assert plan.passthrough is False
    assert plan.output_format == "PNG"
    assert plan.steps[-1].params == {"format": "PNG"}
    # the same picture without alpha does follow the policy (so the rule above is the alpha rule)
    _, opaque = img_plan(image("PNG", 800, 600, orientation=6), Policy(output_format="jpeg"))
    assert opaque.output_format == "JPEG"
    assert f"quality {TUNING.jpeg_quality}" in opaque.steps[-1].reason


# ---------------------------------------------------------------------------------------------
# images: orientation, animation, max side, pixel guard


def test_orientation_is_baked_in() -> None:
    info = image("JPEG", 3000, 4000, orientation=6)
    report, plan = img_plan(info)
    assert "image.orientation" in report.codes and report.status == "ok"
    assert plan.ops == ("orient", "encode")
    assert plan.steps[0].params == {"orientation": 6}
    assert plan.output_size == info.size  # the displayed size
    assert plan.output_format == "JPEG"


def test_orientation_kept_on_request_passes_through() -> None:
    info = image("JPEG", 3000, 4000, orientation=6)
    _, plan = img_plan(info, Policy(keep_orientation=True))
    assert plan.passthrough is True and plan.ops == ("passthrough",)
    # ... but not baked in when something else needs a rewrite either
    _, converted = img_plan(image("WEBP", 3000, 5000, orientation=6), Policy(keep_orientation=True))
    assert "orient" not in converted.ops and "convert" in converted.ops


def test_animated_gif_first_frame_then_convert() -> None:
    info = image("GIF", 320, 240, frames=12, animated=True)
    report, plan = img_plan(info, Policy(animated="first-frame"))
    assert {"image.format_unsupported", "image.animated"} <= set(report.codes)
    assert plan.ops == ("first-frame", "convert", "encode")
    assert plan.ops.index("first-frame") < plan.ops.index("convert")
    assert plan.output_format == output_format_for(info) == "PNG"  # a palette picture


def test_animated_png_kept_passes_through() -> None:
    info = image("PNG", 320, 240, frames=12, animated=True)
    report, plan = img_plan(info, Policy(animated="keep"))
    assert report.status == "ok" and "image.animated" in report.codes
    assert plan.passthrough is True
    _, first = img_plan(info, Policy(animated="first-frame"))
    assert first.ops == ("first-frame", "encode")


def test_max_side_downscales() -> None:
    info = image("JPEG", 4000, 3000)
    _, plan = img_plan(info, Policy(max_side_px=1000))
    assert plan.ops == ("downscale", "encode")
    assert plan.output_size == Size(1000, 750)
    assert plan.steps[0].params == {"width_px": 1000, "height_px": 750}
    assert plan.decode_long_px == 1000


def test_max_side_never_upscales() -> None:
    small = image("JPEG", 800, 600)
    _, plan = img_plan(small, Policy(max_side_px=1000))
    assert plan.passthrough is True and plan.output_size == small.size
    # with another reason to rewrite, still no upscale
    turned = image("JPEG", 600, 800, orientation=6)
    _, plan2 = img_plan(turned, Policy(max_side_px=1000))
    assert "downscale" not in plan2.ops and plan2.output_size == turned.size


def test_too_many_pixels_decoded_reduced() -> None:
    info = image("JPEG", 20000, 10000, reduced_decode="jpeg-draft")
    assert info.size.pixels > LIM.max_decode_pixels
    report, plan = img_plan(info)
    assert "image.too_many_pixels" in report.codes and report.status == "fixable"
    assert plan.ops[0] == "decode-reduced"
    step = plan.steps[0]
    assert step.params["min_long_px"] == plan.decode_long_px
    assert plan.decode_long_px is not None and plan.decode_long_px >= plan.output_size.long_px
    expected = fit_box(info.size, BOX_8K)
    assert plan.output_size == expected
    assert plan.output_size.pixels <= LIM.max_decode_pixels
    assert "downscale" in plan.ops and plan.output_format == "JPEG"
    assert "JPEG draft mode" in step.reason


def test_too_many_pixels_without_reduced_decode_is_rejected() -> None:
    report, plan = img_plan(image("PNG", 20000, 10000))
    assert report.status == "rejected"
    assert plan.steps == () and plan.passthrough is False


# ---------------------------------------------------------------------------------------------
# images: pure helpers

GRID_SIZES = [
    Size(w, h)
    for w in (1, 2, 5, 10, 11, 12, 199, 200, 201, 2001, 2200, 3000, 7680, 9000, 40000)
    for h in (1, 3, 10, 11, 15, 100, 2160, 4320, 5000)
]


@pytest.mark.parametrize("size", GRID_SIZES, ids=str)
def test_padded_size_properties(size: Size) -> None:
    out = padded_size(size, min_side_exclusive_px=FLOOR, max_ratio=RATIO)
    assert out.width_px > FLOOR and out.height_px > FLOOR
    assert out.long_px / out.short_px <= RATIO
    assert out.width_px >= size.width_px and out.height_px >= size.height_px  # never shrinks
    ok = size.short_px > FLOOR and size.long_px / size.short_px <= RATIO
    if ok:
        assert out == size


def test_padded_size_examples() -> None:
    assert padded_size(Size(8, 8), min_side_exclusive_px=FLOOR, max_ratio=RATIO) == Size(11, 11)
    assert padded_size(Size(3000, 10), min_side_exclusive_px=FLOOR, max_ratio=RATIO) == Size(3000, 15)
    assert padded_size(Size(2000, 10), min_side_exclusive_px=FLOOR, max_ratio=RATIO) == Size(2000, 11)
    assert padded_size(Size(1, 4001), min_side_exclusive_px=FLOOR, max_ratio=RATIO) == Size(21, 4001)


@pytest.mark.parametrize("size", GRID_SIZES, ids=str)
def test_fit_box_properties(size: Size) -> None:
    out = fit_box(size, BOX_8K)
    assert BOX_8K.fits(out.width_px, out.height_px)
    assert out.width_px <= size.width_px and out.height_px <= size.height_px  # never enlarges
    if BOX_8K.fits(size.width_px, size.height_px):
        assert out == size
    # the other orientation gives the transposed answer
    assert fit_box(Size(size.height_px, size.width_px), BOX_8K) == Size(out.height_px, out.width_px)
    # the shape is kept (to a pixel of rounding) and the box is filled on one side
    if out != size:
        assert abs(out.width_px / size.width_px - out.height_px / size.height_px) <= 1 / min(out.width_px, out.height_px) + 1e-12 or min(out.width_px, out.height_px) == 1
        assert out.long_px >= BOX_8K.long_px - 1 or out.short_px >= BOX_8K.short_px - 1


def test_fit_box_examples() -> None:
    assert fit_box(Size(9000, 5000), BOX_8K) == Size(7680, 4266)
    assert fit_box(Size(5000, 9000), BOX_8K) == Size(4266, 7680)
    assert fit_box(Size(8000, 8000), BOX_8K) == Size(4320, 4320)
    assert fit_box(Size(100, 100), BOX_8K) == Size(100, 100)


def test_split_count() -> None:
    assert split_count(Size(2000, 10), RATIO) == 1
    assert split_count(Size(2001, 10), RATIO) == 2
    assert split_count(Size(3000, 10), RATIO) == 2
    assert split_count(Size(10, 3000), RATIO) == 2
    assert split_count(Size(100_000, 10), RATIO) == 50
    assert split_count(Size(100, 100), RATIO) == 1
    for size in GRID_SIZES:
        n = split_count(size, RATIO)
        assert n >= 1 and math.ceil(size.long_px / n) <= size.short_px * RATIO
        if n > 1:  # the smallest such count
            assert math.ceil(size.long_px / (n - 1)) > size.short_px * RATIO


# ---------------------------------------------------------------------------------------------
# videos: the mode


def test_ok_mp4_passes_through() -> None:
    report, plan = vid_plan(video())
    assert report.status == "ok" and report.violations == ()
    assert plan.mode == "passthrough" and plan.problem is None
    assert plan.fps == Policy().fps
    assert ops(plan.steps) == ("passthrough",)
    assert max_frames_field(TARGET, Policy()) is None and plan.max_frames_field is None
    assert plan.cap_bytes is None


def test_dashscope_max_frames_field() -> None:
    ds = Target(api="dashscope")
    _, plan = vid_plan(video(), Policy(max_frames=100), ds)
    assert plan.mode == "passthrough" and plan.max_frames_field == 100
    _, default = vid_plan(video(), Policy(), ds)
    assert Policy().max_frames == LIM.max_frames_default
    assert default.max_frames_field is None
    # openai never sends the field
    _, openai = vid_plan(video(), Policy(max_frames=100))
    assert openai.max_frames_field is None


def test_mkv_is_a_listed_container_whatever_the_codec() -> None:
    # SPEC §2 lists MKV, so neither an h264 nor a vp9 MKV needs a fix (the codec is not a rule).
    assert "MKV" in LIM.video_containers
    for codec in ("h264", "vp9"):
        report, plan = vid_plan(video("MKV", codec))
        assert report.status == "ok" and plan.mode == "passthrough"


def test_unlisted_container_with_a_remuxable_codec_is_remuxed() -> None:
    assert "h264" in REMUXABLE_CODECS and "MPEG-TS" not in LIM.video_containers
    report, plan = vid_plan(video("MPEG-TS", "h264"))
    assert "video.container_unlisted" in report.codes
    assert plan.mode == "remux" and ops(plan.steps)[0] == "remux"
    assert plan.cap_bytes is None
    assert plan.frames is not None and plan.frames.problem is None  # the fallback list
    assert_sendable_list(plan.frames, 60.0, Policy().max_frames)


def test_unlisted_container_with_another_codec_is_transcoded() -> None:
    assert "vp9" not in REMUXABLE_CODECS and "WEBM" not in LIM.video_containers
    report, plan = vid_plan(video("WEBM", "vp9"))
    assert "video.container_unlisted" in report.codes
    assert plan.mode == "transcode"
    assert plan.cap_bytes == video_raw_cap(TARGET)
    assert plan.frames is not None and plan.frames.problem is None


def test_mp4_too_large_for_base64_is_transcoded_under_the_cap() -> None:
    info = video(size_bytes=50 * MiB)
    report, plan = vid_plan(info)
    assert "video.too_large" in report.codes
    assert plan.mode == "transcode"
    assert plan.cap_bytes == video_raw_cap(TARGET)
    assert plan.cap_bytes < LIM.video_max_data_url_bytes_exclusive
    assert plan.frames is not None and plan.frames.problem is None
    assert plan.fps == Policy().fps


def test_same_mp4_by_url_passes_through() -> None:
    _, plan = vid_plan(video(size_bytes=50 * MiB), target=Target(transport="url"))
    assert plan.mode == "passthrough"


def test_too_short_with_enough_frames_is_sent_as_a_list() -> None:
    info = video(duration_s=1.0, decodable_frames=30)
    report, plan = vid_plan(info)
    assert "video.too_short" in report.codes and report.status == "fixable"
    assert plan.mode == "frames" and plan.frames is not None
    f = plan.frames
    assert f.problem is None and f.count >= NEED
    assert all(t < info.duration_s for t in f.times_s)
    assert_sendable_list(f, info.duration_s, Policy().max_frames)
    assert plan.fps is None  # the file's fps field is not sent


def test_too_short_with_two_frames_is_rejected() -> None:
    info = video(duration_s=1.0, decodable_frames=2)
    report = vid_report(info)
    assert report.status == "rejected"
    v = next(v for v in report.violations if v.code == "video.too_short")
    assert v.fix is None


def test_too_long_is_sent_as_a_capped_list() -> None:
    info = video(duration_s=4000.0)
    report, plan = vid_plan(info)
    assert "video.too_long" in report.codes and report.status == "fixable"
    assert plan.mode == "frames" and plan.frames is not None
    f = plan.frames
    assert f.problem is None
    assert NEED <= f.count <= Policy().max_frames
    assert f.fps == pytest.approx(f.count / info.duration_s, abs=1e-12)
    assert f.fps < Policy().fps  # capped
    assert all(t < info.duration_s for t in f.times_s)
    assert_sendable_list(f, info.duration_s, Policy().max_frames)


def test_video_as_frames_sends_an_ok_video_as_a_list() -> None:
    policy = Policy(video_as="frames")
    report, plan = vid_plan(video(), policy)
    assert report.status == "ok"
    assert plan.mode == "frames" and ops(plan.steps) == ("frames",)
    assert plan.frames is not None
    f = plan.frames
    assert f.count == math.floor(60.0 * policy.fps)  # 120 frames, under the default budget
    assert f.times_s == tuple(k / policy.fps for k in range(f.count))
    assert f.fps == policy.fps


# ---------------------------------------------------------------------------------------------
# videos: the token budget


def test_long_video_file_over_a_small_budget() -> None:
    info = video(duration_s=3000.0)
    policy = Policy(token_budget=20_000)
    choice = fit_video_file(info.duration_s, policy.fps, policy.max_frames, frame_size(info.size), 20_000, LIM)
    report, plan = vid_plan(info, policy)
    assert report.status == "ok"
    assert plan.mode == "passthrough"
    if choice.fits:
        assert plan.problem is None
        assert "budget" in ops(plan.steps)
        assert plan.fps == choice.fps and LIM.fps_min <= plan.fps < Policy().fps
    else:
        assert plan.problem is not None and plan.problem.code == "request.over_token_limit"
        assert plan.problem.limit == 20_000


def test_video_file_fps_lowered_to_fit_a_budget() -> None:
    info = video(duration_s=600.0)
    policy = Policy(token_budget=100_000)
    choice = fit_video_file(info.duration_s, policy.fps, policy.max_frames, frame_size(info.size), 100_000, LIM)
    assert choice.fits and choice.changed  # this input is the "fps lowered" branch
    _, plan = vid_plan(info, policy)
    assert plan.mode == "passthrough" and plan.problem is None
    assert ops(plan.steps) == ("passthrough", "budget")
    assert plan.fps == choice.fps < Policy().fps and plan.fps >= LIM.fps_min
    budget_step = plan.steps[1]
    assert budget_step.params["budget"] == 100_000 and budget_step.params["tokens"] <= 100_000


def test_remux_over_the_budget_falls_to_the_image_list() -> None:
    info = video("MPEG-TS", "h264", duration_s=3000.0)
    policy = Policy(token_budget=20_000)
    choice = fit_video_file(info.duration_s, policy.fps, policy.max_frames, frame_size(info.size), 20_000, LIM)
    assert not choice.fits
    _, plan = vid_plan(info, policy)
    assert plan.mode == "frames" and ops(plan.steps) == ("remux", "frames")
    assert plan.frames is not None and plan.problem is None


def test_image_list_over_a_small_budget() -> None:
    info = video(duration_s=60.0)
    policy = Policy(video_as="frames", token_budget=5_000)
    _, plan = vid_plan(info, policy)
    assert plan.frames is not None
    f = plan.frames
    if f.problem is not None:
        assert f.problem.code == "request.over_token_limit"
    else:
        assert f.count < math.floor(info.duration_s * policy.fps)
        assert f.count % 4 == 0 and f.count >= NEED
        assert "budget" in ops(f.steps)
        budget_step = next(s for s in f.steps if s.op == "budget")
        assert budget_step.params == {"tokens": list_tokens(f), "budget": 5_000}
        assert list_tokens(f) <= 5_000
        assert f.fps == pytest.approx(f.count / info.duration_s)
        assert_sendable_list(f, info.duration_s, policy.max_frames)


def test_image_list_over_a_tiny_budget_is_over_the_limit() -> None:
    _, plan = vid_plan(video(duration_s=600.0), Policy(video_as="frames", token_budget=100))
    assert plan.frames is not None and plan.frames.problem is not None
    assert plan.frames.problem.code == "request.over_token_limit"
    assert plan.frames.times_s == ()


DURATIONS = [0.5, 1.0, 2.0, 2.5, 10.0, 59.9, 60.0, 333.3, 600.0, 1801.0, 3600.0, 4000.0, 7200.0]
BUDGETS: list[int | str | None] = [None, 1_500, 5_000, 20_000, 100_000, "auto"]


@pytest.mark.parametrize("budget", BUDGETS, ids=str)
def test_every_planned_list_keeps_fps_in_range(budget: int | str | None) -> None:
    """plan_frames at the default fps never plans an fps outside [fps_min, fps_max] over this grid
    (the budget shrinks frames at about fps 0.5 before going lower, and then stops at fps_min)."""
    policy = Policy(token_budget=budget)  # type: ignore[arg-type]
    limit = resolve_budget(budget, TARGET.model)
    for d in DURATIONS:
        for size in (Size(1280, 720), Size(3840, 2160), Size(320, 240)):
            f = plan_frames(d, decodable_frames=None, size=size, target=TARGET, policy=policy, label="grid")
            if f.problem is not None:
                assert f.problem.code in ("request.over_token_limit", "frames.too_few"), (d, size, f.problem)
                continue
            assert_sendable_list(f, d, policy.max_frames)
            if limit is not None:
                assert list_tokens(f) <= limit, (d, size, budget)
            if "budget" in ops(f.steps):
                assert f.count % 4 == 0  # whole chunks of 4 pooled frames
                assert f.fps == pytest.approx(f.count / d)
                assert f.frame_size.long_px <= frame_size(size).long_px


def test_a_budget_that_only_shrinks_frames_keeps_the_instants_and_fps() -> None:
    """At fps 0.1, 1001 s is floor(100.1) = 100 frames (sent at fps 0.1); over a 10 000-token budget
    the 100 frames are shrunk, not respaced: the list keeps t_k = k / 0.1 and fps 0.1 (respacing them
    evenly would claim 100 / 1001 < fps_min and be rejected for nothing)."""
    policy = Policy(fps=0.1, token_budget=10_000)
    f = plan_frames(1001.0, decodable_frames=None, size=Size(1280, 720), target=TARGET, policy=policy, label="slow")
    assert f.problem is None
    assert f.fps == 0.1 and f.count == 100 and f.times_s == tuple(k / 0.1 for k in range(100))
    assert f.frame_size.long_px < frame_size(Size(1280, 720)).long_px
    assert list_tokens(f) <= 10_000
    assert "budget" in ops(f.steps) and "sample" in ops(f.steps)
    # plan_extraction agrees
    e = plan_extraction(1001.0, fps=0.1, max_frames=LIM.max_frames_default, size=Size(1280, 720), max_side_px=None, token_budget=10_000, target=TARGET, label="slow")
    assert e.problem is None and e.fps == 0.1 and e.times_s == f.times_s and e.frame_size == f.frame_size


def test_a_list_whose_budget_would_need_fps_below_fps_min_is_rejected_with_fps_out_of_range() -> None:
    """When the budget must drop frames and the count it keeps would be sent below fps_min, the
    plan says so (`frames.fps_out_of_range`) instead of sending an fps the service refuses."""
    found = []
    for d in (1001.0, 1003.0, 1010.0, 1039.0, 2003.0):
        for budget in (3_000, 5_000, 8_000):
            f = plan_frames(d, decodable_frames=None, size=Size(1280, 720), target=TARGET, policy=Policy(fps=0.1, token_budget=budget), label="slow")
            if f.problem is None:
                assert f.fps >= LIM.fps_min - 1e-9
                assert list_tokens(f) <= budget
            else:
                assert f.problem.code in ("frames.fps_out_of_range", "request.over_token_limit")
                found.append(f.problem.code)
    assert found  # the grid reaches a refusal


def test_short_clip_list_respects_the_token_budget() -> None:
    """plan_frames' docstring: the list is "fitted to the token budget". A clip too short for any
    fps (0.3 s, 9 decodable frames) is spread over 4 frames; over a 500-token budget the plan must
    shrink them or say `request.over_token_limit`, never plan a list over the budget silently."""
    policy = Policy(token_budget=500)
    f = plan_frames(0.3, decodable_frames=9, size=Size(1280, 720), target=TARGET, policy=policy, label="blip")
    if f.problem is None:
        assert list_tokens(f) <= 500, f"planned {f.count} frames of {f.frame_size}: about {list_tokens(f)} tokens, over the 500-token budget"
    else:
        assert f.problem.code == "request.over_token_limit"


# ---------------------------------------------------------------------------------------------
# plan_extraction


def extraction(duration_s: float, fps: float, *, max_frames: int = LIM.max_frames_default, size: Size = Size(1280, 720), max_side_px: int | None = None, token_budget: int | None = None) -> FramesPlan:
    return plan_extraction(duration_s, fps=fps, max_frames=max_frames, size=size, max_side_px=max_side_px, token_budget=token_budget, target=TARGET, label="x.mp4")


def test_extraction_is_spec_sampling_exactly() -> None:
    p = extraction(10.0, 2.0)
    assert p.problem is None
    assert p.times_s == tuple(k / 2 for k in range(20))
    assert p.fps == 2.0
    assert p.frame_size == frame_size(Size(1280, 720), None)


def test_extraction_capped_by_max_frames_is_even() -> None:
    p = extraction(10.0, 2.0, max_frames=8)
    assert p.count == 8
    assert p.times_s == tuple(k * 10.0 / 8 for k in range(8))
    assert p.fps == 8 / 10.0


def test_extraction_too_few_keeps_the_times() -> None:
    p = extraction(1.0, 2.0)
    assert p.times_s == (0.0, 0.5)  # never raised
    assert p.fps == 2.0
    assert p.problem is not None and p.problem.code == "frames.too_few"
    assert p.problem.observed == 2 and p.problem.limit == NEED


def test_extraction_over_a_budget() -> None:
    full = extraction(600.0, 2.0)
    p = extraction(600.0, 2.0, token_budget=5_000)
    if p.problem is not None:
        assert p.problem.code == "request.over_token_limit"
    else:
        assert p.count < full.count and p.count % 4 == 0
        assert list_tokens(p) <= 5_000
    tiny = extraction(600.0, 2.0, token_budget=100)
    assert tiny.problem is not None and tiny.problem.code == "request.over_token_limit"
    assert tiny.times_s == ()


def test_extraction_never_plans_fps_below_fps_min() -> None:
    """SPEC §2: the fps sent with an image list must lie in [0.1, 10]. extract_frames validates the
    asked fps, but the budget may spread the frames evenly and lower it: at fps 0.1, 1001 s gives 100
    frames; over a 10 000-token budget they are shrunk and re-spaced, claiming fps 100 / 1001."""
    p = extraction(1001.0, 0.1, token_budget=10_000)
    assert p.problem is not None or p.fps >= LIM.fps_min - EPS, f"planned fps {p.fps} (< {LIM.fps_min}) with no problem ({p.count} frames of {p.frame_size})"


# ---------------------------------------------------------------------------------------------
# frame size


def test_frame_size_is_the_model_size_without_a_budget_change() -> None:
    info = video()
    policy = Policy(video_as="frames")
    _, plan = vid_plan(info, policy)
    assert plan.frames is not None and "budget" not in ops(plan.frames.steps)
    assert plan.frames.frame_size == frame_size(info.size, policy.frame_max_side_px)
    sample = plan.frames.steps[-1]
    assert (sample.params["width_px"], sample.params["height_px"]) == (plan.frames.frame_size.width_px, plan.frames.frame_size.height_px)


def test_frame_max_side_sets_the_long_side() -> None:
    info = video()
    policy = Policy(video_as="frames", frame_max_side_px=320)
    _, plan = vid_plan(info, policy)
    assert plan.frames is not None
    assert plan.frames.frame_size == frame_size(info.size, 320)
    assert plan.frames.frame_size.long_px == 320
    assert plan.frames.frame_size == Size(320, 180)
    # portrait: the long side is the height
    _, tall = vid_plan(video(width=720, height=1280), policy)
    assert tall.frames is not None and tall.frames.frame_size == Size(180, 320)


# ---------------------------------------------------------------------------------------------
# plans are values


def test_plans_are_frozen() -> None:
    _, iplan = img_plan(image("PNG", 8, 8))
    _, vplan = vid_plan(video())
    assert vplan.frames is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        iplan.passthrough = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        vplan.mode = "frames"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        vplan.frames.fps = 5.0  # type: ignore[misc]


def test_plans_are_deterministic() -> None:
    cases_img = [
        (image("PNG", 3000, 10), Policy(aspect_ratio="split")),
        (image("JPEG", 20000, 10000, reduced_decode="jpeg-draft"), Policy()),
        (image("GIF", 320, 240, frames=12, animated=True), Policy()),
    ]
    for info, policy in cases_img:
        a = img_plan(info, policy)[1]
        b = img_plan(info, policy)[1]
        assert a == b and a is not b
    cases_vid = [
        (video(duration_s=4000.0), Policy()),
        (video(duration_s=60.0), Policy(video_as="frames", token_budget=5_000)),
        (video("WEBM", "vp9"), Policy()),
    ]
    for vinfo, policy in cases_vid:
        a2 = vid_plan(vinfo, policy)[1]
        b2 = vid_plan(vinfo, policy)[1]
        assert a2 == b2 and a2 is not b2


# ---------------------------------------------------------------------------------------------
# issue 12, item 22: what check promises for a very long video, prepare delivers (and extract_frames)


@pytest.mark.parametrize("duration_s", [3_601.0, 19_999.0, 20_000.0, 20_000.5, 21_600.0, 100_000.0])
@pytest.mark.parametrize("budget", [None, 5_000, "auto"], ids=str)
def test_check_and_plan_agree_on_very_long_videos(duration_s: float, budget: int | str | None) -> None:
    """Fixable at check → a sendable list (or only the budget refuses it); rejected at check → the
    plan refuses with the very same violation. No plan ever carries an fps below fps_min."""
    policy = Policy(token_budget=budget)  # type: ignore[arg-type]
    info = video(duration_s=duration_s)
    report = vid_report(info, policy)
    frames = plan_frames(duration_s, decodable_frames=None, size=info.size, target=TARGET, policy=policy, label=report.source)
    slow = duration_s > LIM.max_frames_default / LIM.fps_min
    if slow:
        assert report.status == "rejected" and "frames.fps_out_of_range" in report.codes
        assert frames.problem == report.violations[report.codes.index("frames.fps_out_of_range")]
        assert frames.times_s == ()
    else:
        assert report.status == "fixable"
        plan = plan_video(report, TARGET, policy)
        assert plan.mode == "frames" and plan.frames == frames
        if frames.problem is not None:
            assert frames.problem.code == "request.over_token_limit", frames.problem
        else:
            assert_sendable_list(frames, duration_s, policy.max_frames)


@pytest.mark.parametrize("token_budget", [None, 50_000, 200_000])
def test_extraction_of_a_video_longer_than_max_frames_over_fps_min_is_refused(token_budget: int | None) -> None:
    """`frames` on a 6 h video used to exit 0 with fps 0.0926: now no list, frames.fps_out_of_range."""
    p = extraction(21_600.0, 2.0, token_budget=token_budget)
    assert p.problem is not None and p.problem.code == "frames.fps_out_of_range"
    assert p.times_s == () and not 0 < p.fps < LIM.fps_min
    assert p.problem.observed == round(LIM.max_frames_default / 21_600.0, 6)
    assert "split it into parts of at most 20000 s" in p.problem.message
    # with fewer frames asked for, the advice is a larger max_frames
    q = extraction(2_000.0, 2.0, max_frames=100)
    assert q.problem is not None and q.problem.code == "frames.fps_out_of_range" and q.times_s == ()
    assert "raise max_frames to 200 or more" in q.problem.message
    # right at the edge the list is sent at exactly fps_min
    edge = extraction(20_000.0, 2.0)
    assert edge.problem is None and edge.count == LIM.max_frames_default and edge.fps == pytest.approx(LIM.fps_min)
