"""The one place the stages are wired, for every kind of input:

    input ─resolve─▶ Source ─probe─▶ info ─check─▶ Report ─plan─▶ ImagePlan / VideoPlan / FramesPlan
          ─apply─▶ EncodedPicture(s) or a fixed file ─outputs (name, write, URL)─▶ parts ─▶ Prepared

`probe`, `check`, `prepare` and `extract_frames` are the library's entry points (re-exported by
`mediaprep`). Each stage lives in its own module and only moves data forward; this module decides
which stage runs next, and nothing below it imports it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from . import parts, sampling
from .apply import video as apply_video
from .apply.images import CapUnreachable, apply_image, read_all
from .backends import pillow_backend
from .check import check_image, check_video, service_max_frames, status_of
from .codes import violation
from .errors import ProbeError, UnreadableImage, UnreadableMedia, UnreadableVideo, UsageError
from .media import BytesMedia, Media, OpenedMedia, media_for
from .models import (
    Action,
    EncodedPicture,
    ExtractedFrame,
    ImageInfo,
    Output,
    Policy,
    Prepared,
    Report,
    Size,
    Source,
    Target,
    TokenEstimate,
    VideoInfo,
    Violation,
)
from .outputs import copy_atomic, exclusive_temp, frame_name, output_name, output_stem, url_for, write_atomic
from .plan import FramesPlan, plan_extraction, plan_frames, plan_image, plan_video
from .probe import Probed, probe_media, probe_source, probe_video, sniff_media
from .caps import url_read_cap
from .resolve import InputLike, label_for, resolve
from .rules import TUNING
from .tokens import estimate_frames, estimate_image, frame_size

if TYPE_CHECKING:
    from .remote import RemoteOptions

# The remote module (httpx) loads when a URL is first met; Pillow when an image is first read, PyAV
# when a video is (see probe and apply.video): checking local images loads neither httpx nor PyAV.

_DEFAULT_TARGET = Target()
_T = TypeVar("_T")
_DEFAULT_POLICY = Policy()


# --------------------------------------------------------------------------------------------------
# probe and check


def _arguments(target: object, policy: object = None) -> None:
    """The entry points' own arguments: a wrong type is misuse (UsageError), never an AttributeError
    deep inside. (An input that is not a path, URL or bytes is refused by `resolve` the same way.)"""
    if target is not None and not isinstance(target, Target):
        raise UsageError(f"target must be a mediaprep.Target or None, not {type(target).__name__}")
    if policy is not None and not isinstance(policy, Policy):
        raise UsageError(f"policy must be a mediaprep.Policy or None, not {type(policy).__name__}")


def probe(input: InputLike, *, target: Target | None = None, remote: RemoteOptions | None = None) -> ImageInfo | VideoInfo:
    """What the input is, from its header only (no pixels). Raises `ProbeError` when unreadable.
    A URL is read through Range requests (`remote` says how: deadline, private hosts, ...)."""
    _arguments(target)
    source = resolve(input)
    if isinstance(source, Violation):
        raise ProbeError(source)
    probed = probe_source(source, verify=False, target=target or _DEFAULT_TARGET, remote=remote)
    if probed.info is None:
        assert probed.problem is not None
        raise ProbeError(probed.problem)
    return probed.info


def _report(label: str, probed: Probed, target: Target, policy: Policy) -> Report:
    """The check stage on what probing found (a rejected report when it found nothing)."""
    if probed.info is None:
        assert probed.problem is not None
        report = Report(source=label, kind=probed.kind, status="rejected", violations=(probed.problem,))
    elif isinstance(probed.info, VideoInfo):
        report = check_video(probed.info, target, policy, source=label)
    else:
        report = check_image(probed.info, target, policy, source=label)
    return dataclasses.replace(report, remote=probed.transfer) if probed.transfer is not None else report


def _check(source: Source | Violation, label: str, target: Target, policy: Policy, *, fast: bool, remote: RemoteOptions | None) -> Report:
    if isinstance(source, Violation):
        return Report(source=label, kind="unknown", status="rejected", violations=(source,))
    return _report(source.label, probe_source(source, verify=not fast, target=target, remote=remote), target, policy)


def check(input: InputLike, *, target: Target | None = None, policy: Policy | None = None, fast: bool = False, remote: RemoteOptions | None = None) -> Report:
    """Will the service accept this input? Never raises for a bad file: the report says why.

    Reads the header and, unless `fast`, proves the pixels decode cheaply (JPEG at 1/8 scale).
    A URL is read through Range requests, never whole: an image is decoded only when its body is at
    most `remote.verify_max_bytes` (else judged from its header); `Report.remote` says what it cost
    and what was read."""
    _arguments(target, policy)
    return _check(resolve(input), label_for(input), target or _DEFAULT_TARGET, policy or _DEFAULT_POLICY, fast=fast, remote=remote)


# --------------------------------------------------------------------------------------------------
# prepare


def _rejected(report: Report, *, actions: Iterable[Action] = (), outputs: Iterable[Output] = (), problems: Iterable[Violation] = ()) -> Prepared:
    return Prepared(source=report.source, report=report, status="rejected", actions=tuple(actions), outputs=tuple(outputs), violations=report.violations + tuple(problems))


def _ready(report: Report, *, actions: Iterable[Action], outputs: Iterable[Output] = (), part_list: Iterable[dict[str, object]], estimate: TokenEstimate | None = None) -> Prepared:
    """A ready input. Its report carries the estimate of what is SENT (the outputs' sizes, the fps
    after the budget), not of the input as checked, so request totals add what the service takes."""
    sent = dataclasses.replace(report, estimate=estimate) if estimate is not None else report
    return Prepared(source=report.source, report=sent, status="ready", actions=tuple(actions), outputs=tuple(outputs), parts=tuple(part_list), violations=report.violations)  # type: ignore[arg-type]


def _images_estimate(outputs: Iterable[Output]) -> TokenEstimate:
    each = [estimate_image(Size(o.width_px, o.height_px)) for o in outputs]
    if len(each) == 1:
        return each[0]
    return TokenEstimate(tokens=sum(e.tokens for e in each), basis=f"{len(each)} images: " + "; ".join(e.basis for e in each))


def _list_estimate(outputs: list[Output]) -> TokenEstimate:
    first = outputs[0]
    return estimate_frames(Size(first.width_px, first.height_px), len(outputs))


def _file_estimate(info: VideoInfo, fps: float, target: Target, policy: Policy) -> TokenEstimate:
    """A video file as the service samples it: floor(duration × fps) frames, capped by the max_frames
    the service applies (`check.service_max_frames`), at the model's frame size."""
    n = min(max(1, int(info.duration_s * fps + 1e-9)), service_max_frames(target, policy))
    return estimate_frames(frame_size(info.size), n)


