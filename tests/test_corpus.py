"""Every image row of ../shared/corpus/MANIFEST.tsv: `check` gives `expect_status`, and `prepare`
turns every fixable one into outputs that re-check ok. No crash, no hang, no memory blow-up."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

import mediaprep as mp
from conftest import corpus_rows

IMAGE_ROWS = corpus_rows("images/")
_IDS = [row["file"] for row in IMAGE_ROWS]
_RSS_BUDGET_MB = 3000  # the 200 MP HEIC is decoded tile by tile; nothing should come near this


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.corpus
@pytest.mark.parametrize("row", IMAGE_ROWS or [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus is absent"))], ids=_IDS or None)
def test_check_gives_expected_status(corpus: Path, row: dict[str, str]) -> None:
    report = mp.check(corpus / row["file"])
    allowed = row["expect_status"].split("|")
    assert report.status in allowed, (row["file"], row["expected"], [v.message for v in report.violations])
    if report.status == "rejected":
        assert report.errors and all(v.message for v in report.errors)
    assert _rss_mb() < _RSS_BUDGET_MB


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("row", [r for r in IMAGE_ROWS if "fixable" in r["expect_status"] or r["expect_status"] == "ok"] or [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus is absent"))], ids=[r["file"] for r in IMAGE_ROWS if "fixable" in r["expect_status"] or r["expect_status"] == "ok"] or None)
def test_prepare_makes_fixable_files_ready(corpus: Path, row: dict[str, str], tmp_path: Path) -> None:
    result = mp.prepare(corpus / row["file"], out_dir=tmp_path)
    if result.report.status == "rejected":
        assert "rejected" in row["expect_status"]
        return
    assert result.status == "ready", (row["file"], [v.message for v in result.violations])
    for output in result.outputs:
        again = mp.check(tmp_path / output.path)
        assert again.status == "ok", (row["file"], again.violations)
    assert _rss_mb() < _RSS_BUDGET_MB


def test_corpus_specifics(corpus: Path, tmp_path: Path) -> None:
    """Named behaviours the corpus README calls out."""
    giant = mp.check(corpus / "images/giant-image.jpg")
    assert "image.too_many_pixels" in giant.codes and giant.status == "fixable"
    heic = mp.prepare(corpus / "images/200MP.heic", out_dir=tmp_path)
    assert heic.status == "ready"
    assert (heic.outputs[0].width_px, heic.outputs[0].height_px) == (4320, 5760)  # portrait as displayed, in the 8K box
    xmp = mp.probe(corpus / "images/xmp_tags_orientation.png")
    assert (xmp.orientation, xmp.orientation_source) == (3, "xmp")
    raw = mp.probe(corpus / "images/exif_imagemagick_orientation.png")
    assert (raw.orientation, raw.orientation_source) == (3, "png-text")
    landscape = mp.probe(corpus / "images/Landscape_5.jpg")
    assert (landscape.width_px, landscape.height_px) == (600, 450)
    mpo = mp.check(corpus / "images/sugarshack.mpo")
    assert mpo.status == "ok" and mpo.info is not None and mpo.info.format == "JPEG"
    bigtiff = mp.check(corpus / "images/hopper_bigtiff.tif")
    assert bigtiff.violations[0].code == "image.format_unsupported" and "BigTIFF" in bigtiff.violations[0].message


@pytest.mark.parametrize("name", ["pug.heic", "cat.hif", pytest.param("200MP.heic", marks=pytest.mark.slow)])
def test_heif_tile_decode_matches_libheif(corpus: Path, name: str) -> None:
    """The tile-by-tile reduced decode (grid layout, irot/imir) gives the picture libheif gives."""
    import numpy as np
    import pillow_heif
    from PIL import Image

    from mediaprep.backends import heif_tiles
    from mediaprep.media import PathMedia

    path = corpus / "images" / name
    reduced = heif_tiles.decode_reduced(PathMedia(name, path), max_long_px=800)
    full = pillow_heif.open_heif(path)[0].to_pillow()
    assert reduced.size[0] / reduced.size[1] == pytest.approx(full.size[0] / full.size[1], rel=0.01)
    reference = full.resize(reduced.size, Image.Resampling.BOX)
    diff = np.abs(np.asarray(reduced, dtype=np.int16) - np.asarray(reference, dtype=np.int16)).mean()
    assert diff < 3.0, diff


VIDEO_ROWS = corpus_rows("videos/")
_VIDEO_IDS = [row["file"] for row in VIDEO_ROWS]
_ABSENT = [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus is absent"))]


@pytest.mark.corpus
@pytest.mark.parametrize("row", VIDEO_ROWS or _ABSENT, ids=_VIDEO_IDS or None)
def test_video_check_gives_expected_status(corpus: Path, row: dict[str, str]) -> None:
    report = mp.check(corpus / row["file"])
    allowed = row["expect_status"].split("|")
    assert report.status in allowed, (row["file"], row["expected"], [v.message for v in report.violations])
    assert report.kind in ("video", "unknown", "image")
    assert _rss_mb() < _RSS_BUDGET_MB


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("row", [r for r in VIDEO_ROWS if "fixable" in r["expect_status"]] or _ABSENT, ids=[r["file"] for r in VIDEO_ROWS if "fixable" in r["expect_status"]] or None)
def test_prepare_fixable_videos_recheck_ok(corpus: Path, row: dict[str, str], tmp_path: Path) -> None:
    result = mp.prepare(corpus / row["file"], out_dir=tmp_path)
    if result.report.status == "rejected":
        assert "rejected" in row["expect_status"]
        return
    assert result.status == "ready", (row["file"], [v.message for v in result.violations])
    for output in result.outputs:
        if output.path is not None:
            assert mp.check(tmp_path / output.path).status == "ok", (row["file"], output.path)
    assert _rss_mb() < _RSS_BUDGET_MB


@pytest.mark.parametrize(
    "name,portrait",
    [
        ("internal_emulator_transformer_output_270_rotated.mp4", True),  # coded 1280×720, rotation 90
        ("sample_edit_list.mp4", True),  # coded 1920×1080, rotation -90
        ("sample_rotate_and_reflect.mp4", True),  # coded 1080×720, rotation -90 with a mirror
        ("mv_with_2_top_shots.mp4", True),
        ("silent-black-10s.mp4", False),
    ],
)
def test_rotated_corpus_videos_give_rotated_frames(corpus: Path, name: str, portrait: bool) -> None:
    ex = mp.extract_frames(corpus / "videos" / name, fps=8, max_frames=4)
    frames = list(ex)
    assert frames, ex.violations
    w, h = frames[0].image.size
    assert (h > w) is portrait
    info = ex.info
    assert info is not None and (info.height_px > info.width_px) is portrait


def test_htc_track_name_rotation(corpus: Path) -> None:
    """No display matrix, only the track name `htc_video_rotA-090`: turned 90° clockwise, as ExoPlayer does."""
    info = mp.probe(corpus / "videos" / "sample_with_htc_rotation_track_name.mkv")
    assert (info.width_px, info.height_px, info.stored_width_px, info.rotation_deg) == (720, 1080, 1080, -90)
    frame = next(iter(mp.extract_frames(corpus / "videos" / "sample_with_htc_rotation_track_name.mkv", fps=8, max_frames=4)))
    assert frame.image.size[1] > frame.image.size[0]
