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
from .check import check_image, status_of
from .codes import violation
from .errors import MediaprepError, UsageError
from .models import Action, ImageInfo, Policy, Report, Source, Target, Violation
from .plan import ImagePlan, plan_image
from .resolve import InputLike, label_for, resolve
from .sniff import sniff

_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "HEIC": ".heic"}


class ProbeError(MediaprepError, ValueError):
    """`probe` could not read the input; `.violation` says why, as `check` would report it."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


def _head(source: Source) -> bytes:
    with pillow_backend.open_bytes(source) as fp:
        return pillow_backend.read_head(fp)


def _probe_source(source: Source, *, verify: bool, target: Target) -> tuple[ImageInfo | None, Violation | None, str]:
    """(info, None, kind) or (None, violation, kind). Header only unless `verify`."""
    if source.kind == "url":
        return None, violation("remote.unreachable", source=source.label, observed="http(s) inputs are not fetched by this version; download the file first"), "unknown"
    kind = sniff(_head(source)).kind
    if kind == "video":
        return None, violation("video.unreadable", source=source.label, observed="videos are not read by this version (images only)"), "video"
    info, why = pillow_backend.read_info(source)
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


def probe(input: InputLike, *, target: Target | None = None) -> ImageInfo:
    """What the input is, from its header only (no pixels). Raises `ProbeError` when unreadable."""
    target = target or Target()
    source = resolve(input)
    if isinstance(source, Violation):
        raise ProbeError(source)
    info, v, _ = _probe_source(source, verify=False, target=target)
    if info is None:
        assert v is not None
        raise ProbeError(v)
    return info


def _check_source(source: Source | Violation, target: Target, policy: Policy, *, fast: bool, label: str) -> Report:
    if isinstance(source, Violation):
        return Report(source=label, kind="unknown", status="rejected", violations=(source,))
    try:
        info, v, kind = _probe_source(source, verify=not fast, target=target)
    except OSError as exc:  # the file vanished or became unreadable between resolve and probe
        v = violation("source.permission_denied", source=source.label, observed=f"{type(exc).__name__}: {exc}")
        return Report(source=source.label, kind="unknown", status="rejected", violations=(v,))
    if info is None:
        assert v is not None
        return Report(source=source.label, kind=kind, status="rejected", violations=(v,))  # type: ignore[arg-type]
    return check_image(info, target, policy, source=source.label)


def check(input: InputLike, *, target: Target | None = None, policy: Policy | None = None, fast: bool = False) -> Report:
    """Will the service accept this input? Never raises for a bad file: the report says why.

    Reads the header and, unless `fast`, proves the pixels decode cheaply (JPEG at 1/8 scale)."""
    return _check_source(resolve(input), target or Target(), policy or Policy(), fast=fast, label=label_for(input))


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
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(label.split("?")[0]).stem)[:80] or "input"
    digest = hashlib.sha1(label.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    suffix = f"-t{tile}" if tile is not None else ""
    return f"{stem}-{digest}{suffix}{_EXT.get(fmt, '.' + fmt.lower())}"


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
) -> Prepared:
    """Fix what can be fixed and return content parts ready to send. Inputs are never touched; with
    `out_dir`, the bytes to send are written there (atomically). Costs a check, then at most one
    decode and a bounded number of encodes per input."""
    target = target or Target()
    policy = policy or Policy()
    out = Path(out_dir) if out_dir is not None else None
    if target.transport == "url" and url_prefix is None:
        raise UsageError("transport 'url' for local files needs url_prefix (where you will upload the out folder)")
    if target.transport == "url" and out is None:
        raise UsageError("transport 'url' needs out_dir: the files to upload are written there")
    source = resolve(input)
    report = _check_source(source, target, policy, fast=False, label=label_for(input))
    if report.status == "rejected" or isinstance(source, Violation):
        return Prepared(source=report.source, report=report, status="rejected", violations=report.violations)
    assert report.info is not None
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


__all__ = ["Output", "Prepared", "ProbeError", "check", "prepare", "probe", "status_of"]