def prepare(
    input: InputLike,
    *,
    target: Target | None = None,
    policy: Policy | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    url_prefix: str | None = None,
    remote: RemoteOptions | None = None,
) -> Prepared:
    """Fix what can be fixed and return content parts ready to send. Inputs are never touched; with
    `out_dir`, the bytes to send are written there (atomically). Costs a check, then at most one
    decode and a bounded number of encodes per input (a video: a remux, a transcode, or the decode
    its image list needs). A URL that is `ok` with the url transport is sent as it is (nothing
    downloaded); otherwise it is downloaded (capped, streaming, to a temporary file) and prepared as
    a file."""
    _arguments(target, policy)
    if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
        raise UsageError(f"out_dir must be a folder path or None, not {type(out_dir).__name__}")
    if url_prefix is not None and not isinstance(url_prefix, str):
        raise UsageError(f"url_prefix must be a str or None, not {type(url_prefix).__name__}")
    target = target or _DEFAULT_TARGET
    policy = policy or _DEFAULT_POLICY
    out = Path(out_dir) if out_dir is not None else None
    source = resolve(input)
    if isinstance(source, Source) and source.kind == "url" and source.remote is None:
        from .remote import DEFAULT_REMOTE

        return _prepare_url(source, target=target, policy=policy, out_dir=out, url_prefix=url_prefix, options=remote or DEFAULT_REMOTE)
    if target.transport == "url" and url_prefix is None:
        raise UsageError("transport 'url' for local files needs url_prefix (where you will upload the out folder)")
    if target.transport == "url" and out is None:
        raise UsageError("transport 'url' needs out_dir: the files to upload are written there")
    report = _check(source, label_for(input), target, policy, fast=False, remote=remote)
    if report.status == "rejected" or isinstance(source, Violation):
        return _rejected(report)
    media = media_for(source)
    if isinstance(report.info, VideoInfo):
        return _prepare_video(source, media, report, report.info, target=target, policy=policy, out=out, url_prefix=url_prefix)
    assert isinstance(report.info, ImageInfo)
    if report.info.animated and policy.animated == "frames":
        return _prepare_animation(media, report, report.info, target=target, policy=policy, out=out, url_prefix=url_prefix)
    return _prepare_image(source, media, report, report.info, target=target, policy=policy, out=out, url_prefix=url_prefix)


