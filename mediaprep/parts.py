"""Content parts exactly as SPEC §4, for both dialects. Pure.

The helpers refuse (`UsageError`, a `ValueError`) what no request could carry: an `fps` outside
`Limits.fps_min`–`fps_max`, `max_frames` with the OpenAI-compatible API or outside
1–`Limits.max_frames_limit`, and a `file://` URL with the OpenAI-compatible API (file paths work only
through the DashScope SDKs). `validate_part` applies the same rules, plus an image list's frame count
(`image_list_min_frames`–`image_list_max_frames`), to a part already built — `build_request` calls it
for each new content part. `image_list_part` itself does not check the count: callers build
placeholder lists (the `frames` command streams its URLs into a one-item list).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .errors import UsageError
from .rules import DEFAULT_LIMITS, Limits

Dialect = Literal["openai", "dashscope"]
_EPS = 1e-9  # float noise allowed at the fps bounds (an effective rate rounded to 6 places)


def text_part(text: str, api: Dialect) -> dict[str, Any]:
    return {"type": "text", "text": text} if api == "openai" else {"text": text}


def image_part(url: str, api: Dialect) -> dict[str, Any]:
    """`url` is an http(s) URL, a data URL, or (DashScope only) a file:// path."""
    if api == "openai":
        _no_file_url(url, "an image")
        return {"type": "image_url", "image_url": {"url": url}}
    return {"image": url}


def video_part(url: str, api: Dialect, *, fps: float, max_frames: int | None = None, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A video file. `max_frames` is a DashScope-only field (SPEC §2). Raises `UsageError` for an fps
    or max_frames out of range, max_frames with the OpenAI-compatible API, or file:// with it."""
    _check_fps(fps, limits, "video_part")
    if api == "openai":
        _no_file_url(url, "a video")
        if max_frames is not None:
            raise UsageError(
                "max_frames is a DashScope field: the OpenAI-compatible API does not take it (lower fps, "
                "or send an image list, to send fewer frames), or use api='dashscope'"
            )
        return {"type": "video_url", "video_url": {"url": url}, "fps": _num(fps)}
    part: dict[str, Any] = {"video": url, "fps": _num(fps)}
    if max_frames is not None:
        _check_max_frames(max_frames, limits, "video_part")
        part["max_frames"] = max_frames
    return part


def image_list_part(urls: Sequence[str], api: Dialect, *, fps: float, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A video as an image list. Raises `UsageError` for an fps out of range, more frames than
    `limits.image_list_max_frames`, or a file:// member with the OpenAI-compatible API."""
    _check_fps(fps, limits, "image_list_part")
    if len(urls) > limits.image_list_max_frames:
        raise UsageError(f"image_list_part: {len(urls)} frames is more than {limits.image_list_max_frames}")
    if api == "openai":
        for url in urls:
            _no_file_url(url, "an image-list frame")
        return {"type": "video", "video": list(urls), "fps": _num(fps)}
    return {"video": list(urls), "fps": _num(fps)}


def validate_part(part: Mapping[str, Any], api: Dialect, *, limits: Limits = DEFAULT_LIMITS, where: str = "part") -> None:
    """Raise `UsageError` when a built part breaks SPEC §2's rules on what it carries: fps out of
    range, max_frames with the OpenAI-compatible API or out of range, an image list with fewer than
    `image_list_min_frames` or more than `image_list_max_frames` frames. `file://` URLs are left to
    the request (`request.file_path_over_http`: the DashScope SDK form may carry them). Pure;
    reads the keys and the list length, never the payload."""
    video = part.get("video")
    is_list = isinstance(video, list)
    if is_list:
        count = len(video)  # type: ignore[arg-type]
        if count < limits.image_list_min_frames:
            raise UsageError(
                f"{where}: an image list of {count} frame(s) is fewer than {limits.image_list_min_frames}; "
                "take more frames (a higher fps) or send the video file"
            )
        if count > limits.image_list_max_frames:
            raise UsageError(f"{where}: an image list of {count} frames is more than {limits.image_list_max_frames}")
    if "fps" in part:
        _check_fps(part["fps"], limits, where)
    if "max_frames" in part:
        if api == "openai" or is_list:
            raise UsageError(f"{where}: max_frames belongs only on a DashScope video-file part")
        _check_max_frames(part["max_frames"], limits, where)


def _check_fps(fps: Any, limits: Limits, where: str) -> None:
    ok = isinstance(fps, (int, float)) and not isinstance(fps, bool) and not math.isnan(fps)
    if not ok or not (limits.fps_min - _EPS <= fps <= limits.fps_max + _EPS):
        raise UsageError(f"{where}: fps {fps!r} is outside [{limits.fps_min:g}, {limits.fps_max:g}]")


def _check_max_frames(max_frames: Any, limits: Limits, where: str) -> None:
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or not 1 <= max_frames <= limits.max_frames_limit:
        raise UsageError(f"{where}: max_frames {max_frames!r} is outside [1, {limits.max_frames_limit}]")


def _no_file_url(url: str, what: str) -> None:
    if url[:7].lower() == "file://":
        raise UsageError(
            f"{what} as a file:// path: the OpenAI-compatible API takes no file:// paths (they work only "
            "through the DashScope Python and Java SDKs); send base64 or a URL, or use api='dashscope'"
        )


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
