from __future__ import annotations

import base64

import pytest

from mediaprep import parts
from mediaprep.encode import data_url_length, max_raw_bytes_for_data_url, to_data_url, to_file_url


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 100, 7_864_302])
def test_data_url_length_matches_the_real_string(n: int) -> None:
    if n < 200_000:
        assert len(to_data_url(b"x" * n, "image/png")) == data_url_length(n, "image/png")
    assert data_url_length(n, "image/png") == len("data:image/png;base64,") + len(base64.b64encode(b"\0" * n)) if n < 200_000 else True


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png", "image/heic", "video/mp4"])
def test_max_raw_bytes_is_the_largest_that_fits(mime: str) -> None:
    cap = 10 * 1024 * 1024
    n = max_raw_bytes_for_data_url(cap, mime)
    assert data_url_length(n, mime) <= cap < data_url_length(n + 1, mime)


def test_file_urls() -> None:
    assert to_file_url("/home/images/test.png") == "file:///home/images/test.png"
    assert to_file_url("D:\\images\\test.png", "windows-python") == "file://D:/images/test.png"
    assert to_file_url("D:\\images\\test.png", "windows-java") == "file:///D:/images/test.png"


def test_parts_both_dialects() -> None:
    assert parts.image_part("https://x/a.png", "openai") == {"type": "image_url", "image_url": {"url": "https://x/a.png"}}
    assert parts.image_part("https://x/a.png", "dashscope") == {"image": "https://x/a.png"}
    assert parts.text_part("hi", "openai") == {"type": "text", "text": "hi"}
    assert parts.text_part("hi", "dashscope") == {"text": "hi"}
    assert parts.video_part("https://x/v.mp4", "openai", fps=2) == {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "fps": 2}
    assert parts.video_part("https://x/v.mp4", "dashscope", fps=0.5, max_frames=100) == {"video": "https://x/v.mp4", "fps": 0.5, "max_frames": 100}
    assert parts.image_list_part(["a", "b"], "openai", fps=2) == {"type": "video", "video": ["a", "b"], "fps": 2}
    assert parts.image_list_part(["a", "b"], "dashscope", fps=2) == {"video": ["a", "b"], "fps": 2}
    with pytest.raises(ValueError):
        parts.image_part("file:///a.png", "openai")