def _recheck(pic: EncodedPicture, label: str, target: Target) -> list[Violation]:
    """Header-only re-check of what will be sent: a fix that did not cure is reported, never sent."""
    probed = probe_media(BytesMedia(label, pic.data), verify=False, limits=target.limits)
    if not isinstance(probed.info, ImageInfo):
        why = probed.problem.observed if probed.problem is not None else "not an image"
        return [violation("image.unreadable", source=label, observed=f"the prepared output does not read back: {why}")]
    return list(check_image(probed.info, target, Policy(), source=label).errors)


def _prepare_image(source: Source, media: Media, report: Report, info: ImageInfo, *, target: Target, policy: Policy, out: Path | None, url_prefix: str | None) -> Prepared:
    plan = plan_image(report, target, policy)
    try:
        applied = apply_image(media, info, plan, target, policy)
    except UnreadableImage as exc:  # the header read but the pixels do not decode: this input only
        v = violation("image.unreadable", source=source.label, observed=f"while fixing: {exc}")
        return _rejected(report, actions=plan.steps, problems=(v,))
    if isinstance(applied, CapUnreachable):  # even the smallest picture is over the byte cap
        v = violation("image.too_large", source=source.label, field=applied.field, observed=applied.observed, limit=applied.limit, transport=target.transport, remedy=f"{applied.reason}, so the cap cannot be met; send it another way (another transport) or raise the cap")
        return _rejected(report, actions=plan.steps + applied.actions, problems=(v,))
    encoded, extra = applied
    outputs: list[Output] = []
    part_list: list[dict[str, object]] = []
    problems: list[Violation] = []
    for n, pic in enumerate(encoded, start=1):
        problems.extend(_recheck(pic, f"{source.label} (prepared)", target))
        rel = output_name(source.label, pic.format, tile=n if len(encoded) > 1 else None)
        if out is not None:
            write_atomic(out / rel, pic.data)
        outputs.append(Output(format=pic.format, mime=pic.mime, width_px=pic.size.width_px, height_px=pic.size.height_px, size_bytes=pic.size_bytes, path=rel if out is not None else None, data=None if out is not None else pic.data))
        local = source.path if plan.passthrough else None
        url = url_for(target, mime=pic.mime, rel=rel if out is not None else None, out_dir=out, url_prefix=url_prefix, data=pic.data, local_path=local)
        part_list.append(parts.image_part(url, target.api))
    if problems:
        return _rejected(report, actions=plan.steps + tuple(extra), outputs=outputs, problems=problems)
    return _ready(report, actions=plan.steps + tuple(extra), outputs=outputs, part_list=part_list, estimate=_images_estimate(outputs))


