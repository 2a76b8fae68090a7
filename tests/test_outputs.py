"""Writing into --out (issue 12).

Item 1: every temporary file is created exclusively under an unpredictable name beside its
destination, written through the descriptor that created it (FFmpeg too), and renamed over the
destination: symlinks planted in a shared --out (at every name mediaprep ever used for a temporary,
and at the final output names) never lead a write outside it; a symlink planted in place of a folder
mediaprep writes into is refused.

Item 3: bytes and data: URL inputs are labelled (and so named, and resumed) by their content: two
different ones of the same MIME and length never share an output.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep import outputs
from mediaprep.cli import main
from mediaprep.errors import MediaprepError
from mediaprep.outputs import TEMP_NAME_RE, atomic_file, exclusive_temp, output_name, output_stem, url_for, write_atomic
from mediaprep.report import write_report
from mediaprep.resolve import label_for
from media import photo, save
from videos import make_video

PRECIOUS = b"the victim's own file: nothing mediaprep runs may change it\n"
EXTENSIONS = sorted(set(outputs._EXT.values()))


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / "victim"
    folder.mkdir()
    path = folder / "precious.txt"
    path.write_bytes(PRECIOUS)
    return path


def _untouched(victim: Path) -> None:
    assert victim.read_bytes() == PRECIOUS
    assert stat.S_ISREG(os.lstat(victim).st_mode)


def _regular(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), f"{path} is not a regular file (mode {st.st_mode:o})"
    assert not path.is_symlink()


def _old_temp_names(name: str) -> list[str]:
    """Every temporary name mediaprep used before (predictable: the name and the pid)."""
    pid = os.getpid()
    return [f".{name}.tmp-{pid}", f".{name}.tmp", f"{name}.tmp", f".{name}.tmp-{pid}.mp4"]


def _plant(folder: Path, names: list[str], victim: Path) -> list[Path]:
    planted = []
    for name in names:
        link = folder / name
        if not os.path.lexists(link):
            link.symlink_to(victim)
            planted.append(link)
    return planted


def _plant_around(folder: Path, names: list[str], victim: Path) -> list[Path]:
    """Links at each final name and at each of its predictable temporary names."""
    return _plant(folder, [n for name in names for n in [name, *_old_temp_names(name)]], victim)


def _no_temporaries_left(folder: Path) -> None:
    left = [os.path.join(root, n) for root, _dirs, files in os.walk(folder) for n in files if TEMP_NAME_RE.match(n)]
    assert left == []


# --- item 1: planted symlinks ------------------------------------------------------------------


def _image_needing_a_fix(d: Path) -> Path:
    return save(photo(8, 5, seed=2), d / "tiny.png", "PNG")  # a side ≤ 10 px: padded, re-encoded


def _ts(d: Path) -> Path:
    make_video(d / "clip.ts", frames=20, fps=10, container="mpegts")  # H.264 in MPEG-TS: remuxed into MP4
    return d / "clip.ts"


def _webm(d: Path) -> Path:
    make_video(d / "clip.webm", frames=20, fps=10, codec="libvpx-vp9", container="webm")  # VP9: transcoded
    return d / "clip.webm"


@pytest.mark.parametrize(
    "make,op",
    [(_image_needing_a_fix, "pad"), (_ts, "remux"), (_webm, "transcode")],
    ids=["image", "remux", "transcode"],
)
def test_prepare_never_follows_a_symlink_planted_in_out(tmp_path: Path, victim: Path, make, op: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    path = make(src)
    out = tmp_path / "out"
    out.mkdir()
    label = str(path)
    # every name the output could take (each format's extension; a video's MP4), and every temporary name of each
    finals = [output_name(label, fmt) for fmt in outputs._EXT] + [f"{output_stem(label, default='video')}{ext}" for ext in EXTENSIONS]
    planted = _plant_around(out, finals, victim)

    result = mp.prepare(path, out_dir=out, target=mp.Target(api="dashscope", transport="path"))

    assert result.status == "ready", result.violations
    assert result.actions[0].op == op
    _untouched(victim)
    written = out / result.outputs[0].path
    assert written.name in finals  # the test planted a link at the very name written
    _regular(written)  # the planted link was replaced, not written through
    assert mp.check(written).status == "ok"
    assert all(p.is_symlink() for p in planted if p != written)  # the other entries are left alone
    _no_temporaries_left(out)


def test_an_image_list_never_follows_a_symlink_planted_in_its_folder(tmp_path: Path, victim: Path) -> None:
    path = tmp_path / "clip.mp4"
    make_video(path, frames=30, fps=10)
    out = tmp_path / "out"
    folder = out / output_stem(str(path), default="video")
    folder.mkdir(parents=True)  # someone made the image list's folder first, full of links
    frames = [f"frame_{k:05d}.jpg" for k in range(6)]
    _plant_around(folder, frames, victim)

    result = mp.prepare(path, out_dir=out, target=mp.Target(api="dashscope", transport="path"), policy=mp.Policy(video_as="frames", fps=2))

    assert result.status == "ready", result.violations
    _untouched(victim)
    assert result.outputs
    for o in result.outputs:
        _regular(out / o.path)
    _no_temporaries_left(out)


def _foreign(link: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `link` look planted by another user."""
    if os.geteuid() == 0:
        os.lchown(link, 54321, 54321)
    else:
        me = os.geteuid()
        monkeypatch.setattr(outputs.os, "geteuid", lambda: me + 1)


