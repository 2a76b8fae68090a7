"""The video stages, wired: probe (+ verify), prepare (pass through, remux, transcode, or image list)
and `extract_frames`, the library's lazy frame sampler. Called from `pipeline`."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import encode, parts, sampling
from .apply import video as video_apply
from .apply.images import read_all
from .budget import fit_image_list, fit_video_file, resolve_budget
from .backends import pillow_backend, pyav_backend
from .check import REMUXABLE_CODECS, check_image, frame_size, video_byte_check
from .codes import violation
from .errors import UsageError
from .models import Action, Policy, Report, Size, Source, Target, VideoInfo, Violation
from .sniff import Sniffed, sniff


def probe_video_source(source: Source, sniffed: Sniffed, *, verify: bool) -> tuple[VideoInfo | None, Violation | None]:
    """Header, index and first frame; with `verify`, also the first frames and the tail, which give
    the duration that counts (and, for short clips, the decodable frame count)."""
    try:
        info = pyav_backend.probe_video(source, sniffed, pillow_backend.source_size_bytes(source))
    except pyav_backend.NoVideoStream as exc:
        return None, violation("video.no_video_stream", source=source.label, observed=str(exc))
    except pyav_backend.UnreadableVideo as exc:
        return None, violation("video.unreadable", source=source.label, observed=str(exc))
    if not verify:
        return info, None
    checked = pyav_backend.verify_video(source, info)
    if checked.error is not None:
        return dataclasses.replace(info, decode="failed", decode_error=checked.error, decodable_frames=checked.decodable_frames), None
    return dataclasses.replace(info, duration_s=checked.duration_s, duration_source="decoded", decodable_frames=checked.decodable_frames, decode="verified"), None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractedFrame:
    index: int
    time_s: float  # t_k, the sampling time, from the first frame
    pts_s: float  # the presentation time of the source frame taken, from the first frame
    image: Any = field(repr=False)  # PIL.Image.Image, at the extraction's frame size


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameExtraction:
    """The plan for an image list and, when iterated, its frames (lazily: one at a time)."""

    source: str
    fps: float | None  # the rate to send: the effective one when max_frames capped the count
    times_s: tuple[float, ...]
    frame_size: Size | None
    violations: tuple[Violation, ...]
    info: VideoInfo | None = None
    reason: str = ""
    _source: Source | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not any(v.severity == "error" for v in self.violations)

    def __iter__(self) -> Iterator[ExtractedFrame]:
        if not self.ok or self._source is None or self.info is None or self.frame_size is None:
            return iter(())
        return (
            ExtractedFrame(index=f.index, time_s=f.time_s, pts_s=f.pts_s, image=f.image)
            for f in pyav_backend.iter_frames(self._source, self.info, self.times_s, out_size=self.frame_size)
        )


def extract_frames(
    input: Any,
    *,
    fps: float = 2.0,
    max_frames: int = 2000,
    max_side_px: int | None = None,
    target: Target | None = None,
    token_budget: int | None = None,
) -> FrameExtraction:
    """SPEC §2's sampling of a video: N = floor(duration × fps) frames at t_k = k / fps (evenly over
    the duration when N > max_frames), each the frame on screen at t_k. With `token_budget`, a plan
    over it takes fewer (a multiple of 4, spread evenly) or smaller frames (see `budget`). Probing and verifying cost a
    few frame decodes; iterating costs one demux pass and a decode of what the sampled frames need:
    the GOPs holding one, up to their last sampled frame, non-reference frames skipped."""
    from .resolve import label_for, resolve

    target = target or Target()
    label = label_for(input)
    source = resolve(input)
    if isinstance(source, Violation):
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(source,))
    problems = sampling.validate(fps, max_frames, target.limits, source=label)
    if problems:
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=tuple(problems))
    try:
        with pillow_backend.open_bytes(source) as fp:
            sniffed = sniff(pillow_backend.read_head(fp))
    except (OSError, pillow_backend.UnreadableImage) as exc:
        v = violation("source.permission_denied" if isinstance(exc, PermissionError) else "video.unreadable", source=label, observed=f"{type(exc).__name__}: {exc}")
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(v,))
    if sniffed.kind != "video":
        what = "an image" if sniffed.kind == "image" else "not a video"
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(violation("video.unreadable", source=label, observed=f"the bytes are {what} ({sniffed.format})"),))
    info, problem = probe_video_source(source, sniffed, verify=True)
    if info is None:
        assert problem is not None
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(problem,))
    if info.decode == "failed":
        v = violation("video.unreadable", source=label, observed=info.decode_error or "the frames do not decode")
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(v,), info=info)
    plan = sampling.sample_times(info.duration_s, fps, max_frames)
    few = sampling.too_few(plan, info.duration_s, target.limits, source=label)
    size = frame_size(info.size, Policy(frame_max_side_px=max_side_px))
    if few is None and token_budget is not None:
        choice = fit_image_list(info.duration_s, plan.fps, max_frames, size, token_budget, target.limits)
        if not choice.fits:
            v = violation("request.over_token_limit", source=label, observed=choice.tokens, limit=token_budget)
            return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(v,), info=info, reason=choice.reason)
        if choice.changed:
            n = choice.frames
            plan = sampling.SamplePlan(times_s=tuple(k * info.duration_s / n for k in range(n)), fps=n / info.duration_s, requested_fps=fps, capped=True, reason=choice.reason)
            size = choice.size
    return FrameExtraction(
        source=label,
        fps=plan.fps,
        times_s=plan.times_s,
        frame_size=size,
        violations=(few,) if few else (),
        info=info,
        reason=plan.reason,
        _source=source,
    )


def _stem(label: str) -> str:
    from .pipeline import output_stem

    return output_stem(label, default="video")


def _choose(report: Report, target: Target, policy: Policy) -> tuple[Literal["passthrough", "remux", "transcode", "frames"], str]:
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


def prepare_video(source: Source, report: Report, *, target: Target, policy: Policy, out_dir: Path | None, url_prefix: str | None) -> Any:
    """Fix a fixable video (or pass an ok one through) and build its content part."""
    from .pipeline import Output, Prepared

    info = report.info
    assert isinstance(info, VideoInfo)
    mode, reason = _choose(report, target, policy)
    actions: list[Action] = [Action(op=mode if mode != "frames" else "frames", reason=reason)]
    name = _stem(source.label)
    if mode in ("remux", "transcode"):
        if out_dir is None:
            raise UsageError("re-encoding a video needs out_dir: the new file is written there")
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"{name}.mp4"
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            if mode == "remux":
                video_apply.remux_mp4(source, tmp)
            else:
                cap = _file_cap(target)
                params = video_apply.transcode_mp4(source, info, tmp, max_bytes=cap)
                actions[0] = Action(op="transcode", reason=reason, params=params)
            fixed = Source(label=str(dest), kind="path", path=tmp)
            from .pipeline import _check_source

            again = _check_source(fixed, target, dataclasses.replace(policy, video_as="auto"), fast=False, label=source.label + " (prepared)")
            if again.status != "ok":
                raise ValueError("; ".join(v.message for v in again.errors))
            tmp.replace(dest)
            size = dest.stat().st_size
            url = _file_url(dest, f"{name}.mp4", target, url_prefix, size, "video/mp4")
            fps, over = _file_fps(vi_of(again), target, policy, actions, source.label)
            if over is not None:
                raise ValueError(over.message)
            part = parts.video_part(url, target.api, fps=fps, max_frames=_max_frames_field(target, policy))
            vi = again.info
            assert isinstance(vi, VideoInfo)
            out = Output(format="MP4", mime="video/mp4", width_px=vi.width_px, height_px=vi.height_px, size_bytes=size, path=f"{name}.mp4")
            return Prepared(source=source.label, report=report, status="ready", actions=tuple(actions), outputs=(out,), parts=(part,), violations=report.violations)
        except Exception as exc:  # fall back to an image list: the video itself could not be fixed
            tmp.unlink(missing_ok=True)
            actions.append(Action(op="frames", reason=f"{mode} failed ({type(exc).__name__}: {exc}); sent as an image list instead"))
            mode = "frames"
    if mode == "passthrough":
        field_, cap, measured, over = video_byte_check(info.size_bytes, info.mime, target)
        outputs: tuple[Any, ...] = ()
        if target.transport == "base64":
            url = encode.to_data_url(read_all(source), info.mime)
        elif target.transport == "url":
            if out_dir is None or url_prefix is None:
                raise UsageError("transport 'url' needs out_dir and url_prefix")
            rel = f"{name}{Path(source.label).suffix or '.' + info.format.lower()}"
            out_dir.mkdir(parents=True, exist_ok=True)
            _copy(source, out_dir / rel)
            outputs = (Output(format=info.format, mime=info.mime, width_px=info.width_px, height_px=info.height_px, size_bytes=info.size_bytes, path=rel),)
            url = encode.to_url(url_prefix, rel)
        else:
            assert source.path is not None
            url = encode.to_file_url(source.path, target.path_style)
        fps, over = _file_fps(info, target, policy, actions, source.label)
        if over is not None:
            return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), violations=report.violations + (over,))
        part = parts.video_part(url, target.api, fps=fps, max_frames=_max_frames_field(target, policy))
        return Prepared(source=source.label, report=report, status="ready", actions=tuple(actions), outputs=outputs, parts=(part,), violations=report.violations)
    return _prepare_frames(source, report, info, target=target, policy=policy, out_dir=out_dir, url_prefix=url_prefix, actions=actions, name=name)


def vi_of(report: Report) -> VideoInfo:
    assert isinstance(report.info, VideoInfo)
    return report.info


def _file_fps(info: VideoInfo, target: Target, policy: Policy, actions: list[Action], label: str) -> tuple[float, Violation | None]:
    """The fps to send with a video file: as asked, or lowered so the model's frames fit the budget."""
    budget = resolve_budget(policy.token_budget, target.model, reserve_tokens=policy.token_reserve)
    choice = fit_video_file(info.duration_s, policy.fps, policy.max_frames, frame_size(info.size, Policy()), budget, target.limits)
    if not choice.fits:
        return policy.fps, violation("request.over_token_limit", source=label, observed=choice.tokens, limit=budget)
    if choice.changed:
        actions.append(Action(op="budget", reason=choice.reason, params={"tokens": choice.tokens, "budget": budget, "fps": choice.fps}))
    return choice.fps, None