def _prepare_video(source: Source, media: Media, report: Report, info: VideoInfo, *, target: Target, policy: Policy, out: Path | None, url_prefix: str | None) -> Prepared:
    """Pass the file through, remux or transcode it (falling back to an image list when the fix
    fails), or send an image list, as `plan_video` says."""
    plan = plan_video(report, target, policy)
    actions = list(plan.steps)
    if plan.problem is not None:
        return _rejected(report, actions=actions, problems=(plan.problem,))
    name = output_stem(source.label, default="video")
    frames = plan.frames
    if plan.mode in ("remux", "transcode"):
        if out is None:
            raise UsageError("re-encoding a video needs out_dir: the new file is written there")
        rel = f"{name}.mp4"
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = exclusive_temp(dest)  # FFmpeg writes through this open file: it never opens a name in --out
        fixed = apply_video.fix_file(media, info, plan, tmp.file)
        tmp.flush()
        failure = fixed.failure
        again: Report | None = None
        if failure is None:
            # the fixed file goes through probe and check again: a fix that did not cure is never sent
            again = _check(Source(label=str(dest), kind="path", path=tmp.path), source.label, target, dataclasses.replace(policy, video_as="auto"), fast=False, remote=None)
            again = dataclasses.replace(again, source=f"{source.label} (prepared)")
            if again.status != "ok":
                failure = "; ".join(v.message for v in again.errors)
        if failure is None and again is not None and isinstance(again.info, VideoInfo):
            tmp.commit()
            if plan.mode == "transcode":
                actions[0] = Action(op="transcode", reason=plan.reason, params=fixed.params)
            url = url_for(target, mime="video/mp4", rel=rel, out_dir=out, url_prefix=url_prefix)
            part = parts.video_part(url, target.api, fps=plan.fps, max_frames=plan.max_frames_field)
            output = Output(format="MP4", mime="video/mp4", width_px=again.info.width_px, height_px=again.info.height_px, size_bytes=dest.stat().st_size, path=rel)
            return _ready(report, actions=actions, outputs=(output,), part_list=(part,), estimate=_file_estimate(again.info, plan.fps or policy.fps, target, policy))
        tmp.discard()
        actions.append(Action(op="frames", reason=f"{plan.mode} failed ({failure}); sent as an image list instead"))
    elif plan.mode == "passthrough":
        outputs: tuple[Output, ...] = ()
        if target.transport == "base64":
            url = url_for(target, mime=info.mime, data=read_all(media))
        elif target.transport == "url":
            if out is None or url_prefix is None:
                raise UsageError("transport 'url' needs out_dir and url_prefix")
            rel = f"{name}{Path(source.label).suffix or '.' + info.format.lower()}"
            if source.path is not None:
                copy_atomic(source.path, out / rel)
            else:
                write_atomic(out / rel, read_all(media))
            outputs = (Output(format=info.format, mime=info.mime, width_px=info.width_px, height_px=info.height_px, size_bytes=info.size_bytes, path=rel),)
            url = url_for(target, mime=info.mime, rel=rel, out_dir=out, url_prefix=url_prefix)
        else:
            url = url_for(target, mime=info.mime, local_path=source.path)
        part = parts.video_part(url, target.api, fps=plan.fps, max_frames=plan.max_frames_field)
        return _ready(report, actions=actions, outputs=outputs, part_list=(part,), estimate=_file_estimate(info, plan.fps or policy.fps, target, policy))
    assert frames is not None, "a video plan that sends frames has a frames plan"
    return _emit_decoded_list(report, frames, lambda: apply_video.video_pictures(media, info, frames, limits=target.limits), code="video.unreadable", doing="while decoding the frames", name=name, target=target, out=out, url_prefix=url_prefix, actions=actions)


