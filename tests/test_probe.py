"""probe and check on real files made here: formats by their bytes, sizes, orientation, integrity, bombs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from media import animated_gif, animated_png, marker, photo, png_bomb_header, save, with_orientation


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("formats")
    im = photo(64, 48, seed=1)
    out = {
        "BMP": save(im, d / "a.bmp", "BMP"),
        "JPEG": save(im, d / "a.jpg", "JPEG"),
        "PNG": save(im, d / "a.png", "PNG"),
        "TIFF": save(im, d / "a.tif", "TIFF"),
        "BIGTIFF": save(im, d / "big.tif", "TIFF", big_tiff=True),
        "WEBP": save(im, d / "a.webp", "WEBP"),
        "HEIC": save(im, d / "a.heic", "HEIC"),
        "AVIF": save(im, d / "a.avif", "AVIF"),
        "GIF": save(im.convert("P"), d / "a.gif", "GIF"),
        "ICO": save(im, d / "a.ico", "ICO"),
        "JPEG2000": save(im, d / "a.jp2", "JPEG2000"),
        "PPM": save(im, d / "a.ppm", "PPM"),
        "MPO": save(im, d / "a.mpo", "MPO", save_all=True, append_images=[photo(64, 48, seed=2)]),
    }
    return out


@pytest.mark.parametrize(
    "fmt,expected_format,status",
    [
        ("BMP", "BMP", "ok"),
        ("JPEG", "JPEG", "ok"),
        ("PNG", "PNG", "ok"),
        ("TIFF", "TIFF", "ok"),
        ("BIGTIFF", "BIGTIFF", "fixable"),
        ("WEBP", "WEBP", "ok"),
        ("HEIC", "HEIC", "ok"),
        ("AVIF", "AVIF", "fixable"),
        ("GIF", "GIF", "fixable"),
        ("ICO", "ICO", "fixable"),
        ("JPEG2000", "JPEG2000", "fixable"),
        ("PPM", "PPM", "fixable"),
        ("MPO", "JPEG", "ok"),  # an MPO's bytes are a JPEG; the service reads the primary picture
    ],
)
def test_every_format_probes_from_its_bytes(formats: dict[str, Path], fmt: str, expected_format: str, status: str, tmp_path: Path) -> None:
    # rename to a misleading extension: the name must not matter
    misleading = tmp_path / "picture.txt"
    misleading.write_bytes(formats[fmt].read_bytes())
    info = mp.probe(misleading)
    assert info.format == expected_format
    assert (info.width_px, info.height_px) == ((48, 48) if fmt == "ICO" else (64, 48)) or fmt == "ICO"
    assert info.decode == "header-only"
    report = mp.check(misleading)
    assert report.status == status, report.violations
    assert report.verified == "decoded"


def test_mime_is_of_the_bytes(formats: dict[str, Path]) -> None:
    assert mp.probe(formats["HEIC"]).mime == "image/heic"
    assert mp.probe(formats["WEBP"]).mime == "image/webp"
    assert mp.probe(formats["TIFF"]).mime == "image/tiff"


def test_info_fields(tmp_path: Path) -> None:
    rgba = save(Image.new("RGBA", (30, 20), (1, 2, 3, 128)), tmp_path / "a.png", "PNG")
    info = mp.probe(rgba)
    assert (info.mode, info.has_alpha, info.bit_depth, info.size_bytes) == ("RGBA", True, 8, rgba.stat().st_size)
    sixteen = save(Image.new("I;16", (30, 20), 1000), tmp_path / "b.png", "PNG")
    assert mp.probe(sixteen).bit_depth == 16
    gif = animated_gif(tmp_path / "anim.gif", frames=4)
    ginfo = mp.probe(gif)
    assert ginfo.frames == 4 and ginfo.animated
    apng = animated_png(tmp_path / "anim.png", frames=3)
    report = mp.check(apng)
    assert report.status == "ok" and "image.animated" in report.codes


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_gives_displayed_size(tmp_path: Path, orientation: int) -> None:
    path = with_orientation(marker(60, 30), tmp_path / "o.jpg", orientation)
    info = mp.probe(path)
    assert info.orientation == orientation and info.orientation_source == "exif"
    expected = (30, 60) if orientation >= 5 else (60, 30)
    assert (info.width_px, info.height_px) == expected
    assert (info.stored_width_px, info.stored_height_px) == (60, 30)
    assert mp.check(path).codes == ("image.orientation",)


def test_orientation_in_webp_exif_and_png_xmp(tmp_path: Path) -> None:
    webp = with_orientation(marker(60, 30), tmp_path / "o.webp", 6, fmt="WEBP")
    assert mp.probe(webp).orientation == 6
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>'
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_itxt("XML:com.adobe.xmp", xmp.decode())
    png = tmp_path / "x.png"
    marker(60, 30).save(png, pnginfo=meta)
    info = mp.probe(png)
    assert (info.orientation, info.orientation_source, info.width_px) == (8, "xmp", 30)


def test_png_raw_profile_orientation_without_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 3
    raw = b"Exif\x00\x00" + exif.tobytes()
    text = "\nexif\n" + f"{len(raw):8d}\n" + raw.hex() + "\n"
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Raw profile type exif", text, zip=True)
    png = tmp_path / "raw.png"
    marker(40, 20).save(png, pnginfo=meta)
    assert mp.probe(png).orientation in (3,)


def test_truncated_files_are_rejected_by_default_and_pass_with_fast(tmp_path: Path) -> None:
    whole = io.BytesIO()
    photo(800, 600, seed=3).save(whole, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.getvalue()[: len(whole.getvalue()) * 2 // 3])
    report = mp.check(cut)
    assert report.status == "rejected" and report.codes == ("image.unreadable",)
    assert "truncated" in report.violations[0].message
    fast = mp.check(cut, fast=True)
    assert fast.status == "ok" and fast.verified == "header-only"
    png = io.BytesIO()
    photo(300, 300, seed=4).save(png, "PNG")
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    assert mp.check(cut_png).codes == ("image.unreadable",)


def test_bomb_header_is_rejected_before_any_decode(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb_header(100_000, 100_000))
    report = mp.check(bomb)
    assert report.status == "rejected"
    v = next(v for v in report.violations if v.code == "image.too_many_pixels")
    assert v.observed == 10_000_000_000 and v.limit == 178_956_970
    assert report.info is not None and report.info.decode == "header-only"  # never decoded


def test_huge_honest_jpeg_is_fixable_by_draft(tmp_path: Path) -> None:
    # 20000×14000 grayscale: 280 Mpx, over the guard, but JPEG decodes at 1/8 while reading
    big = Image.new("L", (20000, 14000), 128)
    path = tmp_path / "giant.jpg"
    big.save(path, "JPEG", quality=50)
    del big
    report = mp.check(path)
    assert report.status == "fixable"
    assert {"image.too_many_pixels", "image.above_8k"} <= set(report.codes)
    assert report.info is not None and report.info.decode == "verified"


def test_unreadable_inputs_name_the_reason(tmp_path: Path) -> None:
    cases = {
        "empty.jpg": (b"", "empty"),
        "text.jpg": (b"hello, this is not a picture\n", "text"),
        "json.webp": (b'{"a": 1}', "text"),
        "junk.bin": (bytes(range(256)) * 4, "no image format"),
    }
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        report = mp.check(path)
        assert report.status == "rejected" and report.codes == ("image.unreadable",), name
        assert words in report.violations[0].message, report.violations[0].message
        with pytest.raises(mp.ProbeError) as caught:
            mp.probe(path)
        assert caught.value.violation.code == "image.unreadable"


def test_sources_bytes_and_data_urls(formats: dict[str, Path]) -> None:
    data = formats["PNG"].read_bytes()
    assert mp.check(data).status == "ok"
    import base64

    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()  # the declared MIME is wrong
    info = mp.probe(url)
    assert info.format == "PNG" and info.mime == "image/png"
    assert mp.check("data:image/png;base64,@@@").codes == ("image.unreadable",)
    assert mp.check(formats["PNG"].as_uri()).status == "ok"


def test_source_violations(tmp_path: Path) -> None:
    assert mp.check(tmp_path / "missing.png").codes == ("source.not_found",)
    folder = mp.check(tmp_path)
    assert folder.codes == ("source.not_a_file",) and "a folder" in folder.violations[0].message
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert mp.check(fifo).codes == ("source.not_a_file",)
