"""prepare: fixes land in the pixels, outputs re-check ok, parts decode back to what the manifest says."""

from __future__ import annotations

import base64
import io
import itertools
from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep.encode import data_url_length
from media import animated_gif, marker, photo, quadrant_colours, save, with_orientation

MiB = 1 << 20


def part_url(part: dict, api: str) -> str:
    return part["image_url"]["url"] if api == "openai" else part["image"]


def decode_part(part: dict, api: str, out_dir: Path | None) -> tuple[Image.Image, str, bytes]:
    url = part_url(part, api)
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        data = base64.b64decode(payload)
        mime = header[5:].split(";")[0]
    elif url.startswith("file://"):
        data = Path(url[len("file://") :]).read_bytes()
        mime = ""
    else:
        assert out_dir is not None
        data = (out_dir / url.rsplit("/", 1)[-1]).read_bytes()
        mime = ""
    return Image.open(io.BytesIO(data)), mime, data


# --- property: formats × sizes × modes × orientations × transports × APIs ---------------------------

CASES = [
    # (name, maker) – each maker returns a path inside the given folder
    ("jpeg-ok", lambda d: save(photo(320, 240, seed=1), d / "a.jpg", "JPEG")),
    ("png-rgba", lambda d: save(Image.new("RGBA", (50, 40), (10, 200, 30, 100)), d / "b.png", "PNG")),
    ("png-tiny", lambda d: save(photo(8, 5, seed=2), d / "c.png", "PNG")),
    ("jpeg-orient6", lambda d: with_orientation(marker(80, 40), d / "d.jpg", 6)),
    ("webp-orient8", lambda d: with_orientation(marker(80, 40), d / "e.webp", 8, fmt="WEBP")),
    ("gif-anim", lambda d: animated_gif(d / "f.gif", frames=3)),
    ("cmyk-jpeg", lambda d: save(photo(60, 60, seed=3).convert("CMYK"), d / "g.jpg", "JPEG")),
    ("lab-tiff", lambda d: save(photo(60, 60, seed=4).convert("LAB"), d / "h.tif", "TIFF")),
    ("float-tiff", lambda d: save(Image.linear_gradient("L").convert("F"), d / "i.tif", "TIFF")),
    ("i16-png", lambda d: save(Image.linear_gradient("L").convert("I;16"), d / "j.png", "PNG")),
    ("panorama", lambda d: save(photo(3000, 12, seed=5), d / "k.png", "PNG")),
    ("bigtiff", lambda d: save(photo(40, 30, seed=6), d / "l.tif", "TIFF", big_tiff=True)),
    ("heic-4k", lambda d: save(photo(3900, 600, seed=7, noise=2), d / "m.heic", "HEIC")),
    ("webp-4k", lambda d: save(photo(4000, 800, seed=8, noise=2), d / "n.webp", "WEBP")),
    ("palette-bmp", lambda d: save(photo(100, 60, seed=9).convert("P"), d / "o.bmp", "BMP")),
    ("avif", lambda d: save(photo(90, 70, seed=10), d / "p.avif", "AVIF")),
    ("1bit-png", lambda d: save(photo(40, 9, seed=11).convert("1"), d / "q.png", "PNG")),
]
TARGETS = [("openai", "base64"), ("openai", "url"), ("dashscope", "base64"), ("dashscope", "path"), ("dashscope", "url")]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    return {name: maker(d) for name, maker in CASES}


