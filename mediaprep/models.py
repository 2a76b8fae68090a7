"""Frozen values that move through the pipeline: sources, media info, violations, reports, targets.

Nothing here reads a file. Reprs show sizes and labels, never payload bytes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args, get_origin, get_type_hints

from .errors import TargetError, UsageError
from .rules import APIS, DEFAULT_LIMITS, DEFAULT_MODEL, TRANSPORTS, TRANSPORTS_BY_API, TUNING, Limits


Status = Literal["ok", "fixable", "rejected"]
Severity = Literal["error", "warning"]
Kind = Literal["image", "video", "unknown"]


@dataclass(frozen=True, slots=True)
class Size:
    width_px: int
    height_px: int

    @property
    def pixels(self) -> int:
        return self.width_px * self.height_px

    @property
    def long_px(self) -> int:
        return max(self.width_px, self.height_px)

    @property
    def short_px(self) -> int:
        return min(self.width_px, self.height_px)

    def __str__(self) -> str:
        return f"{self.width_px}×{self.height_px}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where an input's bytes are. Exactly one of `path`, `data`, `url` is set."""

    label: str  # what the user gave, shortened for data URLs; names the input in every message
    kind: Literal["path", "bytes", "data_url", "url"]
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    url: str | None = None
    declared_mime: str | None = None  # the MIME a data URL claimed (never trusted)
    # For kind "url" while the pipeline reads it: the open Range-backed file (a `remote.RemoteFile`)
    # that backends read through (`media.OpenedMedia`), sharing one cache and one count.
    remote: Any = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        size = f", {len(self.data)} bytes" if self.data is not None else ""
        return f"Source({self.kind}: {self.label!r}{size})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageInfo:
    """What a header (and, when verified, a cheap decode) says about an image.

    `width_px`/`height_px` are as displayed (orientation applied); `stored_*` as coded.
    """

    format: str  # mediaprep's name, decided from the bytes: JPEG, PNG, HEIC, AVIF, BIGTIFF, ...
    mime: str
    width_px: int
    height_px: int
    stored_width_px: int
    stored_height_px: int
    size_bytes: int
    mode: str
    bit_depth: int
    has_alpha: bool
    frames: int = 1
    animated: bool = False
    orientation: int = 1  # EXIF orientation 1–8
    orientation_source: str | None = None  # "exif", "xmp", "png-text"
    encoding_issue: str | None = None  # why a listed container still needs converting
    reduced_decode: Literal["jpeg-draft", "heif-tiles"] | None = None
    decode: Literal["verified", "header-only", "failed"] = "header-only"
    decode_error: str | None = None

    @property
    def size(self) -> Size:
        return Size(self.width_px, self.height_px)

    @property
    def stored_size(self) -> Size:
        return Size(self.stored_width_px, self.stored_height_px)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "mime": self.mime,
            "width_px": self.width_px,
            "height_px": self.height_px,
        }
        if self.stored_size != self.size:
            out["stored_width_px"] = self.stored_width_px
            out["stored_height_px"] = self.stored_height_px
        out.update(size_bytes=self.size_bytes, mode=self.mode, bit_depth=self.bit_depth, has_alpha=self.has_alpha)
        if self.frames != 1:
            out["frames"] = self.frames
        if self.animated:
            out["animated"] = True
        if self.orientation != 1:
            out["orientation"] = self.orientation
            out["orientation_source"] = self.orientation_source
        if self.encoding_issue:
            out["encoding_issue"] = self.encoding_issue
        out["decode"] = self.decode
        if self.decode_error:
            out["decode_error"] = self.decode_error
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoInfo:
    """What a container says about a video, cross-checked against its packets and (when verified)
    its decoded frames. Times are seconds from the first frame; sizes as displayed (rotation applied)."""

    format: str  # mediaprep's container name from the bytes: MP4, MOV, MKV, WEBM, AVI, FLV, WMV, MPEG-TS, 3GP, ...
    mime: str
    container: str  # FFmpeg's demuxer name
    codec: str
    width_px: int
    height_px: int
    stored_width_px: int
    stored_height_px: int
    size_bytes: int
    duration_s: float  # the duration that counts (see duration_source)
    duration_source: Literal["header", "index", "packets", "decoded"]
    header_duration_s: float | None
    fps: float | None  # average frame rate
    frame_count: int | None  # from the index or the packets, when known
    has_audio: bool
    rotation_deg: int = 0  # counter-clockwise, as FFmpeg reports the display matrix (ffprobe's "rotation")
    mirrored: bool = False
    pix_fmt: str | None = None
    start_s: float = 0.0  # the first frame's presentation time on the container's clock
    keyframe_interval_s: float | None = None
    decodable_frames: int | None = None  # counted by decoding (short clips only)
    decode: Literal["verified", "header-only", "failed"] = "header-only"
    decode_error: str | None = None

    @property
    def size(self) -> Size:
        return Size(self.width_px, self.height_px)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "mime": self.mime,
            "container": self.container,
            "codec": self.codec,
            "width_px": self.width_px,
            "height_px": self.height_px,
        }
        if (self.stored_width_px, self.stored_height_px) != (self.width_px, self.height_px):
            out["stored_width_px"] = self.stored_width_px
            out["stored_height_px"] = self.stored_height_px
        out.update(
            size_bytes=self.size_bytes,
            duration_s=round(self.duration_s, 6),
            duration_source=self.duration_source,
            header_duration_s=None if self.header_duration_s is None else round(self.header_duration_s, 6),
            fps=None if self.fps is None else round(self.fps, 6),
            frame_count=self.frame_count,
            rotation_deg=self.rotation_deg,
            has_audio=self.has_audio,
        )
        if self.mirrored:
            out["mirrored"] = True
        if self.decodable_frames is not None:
            out["decodable_frames"] = self.decodable_frames
        out["decode"] = self.decode
        if self.decode_error:
            out["decode_error"] = self.decode_error
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One broken rule, as data: the code, what was seen, the limit, and the fix that cures it."""

    code: str
    severity: Severity
    message: str
    field: str | None = None
    observed: Any = None
    limit: Any = None
    fix: str | None = None  # the op that cures it ("pad", "convert", ...); None: nothing can

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenEstimate:
    """An estimate, never a count: see TOKENS.md."""

    tokens: int
    basis: str  # e.g. "image 1920×1080 → 1932×1092 (69×39 tokens of 28 px)"

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "is_estimate": True, "basis": self.basis}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """What reading a URL cost: body bytes received and HTTP requests sent (retries and redirects
    included), with what the headers said and, in `note`, what was read and verified."""

    bytes_read: int = 0
    requests: int = 0
    retries: int = 0
    redirects: int = 0
    ranged: bool | None = None  # True: Range requests; False: the server ignored Range (body read whole)
    size_bytes: int | None = None  # from Content-Range / Content-Length
    content_type: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bytes": self.bytes_read, "requests": self.requests, "retries": self.retries, "redirects": self.redirects}
        if self.ranged is not None:
            out["range"] = self.ranged
        if self.size_bytes is not None:
            out["size_bytes"] = self.size_bytes
        if self.content_type:
            out["content_type"] = self.content_type
        if self.note:
            out["read"] = self.note
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The verdict on one input for one target. `check` returns it and never raises for bad media."""

    source: str
    kind: Kind
    status: Status
    violations: tuple[Violation, ...] = ()
    info: ImageInfo | VideoInfo | None = None
    estimate: TokenEstimate | None = None
    verified: Literal["decoded", "header-only", "none"] = "none"
    remote: Transfer | None = None  # for URLs: bytes and requests it took, and what was read

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(v.code for v in self.violations)

    def to_json(self) -> ResultLine:
        out: ResultLine = {
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "violations": [v.to_json() for v in self.violations],
            "info": self.info.to_json() if self.info else None,
            "estimate": self.estimate.to_json() if self.estimate else None,
            "verified": self.verified,
        }
        if self.remote is not None:  # URLs only: files keep the same keys as before
            out["remote"] = self.remote.to_json()
        return out