def _prepare_animation(media: Media, report: Report, info: ImageInfo, *, target: Target, policy: Policy, out: Path | None, url_prefix: str | None) -> Prepared:
    """An animated image (GIF, APNG, animated WebP, AVIF sequence) as an image list that keeps its
    real frame timing: SPEC §2's sampling over the animation's own clock."""
    try:
        timeline = pillow_backend.animation_timeline(media)
    except UnreadableImage as exc:
        return _rejected(report, problems=(violation("image.unreadable", source=report.source, observed=f"while reading the animation's frames: {exc}"),))
    starts, duration = timeline[:-1], timeline[-1]
    frames = plan_frames(duration, decodable_frames=len(starts), size=info.size, target=target, policy=policy, label=report.source)
    actions = [Action(op="frames", reason=f"animated, {len(starts)} frames over {duration:g} s: sent as an image list with its timing")]
    if len(starts) >= TUNING.max_animation_frames:
        actions.append(Action(op="frames", reason=f"the timeline is read up to {TUNING.max_animation_frames} frames; the list covers their {duration:g} s (any later frames are left out)"))
    name = output_stem(report.source, default="video")
    pictures = lambda: apply_video.animation_pictures(media, info, frames, starts, limits=target.limits)  # noqa: E731
    return _emit_decoded_list(report, frames, pictures, code="image.unreadable", doing="while reading the animation's frames", name=name, target=target, out=out, url_prefix=url_prefix, actions=actions)


def _emit_decoded_list(report: Report, frames: FramesPlan, pictures: Callable[[], Iterable[EncodedPicture]], *, code: str, doing: str, name: str, target: Target, out: Path | None, url_prefix: str | None, actions: list[Action]) -> Prepared:
    """`_emit_list` over pictures decoded on the way: a frame that does not decode (one check never
    reached: a late frame of an animation, a video damaged mid-stream) rejects this input with
    `code` (`image.unreadable` / `video.unreadable`) instead of raising. The frames written before it
    are listed in the rejected result's outputs."""
    failed: list[UnreadableMedia] = []

    def guarded() -> Iterator[EncodedPicture]:
        try:
            yield from pictures()
        except UnreadableMedia as exc:
            failed.append(exc)

    result = _emit_list(report, frames, guarded, name=name, target=target, out=out, url_prefix=url_prefix, actions=actions)
    if not failed:
        return result
    v = violation(code, source=report.source, observed=f"{doing}: {failed[0]}")
    return _rejected(report, actions=result.actions, outputs=result.outputs, problems=(v,))


def _emit_list(report: Report, frames: FramesPlan, pictures: object, *, name: str, target: Target, out: Path | None, url_prefix: str | None, actions: list[Action]) -> Prepared:
    """An image list, for videos and animations alike: each picture written (with out), re-checked
    and named for the transport; the list's part once every picture is good."""
    actions = actions + list(frames.steps)
    if frames.problem is not None:
        return _rejected(report, actions=actions, problems=(frames.problem,))
    if target.transport in ("url", "path") and out is None:
        raise UsageError(f"transport {target.transport!r} for an image list needs out_dir: the frames are written there")
    urls: list[str] = []
    outputs: list[Output] = []
    problems: list[Violation] = []
    assert callable(pictures)
    for pic in pictures():
        rel = frame_name(name, pic.index, pic.format)
        if out is not None:
            write_atomic(out / rel, pic.data)
        problems.extend(_recheck(pic, rel, target))
        urls.append(url_for(target, mime=pic.mime, rel=rel, out_dir=out, url_prefix=url_prefix, data=pic.data))
        outputs.append(Output(format=pic.format, mime=pic.mime, width_px=pic.size.width_px, height_px=pic.size.height_px, size_bytes=pic.size_bytes, path=rel if out is not None else None, data=None if out is not None else pic.data))
    lim = target.limits
    if len(urls) < lim.image_list_min_frames:
        problems.append(violation("frames.too_few", source=report.source, field="frames", observed=len(urls), limit=lim.image_list_min_frames, remedy="the video yielded fewer frames than planned"))
    if problems:
        return _rejected(report, actions=actions, outputs=outputs, problems=problems)
    part = parts.image_list_part(urls, target.api, fps=round(frames.fps, 6))
    return _ready(report, actions=actions, outputs=outputs, part_list=(part,), estimate=_list_estimate(outputs))


# --------------------------------------------------------------------------------------------------
# URLs: one Range-backed file per URL, read by the same backends as a file