@pytest.mark.parametrize("name,api_transport", list(itertools.product([c[0] for c in CASES], TARGETS)))
def test_prepared_output_rechecks_ok_and_part_decodes(inputs: dict[str, Path], name: str, api_transport: tuple[str, str], tmp_path: Path) -> None:
    api, transport = api_transport
    target = mp.Target(api=api, transport=transport)  # type: ignore[arg-type]
    src = inputs[name]
    before = src.read_bytes()
    result = mp.prepare(src, target=target, out_dir=tmp_path, url_prefix="https://cdn.example.com/batch1")
    assert src.read_bytes() == before  # inputs are never touched
    assert result.status == "ready", result.violations
    assert len(result.parts) == len(result.outputs) >= 1
    for part, output in zip(result.parts, result.outputs):
        assert output.path is not None and (tmp_path / output.path).is_file()
        recheck = mp.check(tmp_path / output.path, target=target)
        assert recheck.status == "ok", (name, recheck.violations)
        assert not [c for c in recheck.codes if c in ("image.orientation", "image.animated")]
        im, mime, data = decode_part(part, api, tmp_path)
        assert (im.width, im.height) == (output.width_px, output.height_px)
        assert len(data) == output.size_bytes
        if mime:
            assert mime == output.mime == Image.MIME[im.format]
        url = part_url(part, api)
        if transport == "url":
            assert url == f"https://cdn.example.com/batch1/{output.path}"
        if transport == "path":
            assert url == "file://" + str((tmp_path / output.path).absolute())
        if api == "openai":
            assert part["type"] == "image_url" and set(part) == {"type", "image_url"}
        else:
            assert set(part) == {"image"}


def test_ok_file_passes_through_byte_for_byte(inputs: dict[str, Path], tmp_path: Path) -> None:
    result = mp.prepare(inputs["jpeg-ok"], out_dir=tmp_path)
    assert [a.op for a in result.actions] == ["passthrough"]
    assert (tmp_path / result.outputs[0].path).read_bytes() == inputs["jpeg-ok"].read_bytes()
    url = result.part["image_url"]["url"]
    assert url == "data:image/jpeg;base64," + base64.b64encode(inputs["jpeg-ok"].read_bytes()).decode()


@pytest.mark.parametrize("orientation", range(2, 9))
def test_orientation_is_baked_into_pixels(tmp_path: Path, orientation: int) -> None:
    reference = Image.open(with_orientation(marker(80, 40), tmp_path / "ref.png", orientation, fmt="PNG"))
    from PIL import ImageOps

    expected = quadrant_colours(ImageOps.exif_transpose(reference))
    src = with_orientation(marker(80, 40), tmp_path / "o.jpg", orientation)
    result = mp.prepare(src, out_dir=tmp_path / "out")
    out = Image.open(tmp_path / "out" / result.outputs[0].path)
    assert quadrant_colours(out) == expected
    assert out.getexif().get(0x0112) in (None, 1)
    assert [a.op for a in result.actions][:1] == ["orient"]


def test_keep_orientation_passes_through(tmp_path: Path) -> None:
    src = with_orientation(marker(80, 40), tmp_path / "o.jpg", 6)
    result = mp.prepare(src, policy=mp.Policy(keep_orientation=True), out_dir=tmp_path / "out")
    assert [a.op for a in result.actions] == ["passthrough"]


def test_pad_and_split(tmp_path: Path) -> None:
    src = save(photo(3000, 12, seed=5), tmp_path / "pano.png", "PNG")
    padded = mp.prepare(src, out_dir=tmp_path / "pad")
    assert (padded.outputs[0].width_px, padded.outputs[0].height_px) == (3000, 15)
    split = mp.prepare(src, policy=mp.Policy(aspect_ratio="split"), out_dir=tmp_path / "split")
    assert split.status == "ready" and len(split.outputs) == 2 and len(split.parts) == 2
    assert [(o.width_px, o.height_px) for o in split.outputs] == [(1500, 12), (1500, 12)]
    rejected = mp.prepare(src, policy=mp.Policy(aspect_ratio="reject"), out_dir=tmp_path / "rej")
    assert rejected.status == "rejected" and not rejected.parts and not rejected.outputs


def test_animated_gif_becomes_first_frame_png(tmp_path: Path) -> None:
    result = mp.prepare(animated_gif(tmp_path / "a.gif", frames=3), out_dir=tmp_path / "out")
    out = Image.open(tmp_path / "out" / result.outputs[0].path)
    assert out.format == "PNG" and getattr(out, "n_frames", 1) == 1
    assert out.convert("RGB").getpixel((5, 5)) == (0, 255, 0)  # frame 0's colour
    assert {"first-frame", "convert", "encode"} <= {a.op for a in result.actions}