PathStyle = Literal["posix", "windows-python", "windows-java"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where the media goes: model, API dialect, transport, and the limits (SPEC table, overridable)."""

    model: str = DEFAULT_MODEL
    api: Literal["openai", "dashscope"] = "openai"
    transport: Literal["base64", "url", "path"] = "base64"
    limits: Limits = DEFAULT_LIMITS
    path_style: PathStyle = "posix"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise TargetError(f"Target.model = {self.model!r} is not allowed: it must be a model name (a non-empty str), e.g. {DEFAULT_MODEL!r}")
        if not isinstance(self.limits, Limits):
            raise TargetError(f"Target.limits = {self.limits!r} is not allowed: it must be a mediaprep.Limits")
        _check_choice(self, "path_style", TargetError)
        if self.api not in APIS:
            raise TargetError(f"api {self.api!r} is not one of {', '.join(APIS)}")
        if self.transport not in TRANSPORTS:
            raise TargetError(f"transport {self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.transport not in TRANSPORTS_BY_API[self.api]:
            raise TargetError(
                f"transport {self.transport!r} is not available with the {self.api} API: local file paths "
                "(file://) work only with the DashScope API through its Python and Java SDKs; "
                "use --api dashscope, or --transport base64 or url"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How `prepare` fixes what can be fixed. Each choice that rejects instead makes the verdict stricter."""

    too_small: Literal["pad", "reject"] = "pad"
    aspect_ratio: Literal["pad", "split", "reject"] = "pad"
    above_8k: Literal["downscale", "keep"] = "downscale"
    animated: Literal["first-frame", "keep", "frames"] = "first-frame"  # frames: an image list with the real timing
    keep_orientation: bool = False
    max_side_px: int | None = None  # resize so the long side fits (never upscales)
    output_format: Literal["auto", "jpeg", "png"] = "auto"
    jpeg_quality: int = TUNING.jpeg_quality
    jpeg_quality_floor: int = TUNING.jpeg_quality_floor  # below this, compress-to-cap downscales instead
    max_encodes: int = TUNING.max_encodes  # bound on the compress-to-cap search per image
    # videos
    fps: float = DEFAULT_LIMITS.fps_default  # frames per second the model samples (sent with the part)
    max_frames: int = DEFAULT_LIMITS.max_frames_default
    video_as: Literal["auto", "file", "frames"] = "auto"  # auto: the file when it can be sent, else frames
    frame_max_side_px: int | None = None  # image-list frames: None = the size the model uses (TOKENS.md)
    token_budget: int | Literal["auto"] | None = "auto"  # per input; auto: the model's max input minus token_reserve
    token_reserve: int = TUNING.token_reserve  # room left for the prompt and the answer

    def __post_init__(self) -> None:
        """Every value in its range, else UsageError naming the field, the value and what is allowed.
        fps and max_frames are only checked for being numbers here: an fps outside the service's
        [fps_min, fps_max] (or max_frames over its limit) is a check-time violation for the target's
        limits (`frames.fps_out_of_range`, `frames.max_frames_out_of_range`)."""
        for name in _CHOICES[type(self)]:
            _check_choice(self, name)
        if not isinstance(self.keep_orientation, bool):
            _bad(self, "keep_orientation", "True or False")
        floor = DEFAULT_LIMITS.image_min_side_exclusive_px
        for name in ("max_side_px", "frame_max_side_px"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value <= floor):
                _bad(self, name, f"None or a whole number of pixels more than {floor}")
        if not _is_int(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            _bad(self, "jpeg_quality", "a whole number from 1 to 100")
        if not _is_int(self.jpeg_quality_floor) or not 1 <= self.jpeg_quality_floor <= self.jpeg_quality:
            _bad(self, "jpeg_quality_floor", f"a whole number from 1 to jpeg_quality ({self.jpeg_quality}): with a jpeg_quality under {TUNING.jpeg_quality_floor}, pass a jpeg_quality_floor too")
        if not _is_int(self.max_encodes) or self.max_encodes < 1:
            _bad(self, "max_encodes", "a whole number ≥ 1")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not math.isfinite(self.fps):
            lim = DEFAULT_LIMITS
            _bad(self, "fps", f"a finite number (the service takes {lim.fps_min:g} to {lim.fps_max:g})")
        if not _is_int(self.max_frames) or self.max_frames < 1:
            _bad(self, "max_frames", f"a whole number ≥ 1 (the service takes up to {DEFAULT_LIMITS.max_frames_limit})")
        budget = self.token_budget
        if budget is not None and budget != "auto" and (not _is_int(budget) or budget < 1):
            _bad(self, "token_budget", "a whole number of tokens ≥ 1, \"auto\" or None")
        if not _is_int(self.token_reserve) or self.token_reserve < 0:
            _bad(self, "token_reserve", "a whole number of tokens ≥ 0")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(obj: object, name: str, allowed: str, error: type[UsageError] = UsageError) -> None:
    raise error(f"{type(obj).__name__}.{name} = {getattr(obj, name)!r} is not allowed: it must be {allowed}")


def _literal_choices(cls: type) -> dict[str, tuple[str, ...]]:
    """The fields of `cls` typed as a Literal of strings, with their allowed values."""
    hints = get_type_hints(cls)
    return {f.name: get_args(hints[f.name]) for f in fields(cls) if get_origin(hints[f.name]) is Literal}


def _check_choice(obj: object, name: str, error: type[UsageError] = UsageError) -> None:
    allowed = _CHOICES[type(obj)][name]
    value = getattr(obj, name)
    if not isinstance(value, str) or value not in allowed:
        _bad(obj, name, "one of " + ", ".join(repr(a) for a in allowed), error)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One step that prepare took (or plans to take), with why."""

    op: str  # "orient", "first-frame", "convert", "downscale", "pad", "split", "encode", "compress", "passthrough"
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "reason": self.reason}
        if self.params:
            out["params"] = self.params
        return out


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


class ResultLine(TypedDict, total=False):
    """One input's line: `check --json` output (`Report.to_json`) and `manifest.jsonl` lines
    (`Prepared.to_json`), as batch workers return them and the CLI and the HTML report read them."""

    source: str
    kind: str  # "image", "video", "unknown"
    status: str  # check: ok / fixable / rejected; prepare: ready / rejected
    verdict: str  # prepare: the input's check status
    violations: list[dict[str, Any]]
    info: dict[str, Any] | None
    estimate: dict[str, Any] | None
    verified: str
    remote: dict[str, Any]
    actions: list[dict[str, Any]]
    outputs: list[str]
    output_info: list[dict[str, Any]]
    part: dict[str, Any] | None
    parts: list[dict[str, Any]] | None
    input: dict[str, Any]  # the input's fingerprint, for --resume


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

    def to_json(self) -> ResultLine:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractedFrame:
    """A frame of an image list: the sample's number, its time, and the picture taken for it."""

    index: int  # k, the sample's number
    time_s: float  # t_k, the sampling time, from the first frame
    pts_s: float  # the presentation time of the source frame taken, from the first frame
    image: Any = field(repr=False)  # a PIL.Image.Image at the list's frame size


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedPicture:
    """One picture encoded to send: a rewritten image, a tile, or a frame of an image list."""

    data: bytes = field(repr=False)
    format: str  # "JPEG" / "PNG" (or the input's own format when passed through)
    mime: str
    size: Size
    index: int = 0  # a frame's sample number
    time_s: float = 0.0  # a frame's sampling time
    pts_s: float = 0.0  # the source frame's time
    quality: int | None = None
    encodes: int = 0

    @property
    def size_bytes(self) -> int:
        return len(self.data)


_CHOICES: dict[type, dict[str, tuple[str, ...]]] = {cls: _literal_choices(cls) for cls in (Policy, Target)}