def _prepare_url(source: Source, *, target: Target, policy: Policy, out_dir: Path | None, url_prefix: str | None, options: RemoteOptions) -> Prepared:
    """An `ok` URL with the url transport: the URL itself. Otherwise: download (capped, streaming,
    to a temporary file that is deleted afterwards) and prepare the file; with the url transport
    but no `url_prefix`, a fixed output has nowhere public to live, so it is sent as base64."""
    from .remote import download

    report = _check(source, source.label, target, policy, fast=False, remote=options)
    if report.status == "rejected":
        return _rejected(report)
    assert source.url is not None
    vplan = plan_video(report, target, policy) if target.transport == "url" and isinstance(report.info, VideoInfo) else None
    if vplan is not None:
        passes = vplan.mode == "passthrough"
    else:
        passes = target.transport == "url" and isinstance(report.info, ImageInfo) and plan_image(report, target, policy).passthrough
    if passes:
        reason = "no rule is broken: the URL is sent as it is (nothing downloaded)"
        if vplan is not None and isinstance(report.info, VideoInfo):
            if vplan.problem is not None:
                return _rejected(report, actions=vplan.steps, problems=(vplan.problem,))
            fps = vplan.fps if vplan.fps is not None else policy.fps
            part = parts.video_part(source.url, target.api, fps=fps, max_frames=vplan.max_frames_field)
            steps = (Action(op="passthrough", reason=reason),) + vplan.steps[1:]
            return _ready(report, actions=steps, part_list=(part,), estimate=_file_estimate(report.info, fps, target, policy))
        part = parts.image_part(source.url, target.api)
        return _ready(report, actions=(Action(op="passthrough", reason=reason),), part_list=(part,))
    if target.transport == "path" and out_dir is None:
        raise UsageError("transport 'path' with a URL input needs out_dir: the downloaded file must be kept somewhere")
    got = download(source, options=options, cap_bytes=url_read_cap(target))
    if isinstance(got, Violation):
        return _rejected(report, problems=(got,))
    local_target = target
    note = ""
    if target.transport == "url" and url_prefix is None:
        local_target = dataclasses.replace(target, transport="base64")
        note = "; no url_prefix to publish a fixed file at, so the output is sent as base64"
    try:
        result = prepare(Source(label=source.label, kind="path", path=got.path), target=local_target, policy=policy, out_dir=out_dir, url_prefix=url_prefix)
    finally:
        got.path.unlink(missing_ok=True)
    fetched = Action(op="download", reason=f"the fix needs the bytes: downloaded {got.size_bytes:,} bytes (cap {url_read_cap(target):,}) to a temporary file{note}", params={"bytes": got.transfer.bytes_read, "requests": got.transfer.requests})
    return dataclasses.replace(result, report=dataclasses.replace(result.report, remote=report.remote), actions=(fetched,) + result.actions)


# --------------------------------------------------------------------------------------------------
# asyncio: the same calls on a worker thread, so an event loop keeps serving while media is read


async def acheck(input: InputLike, *, target: Target | None = None, policy: Policy | None = None, fast: bool = False, remote: RemoteOptions | None = None) -> Report:
    """`check` for asyncio servers: runs on a worker thread (`asyncio.to_thread`), never blocking the
    event loop. Pillow and FFmpeg release the GIL while decoding, so other tasks keep running."""
    return await asyncio.to_thread(check, input, target=target, policy=policy, fast=fast, remote=remote)


async def aprepare(
    input: InputLike,
    *,
    target: Target | None = None,
    policy: Policy | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    url_prefix: str | None = None,
    remote: RemoteOptions | None = None,
) -> Prepared:
    """`prepare` for asyncio servers: runs on a worker thread (`asyncio.to_thread`)."""
    return await asyncio.to_thread(prepare, input, target=target, policy=policy, out_dir=out_dir, url_prefix=url_prefix, remote=remote)


