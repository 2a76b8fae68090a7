"""Videos: probe, check, SPEC §2's sampling read back from the frames themselves, and video fixes."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep import sampling
from mediaprep.check import check_video
from mediaprep.cli import main
from mediaprep.models import VideoInfo
from videos import expected_frame, make_video, read_index, trim_edit_list

MiB = 1 << 20


def picked(extraction: mp.FrameExtraction, undo: Image.Transpose | None = None) -> list[tuple[int | None, float, float]]:
    out = []
    for f in extraction:
        im = f.image.transpose(undo) if undo is not None else f.image
        out.append((read_index(im), f.time_s, f.pts_s))
    return out


def assert_spec_selection(extraction: mp.FrameExtraction, times: list[float], undo: Image.Transpose | None = None) -> None:
    got = picked(extraction, undo)
    assert len(got) == len(extraction.times_s) > 0
    for index, t, pts in got:
        want = expected_frame(times, t)
        assert index == want, (t, index, want)
        assert pts == pytest.approx(times[want], abs=1e-6)


@pytest.fixture(scope="module")
def vids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[float]]]:
    d = tmp_path_factory.mktemp("videos")
    out: dict[str, tuple[Path, list[float]]] = {}

    def add(name: str, **kw: object) -> None:
        path = d / name
        out[name] = (path, make_video(path, **kw))  # type: ignore[arg-type]

    add("plain.mp4", frames=60, fps=10)
    add("long-gop.mp4", frames=200, fps=4, gop=8)  # 50 s, a keyframe every 2 s
    add("bframes.mp4", frames=60, fps=10, bframes=3, gop=30)
    add("start5.mp4", frames=40, fps=10, start_s=5.0)
    vfr = [0.0, 0.033, 0.066, 0.4, 0.433, 1.0, 1.2, 1.9, 2.0, 2.5, 3.1, 3.15, 3.2, 4.0, 4.6, 4.9]
    add("vfr.mkv", frames=len(vfr), pts_s=vfr, container="matroska")
    add("rot90.mp4", frames=30, fps=10, rotation_deg=90)
    add("rot270.mp4", frames=30, fps=10, rotation_deg=270)
    add("rot180.mp4", frames=30, fps=10, rotation_deg=180)
    add("mirror.mp4", frames=30, fps=10, hflip=True)
    add("two-s.mp4", frames=20, fps=10)  # 2.0 s
    add("one-nine.mp4", frames=19, fps=10)  # 1.9 s
    add("short.mp4", frames=8, fps=10)  # 0.8 s, 8 frames
    add("three-frames.mp4", frames=3, fps=10)
    add("audio.mp4", frames=30, fps=10, audio=True)
    add("vp9.webm", frames=30, fps=10, codec="libvpx-vp9", container="webm")
    add("h264.ts", frames=30, fps=10, container="mpegts")
    add("mpeg4.avi", frames=30, fps=10, codec="mpeg4", container="avi")
    # decode-plan cases: open GOPs (HEVC CRA keyframes, MPEG-2 in TS), B-pyramids in Matroska
    add("hevc-open.mp4", frames=120, fps=10, codec="libx265", gop=24, bframes=3)
    add("mpeg2-b.ts", frames=120, fps=10, codec="mpeg2video", gop=24, bframes=2, container="mpegts")
    add("bframes-long.mkv", frames=120, fps=10, bframes=3, gop=30, container="matroska")
    return out


def test_probe_fields(vids: dict[str, tuple[Path, list[float]]]) -> None:
    info = mp.probe(vids["audio.mp4"][0])
    assert isinstance(info, VideoInfo)
    assert (info.format, info.codec, info.width_px, info.height_px, info.has_audio) == ("MP4", "h264", 96, 64, True)
    assert info.duration_s == pytest.approx(3.0, abs=0.02) and info.fps == pytest.approx(10)
    rot = mp.probe(vids["rot90.mp4"][0])
    assert (rot.width_px, rot.height_px, rot.stored_width_px, rot.rotation_deg) == (64, 96, 96, 90)
    assert mp.probe(vids["vfr.mkv"][0]).format == "MKV"
    assert mp.probe(vids["vp9.webm"][0]).format == "WEBM"
    assert mp.probe(vids["h264.ts"][0]).format == "MPEG-TS"
    assert mp.probe(vids["mpeg4.avi"][0]).format == "AVI"


def test_fps2_exact_selection(vids: dict[str, tuple[Path, list[float]]]) -> None:
    path, times = vids["plain.mp4"]
    ex = mp.extract_frames(path, fps=2)
    assert ex.fps == 2 and ex.times_s == tuple(k / 2 for k in range(12))
    assert_spec_selection(ex, times)


@pytest.mark.parametrize("plan,seek", [(True, None), (False, None), (False, True), (False, False)])
def test_fps_01_sparse_selection_every_strategy(vids: dict[str, tuple[Path, list[float]]], plan: bool, seek: bool | None) -> None:
    path, times = vids["long-gop.mp4"]
    ex = mp.extract_frames(path, fps=0.1)
    assert ex.times_s == (0.0, 10.0, 20.0, 30.0, 40.0)
    from mediaprep.backends import pyav_backend

    frames = list(pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size, plan=plan, seek=seek))
    assert [read_index(f.image) for f in frames] == [0, 40, 80, 120, 160]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]


_STRATEGIES = {"plan": dict(plan=True), "scan": dict(plan=False, seek=False), "scan+seek": dict(plan=False, seek=True)}


@pytest.mark.parametrize("name", ["bframes.mp4", "long-gop.mp4", "start5.mp4", "vfr.mkv", "h264.ts", "vp9.webm", "mpeg4.avi", "hevc-open.mp4", "mpeg2-b.ts", "bframes-long.mkv"])
@pytest.mark.parametrize("fps", [0.5, 2, 3.3])
def test_every_strategy_takes_specs_frame(vids: dict[str, tuple[Path, list[float]]], name: str, fps: float) -> None:
    """The decode plan (the default), a full scan and a seeking scan all take SPEC's frame, in open
    GOPs (HEVC, MPEG-2 in TS), B-pyramids, VFR, a first pts of 5 s, VP9 and AVI alike."""
    from mediaprep.backends import pyav_backend

    path, times = vids[name]
    ex = mp.extract_frames(path, fps=2)
    assert ex.ok and ex.info is not None, ex.violations
    sample_times = sampling.sample_times(ex.info.duration_s, fps, 2000).times_s  # (short clips give < 4: fine here)
    want = [expected_frame(times, t) for t in sample_times]
    for label, kw in _STRATEGIES.items():
        frames = list(pyav_backend.iter_frames(ex.media, ex.info, sample_times, out_size=ex.frame_size, **kw))  # type: ignore[arg-type]
        assert [read_index(f.image) for f in frames] == want, label
        assert [f.pts_s for f in frames] == pytest.approx([times[i] for i in want], abs=1e-6), label


@pytest.mark.parametrize("decoders", [1, 3])
@pytest.mark.parametrize("name", ["hevc-open.mp4", "mpeg2-b.ts", "bframes-long.mkv", "vfr.mkv"])
def test_plan_takes_specs_frame_with_one_or_many_decoders(vids: dict[str, tuple[Path, list[float]]], monkeypatch: pytest.MonkeyPatch, name: str, decoders: int) -> None:
    """One decoder (a one-core machine: FFmpeg's frame threads, skip_frame switched per packet) and
    more decoders than cores (GOPs in parallel, finishing out of order) give the same frames."""
    from mediaprep.backends import pyav_backend, pyav_decode_plan

    monkeypatch.setattr(pyav_decode_plan, "_MAX_DECODERS", decoders)
    monkeypatch.setattr(pyav_decode_plan.os, "sched_getaffinity", lambda pid: set(range(decoders)))
    path, times = vids[name]
    ex = mp.extract_frames(path, fps=2)
    for fps in (0.5, 2, 5):
        sample_times = sampling.sample_times(ex.info.duration_s, fps, 2000).times_s  # type: ignore[union-attr]
        frames = list(pyav_backend.iter_frames(ex.media, ex.info, sample_times, out_size=ex.frame_size))  # type: ignore[arg-type]
        assert [read_index(f.image) for f in frames] == [expected_frame(times, t) for t in sample_times], fps
        assert [f.index for f in frames] == list(range(len(sample_times)))


def test_closing_the_frames_early_stops_the_decoders(vids: dict[str, tuple[Path, list[float]]]) -> None:
    """A caller that stops iterating (a generator closed after two frames) leaves no decoder thread."""
    import threading

    from mediaprep.backends import pyav_backend

    path, times = vids["bframes-long.mkv"]
    ex = mp.extract_frames(path, fps=2)
    it = pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size)  # type: ignore[arg-type]
    assert [read_index(next(it).image) for _ in range(2)] == [expected_frame(times, t) for t in ex.times_s[:2]]
    it.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("mediaprep-decode")]


@pytest.mark.parametrize("gop,end_s", [(20, 5.5), (30, 5.5), (20, 7.5), (30, 9.5)])
def test_an_mp4_trimmed_by_its_edit_list(tmp_path: Path, gop: int, end_s: float) -> None:
    """A lossless trim (the edit list ends before the samples do; FFmpeg indexes the rest, flagged
    discard): the duration is the edit's, the tail verifies, and every strategy takes SPEC's frame."""
    from mediaprep.backends import pyav_backend

    full = tmp_path / "full.mp4"
    times = make_video(full, frames=120, fps=10, gop=gop, bframes=3)
    trimmed = tmp_path / "trimmed.mp4"
    trim_edit_list(full, trimmed, end_s)
    report = mp.check(trimmed)
    assert report.status == "ok", report.violations
    assert report.info.duration_s == pytest.approx(end_s, abs=0.01)  # type: ignore[union-attr]
    ex = mp.extract_frames(trimmed, fps=2)
    assert ex.times_s[-1] < end_s
    want = [expected_frame(times, t) for t in ex.times_s]
    for label, kw in _STRATEGIES.items():
        frames = list(pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size, **kw))  # type: ignore[arg-type]
        assert [read_index(f.image) for f in frames] == want, label


@pytest.mark.parametrize("codec", ["libx264", "mpeg2video"])
def test_scan_in_mpeg_ts_when_a_seek_lands_after_the_last_keyframe(tmp_path: Path, codec: str) -> None:
    """MPEG-TS seeks by a timestamp search and can land on a packet after the last keyframe, where
    nothing decodes: the scan seeks further back instead of dropping the remaining samples, and so
    does the plan's fallback."""
    import dataclasses

    from mediaprep.backends import pyav_backend, pyav_frames

    path = tmp_path / "gop30.ts"
    times = make_video(path, frames=120, fps=10, gop=30, codec=codec, container="mpegts")
    ex = mp.extract_frames(path, fps=2)
    for fps in (0.5, 0.3, 0.25, 0.2):
        sample_times = sampling.sample_times(ex.info.duration_s, fps, 2000).times_s  # type: ignore[union-attr]
        frames = list(pyav_backend.iter_frames(ex.media, ex.info, sample_times, out_size=ex.frame_size, plan=False, seek=True))  # type: ignore[arg-type]
        assert [f.index for f in frames] == list(range(len(sample_times))), fps
        assert [read_index(f.image) for f in frames] == [expected_frame(times, t) for t in sample_times], fps
    real = pyav_frames._plan

    def without_last_gop(*args: object, **kw: object) -> object:
        plan = real(*args, **kw)  # type: ignore[arg-type]
        assert plan is not None
        return dataclasses.replace(plan, segments=plan.segments[:-1])

    with pytest.MonkeyPatch.context() as mpatch:
        mpatch.setattr(pyav_frames, "_plan", without_last_gop)
        for fps in (0.5, 0.3, 1, 2):
            sample_times = sampling.sample_times(ex.info.duration_s, fps, 2000).times_s  # type: ignore[union-attr]
            frames = list(pyav_backend.iter_frames(ex.media, ex.info, sample_times, out_size=ex.frame_size))  # type: ignore[arg-type]
            assert [f.index for f in frames] == list(range(len(sample_times))), fps
            assert [read_index(f.image) for f in frames] == [expected_frame(times, t) for t in sample_times], fps


def test_an_unfinished_frame_iterator_does_not_keep_the_process_alive(vids: dict[str, tuple[Path, list[float]]], tmp_path: Path) -> None:
    """A caller that takes one frame and exits with the iterator still referenced (decoders blocked
    on full queues) ends promptly: the decoder threads never hold the interpreter open."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "two-gops.mkv"
    make_video(path, frames=200, fps=10, gop=100, container="matroska")
    script = textwrap.dedent(
        f"""
        import mediaprep as mp
        from mediaprep.backends import pyav_backend as pb
        ex = mp.extract_frames({str(path)!r}, fps=10)
        it = pb.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size)
        next(it)
        print("one frame", flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "one frame" in done.stdout, done.stderr


def test_hevc_skips_non_reference_frames_only_without_temporal_sub_layers(vids: dict[str, tuple[Path, list[float]]]) -> None:
    """HEVC's non-reference pictures are so only within their temporal sub-layer: NONREF is used
    when the hvcC record says one sub-layer, and not for H.264-style guesses elsewhere."""
    import av

    from mediaprep.backends import pyav_container

    with av.open(str(vids["hevc-open.mp4"][0])) as c:
        cc = c.streams.video[0].codec_context
        assert pyav_container._nonref_is_exact(cc)
        extra = bytearray(cc.extradata)

    class Fake:
        name = "hevc"

        def __init__(self, extradata: bytes | None) -> None:
            self.extradata = extradata

    layered = bytearray(extra)
    layered[21] = (layered[21] & ~(7 << 3)) | (3 << 3)  # numTemporalLayers = 3
    assert not pyav_container._nonref_is_exact(Fake(bytes(layered)))
    assert not pyav_container._nonref_is_exact(Fake(b"\x00\x00\x00\x01\x40\x01"))  # Annex B (MPEG-TS): unknown
    with av.open(str(vids["vp9.webm"][0])) as c:
        assert not pyav_container._nonref_is_exact(c.streams.video[0].codec_context)


def _count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the frames that come out of the decoder (every one passes through _Converter.learn)."""
    from mediaprep.backends import pyav_convert

    counter = [0]
    learn = pyav_convert._Converter.learn

    def counting(self: object, frame: object) -> None:
        counter[0] += 1
        learn(self, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(pyav_convert._Converter, "learn", counting)
    return counter


@pytest.mark.parametrize("name,fps,most", [("bframes-long.mkv", 0.25, 0.4), ("bframes-long.mkv", 2, 0.7), ("hevc-open.mp4", 0.25, 0.3), ("mpeg2-b.ts", 2, 0.6)])
def test_plan_decodes_only_what_the_chosen_frames_need(vids: dict[str, tuple[Path, list[float]]], monkeypatch: pytest.MonkeyPatch, name: str, fps: float, most: float) -> None:
    """Sparse samples skip whole GOPs and GOP tails; dense ones skip the non-reference B-frames a scan
    decodes. (A scan decodes every frame.)"""
    from mediaprep.backends import pyav_backend

    path, times = vids[name]
    ex = mp.extract_frames(path, fps=fps)
    counter = _count_decoded(monkeypatch)
    planned = [read_index(f.image) for f in pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size)]
    decoded_by_plan, counter[0] = counter[0], 0
    scanned = [read_index(f.image) for f in pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size, plan=False, seek=False)]
    assert planned == scanned == [expected_frame(times, t) for t in ex.times_s]
    assert counter[0] >= expected_frame(times, ex.times_s[-1]) + 1  # the scan: every frame up to the last sample
    assert decoded_by_plan <= most * counter[0], (decoded_by_plan, counter[0])


@pytest.mark.parametrize("damage", ["drop-last-segment", "drop-middle-segment", "no-plan"])
def test_a_plan_that_misses_a_frame_falls_back_to_a_scan(vids: dict[str, tuple[Path, list[float]]], monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    """When a chosen frame does not come out of the decoder (here: its GOP left out of the plan, as
    a damaged stream would), the remaining samples are taken by a scan: same frames, in order, once."""
    import dataclasses

    from mediaprep.backends import pyav_backend, pyav_frames

    path, times = vids["bframes-long.mkv"]
    ex = mp.extract_frames(path, fps=0.5)
    real = pyav_frames._plan

    def damaged(*args: object, **kw: object) -> object:
        plan = real(*args, **kw)  # type: ignore[arg-type]
        if damage == "no-plan":
            return None
        assert plan is not None and len(plan.segments) >= 3
        drop = -1 if damage == "drop-last-segment" else 1
        segments = list(plan.segments)
        del segments[drop]
        return dataclasses.replace(plan, segments=tuple(segments))

    monkeypatch.setattr(pyav_frames, "_plan", damaged)
    frames = list(pyav_backend.iter_frames(ex.media, ex.info, ex.times_s, out_size=ex.frame_size))
    assert [f.index for f in frames] == list(range(len(ex.times_s)))
    assert [read_index(f.image) for f in frames] == [expected_frame(times, t) for t in ex.times_s]


def test_max_frames_cap_spreads_evenly(vids: dict[str, tuple[Path, list[float]]]) -> None:
    path, times = vids["plain.mp4"]  # 6 s
    ex = mp.extract_frames(path, fps=10, max_frames=8)
    assert ex.times_s == tuple(k * 6.0 / 8 for k in range(8))
    assert ex.fps == pytest.approx(8 / 6)
    assert_spec_selection(ex, times)


@pytest.mark.parametrize("name", ["bframes.mp4", "start5.mp4", "vfr.mkv"])
def test_selection_with_bframes_offset_start_and_vfr(vids: dict[str, tuple[Path, list[float]]], name: str) -> None:
    path, times = vids[name]
    ex = mp.extract_frames(path, fps=3)
    assert ex.times_s[0] == 0.0  # measured from the first frame, whatever its pts
    assert_spec_selection(ex, times)


@pytest.mark.parametrize(
    "name,undo,size",
    [
        ("rot90.mp4", Image.Transpose.ROTATE_270, (64, 96)),
        ("rot270.mp4", Image.Transpose.ROTATE_90, (64, 96)),
        ("rot180.mp4", Image.Transpose.ROTATE_180, (96, 64)),
        ("mirror.mp4", Image.Transpose.FLIP_LEFT_RIGHT, (96, 64)),
    ],
)
def test_rotation_and_mirror_are_applied(vids: dict[str, tuple[Path, list[float]]], name: str, undo: Image.Transpose, size: tuple[int, int]) -> None:
    path, times = vids[name]
    ex = mp.extract_frames(path, fps=2)
    frames = list(ex)
    assert frames[0].image.size == size
    assert read_index(frames[0].image) is None  # as stored it is not upright …
    assert_spec_selection(ex, times, undo)  # … undoing the display transform gives the coded frame


def test_duration_boundaries(vids: dict[str, tuple[Path, list[float]]]) -> None:
    ok = mp.check(vids["two-s.mp4"][0])
    assert ok.status == "ok" and ok.info.duration_s == pytest.approx(2.0)
    short = mp.check(vids["one-nine.mp4"][0])
    assert short.status == "fixable" and short.codes == ("video.too_short",)
    v = short.violations[0]
    assert (v.observed, v.limit, v.fix) == (1.9, 2, "frames")
    few = mp.check(vids["three-frames.mp4"][0])
    assert few.status == "rejected" and "3 decodable frames" in few.violations[0].message


@pytest.mark.slow
def test_one_hour_boundary(tmp_path: Path) -> None:
    exact, over = tmp_path / "3600.mp4", tmp_path / "3601.mp4"
    make_video(exact, frames=3600, fps=1, size=(32, 32), gop=600)
    make_video(over, frames=3601, fps=1, size=(32, 32), gop=600)
    a, b = mp.check(exact), mp.check(over)
    assert a.status == "ok" and a.info.duration_s == pytest.approx(3600.0)
    assert b.status == "fixable" and b.codes == ("video.too_long",) and b.violations[0].observed == pytest.approx(3601.0)
    # an hour-long video becomes an image list under max_frames, at an fps the service accepts
    ex = mp.extract_frames(over, fps=2, max_frames=400)
    assert len(ex.times_s) == 400 and ex.fps == pytest.approx(400 / 3601) and ex.fps >= mp.Limits().fps_min
    # 100 frames over 3601 s would claim fps 0.028, outside [0.1, 10]: refused, never sent (issue 12, item 22)
    few = mp.extract_frames(over, fps=2, max_frames=100)
    assert not few.ok and few.fps is None and "frames.fps_out_of_range" in [v.code for v in few.violations]


def _vinfo(size_bytes: int, fmt: str = "MP4", duration_s: float = 10.0) -> VideoInfo:
    return VideoInfo(
        format=fmt, mime="video/mp4", container="mov", codec="h264", width_px=640, height_px=360, stored_width_px=640,
        stored_height_px=360, size_bytes=size_bytes, duration_s=duration_s, duration_source="decoded", header_duration_s=duration_s,
        fps=30.0, frame_count=300, has_audio=False, decode="verified",
    )


def test_transport_caps_at_their_limits() -> None:
    from mediaprep.encode import data_url_length, max_raw_bytes_for_data_url

    path = mp.Target(api="dashscope", transport="path")
    assert check_video(_vinfo(100 * MiB), path, source="v").status == "ok"
    assert check_video(_vinfo(100 * MiB + 1), path, source="v").codes == ("video.too_large",)
    url = mp.Target(transport="url")
    assert check_video(_vinfo(2 * 1024 * MiB), url, source="v").status == "ok"
    assert check_video(_vinfo(2 * 1024 * MiB + 1), url, source="v").codes == ("video.too_large",)
    # base64: the whole data URL must be strictly less than 10 MiB
    b64 = mp.Target(transport="base64")
    under = max_raw_bytes_for_data_url(10 * MiB - 1, "video/mp4")
    assert data_url_length(under, "video/mp4") < 10 * MiB
    assert check_video(_vinfo(under), b64, source="v").status == "ok"
    at = under + 3
    assert data_url_length(at, "video/mp4") >= 10 * MiB
    assert check_video(_vinfo(at), b64, source="v").codes == ("video.too_large",)


def test_containers_and_resolution_rules() -> None:
    webm = check_video(_vinfo(1000, "WEBM"), mp.Target(), source="v")
    assert webm.codes == ("video.container_unlisted",) and webm.violations[0].fix == "remux"
    for fmt in ("MP4", "MOV", "MKV", "AVI", "FLV", "WMV"):
        assert check_video(_vinfo(1000, fmt), mp.Target(), source="v").status == "ok", fmt
    from dataclasses import replace

    big = replace(_vinfo(1000), width_px=2561, height_px=1440)
    assert check_video(big, mp.Target(), source="v").codes == ("video.resolution_above_2k",)
    assert check_video(replace(_vinfo(1000), width_px=1440, height_px=2560), mp.Target(), source="v").status == "ok"


@pytest.mark.parametrize("fps,ok", [(0.1, True), (0.09, False), (10, True), (10.1, False)])
def test_fps_range(vids: dict[str, tuple[Path, list[float]]], fps: float, ok: bool) -> None:
    ex = mp.extract_frames(vids["long-gop.mp4"][0], fps=fps)
    assert ex.ok is ok
    if not ok:
        assert ex.violations[0].code == "frames.fps_out_of_range" and list(ex) == []


@pytest.mark.parametrize("max_frames,ok", [(2000, True), (2001, False), (1, True), (0, False)])
def test_max_frames_range(max_frames: int, ok: bool) -> None:
    problems = sampling.validate(2.0, max_frames, mp.Limits(), source="v")
    assert (not problems) is ok
    if not ok:
        assert problems[0].code == "frames.max_frames_out_of_range"


def test_too_few_names_the_fps_that_would_give_four(vids: dict[str, tuple[Path, list[float]]]) -> None:
    ex = mp.extract_frames(vids["short.mp4"][0], fps=2)  # 0.8 s → 1 frame
    assert not ex.ok and ex.violations[0].code == "frames.too_few"
    assert "use fps 5 or more" in ex.violations[0].message


def test_sampling_rule_is_pure() -> None:
    plan = sampling.sample_times(10.0, 2.0, 2000)
    assert plan.count == 20 and plan.times_s[:3] == (0.0, 0.5, 1.0) and plan.fps == 2.0
    capped = sampling.sample_times(3600.0, 2.0, 2000)
    assert capped.count == 2000 and capped.capped and capped.fps == pytest.approx(2000 / 3600)
    assert capped.times_s[1] == pytest.approx(1.8)
    assert sampling.sample_times(0.3, 2.0, 2000).count == 1  # at least one
    assert sampling.frame_on_screen([0.0, 0.5, 1.0], 0.99) == 1 and sampling.frame_on_screen([0.0, 0.5, 1.0], 1.0) == 2


def _decode_part_frames(part: dict, api: str) -> list[Image.Image]:
    urls = part["video"]
    return [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in urls]


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_prepare_ok_video_passes_through(vids: dict[str, tuple[Path, list[float]]], api: str, tmp_path: Path) -> None:
    path = vids["plain.mp4"][0]
    result = mp.prepare(path, target=mp.Target(api=api), out_dir=tmp_path)  # type: ignore[arg-type]
    assert result.status == "ready" and [a.op for a in result.actions] == ["passthrough"]
    data_url = "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()
    if api == "openai":
        assert result.part == {"type": "video_url", "video_url": {"url": data_url}, "fps": 2}
    else:
        assert result.part == {"video": data_url, "fps": 2}


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_prepare_short_video_becomes_an_image_list(vids: dict[str, tuple[Path, list[float]]], api: str, tmp_path: Path) -> None:
    path, times = vids["short.mp4"]  # 0.8 s, 8 frames
    result = mp.prepare(path, target=mp.Target(api=api), out_dir=tmp_path)  # type: ignore[arg-type]
    assert result.status == "ready", result.violations
    part = result.part
    assert part["fps"] == 5.0 and len(part["video"]) == 4
    if api == "openai":
        assert part["type"] == "video"
    frames = _decode_part_frames(part, api)
    assert [read_index(im) for im in frames] == [expected_frame(times, k / 5) for k in range(4)]
    for out in result.outputs:
        assert mp.check(tmp_path / out.path).status == "ok"


def test_video_as_frames_and_path_transport(vids: dict[str, tuple[Path, list[float]]], tmp_path: Path) -> None:
    result = mp.prepare(vids["plain.mp4"][0], target=mp.Target(api="dashscope", transport="path"), policy=mp.Policy(video_as="frames", fps=1), out_dir=tmp_path)
    assert result.status == "ready" and len(result.part["video"]) == 6
    assert all(u.startswith("file:///") and Path(u[7:]).is_file() for u in result.part["video"])


@pytest.mark.parametrize("name,op", [("h264.ts", "remux"), ("vp9.webm", "transcode"), ("mpeg4.avi", "passthrough")])
def test_prepare_unlisted_containers(vids: dict[str, tuple[Path, list[float]]], name: str, op: str, tmp_path: Path) -> None:
    path, times = vids[name]
    result = mp.prepare(path, out_dir=tmp_path)
    assert result.status == "ready", result.violations
    assert result.actions[0].op == op
    if op != "passthrough":
        out = tmp_path / result.outputs[0].path
        again = mp.check(out)
        assert again.status == "ok" and again.info.format == "MP4"
        ex = mp.extract_frames(out, fps=2)
        assert_spec_selection(ex, times)  # the same frames at the same times survive the fix


def test_prepare_too_large_for_base64_transcodes_to_fit(tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "big.mp4"
    make_video(path, frames=40, fps=10, size=(320, 240))
    small_cap = replace(mp.Limits(), video_max_data_url_bytes_exclusive=path.stat().st_size)  # the original no longer fits
    target = mp.Target(limits=small_cap)
    assert mp.check(path, target=target).codes == ("video.too_large",)
    result = mp.prepare(path, target=target, out_dir=tmp_path / "out")
    assert result.status == "ready", result.violations
    assert result.actions[0].op == "transcode"
    url = result.part["video_url"]["url"]
    assert len(url) < small_cap.video_max_data_url_bytes_exclusive


def test_frames_cli(vids: dict[str, tuple[Path, list[float]]], tmp_path: Path) -> None:
    path, times = vids["plain.mp4"]
    out, err = io.StringIO(), io.StringIO()
    code = main(["frames", str(path), "--out", str(tmp_path / "f"), "--fps", "1", "--json", "--contact-sheet", str(tmp_path / "sheet.jpg"), "--api", "dashscope", "--transport", "url", "--url-prefix", "https://cdn.example/x"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    result = json.loads(out.getvalue())
    assert result["fps"] == 1 and [f["time_s"] for f in result["frames"]] == [0, 1, 2, 3, 4, 5]
    assert [f["pts_s"] for f in result["frames"]] == [0, 1, 2, 3, 4, 5]
    assert result["part"] == {"video": [f"https://cdn.example/x/frame_{k:05d}.jpg" for k in range(6)], "fps": 1}
    for f in result["frames"]:
        assert read_index(Image.open(tmp_path / "f" / f["file"])) == expected_frame(times, f["time_s"])
    assert Image.open(tmp_path / "sheet.jpg").size[0] > 0
    code = main(["frames", str(vids["short.mp4"][0]), "--out", str(tmp_path / "g"), "--json"], stdout=(o2 := io.StringIO()), stderr=io.StringIO())
    assert code == 1 and json.loads(o2.getvalue())["violations"][0]["code"] == "frames.too_few"
    assert main(["frames", str(path), "--out", str(tmp_path / "h"), "--fps", "11"], stdout=io.StringIO(), stderr=io.StringIO()) == 1


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_frames_cli_base64_part_is_streamed_from_the_written_files(vids: dict[str, tuple[Path, list[float]]], tmp_path: Path, api: str) -> None:
    """The default transport: the part's data URLs are written one at a time, read back from the
    JPEGs just written; the JSON is the same one object a plain json.dumps would give."""
    path, times = vids["bframes-long.mkv"]
    out = io.StringIO()
    code = main(["frames", str(path), "--out", str(tmp_path / "f"), "--fps", "2", "--api", api, "--json"], stdout=out, stderr=io.StringIO())
    assert code == 0
    text = out.getvalue()
    result = json.loads(text)
    assert text == json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n"
    urls = result["part"]["video"]
    assert len(urls) == len(result["frames"]) == 24 and result["part"]["fps"] == 2
    assert (result["part"].get("type") == "video") == (api == "openai")
    for url, f in zip(urls, result["frames"]):
        head, b64 = url.split(",", 1)
        assert head == "data:image/jpeg;base64"
        assert base64.b64decode(b64) == (tmp_path / "f" / f["file"]).read_bytes()
        assert read_index(Image.open(tmp_path / "f" / f["file"])) == expected_frame(times, f["time_s"])


@pytest.mark.parametrize("count,columns,cell", [(6, 6, 240), (36, 6, 240), (100, 10, 144), (2000, 45, 80)])
def test_contact_sheet_grows_wider_with_the_count(count: int, columns: int, cell: int, tmp_path: Path) -> None:
    from mediaprep.backends.contact_sheet import ContactSheet

    sheet = ContactSheet(count)
    assert (sheet.columns, sheet.cell_px) == (columns, cell)
    rows = -(-count // columns)
    assert sheet.sheet.size == (columns * cell, rows * (cell + sheet.label_h))
    assert max(sheet.sheet.size) < 65_500  # JPEG's limit
    buf = io.BytesIO()
    Image.new("RGB", (320, 180), (250, 250, 250)).save(buf, "JPEG")
    for n in range(min(count, 12)):
        sheet.add(n * 0.5, buf.getvalue())
    (tmp_path / "sheet.jpg").write_bytes(sheet.to_jpeg())
    im = Image.open(tmp_path / "sheet.jpg").convert("RGB")
    assert im.size == sheet.sheet.size
    assert min(im.getpixel((cell // 2, cell // 2))) > 200  # the first cell holds the (white) frame
    if count > 12:
        assert max(im.getpixel((cell // 2, (cell + sheet.label_h) * (rows - 1) + cell // 2))) < 60  # an unfilled cell stays dark
    with pytest.raises(ValueError):
        full = ContactSheet(1)
        full.add(0.0, buf.getvalue())
        full.add(1.0, buf.getvalue())


def test_check_cli_mixes_images_and_videos(vids: dict[str, tuple[Path, list[float]]], tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    out = io.StringIO()
    code = main(["check", "--json", str(vids["plain.mp4"][0]), str(tmp_path / "a.png"), str(vids["one-nine.mp4"][0])], stdout=out, stderr=io.StringIO())
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert code == 1 and [(d["kind"], d["status"]) for d in lines] == [("video", "ok"), ("image", "ok"), ("video", "fixable")]
    assert lines[0]["estimate"]["tokens"] > 0 and lines[0]["info"]["duration_s"] == pytest.approx(6.0)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_becomes_an_image_list_with_its_timing(tmp_path: Path, fmt: str) -> None:
    from videos import index_frame

    durations_ms = [100, 300, 200, 400, 100, 500, 400, 500]  # 2.5 s in all, uneven
    frames = [Image.fromarray(index_frame(i, 96, 64)) for i in range(len(durations_ms))]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=durations_ms, loop=0, **({"lossless": True} if fmt == "WEBP" else {}))
    starts = [sum(durations_ms[:i]) / 1000 for i in range(len(durations_ms))]
    result = mp.prepare(path, policy=mp.Policy(animated="frames", fps=2), out_dir=tmp_path / "out")
    assert result.status == "ready", result.violations
    part = result.part
    assert part["type"] == "video" and part["fps"] == 2 and len(part["video"]) == 5  # floor(2.5 × 2)
    got = [read_index(im) for im in _decode_part_frames(part, "openai")]
    assert got == [expected_frame(starts, k / 2) for k in range(5)]


def test_extract_frames_hands_back_its_image_list_part(tmp_path: Path) -> None:
    from videos import make_video

    clip = tmp_path / "c.mp4"
    make_video(clip, frames=30, fps=10.0)  # 3 s
    ex = mp.extract_frames(clip, fps=2)
    part = ex.image_list_part(target=mp.Target(api="dashscope"))
    assert part["fps"] == 2 and len(part["video"]) == 6 and all(u.startswith("data:image/jpeg;base64,") for u in part["video"])
    openai = ex.image_list_part(target=mp.Target(transport="url"), out_dir=tmp_path / "f", url_prefix="https://cdn.example/f")
    assert openai["type"] == "video" and openai["video"][0] == "https://cdn.example/f/frame_00000.jpg"
    assert (tmp_path / "f" / "frame_00005.jpg").is_file()
    with pytest.raises(mp.UsageError):
        mp.extract_frames(clip, fps=0.5).image_list_part()  # 1 frame: frames.too_few
