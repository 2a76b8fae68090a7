"""The exception tree, and the line between a verdict on a file and a bug.

Bad bytes are data (violations); anything else a stage raises is a bug and must surface as the
exception it is: a test injects a bug into a stage and sees a crash, never `image.unreadable`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep import errors
from mediaprep.backends import pillow_backend, pillow_ops, translate


class InjectedBug(Exception):
    """Stands for a programming error inside a stage."""


def _photo(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, (200, 40, 40)).save(path)
    return path


def test_tree() -> None:
    assert issubclass(errors.UnreadableImage, errors.UnreadableMedia)
    assert issubclass(errors.NoVideoStream, errors.UnreadableVideo)
    assert issubclass(errors.UnreadableMedia, errors.MediaprepError) and issubclass(errors.UnreadableMedia, ValueError)
    assert issubclass(errors.ProbeError, errors.MediaprepError) and issubclass(errors.ProbeError, ValueError)
    assert issubclass(errors.SourceError, OSError)
    assert mp.ProbeError is errors.ProbeError


def test_library_errors_are_translated_at_the_backend_boundary(tmp_path: Path) -> None:
    cut = _photo(tmp_path / "a.jpg", (400, 300))
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    report = mp.check(cut)
    assert report.codes == ("image.unreadable",) or report.info is not None and report.info.decode == "failed"
    with pytest.raises(errors.UnreadableImage) as caught, translate.image_errors():
        raise OSError("image file is truncated")
    assert isinstance(caught.value.__cause__, OSError) and "OSError: image file is truncated" in str(caught.value)


def test_a_bug_in_a_translation_block_is_not_translated() -> None:
    with pytest.raises(InjectedBug), translate.image_errors():
        raise InjectedBug("not a library error")
    with pytest.raises(InjectedBug), translate.video_errors():
        raise InjectedBug("not a library error")


def test_a_bug_while_fixing_an_image_crashes_instead_of_becoming_a_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = _photo(tmp_path / "small.png", (8, 8))  # fixable: padded

    def broken_pad(im: object, size: object) -> object:
        raise InjectedBug("pad is broken")

    monkeypatch.setattr(pillow_ops, "pad", broken_pad)
    with pytest.raises(InjectedBug):
        mp.prepare(small, out_dir=tmp_path / "out")


def test_a_bug_while_reading_a_header_crashes_instead_of_becoming_a_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = _photo(tmp_path / "p.png")

    def broken_orientation(im: object, fmt: str) -> tuple[int, None]:
        raise InjectedBug("orientation reader is broken")

    monkeypatch.setattr(pillow_backend, "_orientation", broken_orientation)
    with pytest.raises(InjectedBug):
        mp.check(photo)


def test_a_bug_in_the_check_stage_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mediaprep.pipeline as pipeline

    def broken_check(*args: object, **kwargs: object) -> None:
        raise InjectedBug("check is broken")

    monkeypatch.setattr(pipeline, "check_image", broken_check)
    with pytest.raises(InjectedBug):
        mp.check(_photo(tmp_path / "p.png"))


def test_a_bug_in_the_video_plan_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from videos import make_video

    import mediaprep.pipeline as pipeline

    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=18, fps=6.0)  # 3 s: an ok video
    assert mp.check(clip).status == "ok"

    def broken_plan(*args: object, **kwargs: object) -> None:
        raise InjectedBug("plan_video is broken")

    monkeypatch.setattr(pipeline, "plan_video", broken_plan)
    with pytest.raises(InjectedBug):
        mp.prepare(clip, out_dir=tmp_path / "out")


def test_real_bad_bytes_are_still_a_verdict(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    prepared = mp.prepare(bad, out_dir=tmp_path / "out")
    assert prepared.status == "rejected" and prepared.report.codes == ("image.unreadable",)
    with pytest.raises(mp.ProbeError) as caught:
        mp.probe(bad)
    assert caught.value.violation.code == "image.unreadable"