# --------------------------------------------------------------------------------------------------
# extract_frames: the library's lazy frame sampler


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
    media: Media | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not any(v.severity == "error" for v in self.violations)

    def __iter__(self) -> Iterator[ExtractedFrame]:
        """The frames (PIL images at `frame_size`), one at a time. Costs one demux pass and a decode
        of the GOPs holding a sampled frame, up to their last sampled frame. Raises `ProbeError`
        (its `.violation` a `video.unreadable`) when a frame does not decode: a video damaged past
        the frames the check decodes."""
        if not self.ok or self.media is None or self.info is None or self.frame_size is None:
            return iter(())
        return self._decoding(apply_video.taken_frames(self.media, self.info, self.times_s, out_size=self.frame_size))

    def pictures(self, *, target: Target | None = None) -> Iterator[EncodedPicture]:
        """The frames as the JPEGs an image list sends (padded where SPEC §1 needs it), one at a time.
        Raises `ProbeError` (`video.unreadable`) when a frame does not decode, as iterating does."""
        if not self.ok or self.media is None or self.info is None or self.frame_size is None or self.fps is None:
            return iter(())
        plan = FramesPlan(times_s=self.times_s, fps=self.fps, frame_size=self.frame_size)
        return self._decoding(apply_video.video_pictures(self.media, self.info, plan, limits=(target or _DEFAULT_TARGET).limits))

    def _decoding(self, frames: Iterator[_T]) -> Iterator[_T]:
        """`frames`, with a decoder's `UnreadableVideo` (internal) turned into the public `ProbeError`
        carrying the `video.unreadable` violation."""
        try:
            yield from frames
        except UnreadableVideo as exc:
            raise ProbeError(violation("video.unreadable", source=self.source, observed=f"while decoding the frames: {exc}")) from exc

    def image_list_part(self, *, target: Target | None = None, out_dir: str | os.PathLike[str] | None = None, url_prefix: str | None = None) -> dict[str, object]:
        """The image-list content part of these frames, for `target` (its API and transport): each
        frame JPEG-encoded (written as `frame_00000.jpg`… into `out_dir` when given; the url and path
        transports need it), then named for the transport. Costs the decode of `pictures()` plus one
        base64 pass per frame for base64. Raises `UsageError` when the extraction has errors, and
        `ProbeError` (`video.unreadable`) when a frame does not decode."""
        target = target or _DEFAULT_TARGET
        if not self.ok or self.fps is None:
            raise UsageError(f"{self.source}: no image list to send: " + "; ".join(v.message for v in self.violations if v.severity == "error"))
        out = Path(out_dir) if out_dir is not None else None
        if target.transport in ("url", "path") and out is None:
            raise UsageError(f"transport {target.transport!r} for an image list needs out_dir: the frames are written there")
        urls = []
        for pic in self.pictures(target=target):
            rel = f"frame_{pic.index:05d}.jpg"
            if out is not None:
                write_atomic(out / rel, pic.data)
            urls.append(url_for(target, mime=pic.mime, rel=rel, out_dir=out, url_prefix=url_prefix, data=pic.data))
        return parts.image_list_part(urls, target.api, fps=round(self.fps, 6))

    def close(self) -> None:
        """Close the URL this extraction reads from (files need nothing)."""
        if isinstance(self.media, OpenedMedia):
            self.media.opened.close()


def _extraction_arguments(*, fps: object, max_frames: object, max_side_px: object, token_budget: object) -> None:
    """extract_frames' numbers, by type: a value of the right type but out of SPEC's range is a
    violation of the extraction (`frames.fps_out_of_range`, ...), not an exception."""
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))):
        raise UsageError(f"fps = {fps!r} is not allowed: it must be a number (or None for the default)")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int)):
        raise UsageError(f"max_frames = {max_frames!r} is not allowed: it must be a whole number (or None for the default)")
    floor = _DEFAULT_TARGET.limits.image_min_side_exclusive_px
    if max_side_px is not None and (isinstance(max_side_px, bool) or not isinstance(max_side_px, int) or max_side_px <= floor):
        raise UsageError(f"max_side_px = {max_side_px!r} is not allowed: it must be None or a whole number of pixels more than {floor}")
    if token_budget is not None and (isinstance(token_budget, bool) or not isinstance(token_budget, int) or token_budget < 1):
        raise UsageError(f"token_budget = {token_budget!r} is not allowed: it must be None or a whole number of tokens ≥ 1")