def _max_frames_field(target: Target, policy: Policy) -> int | None:
    return policy.max_frames if target.api == "dashscope" and policy.max_frames != target.limits.max_frames_default else None


def _file_cap(target: Target) -> int:
    lim = target.limits
    if target.transport == "base64":
        return encode.max_raw_bytes_for_data_url(lim.video_max_data_url_bytes_exclusive - 1, "video/mp4")
    return lim.video_max_path_bytes if target.transport == "path" else lim.video_max_url_bytes


def _file_url(path: Path, rel: str, target: Target, url_prefix: str | None, size: int, mime: str) -> str:
    if target.transport == "base64":
        return encode.to_data_url(path.read_bytes(), mime)
    if target.transport == "url":
        if url_prefix is None:
            raise UsageError("transport 'url' needs url_prefix")
        return encode.to_url(url_prefix, rel)
    return encode.to_file_url(path, target.path_style)


def _copy(source: Source, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    if source.path is not None:
        shutil.copyfile(source.path, tmp)
    else:
        tmp.write_bytes(source.data or b"")
    tmp.replace(dest)


def _list_member(data: bytes, fmt: str, size: Size, rel: str, *, target: Target, out_dir: Path | None, url_prefix: str | None, written: bool) -> tuple[str, Any]:
    """One picture of an image list: the URL that names it for the transport, and its Output."""
    from .pipeline import Output

    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    if target.transport == "base64":
        url = encode.to_data_url(data, mime)
    elif target.transport == "url":
        assert url_prefix is not None
        url = encode.to_url(url_prefix, rel)
    else:
        assert out_dir is not None
        url = encode.to_file_url(out_dir / rel, target.path_style)
    output = Output(format=fmt, mime=mime, width_px=size.width_px, height_px=size.height_px, size_bytes=len(data), path=rel if written else None, data=None if written else data)
    return url, output


def _prepare_frames(source: Source, report: Report, info: VideoInfo, *, target: Target, policy: Policy, out_dir: Path | None, url_prefix: str | None, actions: list[Action], name: str) -> Any:
    from .pipeline import Prepared, write_atomic

    lim = target.limits
    plan = sampling.plan_for_list(info.duration_s, policy.fps, policy.max_frames, lim, decodable_frames=info.decodable_frames)
    few = sampling.too_few(plan, info.duration_s, lim, source=source.label)
    if few is not None:
        return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), violations=report.violations + (few,))
    size = frame_size(info.size, policy)
    budget = resolve_budget(policy.token_budget, target.model, reserve_tokens=policy.token_reserve)
    if not plan.stretched:
        choice = fit_image_list(info.duration_s, plan.fps, policy.max_frames, size, budget, lim)
        if not choice.fits:
            v = violation("request.over_token_limit", source=source.label, observed=choice.tokens, limit=budget)
            return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), violations=report.violations + (v,))
        if choice.changed:
            n = choice.frames
            plan = sampling.SamplePlan(times_s=tuple(k * info.duration_s / n for k in range(n)), fps=n / info.duration_s, requested_fps=policy.fps, capped=True, reason=choice.reason)
            size = choice.size
            actions.append(Action(op="budget", reason=choice.reason, params={"tokens": choice.tokens, "budget": budget}))
    if plan.fps < lim.fps_min - 1e-9:
        v = violation("frames.fps_out_of_range", source=source.label, field="fps", observed=round(plan.fps, 6), limit=f"[{lim.fps_min:g}, {lim.fps_max:g}]")
        return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), violations=report.violations + (v,))
    actions.append(Action(op="sample", reason=plan.reason, params={"frames": plan.count, "fps": round(plan.fps, 6), "width_px": size.width_px, "height_px": size.height_px}))
    if target.transport in ("url", "path") and out_dir is None:
        raise UsageError(f"transport {target.transport!r} for an image list needs out_dir: the frames are written there")
    folder = out_dir / name if out_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    urls: list[str] = []
    outputs: list[Any] = []
    problems: list[Violation] = []
    for frame in video_apply.encode_frames(source, info, plan.times_s, out_size=size, limits=lim):
        rel = f"{name}/frame_{frame.index:05d}.jpg"
        if folder is not None:
            write_atomic(folder / f"frame_{frame.index:05d}.jpg", frame.data)
        frame_info, why = pillow_backend.read_info(Source(label=rel, kind="bytes", data=frame.data))
        if frame_info is None:
            problems.append(violation("image.unreadable", source=rel, observed=why or "unreadable"))
        else:
            problems.extend(v for v in check_image(frame_info, target, Policy(), source=rel).errors)
        url, output = _list_member(frame.data, "JPEG", frame.size, rel, target=target, out_dir=out_dir, url_prefix=url_prefix, written=folder is not None)
        urls.append(url)
        outputs.append(output)
    if len(urls) < lim.image_list_min_frames:
        problems.append(violation("frames.too_few", source=source.label, field="frames", observed=len(urls), limit=lim.image_list_min_frames, remedy="the video yielded fewer frames than planned"))
    if problems:
        return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), outputs=tuple(outputs), violations=report.violations + tuple(problems))
    part = parts.image_list_part(urls, target.api, fps=round(plan.fps, 6))
    return Prepared(source=source.label, report=report, status="ready", actions=tuple(actions), outputs=tuple(outputs), parts=(part,), violations=report.violations)