def test_a_symlink_planted_in_place_of_an_output_folder_is_refused(tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clip.mp4"
    make_video(path, frames=30, fps=10)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = victim.parent
    (elsewhere / "frame_00000.jpg").write_bytes(PRECIOUS)
    link = out / output_stem(str(path), default="video")
    link.symlink_to(elsewhere, target_is_directory=True)
    _foreign(link, monkeypatch)
    before = sorted(os.listdir(elsewhere))

    with pytest.raises(PermissionError, match="symlink owned by uid"):
        mp.prepare(path, out_dir=out, target=mp.Target(api="dashscope", transport="path"), policy=mp.Policy(video_as="frames", fps=2))

    _untouched(victim)
    assert (elsewhere / "frame_00000.jpg").read_bytes() == PRECIOUS
    assert sorted(os.listdir(elsewhere)) == before  # not even a temporary was made there


def test_an_out_folder_that_is_your_own_symlink_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real, target_is_directory=True)
    path = save(photo(8, 5, seed=2), tmp_path / "tiny.png", "PNG")

    result = mp.prepare(path, out_dir=out, target=mp.Target(api="dashscope", transport="path"))

    assert result.status == "ready"
    _regular(real / result.outputs[0].path)


def test_cli_frames_and_contact_sheet_never_follow_planted_symlinks(tmp_path: Path, victim: Path) -> None:
    path = tmp_path / "clip.mp4"
    make_video(path, frames=30, fps=10)
    out = tmp_path / "frames"
    out.mkdir()
    names = [f"frame_{k:05d}.jpg" for k in range(6)] + ["sheet.jpg"]
    _plant_around(out, names, victim)

    code = main(["frames", str(path), "--out", str(out), "--fps", "2", "--json", "--contact-sheet", str(out / "sheet.jpg")], stdout=(stdout := io.StringIO()), stderr=(err := io.StringIO()))

    assert code == 0, err.getvalue()
    _untouched(victim)
    for f in json.loads(stdout.getvalue())["frames"]:
        _regular(out / f["file"])
    _regular(out / "sheet.jpg")
    _no_temporaries_left(out)