def extract_frames(
    input: InputLike,
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    max_side_px: int | None = None,
    target: Target | None = None,
    token_budget: int | None = None,
    remote: RemoteOptions | None = None,
) -> FrameExtraction:
    """SPEC §2's sampling of a video: N = floor(duration × fps) frames at t_k = k / fps (evenly over
    the duration when N > max_frames), each the frame on screen at t_k (fps and max_frames default
    to the rule table's). With `token_budget`, a plan over it takes fewer (a multiple of 4, spread
    evenly) or smaller frames (see `budget`). Probing and verifying cost a few frame decodes;
    iterating costs one demux pass and a decode of what the sampled frames need. A URL is opened
    once (Range requests) and read while the extraction is iterated; `close()` ends it."""
    _arguments(target)
    _extraction_arguments(fps=fps, max_frames=max_frames, max_side_px=max_side_px, token_budget=token_budget)
    target = target or _DEFAULT_TARGET
    lim = target.limits
    fps = lim.fps_default if fps is None else fps
    max_frames = lim.max_frames_default if max_frames is None else max_frames
    label = label_for(input)

    media: Media | None = None

    def failed(v: Violation, info: VideoInfo | None = None, reason: str = "") -> FrameExtraction:
        if isinstance(media, OpenedMedia):  # nothing will be read: the URL is closed now
            media.opened.close()
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=(v,), info=info, reason=reason)

    source = resolve(input)
    if isinstance(source, Violation):
        return failed(source)
    problems = sampling.validate(fps, max_frames, lim, source=label)
    if problems:
        return FrameExtraction(source=label, fps=None, times_s=(), frame_size=None, violations=tuple(problems))
    if source.kind == "url" and source.remote is None:
        from .remote import DEFAULT_REMOTE, connect

        opened, _ = connect(source, options=remote or DEFAULT_REMOTE, cap_bytes=url_read_cap(target))
        if isinstance(opened, Violation):
            return failed(opened)
        media = OpenedMedia(label, opened)
    else:
        media = media_for(source)
    try:
        sniffed = sniff_media(media)
    except OSError as exc:
        return failed(violation("source.permission_denied" if isinstance(exc, PermissionError) else "video.unreadable", source=label, observed=f"{type(exc).__name__}: {exc}"))
    if sniffed.kind != "video":
        what = "an image" if sniffed.kind == "image" else "not a video"
        return failed(violation("video.unreadable", source=label, observed=f"the bytes are {what} ({sniffed.format})"))
    probed = probe_video(media, sniffed, verify=True)
    info = probed.info
    if not isinstance(info, VideoInfo):
        assert probed.problem is not None
        return failed(probed.problem)
    if info.decode == "failed":
        return failed(violation("video.unreadable", source=label, observed=info.decode_error or "the frames do not decode"), info)
    plan = plan_extraction(info.duration_s, fps=fps, max_frames=max_frames, size=info.size, max_side_px=max_side_px, token_budget=token_budget, target=target, label=label)
    if plan.problem is not None and plan.problem.code in ("request.over_token_limit", "frames.fps_out_of_range"):
        return failed(plan.problem, info, plan.reason)  # no list, and never an fps outside SPEC's range
    return FrameExtraction(
        source=label,
        fps=plan.fps,
        times_s=plan.times_s,
        frame_size=plan.frame_size,
        violations=(plan.problem,) if plan.problem is not None else (),
        info=info,
        reason=plan.reason,
        media=media,
    )


__all__ = ["FrameExtraction", "Output", "Prepared", "ProbeError", "acheck", "aprepare", "check", "extract_frames", "prepare", "probe", "status_of"]