def prepare_animation(source: Source, report: Report, *, target: Target, policy: Policy, out_dir: Path | None, url_prefix: str | None) -> Any:
    """An animated image (GIF, APNG, animated WebP, AVIF sequence) as an image list that keeps its real
    frame timing: SPEC §2's sampling over the animation's own clock."""
    from .backends import pillow_ops
    from .models import ImageInfo
    from .pipeline import Prepared, write_atomic
    from .plan import padded_size

    info = report.info
    assert isinstance(info, ImageInfo)
    lim = target.limits
    timeline = pillow_backend.animation_timeline(source)
    starts, duration = timeline[:-1], timeline[-1]
    plan = sampling.plan_for_list(duration, policy.fps, policy.max_frames, lim, decodable_frames=len(starts))
    actions = [Action(op="frames", reason=f"animated, {len(starts)} frames over {duration:g} s: sent as an image list with its timing"), Action(op="sample", reason=plan.reason, params={"frames": plan.count, "fps": round(plan.fps, 6)})]
    few = sampling.too_few(plan, duration, lim, source=source.label)
    if few is not None:
        return Prepared(source=source.label, report=report, status="rejected", actions=tuple(actions), violations=report.violations + (few,))
    size = frame_size(info.size, policy)
    indexes = [sampling.frame_on_screen(starts, t) for t in plan.times_s]
    name = _stem(source.label)
    folder = out_dir / name if out_dir is not None else None
    if target.transport in ("url", "path") and folder is None:
        raise UsageError(f"transport {target.transport!r} for an image list needs out_dir")
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    urls: list[str] = []
    outputs: list[Any] = []
    for k, im in enumerate(pillow_backend.iter_animation_frames(source, indexes, (size.width_px, size.height_px))):
        fmt = "PNG" if info.has_alpha else "JPEG"
        pic, _ = pillow_ops.normalise_mode(im, fmt)
        pic = pillow_ops.pad(pic, padded_size(pillow_ops.size_of(pic), min_side_exclusive_px=lim.image_min_side_exclusive_px, max_ratio=lim.image_max_aspect_ratio))
        data = pillow_ops.encode(pic, fmt)
        ext = "png" if fmt == "PNG" else "jpg"
        rel = f"{name}/frame_{k:05d}.{ext}"
        if folder is not None:
            write_atomic(folder / f"frame_{k:05d}.{ext}", data)
        url, output = _list_member(data, fmt, Size(pic.width, pic.height), rel, target=target, out_dir=out_dir, url_prefix=url_prefix, written=folder is not None)
        urls.append(url)
        outputs.append(output)
    part = parts.image_list_part(urls, target.api, fps=round(plan.fps, 6))
    return Prepared(source=source.label, report=report, status="ready", actions=tuple(actions), outputs=tuple(outputs), parts=(part,), violations=report.violations)
