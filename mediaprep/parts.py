"""Content parts exactly as SPEC §4, for both dialects. Pure."""

from __future__ import annotations

from typing import Any, Literal

Dialect = Literal["openai", "dashscope"]


def text_part(text: str, api: Dialect) -> dict[str, Any]:
    return {"type": "text", "text": text} if api == "openai" else {"text": text}


def image_part(url: str, api: Dialect) -> dict[str, Any]:
    """`url` is an http(s) URL, a data URL, or (DashScope only) a file:// path."""
    if api == "openai":
        if url.startswith("file://"):
            raise ValueError("the OpenAI-compatible API takes no file:// paths")
        return {"type": "image_url", "image_url": {"url": url}}
    return {"image": url}


def video_part(url: str, api: Dialect, *, fps: float, max_frames: int | None = None) -> dict[str, Any]:
    """A video file. `max_frames` is a DashScope-only field (SPEC §2)."""
    if api == "openai":
        if url.startswith("file://"):
            raise ValueError("the OpenAI-compatible API takes no file:// paths")
        return {"type": "video_url", "video_url": {"url": url}, "fps": _num(fps)}
    part: dict[str, Any] = {"video": url, "fps": _num(fps)}
    if max_frames is not None:
        part["max_frames"] = max_frames
    return part


def image_list_part(urls: list[str], api: Dialect, *, fps: float) -> dict[str, Any]:
    if api == "openai":
        return {"type": "video", "video": list(urls), "fps": _num(fps)}
    return {"video": list(urls), "fps": _num(fps)}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
