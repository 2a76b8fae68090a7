"""Every number of SPEC.md, in one place (data only).

`Limits` holds the media rules (SPEC §1–§3); `MODELS` and `REGIONS` hold SPEC §5 and the context
sizes of TOKENS.md. Every other module reads its numbers from here; a caller overrides any of them
with `dataclasses.replace(Limits(), ...)` or `Target(limits=...)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import UsageError

MiB = 1 << 20
GiB = 1 << 30

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (bools and NaN/inf are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    """An orientation-free size box: a (w, h) fits when long ≤ long_px and short ≤ short_px."""

    long_px: int
    short_px: int

    def fits(self, width_px: int, height_px: int) -> bool:
        return max(width_px, height_px) <= self.long_px and min(width_px, height_px) <= self.short_px

    def strictly_inside(self, width_px: int, height_px: int) -> bool:
        """Below the box: long < long_px and short < short_px (the page's 「未満」)."""
        return max(width_px, height_px) < self.long_px and min(width_px, height_px) < self.short_px

    def __str__(self) -> str:
        return f"{self.long_px}×{self.short_px}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The media rules of SPEC §1–§3. Byte sizes are in bytes (a megabyte is 2**20)."""

    # §1 images
    image_min_side_exclusive_px: int = 10  # a side must be > this
    image_max_aspect_ratio: float = 200.0  # long / short must be ≤ this
    image_box_4k: Box = field(default_factory=lambda: Box(long_px=3840, short_px=2160))  # "below 4K" is strictly inside
    image_box_8k: Box = field(default_factory=lambda: Box(long_px=7680, short_px=4320))
    image_formats_below_4k: frozenset[str] = frozenset({"BMP", "JPEG", "PNG", "TIFF", "WEBP", "HEIC"})
    image_formats_4k_to_8k: frozenset[str] = frozenset({"JPEG", "PNG"})
    image_max_file_bytes: int = 10 * MiB  # by URL or local path, inclusive
    image_max_data_url_bytes: int = 10 * MiB  # the whole data URL, inclusive
    max_decode_pixels: int = 178_956_970  # Pillow's own error threshold
    # §2 videos
    video_max_url_bytes: int = 2 * GiB
    video_max_path_bytes: int = 100 * MiB
    video_max_data_url_bytes_exclusive: int = 10 * MiB  # strictly less than
    video_min_duration_s: float = 2.0
    video_max_duration_s: float = 3600.0
    video_containers: frozenset[str] = frozenset({"MP4", "AVI", "MKV", "MOV", "FLV", "WMV"})
    video_recommended_box: Box = field(default_factory=lambda: Box(long_px=2560, short_px=1440))
    image_list_min_frames: int = 4
    image_list_max_frames: int = 2000
    fps_min: float = 0.1
    fps_max: float = 10.0
    fps_default: float = 2.0
    max_frames_limit: int = 2000
    max_frames_default: int = 2000

    def __post_init__(self) -> None:
        for name in _LIMIT_POSITIVE_INTS:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                self._bad(name, "a whole number ≥ 1")
        if not _is_int(self.image_min_side_exclusive_px) or self.image_min_side_exclusive_px < 0:
            self._bad("image_min_side_exclusive_px", "a whole number ≥ 0")
        if not _is_number(self.image_max_aspect_ratio) or self.image_max_aspect_ratio < 1:
            self._bad("image_max_aspect_ratio", "a finite number ≥ 1 (long side / short side)")
        for name in ("fps_min", "fps_max", "fps_default", "video_max_duration_s"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                self._bad(name, "a finite number > 0")
        if not _is_number(self.video_min_duration_s) or self.video_min_duration_s < 0:
            self._bad("video_min_duration_s", "a finite number ≥ 0")
        for name in ("image_box_4k", "image_box_8k", "video_recommended_box"):
            box = getattr(self, name)
            if not isinstance(box, Box) or not (_is_int(box.long_px) and _is_int(box.short_px) and box.long_px >= box.short_px >= 1):
                self._bad(name, "a Box(long_px=…, short_px=…) of whole numbers with long_px ≥ short_px ≥ 1")
        for name in ("image_formats_below_4k", "image_formats_4k_to_8k", "video_containers"):
            names = getattr(self, name)
            if not isinstance(names, frozenset) or not all(isinstance(n, str) for n in names):
                self._bad(name, "a frozenset of format names (str)")
        if not self.fps_min <= self.fps_default <= self.fps_max:
            self._bad("fps_default", f"within [fps_min, fps_max] = [{self.fps_min:g}, {self.fps_max:g}]")
        if self.max_frames_default > self.max_frames_limit:
            self._bad("max_frames_default", f"at most max_frames_limit ({self.max_frames_limit})")
        if self.image_list_min_frames > self.image_list_max_frames:
            self._bad("image_list_min_frames", f"at most image_list_max_frames ({self.image_list_max_frames})")
        if self.video_min_duration_s > self.video_max_duration_s:
            self._bad("video_min_duration_s", f"at most video_max_duration_s ({self.video_max_duration_s:g})")

    def _bad(self, name: str, allowed: str) -> None:
        raise UsageError(f"Limits.{name} = {getattr(self, name)!r} is not allowed: it must be {allowed}")


_LIMIT_POSITIVE_INTS = (
    "image_max_file_bytes",
    "image_max_data_url_bytes",
    "max_decode_pixels",
    "video_max_url_bytes",
    "video_max_path_bytes",
    "video_max_data_url_bytes_exclusive",
    "image_list_min_frames",
    "image_list_max_frames",
    "max_frames_limit",
    "max_frames_default",
)

DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """mediaprep's own numbers (not the service's): how fixes are made and what defaults it picks.
    Read by plan, apply and the backends; a caller changes them through `Policy` where it applies."""

    token_reserve: int = 16_384  # tokens left for the prompt and the answer under an "auto" budget
    jpeg_quality: int = 90  # JPEG quality rewritten images and frames start from
    jpeg_quality_floor: int = 60  # compress-to-cap downscales rather than go below this quality
    max_encodes: int = 6  # bound on the compress-to-cap search per image
    png_max_pixels: int = 4_000_000  # lossless sources larger than this are written as JPEG
    shrink_step_max: float = 0.9  # compress-to-cap: each downscale keeps at most 90 % of a side
    shrink_margin: float = 0.95  # ... and aims 5 % under the size the byte ratio predicts
    transcode_crf: int = 23  # libx264 quality for a transcoded video
    transcode_preset: str = "veryfast"
    transcode_bitrate_headroom: float = 0.90  # the cap's bitrate keeps 10 % for container overhead
    transcode_min_bitrate: int = 20_000  # bits/s: the VBV ceiling never goes below this
    transcode_min_bits_per_pixel: float = 0.04  # per pixel per frame: shrink until a picture is watchable
    transcode_shrink_step: float = 0.8
    transcode_default_fps: float = 30.0  # when a stream declares no rate
    contact_sheet_quality: int = 85
    # Counting pictures in a file stops at these (a count equal to one means "at least"): TIFF pages
    # are walked one by one and only the first page is ever sent; an animation's declared count is
    # believed, and its timeline read, up to the second.
    max_counted_pages: int = 1_000
    max_animation_frames: int = 100_000


TUNING = Tuning()

# Codecs an MP4 carries that every service decoder reads: an unlisted container holding one is remuxed
# (stream copy), anything else transcoded.
REMUXABLE_CODECS: frozenset[str] = frozenset({"h264", "hevc"})

# MIME types a data URL may carry (SPEC §1, §2). Keys are mediaprep's format names.
IMAGE_MIME: dict[str, str] = {
    "BMP": "image/bmp",
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "HEIC": "image/heic",
}
VIDEO_MIME: dict[str, str] = {
    "MP4": "video/mp4",
    "MOV": "video/quicktime",
    "AVI": "video/x-msvideo",
    "MKV": "video/x-matroska",
    "FLV": "video/x-flv",
    "WMV": "video/x-ms-wmv",
    "WEBM": "video/webm",
}
# MIME of formats that are read but never sent as they are (for reports only).
OTHER_MIME: dict[str, str] = {
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "JPEG2000": "image/jp2",
    "ICO": "image/vnd.microsoft.icon",
    "PSD": "image/vnd.adobe.photoshop",
    "PPM": "image/x-portable-anymap",
    "BIGTIFF": "image/tiff",
    "TGA": "image/x-tga",
    "QOI": "image/qoi",
    "SGI": "image/sgi",
    "PCX": "image/x-pcx",
    "DDS": "image/vnd-ms.dds",
    "ICNS": "image/icns",
}

Api = Literal["openai", "dashscope"]
Transport = Literal["base64", "url", "path"]
APIS: tuple[str, ...] = ("openai", "dashscope")
TRANSPORTS: tuple[str, ...] = ("base64", "url", "path")
# SPEC §3: which API takes which transport.
TRANSPORTS_BY_API: dict[str, frozenset[str]] = {
    "openai": frozenset({"base64", "url"}),
    "dashscope": frozenset({"base64", "url", "path"}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """One row of SPEC §5 plus the context sizes of TOKENS.md."""

    name: str
    inputs: frozenset[str]  # "text", "image", "video"
    thinking: Literal["always", "hybrid", "only", "none"]
    enable_thinking_default: bool | None
    preserve_thinking_default: bool | None = None
    tools: bool = True
    structured_output: bool = False
    web_search: bool = False
    retired_on: str | None = None  # ISO date
    replacements: tuple[str, ...] = ()
    context_tokens: int = 262_144
    max_input_tokens_thinking: int | None = None
    max_input_tokens_non_thinking: int | None = None
    defaults_thinking: dict[str, float] = field(default_factory=dict)
    defaults_non_thinking: dict[str, float] = field(default_factory=dict)
    fps_default: float | None = None
    max_frames_default: int | None = None

    @property
    def takes_media(self) -> bool:
        return "image" in self.inputs or "video" in self.inputs

    def max_input_tokens(self, *, thinking: bool) -> int:
        value = self.max_input_tokens_thinking if thinking else self.max_input_tokens_non_thinking
        return value if value is not None else self.context_tokens


_RETIRED_REPLACEMENTS = ("qwen3.7-plus", "qwen3.7-max", "qwen3.6-flash")
_K2_VISION_DEFAULTS_THINKING = {"temperature": 1.0, "top_p": 0.95, "presence_penalty": 0.0}
_K2_VISION_DEFAULTS_NON_THINKING = {"temperature": 0.6, "top_p": 0.95, "presence_penalty": 0.0}

MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            name="kimi-k2.7-code",
            inputs=frozenset({"text", "image", "video"}),
            thinking="always",
            enable_thinking_default=True,
            preserve_thinking_default=True,
            max_input_tokens_thinking=258_048,
            max_input_tokens_non_thinking=258_048,
            defaults_thinking=_K2_VISION_DEFAULTS_THINKING,
            defaults_non_thinking=_K2_VISION_DEFAULTS_THINKING,
            fps_default=2.0,
            max_frames_default=2000,
        ),
        ModelInfo(
            name="kimi-k2.6",
            inputs=frozenset({"text", "image", "video"}),
            thinking="hybrid",
            enable_thinking_default=False,
            max_input_tokens_thinking=258_048,
            max_input_tokens_non_thinking=260_096,
            defaults_thinking=_K2_VISION_DEFAULTS_THINKING,
            defaults_non_thinking=_K2_VISION_DEFAULTS_NON_THINKING,
            fps_default=2.0,
            max_frames_default=2000,
        ),
        ModelInfo(
            name="kimi-k2.5",
            inputs=frozenset({"text", "image", "video"}),
            thinking="hybrid",
            enable_thinking_default=False,
            max_input_tokens_thinking=258_048,
            max_input_tokens_non_thinking=260_096,
            defaults_thinking=_K2_VISION_DEFAULTS_THINKING,
            defaults_non_thinking=_K2_VISION_DEFAULTS_NON_THINKING,
            fps_default=2.0,
            max_frames_default=2000,
        ),
        ModelInfo(
            name="kimi-k2-thinking",
            inputs=frozenset({"text"}),
            thinking="only",
            enable_thinking_default=None,
            structured_output=True,
            retired_on="2026-07-09",
            replacements=_RETIRED_REPLACEMENTS,
            max_input_tokens_thinking=229_376,
            max_input_tokens_non_thinking=229_376,
            defaults_thinking={"temperature": 1.0},
            defaults_non_thinking={"temperature": 1.0},
        ),
        ModelInfo(
            name="Moonshot-Kimi-K2-Instruct",
            inputs=frozenset({"text"}),
            thinking="none",
            enable_thinking_default=None,
            web_search=True,
            retired_on="2026-07-09",
            replacements=_RETIRED_REPLACEMENTS,
            context_tokens=131_072,
            max_input_tokens_thinking=131_072,
            max_input_tokens_non_thinking=131_072,
            defaults_thinking={"temperature": 0.6, "top_p": 1.0, "presence_penalty": 0.0},
            defaults_non_thinking={"temperature": 0.6, "top_p": 1.0, "presence_penalty": 0.0},
        ),
    )
}
DEFAULT_MODEL = "kimi-k2.6"


@dataclass(frozen=True, slots=True, kw_only=True)
class Region:
    """A Model Studio region and its two base URLs (SPEC §5); `{WorkspaceId}` is filled per call."""

    name: str
    label: str
    openai_base: str
    dashscope_base: str

    @property
    def needs_workspace(self) -> bool:
        return "{WorkspaceId}" in self.openai_base


def _maas(region_id: str) -> tuple[str, str]:
    host = f"https://{{WorkspaceId}}.{region_id}.maas.aliyuncs.com"
    return f"{host}/compatible-mode/v1", f"{host}/api/v1"


REGIONS: dict[str, Region] = {
    r.name: r
    for r in (
        Region(
            name="us-east-1",
            label="US (Virginia)",
            openai_base="https://dashscope-us.aliyuncs.com/compatible-mode/v1",
            dashscope_base="https://dashscope-us.aliyuncs.com/api/v1",
        ),
        Region(name="eu-central-1", label="Germany (Frankfurt)", **dict(zip(("openai_base", "dashscope_base"), _maas("eu-central-1")))),
        Region(name="ap-southeast-1", label="Singapore", **dict(zip(("openai_base", "dashscope_base"), _maas("ap-southeast-1")))),
        Region(name="ap-northeast-1", label="Japan (Tokyo)", **dict(zip(("openai_base", "dashscope_base"), _maas("ap-northeast-1")))),
        Region(name="cn-beijing", label="China (Beijing)", **dict(zip(("openai_base", "dashscope_base"), _maas("cn-beijing")))),
        Region(name="cn-hongkong", label="China (Hong Kong)", **dict(zip(("openai_base", "dashscope_base"), _maas("cn-hongkong")))),
    )
}
DEFAULT_REGION = "ap-southeast-1"

OPENAI_CHAT_PATH = "/chat/completions"
DASHSCOPE_TEXT_PATH = "/services/aigc/text-generation/generation"
DASHSCOPE_MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
API_KEY_ENV = "DASHSCOPE_API_KEY"
