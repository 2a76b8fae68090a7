"""Hostile or unlucky inputs (issue 12): each case ends, and ends in a violation, never a hang or a
traceback. Items 8 (compress-to-cap ends), 10 (the deadline covers a server trickling its headers),
11 (TIFF pages counted up to a bound), 17 (decoder errors on broken AVIF, zero-width GIF/FLV,
truncated GIF), 18 (`--animated frames` on a late broken frame; an APNG declaring 2^31 frames),
19 (a video damaged mid-stream: frames and prepare) and 23 (no stale ICC profile; deterministic
output for LAB). A case that could hang on broken code runs in a subprocess or a thread with a
deadline, so the test fails fast instead of hanging."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import PIL
import pytest
from PIL import Image, ImageCms, features

import mediaprep as mp
from mediaprep.backends.translate import image_errors
from mediaprep.cli import main
from mediaprep.errors import UnreadableImage
from mediaprep.rules import TUNING
from media import animated_png, photo
from videos import make_video

# --------------------------------------------------------------------------------------------------
# helpers


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


_PREPARE_SCRIPT = """
import dataclasses, json, sys
import mediaprep as mp
path, cap = sys.argv[1], int(sys.argv[2])
limits = dataclasses.replace(mp.Limits(), image_max_data_url_bytes=cap) if cap else mp.Limits()
r = mp.prepare(path, target=mp.Target(limits=limits))
print(json.dumps({
    "status": r.status,
    "violations": [{"code": v.code, "fix": v.fix, "message": v.message} for v in r.violations],
    "actions": [a.reason for a in r.actions],
    "outputs": [{"w": o.width_px, "h": o.height_px, "bytes": o.size_bytes} for o in r.outputs],
    "icc": [bool(__import__("PIL.Image", fromlist=["x"]).open(__import__("io").BytesIO(o.data)).info.get("icc_profile")) for o in r.outputs],
}))
"""


def prepare_in_subprocess(path: Path, *, data_url_cap: int = 0, timeout_s: float = 60) -> dict:
    """`prepare` in a fresh interpreter with a deadline: a search that never ends fails the test
    instead of hanging it."""
    try:
        done = subprocess.run([sys.executable, "-c", _PREPARE_SCRIPT, str(path), str(data_url_cap)], capture_output=True, text=True, timeout=timeout_s, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        pytest.fail(f"prepare did not end within {timeout_s} s (the compress-to-cap search loops)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def many_page_tiff(pages: int) -> bytes:
    """A little-endian TIFF of `pages` 1×1 grey pages chained by their IFDs (all sharing one pixel
    byte): 114 bytes a page, built in milliseconds (Pillow's save_all takes quadratic time)."""
    entries = [(256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8), (277, 3, 1), (278, 3, 1), (279, 4, 1)]
    ifd_size = 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 10) + b"\x80\x00")  # the first IFD at 10; the pixel at 8
    for n in range(pages):
        nxt = 10 + (n + 1) * ifd_size if n + 1 < pages else 0
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        out += struct.pack("<I", nxt)
    return bytes(out)


