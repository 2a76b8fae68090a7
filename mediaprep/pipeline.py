"""The one place the stages are wired: resolve → probe → check → plan → apply → encode → emit.

`probe`, `check` and `prepare` are the library's entry points (re-exported by `mediaprep`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import encode, parts
from .apply.images import EncodedImage, apply_image
from .backends import pillow_backend
from .check import check_image, check_video, status_of
from .codes import violation
from .errors import MediaprepError, UsageError
from .models import Action, ImageInfo, Policy, Report, Source, Target, VideoInfo, Violation
from .plan import ImagePlan, plan_image
from .remote import DEFAULT_REMOTE, RemoteOptions
from .resolve import InputLike, label_for, resolve
from .sniff import sniff

_DEFAULT_TARGET = Target()
_DEFAULT_POLICY = Policy()
_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "HEIC": ".heic"}


class ProbeError(MediaprepError, ValueError):
    """`probe` could not read the input; `.violation` says why, as `check` would report it."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


def _probe_source(source: Source, *, verify: bool, target: Target, remote: RemoteOptions | None = None) -> tuple[ImageInfo | None, Violation | None, str]:
    """(info, None, kind) or (None, violation, kind). Header only unless `verify`."""
    if source.kind == "url" and source.remote is None:  # opened once, then read as below (see _probe_url)
        return _probe_url(source, verify=verify, target=target, options=remote or DEFAULT_REMOTE)[:3]  # type: ignore[return-value]
    with pillow_backend.open_bytes(source) as fp:  # one open for the sniff and the header
        head = pillow_backend.read_head(fp)
        sniffed = sniff(head)
        if sniffed.kind != "video":
            info, why = pillow_backend.read_info(source, fp, head)
    if sniffed.kind == "video":
        from .videos import probe_video_source

        vinfo, vproblem = probe_video_source(source, sniffed, verify=verify)
        return vinfo, vproblem, "video"  # type: ignore[return-value]
    if info is None:
        return None, violation("image.unreadable", source=source.label, observed=why or "unreadable"), "image"
    if verify:
        error = pillow_backend.verify(source, info, target.limits)
        over = info.stored_size.pixels > target.limits.max_decode_pixels and info.reduced_decode is None
        if error is not None:
            info = _replace(info, decode="failed", decode_error=error)
        elif not over:
            info = _replace(info, decode="verified")
    return info, None, "image"


def _replace(info: ImageInfo, **changes: Any) -> ImageInfo:
    from dataclasses import replace

    return replace(info, **changes)


def probe(input: InputLike, *, target: Target | None = None, remote: RemoteOptions | None = None) -> ImageInfo | VideoInfo:
    """What the input is, from its header only (no pixels). Raises `ProbeError` when unreadable.
    A URL is read through Range requests (`remote` says how: deadline, private hosts, ...)."""
    target = target or Target()
    source = resolve(input)
    if isinstance(source, Violation):
        raise ProbeError(source)
    try:
        info, v, _ = _probe_source(source, verify=False, target=target, remote=remote)
    except OSError as exc:  # e.g. permission denied: the first open is here, not in resolve
        raise ProbeError(violation("source.permission_denied", source=source.label, observed=f"{type(exc).__name__}: {exc}")) from exc
    if info is None:
        assert v is not None
        raise ProbeError(v)
    return info


def _check_source(source: Source | Violation, target: Target, policy: Policy, *, fast: bool, label: str, remote: RemoteOptions | None = None) -> Report:
    if isinstance(source, Violation):
        return Report(source=label, kind="unknown", status="rejected", violations=(source,))
    if source.kind == "url" and source.remote is None:
        return _check_url(source, target, policy, fast=fast, options=remote or DEFAULT_REMOTE)
    try:
        info, v, kind = _probe_source(source, verify=not fast, target=target)
    except OSError as exc:  # the file vanished or became unreadable between resolve and probe
        v = violation("source.permission_denied", source=source.label, observed=f"{type(exc).__name__}: {exc}")
        return Report(source=source.label, kind="unknown", status="rejected", violations=(v,))
    if info is None:
        assert v is not None
        return Report(source=source.label, kind=kind, status="rejected", violations=(v,))  # type: ignore[arg-type]
    if isinstance(info, VideoInfo):
        return check_video(info, target, policy, source=source.label)
    return check_image(info, target, policy, source=source.label)


