from __future__ import annotations

import pytest

from mediaprep import Size, estimate_frames, estimate_image
from mediaprep.tokens import frame_chunk_tokens, image_tokens


@pytest.mark.parametrize(
    "w,h,tokens",
    [(64, 64, 9), (512, 512, 361), (1024, 1024, 1369), (1280, 720, 1196), (1920, 1080, 2691), (3840, 2160, 4214), (7680, 4320, 4214), (4000, 20, 143), (10000, 50, 512)],
)
def test_image_tokens_pinned_to_tokens_md(w: int, h: int, tokens: int) -> None:
    assert image_tokens(Size(w, h)) == tokens


@pytest.mark.parametrize("w,h,tokens", [(640, 360, 299), (1280, 720, 1075), (1920, 1080, 1032), (3840, 2160, 1032)])
def test_frame_chunk_tokens(w: int, h: int, tokens: int) -> None:
    assert frame_chunk_tokens(Size(w, h)) == tokens


def test_estimates_are_labelled_and_include_wrappers() -> None:
    e = estimate_image(Size(1920, 1080))
    assert e.tokens == 2695 and e.to_json()["is_estimate"] is True
    # 10 minutes of 1080p at fps 2: 1200 frames → 300 chunks × (1032 + 12)
    v = estimate_frames(Size(1920, 1080), 1200)
    assert v.tokens == 300 * 1044
    assert estimate_frames(Size(640, 360), 5).tokens == 2 * (299 + 12)
