"""Fit video media to a token budget (TOKENS.md's estimate). Pure.

For an image list the plan may lower the fps and shrink the frames: first the fps comes down toward
0.5, then the frames shrink (to a floor), and only then does the fps drop below 0.5 (to 0.1); frame
counts are multiples of 4 (the model pools 4 frames into one chunk). For a video file only the fps
field can change (the model picks the frame size). Every choice says what it chose and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Size
from .rules import MODELS, Limits
from .tokens import DEFAULT_TOKENS, TokenConstants, estimate_frames

PREFERRED_MIN_FPS = 0.5
MIN_FRAME_LONG_PX = 224  # frames are not shrunk below this long side
DEFAULT_RESERVE_TOKENS = 16_384  # room for the prompt and the answer


def auto_budget(model: str, *, thinking: bool = False, reserve_tokens: int = DEFAULT_RESERVE_TOKENS) -> int:
    """The model's max input (TOKENS.md) minus a reserve for the text and the output."""
    info = MODELS[model.removeprefix("kimi/")]
    return info.max_input_tokens(thinking=thinking) - reserve_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameChoice:
    fps: float  # the rate sent with the list (or the video file)
    frames: int
    size: Size
    tokens: int
    fits: bool
    changed: bool
    reason: str


def _count(duration_s: float, fps: float, max_frames: int) -> int:
    return min(max(1, math.floor(duration_s * fps + 1e-9)), max_frames)


def _tokens(frames: int, size: Size, constants: TokenConstants) -> int:
    return estimate_frames(size, frames, constants).tokens


def _shrink(size: Size, factor: float) -> Size:
    return Size(max(1, round(size.width_px * factor)), max(1, round(size.height_px * factor)))


def fit_image_list(
    duration_s: float,
    fps: float,
    max_frames: int,
    frame_size: Size,
    budget_tokens: int | None,
    limits: Limits,
    constants: TokenConstants = DEFAULT_TOKENS,
) -> FrameChoice:
    """The largest plan (fps, then frame size) whose estimate fits `budget_tokens`."""
    n = _count(duration_s, fps, max_frames)
    tokens = _tokens(n, frame_size, constants)
    if budget_tokens is None or tokens <= budget_tokens:
        return FrameChoice(fps=fps, frames=n, size=frame_size, tokens=tokens, fits=True, changed=False, reason="fits the token budget as asked" if budget_tokens else "no token budget")
    need = limits.image_list_min_frames
    chunk = constants.temporal_merge

    def frames_for(tokens_per_chunk: int) -> int:
        chunks = budget_tokens // tokens_per_chunk  # type: ignore[operator]
        return int(chunks * chunk)

    per_chunk_full = _tokens(chunk, frame_size, constants)
    # 1. lower the fps toward 0.5, frames at full size
    floor_fps = min(fps, PREFERRED_MIN_FPS)
    n1 = min(frames_for(per_chunk_full), n)
    n1 -= n1 % chunk
    if n1 >= need and n1 / duration_s >= floor_fps - 1e-9:
        return _choice(n1, duration_s, frame_size, constants, budget_tokens, f"{n} frames of {frame_size} is about {tokens} tokens, over the {budget_tokens}-token budget: fps lowered to {n1 / duration_s:.4g} ({n1} frames, a multiple of 4)")
    # 2. at fps 0.5 (or the asked fps if lower), shrink the frames
    n2 = min(_count(duration_s, floor_fps, max_frames), n)
    n2 = max(need, n2 - n2 % chunk)
    size, fits = _shrink_to_fit(n2, frame_size, budget_tokens, constants)
    if fits:
        return _choice(n2, duration_s, size, constants, budget_tokens, f"{n} frames of {frame_size} is about {tokens} tokens, over the {budget_tokens}-token budget: fps {n2 / duration_s:.4g} ({n2} frames) with frames shrunk to {size}")
    # 3. frames at the floor size: lower the fps below 0.5, down to fps_min
    per_chunk_small = _tokens(chunk, size, constants)
    n3 = min(frames_for(per_chunk_small), n2)
    n3 -= n3 % chunk
    if n3 >= need and n3 / duration_s >= limits.fps_min - 1e-9:
        return _choice(n3, duration_s, size, constants, budget_tokens, f"{n} frames of {frame_size} is about {tokens} tokens, over the {budget_tokens}-token budget: even at fps {floor_fps:g} with {size} frames it does not fit, so fps {n3 / duration_s:.4g} ({n3} frames)")
    floor_n = max(need, _count(duration_s, limits.fps_min, max_frames))
    floor_tokens = _tokens(floor_n, size, constants)
    return FrameChoice(fps=fps, frames=n, size=frame_size, tokens=floor_tokens, fits=False, changed=False, reason=f"even {floor_n} frames of {size} at fps {limits.fps_min:g} is about {floor_tokens} tokens, over the {budget_tokens}-token budget")