def check(input: InputLike, *, target: Target | None = None, policy: Policy | None = None, fast: bool = False, remote: RemoteOptions | None = None) -> Report:
    """Will the service accept this input? Never raises for a bad file: the report says why.

    Reads the header and, unless `fast`, proves the pixels decode cheaply (JPEG at 1/8 scale).
    A URL is read through Range requests, never whole: an image is decoded only when its body is at
    most `remote.verify_max_bytes` (else judged from its header); `Report.remote` says what it cost
    and what was read."""
    return _check_source(resolve(input), target or _DEFAULT_TARGET, policy or _DEFAULT_POLICY, fast=fast, label=label_for(input), remote=remote)


@dataclass(frozen=True, slots=True, kw_only=True)
class Output:
    """One file prepare produced (or would send): where it is, and what it is."""

    format: str
    mime: str
    width_px: int
    height_px: int
    size_bytes: int
    path: str | None = None  # relative to the out folder; None when kept in memory
    data: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in {"path": self.path, "format": self.format, "mime": self.mime, "width_px": self.width_px, "height_px": self.height_px, "size_bytes": self.size_bytes}.items() if v is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """What prepare did for one input: the verdict, the actions with reasons, the outputs, the parts."""

    source: str
    report: Report
    status: Literal["ready", "rejected"]
    actions: tuple[Action, ...] = ()
    outputs: tuple[Output, ...] = ()
    parts: tuple[dict[str, Any], ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def part(self) -> dict[str, Any] | None:
        """The content part (the first, when an image was split into tiles)."""
        return self.parts[0] if self.parts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.report.kind,
            "verdict": self.report.status,
            "status": self.status,
            "actions": [a.to_json() for a in self.actions],
            "outputs": [o.path for o in self.outputs if o.path is not None],
            "output_info": [o.to_json() for o in self.outputs],
            "part": self.part if len(self.parts) <= 1 else None,
            "parts": list(self.parts) if len(self.parts) > 1 else None,
            "violations": [v.to_json() for v in self.violations],
            "estimate": self.report.estimate.to_json() if self.report.estimate else None,
        }


def output_name(label: str, fmt: str, *, tile: int | None = None) -> str:
    """A stable, collision-free file name: the input's stem, a hash of its full label, the format's extension."""
    suffix = f"-t{tile}" if tile is not None else ""
    return f"{output_stem(label)}{suffix}{_EXT.get(fmt, '.' + fmt.lower())}"


def output_stem(label: str, *, default: str = "input") -> str:
    """The input's stem made file-safe, then a hash of its full label: stable across runs, never colliding."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(label.split("?")[0]).stem)[:80] or default
    return f"{stem}-{hashlib.sha1(label.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a killed run leaves no partial file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fp:
        fp.write(data)
    os.replace(tmp, path)


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
    decode and a bounded number of encodes per input. A URL that is `ok` with the url transport is
    sent as it is (nothing downloaded); otherwise it is downloaded (capped, streaming, to a
    temporary file) and prepared as a file."""
    target = target or Target()
    policy = policy or Policy()
    out = Path(out_dir) if out_dir is not None else None
    if (isinstance(input, str) and input[:8].lower().startswith(("http://", "https://"))) or (isinstance(input, Source) and input.kind == "url"):
        url_source = resolve(input)
        assert isinstance(url_source, Source)
        return _prepare_url(url_source, target=target, policy=policy, out_dir=out_dir, url_prefix=url_prefix, options=remote or DEFAULT_REMOTE)
    if target.transport == "url" and url_prefix is None:
        raise UsageError("transport 'url' for local files needs url_prefix (where you will upload the out folder)")
    if target.transport == "url" and out is None:
        raise UsageError("transport 'url' needs out_dir: the files to upload are written there")
    source = resolve(input)
    report = _check_source(source, target, policy, fast=False, label=label_for(input))
    if report.status == "rejected" or isinstance(source, Violation):
        return Prepared(source=report.source, report=report, status="rejected", violations=report.violations)
    if isinstance(report.info, VideoInfo):
        from .videos import prepare_video

        return prepare_video(source, report, target=target, policy=policy, out_dir=out, url_prefix=url_prefix)
    assert isinstance(report.info, ImageInfo)
    if report.info.animated and policy.animated == "frames":
        from .videos import prepare_animation

        return prepare_animation(source, report, target=target, policy=policy, out_dir=out, url_prefix=url_prefix)
    plan = plan_image(report, target, policy)
    try:
        encoded, extra = apply_image(source, report.info, plan, target, policy)
    except Exception as exc:  # a decoder that fails here fails this input only
        v = violation("image.unreadable", source=source.label, observed=f"while fixing: {type(exc).__name__}: {exc}")
        return Prepared(source=source.label, report=report, status="rejected", actions=plan.steps, violations=report.violations + (v,))
    actions = plan.steps + tuple(extra)
    outputs: list[Output] = []
    part_list: list[dict[str, Any]] = []
    problems: list[Violation] = []
    for n, item in enumerate(encoded, start=1):
        problems.extend(_recheck(item, source.label, target))
        rel = output_name(source.label, item.format, tile=n if len(encoded) > 1 else None)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / rel, item.data)
        output = Output(
            format=item.format,
            mime=item.mime,
            width_px=item.size.width_px,
            height_px=item.size.height_px,
            size_bytes=item.size_bytes,
            path=rel if out is not None else None,
            data=None if out is not None else item.data,
        )
        outputs.append(output)
        part_list.append(parts.image_part(_media_url(item, source, plan, target, out, rel, url_prefix), target.api))
    status: Literal["ready", "rejected"] = "rejected" if problems else "ready"
    return Prepared(
        source=source.label,
        report=report,
        status=status,
        actions=actions,
        outputs=tuple(outputs),
        parts=tuple(part_list) if not problems else (),
        violations=report.violations + tuple(problems),
    )