def test_above_8k_downscales_unless_kept(tmp_path: Path) -> None:
    src = save(photo(8000, 1000, seed=12, noise=0), tmp_path / "wide.jpg", "JPEG", quality=70)
    down = mp.prepare(src, out_dir=tmp_path / "a")
    assert (down.outputs[0].width_px, down.outputs[0].height_px) == (7680, 960)
    kept = mp.prepare(src, policy=mp.Policy(above_8k="keep"), out_dir=tmp_path / "b")
    assert [a.op for a in kept.actions] == ["passthrough"]


def test_max_side_never_upscales(tmp_path: Path) -> None:
    src = save(photo(1000, 500, seed=13), tmp_path / "a.jpg", "JPEG")
    small = mp.prepare(src, policy=mp.Policy(max_side_px=400), out_dir=tmp_path / "a")
    assert (small.outputs[0].width_px, small.outputs[0].height_px) == (400, 200)
    same = mp.prepare(src, policy=mp.Policy(max_side_px=4000), out_dir=tmp_path / "b")
    assert [a.op for a in same.actions] == ["passthrough"]


@pytest.mark.slow
def test_compress_to_the_base64_cap(tmp_path: Path) -> None:
    # a noisy 24 MP picture stored losslessly: its JPEG at q90 is over the 10 MiB data-URL cap
    src = save(photo(6000, 4000, seed=14, noise=40), tmp_path / "noisy.png", "PNG", compress_level=1)
    result = mp.prepare(src, target=mp.Target(transport="base64"))
    assert result.status == "ready"
    out = result.outputs[0]
    assert out.format == "JPEG" and (out.width_px, out.height_px) == (6000, 4000)
    url = result.part["image_url"]["url"]
    assert len(url) <= 10 * MiB and len(url) == data_url_length(out.size_bytes, "image/jpeg")
    compress = [a for a in result.actions if a.op == "compress"]
    assert compress and compress[0].params["quality"] < 90 and compress[0].params["encodes"] <= 4
    # the quality found is within 5 points of the best that fits
    pixels = Image.open(src).convert("RGB")
    q = compress[0].params["quality"]
    better = io.BytesIO()
    pixels.save(better, "JPEG", quality=min(90, q + 5))
    assert data_url_length(len(better.getvalue()), "image/jpeg") > 10 * MiB


def test_path_transport_rules(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(mp.TargetError, match="DashScope"):
        mp.Target(api="openai", transport="path")
    target = mp.Target(api="dashscope", transport="path")
    ok = mp.prepare(inputs["jpeg-ok"], target=target)  # passthrough: the original path is used
    assert ok.part == {"image": "file://" + str(inputs["jpeg-ok"].absolute())}
    with pytest.raises(mp.UsageError, match="out_dir"):
        mp.prepare(inputs["png-tiny"], target=target)
    windows = mp.Target(api="dashscope", transport="path", path_style="windows-python")
    from mediaprep.encode import to_file_url

    assert to_file_url("D:\\images\\test.png", "windows-python") == "file://D:/images/test.png"
    assert to_file_url("D:\\images\\test.png", "windows-java") == "file:///D:/images/test.png"
    assert windows.path_style == "windows-python"


def test_url_transport_needs_a_prefix(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(mp.UsageError, match="url_prefix"):
        mp.prepare(inputs["jpeg-ok"], target=mp.Target(transport="url"), out_dir=tmp_path)


def test_in_memory_prepare(inputs: dict[str, Path]) -> None:
    result = mp.prepare(inputs["png-tiny"])
    assert result.status == "ready" and result.outputs[0].path is None and result.outputs[0].data
    assert Image.open(io.BytesIO(result.outputs[0].data)).size == (11, 11)


def test_rejected_input_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    result = mp.prepare(bad, out_dir=tmp_path / "out")
    assert result.status == "rejected" and result.parts == () and not (tmp_path / "out").exists()
    assert result.to_json()["verdict"] == "rejected"