def png_with_frame_count(path: Path, frames: int) -> Path:
    """An APNG whose acTL declares `frames` frames (it holds 3)."""
    data = bytearray(animated_png(path, frames=3).read_bytes())
    at = data.find(b"acTL")
    data[at + 4 : at + 8] = struct.pack(">I", frames)
    data[at + 12 : at + 16] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 12])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def animated_gif_bytes(frames: int = 6, size: tuple[int, int] = (40, 30), duration_ms: int = 100) -> bytes:
    pictures = [photo(*size, seed=i).convert("P") for i in range(frames)]
    buf = io.BytesIO()
    pictures[0].save(buf, "GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# 8. compress-to-cap always ends


def test_icc_profile_over_the_cap_is_dropped_and_the_picture_kept(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = srgb + bytes(8 * (1 << 20) - len(srgb))  # an 8 MiB profile: alone over the 7.5 MiB raw cap
    path = tmp_path / "icc.jpg"
    photo(320, 240).save(path, "JPEG", quality=90, icc_profile=icc)
    got = prepare_in_subprocess(path)
    assert got["status"] == "ready", got
    assert got["outputs"] == [{"w": 320, "h": 240, "bytes": got["outputs"][0]["bytes"]}]  # not shrunk to 11×11
    assert got["icc"] == [False]
    assert any("ICC profile is dropped" in reason for reason in got["actions"])


def test_a_cap_no_picture_can_meet_is_rejected_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    photo(200, 150).save(path, "JPEG", quality=90)
    got = prepare_in_subprocess(path, data_url_cap=600)
    assert got["status"] == "rejected"
    unmet = [v for v in got["violations"] if v["code"] == "image.too_large" and v["fix"] is None]
    assert len(unmet) == 1, got["violations"]
    assert "cannot be met" in unmet[0]["message"] and "11×11" in unmet[0]["message"]


def test_a_profile_that_alone_keeps_a_picture_over_the_cap_goes_before_its_pixels_shrink(tmp_path: Path) -> None:
    plain = io.BytesIO()
    photo(160, 120).save(plain, "JPEG", quality=90)
    picture = len(plain.getvalue())
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    raw_cap = picture + 1000
    icc = srgb + bytes(raw_cap - 100 - len(srgb))  # under the cap alone; with any picture, over it
    path = tmp_path / "icc.jpg"
    photo(160, 120).save(path, "JPEG", quality=90, icc_profile=icc)
    got = prepare_in_subprocess(path, data_url_cap=len("data:image/jpeg;base64,") + 4 * (raw_cap // 3))
    assert got["status"] == "ready", got
    assert [(o["w"], o["h"]) for o in got["outputs"]] == [(160, 120)]  # not downscaled
    assert got["icc"] == [False]


# --------------------------------------------------------------------------------------------------
# 10. the total deadline covers the headers


class TrickleServer:
    """A raw-socket HTTP server that reads a request, then sends its status line and headers one
    byte every `every_s` seconds, forever (until closed)."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow.jpg"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Slow: " + b"a" * 100_000
                for byte in head:
                    if self.stop.wait(self.every_s):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client hung up (the deadline did its job)
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for t in self.threads:
            t.join(timeout=5)


def test_a_server_trickling_its_headers_cannot_outlast_the_deadline() -> None:
    server = TrickleServer(every_s=1.0)
    result: dict[str, object] = {}

    def run() -> None:
        started = time.monotonic()
        result["report"] = mp.check(server.url, remote=mp.RemoteOptions(deadline_s=3, allow_private=True))
        result["took"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    try:
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "check was still waiting on the trickling headers 20 s into a 3 s deadline"
    finally:
        server.close()
        worker.join(timeout=10)
    report = result["report"]
    assert isinstance(report, mp.Report)
    assert report.codes == ("remote.timeout",), report.violations
    assert "deadline" in report.violations[0].message
    assert result["took"] < 6  # type: ignore[operator]


# --------------------------------------------------------------------------------------------------
# 11. TIFF pages are counted up to a bound


def test_tiff_pages_are_counted_up_to_the_bound(tmp_path: Path) -> None:
    bound = TUNING.max_counted_pages
    many = tmp_path / "many.tif"
    many.write_bytes(many_page_tiff(5 * bound))
    report = mp.check(many, fast=True)
    assert report.info is not None and report.info.frames == bound  # "at least" the bound
    assert mp.probe(many).frames == bound
    ready = mp.prepare(many)  # sent as its first page
    assert ready.status == "ready" and len(ready.outputs) == 1
    few = tmp_path / "few.tif"
    few.write_bytes(many_page_tiff(3))
    assert mp.check(few, fast=True).info.frames == 3  # below the bound: exact


# --------------------------------------------------------------------------------------------------
# 17. decoder errors are violations


def _zero_width_gif(path: Path) -> Path:
    """A GIF whose logical screen is 0 px wide and whose frame declares 65535×65535 (over the pixel
    guard, which Pillow's GIF parser trips while reading the header)."""
    buf = io.BytesIO()
    photo(64, 48).convert("P").save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", 0, 65535)
    at = data.index(b"\x2c", 13 + 3 * 256)  # the image descriptor, after the global colour table
    data[at + 5 : at + 9] = struct.pack("<HH", 65535, 65535)
    path.write_bytes(bytes(data))
    return path


def test_a_zero_width_gif_is_unreadable_not_a_division_by_zero(tmp_path: Path) -> None:
    path = _zero_width_gif(tmp_path / "zero.gif")
    for fast in (True, False):
        report = mp.check(path, fast=fast)
        assert report.status == "rejected" and report.codes == ("image.unreadable",), report.violations
    with pytest.raises(mp.ProbeError) as raised:
        mp.probe(path)
    assert raised.value.violation.code == "image.unreadable"
    assert mp.prepare(path).status == "rejected"


def _zero_width_flv(path: Path) -> Path:
    """An FLV (Sorenson H.263) whose every picture header declares a width of 0."""
    make_video(path, frames=30, codec="flv", container="flv")
    data = bytearray(path.read_bytes())
    off = struct.unpack(">I", data[5:9])[0] + 4  # the header, then PreviousTagSize0
    patched = 0
    while off + 11 <= len(data):
        kind, size = data[off], int.from_bytes(data[off + 1 : off + 4], "big")
        body = off + 11
        if kind == 9 and size > 7:  # a video tag: one flags byte, then the picture header
            bits = int.from_bytes(data[body + 1 : body + 7], "big")
            assert (bits >> 15) & 0b111 == 0, "an 8-bit custom size"  # PSC 17, version 5, TR 8, size 3 bits
            bits &= ~(0xFF << 7)  # the 8-bit width
            data[body + 1 : body + 7] = bits.to_bytes(6, "big")
            patched += 1
        off = body + size + 4
    assert patched >= 30
    path.write_bytes(bytes(data))
    return path


def test_a_zero_width_flv_is_unreadable_not_a_division_by_zero(tmp_path: Path) -> None:
    path = _zero_width_flv(tmp_path / "zero.flv")
    for fast in (True, False):
        report = mp.check(path, fast=fast)
        assert report.codes == ("video.unreadable",), report.violations
    with pytest.raises(mp.ProbeError) as raised:
        mp.probe(path)
    assert raised.value.violation.code == "video.unreadable"
    assert mp.prepare(path, out_dir=tmp_path / "out").status == "rejected"


def test_every_truncation_of_a_gif_is_a_verdict(tmp_path: Path) -> None:
    data = animated_gif_bytes(frames=3, size=(24, 16))
    path = tmp_path / "cut.gif"
    for n in list(range(4, 40)) + list(range(40, len(data), 97)):
        path.write_bytes(data[:n])
        for fast in (True, False):
            assert mp.check(path, fast=fast).status in ("rejected", "fixable", "ok")
        try:
            mp.probe(path)
        except mp.ProbeError:
            pass
        assert mp.prepare(path).status in ("rejected", "ready")
        assert mp.prepare(path, policy=mp.Policy(animated="frames")).status in ("rejected", "ready")


@pytest.mark.skipif(not features.check("avif"), reason="Pillow was built without AVIF")
def test_an_avif_sequence_with_a_broken_track_is_unreadable(tmp_path: Path) -> None:
    buf = io.BytesIO()
    photo(32, 24).save(buf, "AVIF", save_all=True, append_images=[photo(32, 24, seed=i) for i in (1, 2)], duration=100)
    data = bytearray(buf.getvalue())
    at = data.find(b"mdhd")  # the track's media header: its timescale, zeroed (Pillow divides by it)
    version = data[at + 4]
    timescale = at + 8 + (16 if version == 1 else 8)
    data[timescale : timescale + 4] = bytes(4)
    path = tmp_path / "broken.avif"
    path.write_bytes(bytes(data))
    report = mp.check(path)
    assert "image.unreadable" in report.codes and report.status == "rejected"
    assert mp.check(path, fast=True).status != "rejected"  # the header reads; the pixels do not
    for policy in (mp.Policy(), mp.Policy(animated="frames")):
        assert mp.prepare(path, policy=policy).status == "rejected"


def test_only_the_libraries_arithmetic_errors_are_translated() -> None:
    with pytest.raises(ZeroDivisionError):  # mediaprep's own arithmetic: a bug, never a verdict
        with image_errors():
            _ = 1 / 0
    inside_pillow = compile("1 / 0", os.path.join(os.path.dirname(PIL.__file__), "SomePlugin.py"), "exec")
    with pytest.raises(UnreadableImage, match="ZeroDivisionError"):  # raised in a plugin's code: bad bytes
        with image_errors():
            exec(inside_pillow)


# --------------------------------------------------------------------------------------------------
# 18. --animated frames


def test_an_animation_broken_in_a_late_frame_is_rejected_not_raised(tmp_path: Path) -> None:
    data = animated_gif_bytes(frames=12, duration_ms=500)  # 6 s: sampled at 2 fps, the last frame too
    path = tmp_path / "late.gif"
    path.write_bytes(data[: len(data) - 300])  # the last frame's pixel data is cut short
    assert mp.check(path).status == "fixable"  # check decodes the first frame only
    ready = mp.prepare(path, policy=mp.Policy(animated="frames"), out_dir=tmp_path / "out")
    assert ready.status == "rejected"
    assert "image.unreadable" in [v.code for v in ready.violations]
    code, _, err = run_cli(["prepare", str(path), "--animated", "frames", "--out", str(tmp_path / "cli"), "--workers", "0"])
    assert code == 1 and "Traceback" not in err


def test_an_apng_declaring_two_billion_frames_is_counted_up_to_the_bound(tmp_path: Path) -> None:
    path = png_with_frame_count(tmp_path / "liar.png", 2**31)
    info = mp.check(path).info
    assert info is not None and info.frames == TUNING.max_animation_frames
    started = time.monotonic()
    ready = mp.prepare(path, policy=mp.Policy(animated="frames"))
    assert ready.status == "rejected" and "image.unreadable" in [v.code for v in ready.violations]
    assert time.monotonic() - started < 30


# --------------------------------------------------------------------------------------------------
# 19. a video damaged mid-stream


@pytest.fixture(scope="module")
def damaged_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("damaged")
    good = folder / "good.mp4"
    make_video(good, frames=200, fps=10, size=(160, 120), gop=20)
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = bytes(4000)
    damaged = folder / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    return damaged


def test_a_damaged_video_passes_check_but_its_frames_are_a_violation(damaged_video: Path) -> None:
    assert mp.check(damaged_video).status == "ok"  # check decodes the first frames and the tail only
    extraction = mp.extract_frames(damaged_video)
    assert extraction.ok
    with pytest.raises(mp.ProbeError) as raised:
        list(extraction)
    assert raised.value.violation.code == "video.unreadable"
    with pytest.raises(mp.ProbeError) as raised:
        list(extraction.pictures())
    assert raised.value.violation.code == "video.unreadable"


def test_frames_cli_on_a_damaged_video_exits_1_with_one_line(damaged_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    code, _, err = run_cli(["frames", str(damaged_video), "--out", str(out)])
    assert code == 1
    assert err.splitlines() and len(err.splitlines()) == 1 and err.startswith("video.unreadable: "), err
    assert not list(out.glob("frame_*.jpg"))  # no half a list left behind
    code, text, _ = run_cli(["frames", str(damaged_video), "--out", str(out), "--json"])
    result = json.loads(text)
    assert code == 1 and result["frames"] == [] and [v["code"] for v in result["violations"]] == ["video.unreadable"]


def test_prepare_rejects_a_damaged_video_sent_as_frames(damaged_video: Path, tmp_path: Path) -> None:
    ready = mp.prepare(damaged_video, policy=mp.Policy(video_as="frames"), out_dir=tmp_path / "out")
    assert ready.status == "rejected"
    assert "video.unreadable" in [v.code for v in ready.violations]


# --------------------------------------------------------------------------------------------------
# 23. no stale ICC profile; deterministic output


def test_a_cmyk_jpeg_written_as_png_carries_no_cmyk_profile(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    fake_cmyk_profile = b"\x00\x00\x02\x00" + b"CMYK-profile" * 40
    photo(64, 48).convert("CMYK").save(path, "JPEG", icc_profile=fake_cmyk_profile)
    for fmt in ("png", "jpeg"):
        ready = mp.prepare(path, policy=mp.Policy(output_format=fmt))
        assert ready.status == "ready"
        out = Image.open(io.BytesIO(ready.outputs[0].data))
        assert out.mode in ("RGB", "L") and out.info.get("icc_profile") is None, fmt


def test_a_lab_tiff_prepares_to_the_same_bytes_every_time(tmp_path: Path) -> None:
    rgb_to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    path = tmp_path / "lab.tif"
    ImageCms.applyTransform(photo(64, 48), rgb_to_lab).save(path)
    first = mp.prepare(path)
    time.sleep(1.1)  # a profile made anew would carry another second in its creation date
    second = mp.prepare(path)
    assert first.status == second.status == "ready"
    assert first.outputs[0].data == second.outputs[0].data
    assert Image.open(io.BytesIO(first.outputs[0].data)).info.get("icc_profile") is None