def _recheck(item: EncodedImage, label: str, target: Target) -> list[Violation]:
    """Header-only re-check of what will be sent: a fix that did not cure is reported, never sent."""
    info, why = pillow_backend.read_info(Source(label=label, kind="bytes", data=item.data))
    if info is None:
        return [violation("image.unreadable", source=label, observed=f"the prepared output does not read back: {why}")]
    after = check_image(info, target, Policy(), source=f"{label} (prepared)")
    return [v for v in after.violations if v.severity == "error"]


def _media_url(item: EncodedImage, source: Source, plan: ImagePlan, target: Target, out: Path | None, rel: str, url_prefix: str | None) -> str:
    if target.transport == "base64":
        return encode.to_data_url(item.data, item.mime)
    if target.transport == "url":
        assert url_prefix is not None
        return encode.to_url(url_prefix, rel)
    if out is not None:
        return encode.to_file_url(out / rel, target.path_style)
    if plan.passthrough and source.path is not None:
        return encode.to_file_url(source.path, target.path_style)
    raise UsageError("transport 'path' needs out_dir when an image must be rewritten (its fixed bytes need a file)")


# --------------------------------------------------------------------------------------------------
# URLs (issue 4): one Range-backed file per URL, read by the same backends as a file


def _url_cap(target: Target) -> int:
    """The most a URL's body may be before it is not read at all (`remote.too_large`): the largest
    URL-transport cap. The cap of the media's own kind (image 10 MiB, video 2 GiB) is a check rule,
    `image.too_large` / `video.too_large`, judged from the size the headers declare."""
    lim = target.limits
    return max(lim.image_max_file_bytes, lim.video_max_url_bytes)


def _probe_url(source: Source, *, verify: bool, target: Target, options: RemoteOptions) -> tuple[ImageInfo | VideoInfo | None, Violation | None, str, Any]:
    """(info, violation, kind, transfer): open the URL once (one request), read it as a file, close."""
    from dataclasses import replace

    from .remote import connect

    opened, transfer = connect(source, options=options, cap_bytes=_url_cap(target))
    if isinstance(opened, Violation):
        return None, opened, "unknown", transfer
    kind = "unknown"
    try:
        info, v, kind = _probe_source(replace(source, remote=opened), verify=verify, target=target)
    except OSError:  # a read failed after opening: opened.failure says why
        info, v = None, None
    finally:
        opened.close()
    if opened.failure is not None:
        return None, opened.failure, kind, opened.transfer
    return info, v, kind, opened.transfer