def fit_frame_size(frames: int, fps: float, frame_size: Size, budget_tokens: int | None, constants: TokenConstants = DEFAULT_TOKENS) -> FrameChoice:
    """For a list whose frame count cannot change (a short clip spread over its few frames): the
    largest frame size, down to MIN_FRAME_LONG_PX on the long side, whose estimate fits."""
    tokens = _tokens(frames, frame_size, constants)
    if budget_tokens is None or tokens <= budget_tokens:
        return FrameChoice(fps=fps, frames=frames, size=frame_size, tokens=tokens, fits=True, changed=False, reason="fits the token budget as asked" if budget_tokens else "no token budget")
    size, fits = _shrink_to_fit(frames, frame_size, budget_tokens, constants)
    if fits:
        return FrameChoice(fps=fps, frames=frames, size=size, tokens=_tokens(frames, size, constants), fits=True, changed=True, reason=f"{frames} frames of {frame_size} is about {tokens} tokens, over the {budget_tokens}-token budget: frames shrunk to {size}")
    small = _tokens(frames, size, constants)
    return FrameChoice(fps=fps, frames=frames, size=frame_size, tokens=small, fits=False, changed=False, reason=f"even {frames} frames of {size} is about {small} tokens, over the {budget_tokens}-token budget")


def _shrink_to_fit(frames: int, frame_size: Size, budget_tokens: int, constants: TokenConstants) -> tuple[Size, bool]:
    """(size, fits): `frames` frames shrunk 5 % at a time until they fit `budget_tokens`, down to
    MIN_FRAME_LONG_PX on the long side (the floor size, fits False, when even that is over)."""
    size = frame_size
    while max(size.width_px, size.height_px) > MIN_FRAME_LONG_PX:
        size = _shrink(size, 0.95)
        if max(size.width_px, size.height_px) < MIN_FRAME_LONG_PX:
            size = _shrink(frame_size, MIN_FRAME_LONG_PX / max(frame_size.width_px, frame_size.height_px))
        if _tokens(frames, size, constants) <= budget_tokens:
            return size, True
    return size, False


def _choice(frames: int, duration_s: float, size: Size, constants: TokenConstants, budget: int, reason: str) -> FrameChoice:
    return FrameChoice(fps=frames / duration_s, frames=frames, size=size, tokens=_tokens(frames, size, constants), fits=True, changed=True, reason=reason)


def fit_video_file(duration_s: float, fps: float, max_frames: int, model_frame_size: Size, budget_tokens: int | None, limits: Limits, constants: TokenConstants = DEFAULT_TOKENS) -> FrameChoice:
    """For a video sent as a file only the fps field can change: the highest fps (to 2 decimals,
    ≥ fps_min) whose estimate fits."""
    n = _count(duration_s, fps, max_frames)
    tokens = _tokens(n, model_frame_size, constants)
    if budget_tokens is None or tokens <= budget_tokens:
        return FrameChoice(fps=fps, frames=n, size=model_frame_size, tokens=tokens, fits=True, changed=False, reason="fits the token budget as asked" if budget_tokens else "no token budget")
    per_chunk = _tokens(constants.temporal_merge, model_frame_size, constants)
    frames = budget_tokens // per_chunk * constants.temporal_merge
    new_fps = math.floor(frames / duration_s * 100) / 100
    if new_fps >= limits.fps_min:
        m = _count(duration_s, new_fps, max_frames)
        return FrameChoice(fps=new_fps, frames=m, size=model_frame_size, tokens=_tokens(m, model_frame_size, constants), fits=True, changed=True, reason=f"at fps {fps:g} the model would take {n} frames, about {tokens} tokens, over the {budget_tokens}-token budget: fps lowered to {new_fps:g}")
    return FrameChoice(fps=fps, frames=n, size=model_frame_size, tokens=tokens, fits=False, changed=False, reason=f"even at fps {limits.fps_min:g} the video is over the {budget_tokens}-token budget")


def resolve_budget(budget: int | str | None, model: str, *, reserve_tokens: int = DEFAULT_RESERVE_TOKENS) -> int | None:
    """`auto` → the model's max input minus the reserve (thinking mode by the model's default)."""
    if budget is None or budget == "none":
        return None
    if budget == "auto":
        info = MODELS.get(model.removeprefix("kimi/"))
        if info is None:
            return None
        return auto_budget(info.name, thinking=bool(info.enable_thinking_default), reserve_tokens=reserve_tokens)
    return int(budget)