def test_the_report_never_follows_planted_symlinks(tmp_path: Path, victim: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    _plant_around(folder, ["report.html"], victim)

    write_report([{"source": "a.png", "status": "ok"}], folder / "report.html", thumbnails=False)

    _untouched(victim)
    _regular(folder / "report.html")
    assert "a.png" in (folder / "report.html").read_text(encoding="utf-8")
    _no_temporaries_left(folder)


def test_an_entry_planted_at_the_next_temporary_name_is_never_opened(tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the random name guessed, the exclusive create refuses the entry and takes another name."""
    tokens = iter(["0" * 16, "1" * 16])
    monkeypatch.setattr(outputs.secrets, "token_hex", lambda n: next(tokens))
    dest = tmp_path / "x.jpg"
    planted = tmp_path / f".mediaprep-tmp-{'0' * 16}-x.jpg"
    planted.symlink_to(victim)
    assert TEMP_NAME_RE.match(planted.name)

    write_atomic(dest, b"new bytes")

    _untouched(victim)
    assert planted.is_symlink()
    assert dest.read_bytes() == b"new bytes"
    _regular(dest)


def test_a_temporary_replaced_while_written_is_never_renamed_into_place(tmp_path: Path, victim: Path) -> None:
    dest = tmp_path / "x.mp4"
    dest.write_bytes(b"old")
    tmp = exclusive_temp(dest)
    tmp.file.write(b"new")
    tmp.flush()
    os.unlink(tmp.path)
    tmp.path.symlink_to(victim)  # swapped for a link between the write and the rename

    with pytest.raises(PermissionError, match="replaced"):
        tmp.commit()

    _untouched(victim)
    assert dest.read_bytes() == b"old"
    assert tmp.path.is_symlink()  # someone else's entry: not ours to delete


def test_a_base64_output_is_never_read_through_a_link(tmp_path: Path, victim: Path) -> None:
    (tmp_path / "x.jpg").symlink_to(victim)
    with pytest.raises(OSError):
        url_for(mp.Target(), mime="image/jpeg", rel="x.jpg", out_dir=tmp_path)


def test_a_full_disk_during_a_remux_is_an_os_error_not_an_unreadable_video(tmp_path: Path) -> None:
    from mediaprep.backends.pyav_encode import remux_mp4
    from mediaprep.media import media_for
    from mediaprep.models import Source

    path = _ts(tmp_path)

    class Full(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            if self.tell() + len(data) > 2000:
                raise OSError(28, "No space left on device")
            return super().write(data)

    with pytest.raises(OSError, match="No space left") as caught:
        remux_mp4(media_for(Source(label=str(path), kind="path", path=path)), Full())
    assert not isinstance(caught.value, MediaprepError)


def test_temporaries_are_exclusive_private_and_get_an_ordinary_mode(tmp_path: Path) -> None:
    dest = tmp_path / "x.bin"
    with exclusive_temp(dest) as tmp:
        assert TEMP_NAME_RE.match(tmp.path.name) and tmp.path.parent == tmp_path
        assert stat.S_IMODE(os.lstat(tmp.path).st_mode) == 0o600  # nobody else reads a partial file
        tmp.file.write(b"data")
        tmp.commit()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o666 & ~umask  # what open(..., "wb") would give
    assert dest.read_bytes() == b"data"
    _no_temporaries_left(tmp_path)


def test_temporary_names_are_unpredictable(tmp_path: Path) -> None:
    names = {outputs.temp_name("x.jpg") for _ in range(50)}
    assert len(names) == 50 and all(TEMP_NAME_RE.match(n) for n in names)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "x.html"
    dest.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_file(dest, encoding="utf-8") as fp:
            fp.write("half a page")
            raise RuntimeError("the writer failed")
    assert dest.read_text(encoding="utf-8") == "old"
    _no_temporaries_left(tmp_path)


def test_a_discarded_temporary_is_removed(tmp_path: Path) -> None:
    tmp = exclusive_temp(tmp_path / "x.mp4")
    tmp.file.write(b"partial")
    tmp.discard()
    assert os.listdir(tmp_path) == []


def test_a_long_destination_name_still_makes_a_valid_temporary(tmp_path: Path) -> None:
    dest = tmp_path / ("é" * 120 + ".jpg")  # 244 bytes: near the file system's limit
    write_atomic(dest, b"x")
    assert dest.read_bytes() == b"x"
    _no_temporaries_left(tmp_path)


@pytest.mark.parametrize(
    "name,ours",
    [
        (".mediaprep-tmp-0123456789abcdef-x.jpg", True),
        (".mediaprep-tmp-0123456789abcdef-", True),
        (".mediaprep-tmp-0123456789abcdef-frame_00001.jpg", True),
        (".mediaprep-tmp-0123456789abcdef-line\nbreak.jpg", True),
        (".env.tmpl", False),
        (".settings.tmp", False),
        (".tmpfiles-notes", False),
        (".x.jpg.tmp-1234", False),
        ("x.jpg", False),
        (".mediaprep-tmp-0123456789ABCDEF-x.jpg", False),
        (".mediaprep-tmp-0123456789abcde-x.jpg", False),
        (".mediaprep-tmp-notes", False),
        ("a.mediaprep-tmp-0123456789abcdef-x.jpg", False),
        (".mediaprep-tmp-0123456789abcdef", False),
    ],
)
def test_temp_name_re_matches_only_mediapreps_temporaries(name: str, ours: bool) -> None:
    assert bool(TEMP_NAME_RE.match(name)) is ours


# --- item 3: content names bytes and data: URLs ------------------------------------------------


def _same_length_pngs() -> tuple[bytes, bytes, tuple[int, int, int], tuple[int, int, int]]:
    """Two different PNGs, same size and the same number of bytes."""
    first = None
    for k in range(1, 200):
        colour = (k, 255 - k, 40)
        buf = io.BytesIO()
        Image.new("RGB", (24, 16), colour).save(buf, "PNG")
        if first is None:
            first = (buf.getvalue(), colour)
        elif len(buf.getvalue()) == len(first[0]):
            return first[0], buf.getvalue(), first[1], colour
    raise AssertionError("no two PNGs of the same length")


def _data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def test_two_data_urls_of_the_same_length_get_their_own_outputs(tmp_path: Path) -> None:
    a, b, colour_a, colour_b = _same_length_pngs()
    url_a, url_b = _data_url(a), _data_url(b)
    assert len(url_a) == len(url_b) and a != b
    out = tmp_path / "out"
    target = mp.Target(transport="url")

    first = mp.prepare(url_a, target=target, out_dir=out, url_prefix="https://cdn.example/x")
    second = mp.prepare(url_b, target=target, out_dir=out, url_prefix="https://cdn.example/x")

    assert first.status == second.status == "ready"
    assert first.outputs[0].path != second.outputs[0].path
    urls = [r.part["image_url"]["url"] for r in (first, second)]
    assert urls[0] != urls[1]
    assert len([n for n in os.listdir(out) if not n.startswith(".")]) == 2
    for url, colour in zip(urls, (colour_a, colour_b)):
        rel = url.removeprefix("https://cdn.example/x/")
        with Image.open(out / rel) as im:
            assert im.convert("RGB").getpixel((5, 5)) == colour  # each part's URL names its own image


def test_two_byte_inputs_of_the_same_length_get_their_own_outputs(tmp_path: Path) -> None:
    a, b, colour_a, colour_b = _same_length_pngs()
    out = tmp_path / "out"
    results = [mp.prepare(data, target=mp.Target(api="dashscope", transport="path"), out_dir=out) for data in (a, b)]
    assert results[0].outputs[0].path != results[1].outputs[0].path
    for r, colour in zip(results, (colour_a, colour_b)):
        with Image.open(out / r.outputs[0].path) as im:
            assert im.convert("RGB").getpixel((5, 5)) == colour


def test_labels_follow_content_and_never_show_it() -> None:
    a, b, _, _ = _same_length_pngs()
    url_a, url_b = _data_url(a), _data_url(b)
    assert label_for(a) != label_for(b) and label_for(url_a) != label_for(url_b)
    assert label_for(a) == label_for(bytes(a)) == label_for(bytearray(a)) == label_for(memoryview(a))  # same content, same label
    assert label_for(url_a) == label_for("".join(url_a))
    for label, payload in ((label_for(url_a), url_a.partition(",")[2]), (label_for(a), repr(a))):
        assert len(label) < 80 and payload[8:24] not in label
    assert label_for(url_a).startswith("<data:image/png;base64,… ") and f"{len(url_a)} chars sha256:" in label_for(url_a)
    assert label_for(a).startswith(f"<{len(a)} bytes sha256:")


def test_resume_redoes_a_different_data_url_of_the_same_length(tmp_path: Path) -> None:
    a, b, _, colour_b = _same_length_pngs()
    out = tmp_path / "out"
    common = ["prepare", "--out", str(out), "--transport", "url", "--url-prefix", "https://cdn.example/x", "--json", "--progress", "never"]
    assert main([*common, _data_url(a)], stdout=io.StringIO(), stderr=(err := io.StringIO())) == 0, err.getvalue()

    code = main([*common, "--resume", _data_url(b)], stdout=io.StringIO(), stderr=(err := io.StringIO()))

    assert code == 0, err.getvalue()
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len({line["source"] for line in lines}) == 2  # the second input was done, not taken for the first
    second = lines[-1]
    with Image.open(out / second["outputs"][0]) as im:
        assert im.convert("RGB").getpixel((5, 5)) == colour_b


def test_a_symlink_planted_at_the_manifest_is_never_written_through(tmp_path: Path) -> None:
    """The manifest too: a link at --out/manifest.jsonl pointing at a victim file is refused, the
    victim untouched (found while fixing item 1 of issue 12)."""
    from mediaprep.cli import main

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.jsonl").symlink_to(victim)
    src = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(src)
    err = io.StringIO()
    code = main(["prepare", str(src), "--out", str(out), "--progress", "never"], stdout=io.StringIO(), stderr=err)
    assert code == 2 and "symbolic link" in err.getvalue()
    assert victim.read_text() == "precious"