def _check_url(source: Source, target: Target, policy: Policy, *, fast: bool, options: RemoteOptions) -> Report:
    """`check` for a URL: headers and what the backends read through Range requests. An image is
    decoded (the cheap verification) only when its whole body is within `options.verify_max_bytes`;
    a video gets the same verification as a file (index, first frames, a seek near the end)."""
    from dataclasses import replace

    from .remote import connect

    opened, transfer = connect(source, options=options, cap_bytes=_url_cap(target))
    if isinstance(opened, Violation):
        return Report(source=source.label, kind="unknown", status="rejected", violations=(opened,), remote=transfer)
    try:
        kind = sniff(pillow_backend.read_head(opened)).kind
        verify = not fast and not (kind == "image" and opened.size_bytes > options.verify_max_bytes)
        report = _check_source(replace(source, remote=opened), target, policy, fast=not verify, label=source.label)
    finally:
        opened.close()
    if opened.failure is not None:
        report = Report(source=source.label, kind=report.kind, status="rejected", violations=(opened.failure,))
    size = opened.size_bytes
    whole = "" if opened.ranged else f"the server ignores Range, so the whole {size:,}-byte body was read; "
    if fast:
        note = f"{whole}headers only (fast): nothing was decoded"
    elif kind == "image" and not verify:
        note = f"{whole}header only: the {size:,}-byte image is over the {options.verify_max_bytes:,}-byte budget for decoding from a URL, so its pixels were not decoded (prepare downloads and decodes it when a fix needs the bytes)"
    elif kind == "image":
        note = f"{whole}pixels decoded" if whole else f"the whole {size:,}-byte body, pixels decoded"
    else:
        note = f"{whole}the container index and the frames the video check decodes, not the whole body"
    return replace(report, remote=replace(opened.transfer, note=note))


def _url_passes_through(report: Report, target: Target, policy: Policy) -> bool:
    if isinstance(report.info, ImageInfo):
        return plan_image(report, target, policy).passthrough
    return isinstance(report.info, VideoInfo) and not report.errors and policy.video_as != "frames"


def _prepare_url(source: Source, *, target: Target, policy: Policy, out_dir: str | os.PathLike[str] | None, url_prefix: str | None, options: RemoteOptions) -> Prepared:
    """An `ok` URL with the url transport: the URL itself. Otherwise: download (capped, streaming,
    to a temporary file that is deleted afterwards) and prepare the file; with the url transport
    but no `url_prefix`, a fixed output has nowhere public to live, so it is sent as base64."""
    from dataclasses import replace

    from .remote import download

    report = _check_url(source, target, policy, fast=False, options=options)
    if report.status == "rejected":
        return Prepared(source=source.label, report=report, status="rejected", violations=report.violations)
    assert source.url is not None
    if target.transport == "url" and _url_passes_through(report, target, policy):
        reason = "no rule is broken: the URL is sent as it is (nothing downloaded)"
        if isinstance(report.info, VideoInfo):
            part = parts.video_part(source.url, target.api, fps=policy.fps, max_frames=policy.max_frames if target.api == "dashscope" and policy.max_frames != target.limits.max_frames_default else None)
        else:
            part = parts.image_part(source.url, target.api)
        return Prepared(source=source.label, report=report, status="ready", actions=(Action(op="passthrough", reason=reason),), parts=(part,), violations=report.violations)
    if target.transport == "path" and out_dir is None:
        raise UsageError("transport 'path' with a URL input needs out_dir: the downloaded file must be kept somewhere")
    got = download(source, options=options, cap_bytes=_url_cap(target))
    if isinstance(got, Violation):
        return Prepared(source=source.label, report=report, status="rejected", violations=report.violations + (got,))
    local_target = target
    note = ""
    if target.transport == "url" and url_prefix is None:
        local_target = replace(target, transport="base64")
        note = "; no url_prefix to publish a fixed file at, so the output is sent as base64"
    try:
        local = Source(label=source.label, kind="path", path=got.path)
        result = prepare(local, target=local_target, policy=policy, out_dir=out_dir, url_prefix=url_prefix)
    finally:
        got.path.unlink(missing_ok=True)
    fetched = Action(op="download", reason=f"the fix needs the bytes: downloaded {got.size_bytes:,} bytes (cap {_url_cap(target):,}) to a temporary file{note}", params={"bytes": got.transfer.bytes_read, "requests": got.transfer.requests})
    return replace(result, report=replace(result.report, remote=report.remote), actions=(fetched,) + result.actions)


__all__ = ["Output", "Prepared", "ProbeError", "check", "prepare", "probe", "status_of"]
