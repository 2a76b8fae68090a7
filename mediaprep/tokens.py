"""Token estimates for Kimi images and video frames (TOKENS.md). Pure; every result is an estimate.

The constants reproduce the open-weights K2.5 preprocessor; a caller may pass other `TokenConstants`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .models import Size, TokenEstimate


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenConstants:
    patch_size_px: int = 14
    merge_kernel: int = 2  # 2×2 patches → one token: a token covers 28×28 px
    image_patch_limit: int = 16384
    side_patch_limit: int = 512  # at most 512 patches = 7168 px per side
    frame_patch_limit: int = 4096
    temporal_merge: int = 4  # frames pooled per chunk
    image_wrapper_tokens: int = 4
    chunk_wrapper_tokens: int = 12


DEFAULT_TOKENS = TokenConstants()


def model_size(size: Size, *, patch_limit: int, constants: TokenConstants = DEFAULT_TOKENS) -> Size:
    """The size the model resizes an image to before patching (never larger than the input)."""
    w, h = size.width_px, size.height_px
    if w <= 0 or h <= 0:
        return Size(0, 0)  # an empty picture (a header declaring width 0) has nothing to patch
    p = constants.patch_size_px
    side_max = constants.side_patch_limit * p
    scale = min(1.0, math.sqrt(patch_limit / (max(1, w // p) * max(1, h // p))), side_max / w, side_max / h)
    return Size(min(max(1, int(w * scale)), side_max), min(max(1, int(h * scale)), side_max))


def grid_tokens(size: Size, *, patch_limit: int, constants: TokenConstants = DEFAULT_TOKENS) -> int:
    """Tokens of one picture, before wrapper tokens: ceil(W'/28) × ceil(H'/28)."""
    resized = model_size(size, patch_limit=patch_limit, constants=constants)
    cell = constants.patch_size_px * constants.merge_kernel
    return math.ceil(resized.width_px / cell) * math.ceil(resized.height_px / cell)


def image_tokens(size: Size, constants: TokenConstants = DEFAULT_TOKENS) -> int:
    """Tokens of one image (no wrapper): 64×64 → 9, 1920×1080 → 2691."""
    return grid_tokens(size, patch_limit=constants.image_patch_limit, constants=constants)


def frame_chunk_tokens(size: Size, constants: TokenConstants = DEFAULT_TOKENS) -> int:
    """Tokens of one chunk of video frames (no wrapper): 640×360 → 299, 1920×1080 → 1032."""
    return grid_tokens(size, patch_limit=constants.frame_patch_limit, constants=constants)


def estimate_image(size: Size, constants: TokenConstants = DEFAULT_TOKENS) -> TokenEstimate:
    resized = model_size(size, patch_limit=constants.image_patch_limit, constants=constants)
    cell = constants.patch_size_px * constants.merge_kernel
    grid = math.ceil(resized.width_px / cell) * math.ceil(resized.height_px / cell)
    return TokenEstimate(
        tokens=grid + constants.image_wrapper_tokens,
        basis=f"image {size} seen as {resized}: {grid} tokens + {constants.image_wrapper_tokens} wrapper",
    )


def estimate_frames(size: Size, frame_count: int, constants: TokenConstants = DEFAULT_TOKENS) -> TokenEstimate:
    """A video or image list of `frame_count` frames of `size`: ceil(n/4) chunks."""
    chunks = math.ceil(frame_count / constants.temporal_merge)
    per_chunk = frame_chunk_tokens(size, constants) + constants.chunk_wrapper_tokens
    return TokenEstimate(
        tokens=chunks * per_chunk,
        basis=f"{frame_count} frames of {size} in {chunks} chunks of {per_chunk} tokens",
    )


def frame_size(size: Size, max_side_px: int | None = None, constants: TokenConstants = DEFAULT_TOKENS) -> Size:
    """The size video frames are written at for an image list: the size the model resizes a frame
    to (`model_size` at the frame patch limit), or `max_side_px` on the long side; never larger
    than the video."""
    if max_side_px is not None:
        scale = min(1.0, max_side_px / max(size.long_px, 1))
        return Size(max(1, round(size.width_px * scale)), max(1, round(size.height_px * scale)))
    return model_size(size, patch_limit=constants.frame_patch_limit, constants=constants)


def estimate_text(text: str) -> TokenEstimate:
    """A deliberately high estimate for text: one token per two characters (English averages about
    four characters a token, CJK about one character a token). Pure."""
    tokens = -(-len(text) // 2)
    return TokenEstimate(tokens=tokens, basis=f"text of {len(text)} characters at 2 characters a token (a high estimate)")
