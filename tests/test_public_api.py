from __future__ import annotations

import mediaprep


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in mediaprep.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in mediaprep.__all__:
        assert hasattr(mediaprep, name), name


def test_exception_tree() -> None:
    assert issubclass(mediaprep.UsageError, ValueError) and issubclass(mediaprep.UsageError, mediaprep.MediaprepError)
    assert issubclass(mediaprep.TargetError, mediaprep.UsageError)
    assert issubclass(mediaprep.ProbeError, mediaprep.MediaprepError)


def test_no_pillow_globals_changed() -> None:
    from PIL import Image, ImageFile

    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, dict(Image.OPEN).keys())
    mediaprep.check(b"\x89PNG\r\n\x1a\n")
    after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, dict(Image.OPEN).keys())
    assert before == after
    assert "HEIF" not in Image.OPEN  # pillow-heif's opener is used directly, never registered


def test_import_is_light_and_public_names_survive_submodule_imports() -> None:
    """`import mediaprep` loads no media or HTTP library; the functions `check` and `probe` stay
    functions whatever is imported first (their stage modules share the names)."""
    import subprocess
    import sys

    code = (
        "import sys, mediaprep as mp\n"
        "assert not {'PIL', 'av', 'numpy', 'httpx', 'pillow_heif'} & set(sys.modules), sorted(set(sys.modules) & {'PIL', 'av', 'numpy', 'httpx'})\n"
        "import mediaprep.pipeline, mediaprep.check, mediaprep.probe\n"
        "assert callable(mp.check) and callable(mp.probe) and mp.check.__module__ == 'mediaprep.pipeline', (mp.check, mp.probe)\n"
        "assert hasattr(mp, 'FrameExtraction') and callable(mp.extract_frames)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
