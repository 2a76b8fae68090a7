"""The closed set of violation codes: DESIGN.md's set is covered, every code is templated and in the
README's table, and every image and source code is produced by real inputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mediaprep as mp
from mediaprep.codes import CODES, violation
from media import animated_png, photo, png_bomb_header, save, with_orientation, marker

ROOT = Path(__file__).resolve().parent.parent
DESIGN_CODES = {
    "image.unreadable", "image.too_small", "image.aspect_ratio", "image.format_unsupported", "image.format_above_4k",
    "image.above_8k", "image.too_large", "image.animated", "image.orientation", "image.too_many_pixels",
    "video.unreadable", "video.no_video_stream", "video.too_short", "video.too_long", "video.too_large",
    "video.container_unlisted", "video.resolution_above_2k",
    "frames.too_few", "frames.too_many", "frames.fps_out_of_range", "frames.max_frames_out_of_range",
    "remote.private_address", "remote.unreachable", "remote.timeout", "remote.http_status", "remote.too_large",
    "remote.not_media", "remote.too_many_redirects",
    "request.model_retired", "request.model_text_only", "request.thinking_always_on", "request.over_token_limit",
    "source.not_found", "source.not_a_file", "source.permission_denied",
}


def test_design_codes_are_all_defined() -> None:
    assert DESIGN_CODES <= set(CODES)


def test_every_template_fills() -> None:
    for code, spec in CODES.items():
        fields = set(re.findall(r"{(\w+)", spec.template))
        extra = {name: "X" for name in fields - {"source", "field", "observed", "limit"}}
        fix = spec.fixes[0] if spec.fixes else None
        v = violation(code, source="in.png", field="f", observed=1, limit=2, fix=fix, **extra)
        assert v.severity == spec.severity and v.message and "{" not in v.message


def test_readme_documents_every_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z]+\.[a-z0-9_]+)` \|", readme, flags=re.M))
    assert documented == set(CODES), (set(CODES) - documented, documented - set(CODES))


def test_unknown_fix_is_a_bug() -> None:
    with pytest.raises(AssertionError):
        violation("image.too_small", source="x", fix="compress", remedy="")


def test_every_image_and_source_code_is_produced(tmp_path: Path) -> None:
    d = tmp_path
    inputs = [
        save(photo(40, 30), d / "ok.png", "PNG"),
        save(photo(8, 30), d / "small.png", "PNG"),  # too_small
        save(photo(3000, 12), d / "pano.png", "PNG"),  # aspect_ratio
        save(photo(40, 30).convert("P"), d / "a.gif", "GIF"),  # format_unsupported
        save(photo(4000, 100), d / "wide.webp", "WEBP"),  # format_above_4k
        save(photo(7700, 20, noise=0), d / "huge.jpg", "JPEG"),  # above_8k
        animated_png(d / "anim.png"),  # animated
        with_orientation(marker(40, 20), d / "rot.jpg", 6),  # orientation
        d / "bomb.png",  # too_many_pixels
        d / "cut.jpg",  # unreadable
        d / "missing.png",  # source.not_found
        d / "folder",  # source.not_a_file
    ]
    (d / "bomb.png").write_bytes(png_bomb_header(50_000, 50_000))
    (d / "cut.jpg").write_bytes((d / "ok.png").read_bytes()[:60])
    (d / "folder").mkdir()
    seen: set[str] = set()
    for path in inputs:
        seen.update(mp.check(path).codes)
    tiny_cap = mp.Target(transport="url", limits=__import__("dataclasses").replace(mp.Limits(), image_max_file_bytes=100))
    seen.update(mp.check(inputs[0], target=tiny_cap).codes)  # too_large
    expected = {c for c in CODES if c.startswith("image.")} | {"source.not_found", "source.not_a_file"}
    assert expected <= seen, expected - seen
    # source.permission_denied needs an unreadable file: tests/test_cli.py drops root's capabilities for it
