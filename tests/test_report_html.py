"""The HTML report: escaped, self-contained, one row per input, thumbnails that are small and safe to
make, an atomic write; and, in a real headless Chromium, it renders on a desktop and a phone width,
shows one row per input, and its status filter (driven by the URL fragment the buttons also set)
hides the rows of other statuses. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import mediaprep as mp
from mediaprep import report
from mediaprep.report import previews, write_report
from videos import make_video

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
XSS_SOURCE = "<script>alert(1)</script>.png"
# markup that would mark the page if it ever ran (escaping and the page's CSP both stop it)
XSS_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">.png"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height (its pixels are not there): a decode would be huge."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)), np.full((height, width), 128.0)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs covering every row shape: ok PNG and JPEG (JPEG thumbnails go through draft), an 8×8 PNG
    (fixable: padded), a truncated JPEG and a text file named .png (rejected), a 3 s video (ok, its
    contact sheet sampled from the source) and a 1 s one (fixable: sent as frame JPEGs, its sheet
    made from them)."""
    d = tmp_path_factory.mktemp("report-media")
    paths = {
        "ok_png": d / "ok.png",
        "ok_jpeg": d / "photo.jpg",
        "tiny_png": d / "icon-8px.png",
        "broken_jpeg": d / "broken.jpg",
        "text_png": d / "notes.png",
        "video": d / "clip.mp4",
        "short_video": d / "short.mp4",
    }
    _gradient(64, 48).save(paths["ok_png"])
    _gradient(800, 600).save(paths["ok_jpeg"], quality=85)
    _gradient(8, 8).save(paths["tiny_png"])
    buf = io.BytesIO()
    _gradient(200, 150).save(buf, "JPEG")
    paths["broken_jpeg"].write_bytes(buf.getvalue()[:400])
    paths["text_png"].write_text("these are notes, not a picture\n")
    make_video(paths["video"], frames=30, fps=10, size=(96, 64))
    make_video(paths["short_video"], frames=10, fps=10, size=(96, 64))
    return paths


@pytest.fixture(scope="module")
def check_lines(media: dict[str, Path]) -> list[dict[str, Any]]:
    """`check --json` lines from the real library, plus an input named like markup (not found)."""
    lines = [mp.check(str(p)).to_json() for p in media.values()]
    lines.append(mp.check(XSS_IMG).to_json())
    return lines


@pytest.fixture(scope="module")
def prepared(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """Manifest lines of `prepare` into an out folder (outputs: padded PNG, frame JPEGs …)."""
    out = tmp_path_factory.mktemp("report-out") / "out"
    lines = [mp.prepare(str(p), out_dir=out).to_json() for p in media.values()]
    return lines, out


def _statuses(lines: list[dict[str, Any]]) -> list[str]:
    return [line["status"] for line in lines]


def test_the_generated_inputs_have_every_status(check_lines: list[dict[str, Any]], prepared: tuple[list[dict[str, Any]], Path]) -> None:
    assert {"ok", "fixable", "rejected"} <= set(_statuses(check_lines))
    assert {"ready", "rejected"} == set(_statuses(prepared[0]))
    kinds = {line["source"].rsplit("/", 1)[-1]: line["kind"] for line in check_lines}
    assert kinds["clip.mp4"] == kinds["short.mp4"] == "video"


# --------------------------------------------------------------------------------------------------
# Escaping and self-containment


def test_markup_in_every_field_is_escaped(tmp_path: Path) -> None:
    line = {
        "source": XSS_SOURCE,
        "kind": "image",
        "status": "rejected\"><script>alert(2)</script>",
        "verdict": "<b>x</b>",
        "violations": [{"code": "<i>code</i>", "severity": "error", "message": f"{XSS_SOURCE}: <script>alert(3)</script>"}],
        "actions": [{"op": "<u>op</u>", "reason": "a & b < c"}],
        "outputs": ["<script>alert(4)</script>.png"],
    }
    path = tmp_path / "report.html"
    write_report([line], path, out_dir=tmp_path / "out", title="<title>t</title>")
    text = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/<wbr>script&gt;.png" in text  # the source, escaped (and breakable at /)
    for n in (1, 2, 3, 4):
        assert f"<script>alert({n})" not in text
    assert text.count("<script") == 1  # only the report's own filter script
    assert "<b>x</b>" not in text and "<i>code</i>" not in text and "<u>op</u>" not in text
    assert "a &amp; b &lt; c" in text
    assert "<title>&lt;title&gt;t&lt;/title&gt;</title>" in text
    assert re.search(r'data-status="rejected&quot;&gt;&lt;script&gt;', text)  # attribute values too


def _external_refs(text: str) -> list[str]:
    """src/href/url() values that would reach a network (anything but data: URLs and relative paths)."""
    refs = re.findall(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?([^"'\s>]*)""", text, flags=re.I)
    refs += re.findall(r"url\(\s*['\"]?([^'\")]*)", text, flags=re.I)
    return [r for r in refs if not r.startswith("data:") and re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", r, flags=re.I)]


def test_the_report_is_self_contained(tmp_path: Path, check_lines: list[dict[str, Any]], prepared: tuple[list[dict[str, Any]], Path]) -> None:
    lines, out = prepared
    # a URL input (as check reports one it cannot reach): shown as text, never fetched nor linked
    url_line = {"source": "https://example.invalid/cat.png", "kind": "unknown", "status": "rejected", "violations": [{"code": "source.unreachable", "severity": "error", "message": "https://example.invalid/cat.png: could not connect"}]}
    for name, rows, out_dir in (("check.html", [*check_lines, url_line], None), ("prepare.html", lines, out)):
        path = tmp_path / name
        write_report(rows, path, out_dir=out_dir)
        text = path.read_text(encoding="utf-8")
        assert _external_refs(text) == [], name
        assert "<link" not in text.lower() and "@import" not in text.lower()
        assert not re.search(r"<script[^>]*\bsrc\s*=", text, flags=re.I)
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*https?://""", text, flags=re.I)
        assert "default-src 'none'; img-src data:;" in html.unescape(text)  # the page itself forbids any fetch but data: images
        assert '<meta name="viewport"' in text
    shown = (tmp_path / "check.html").read_text(encoding="utf-8").replace("<wbr>", "")
    assert ">https://example.invalid/cat.png</div>" in shown  # shown as text, not linked


def test_one_row_per_input_in_order_with_counts(tmp_path: Path, check_lines: list[dict[str, Any]]) -> None:
    path = tmp_path / "report.html"
    write_report(iter(check_lines), path)  # a generator is enough: lines are streamed
    text = path.read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="row" id="(r\d+)" data-status="([^"]*)"', text)
    assert [status for _, status in rows] == _statuses(check_lines)
    assert len({rid for rid, _ in rows}) == len(check_lines)
    counts = {s: _statuses(check_lines).count(s) for s in set(_statuses(check_lines))}
    summary = re.search(r'<p class="summary" id="summary">([^<]*)</p>', text)
    assert summary is not None and summary.group(1).startswith(f"{len(check_lines)} inputs: ")
    for status, n in counts.items():
        assert f"{n} {status}" in summary.group(1)
        assert re.search(rf'data-filter="{status}"[^>]*>{status}<span class="n">{n}</span>', text)


def test_columns_no_row_fills_are_hidden(tmp_path: Path, check_lines: list[dict[str, Any]], prepared: tuple[list[dict[str, Any]], Path]) -> None:
    write_report(check_lines, tmp_path / "check.html")  # check lines have no actions, no outputs
    assert '<table id="rows" class="no-actions no-outputs">' in (tmp_path / "check.html").read_text(encoding="utf-8")
    write_report(prepared[0], tmp_path / "prepare.html", out_dir=prepared[1])
    assert '<table id="rows" class="">' in (tmp_path / "prepare.html").read_text(encoding="utf-8")


def test_an_empty_batch_still_writes_a_report(tmp_path: Path) -> None:
    write_report([], tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "0 inputs" in text and 'class="row"' not in text and "No inputs." in text


# --------------------------------------------------------------------------------------------------
# Thumbnails


def _decode_thumb(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/jpeg;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert im.format == "JPEG"
    return im


def test_thumbnails_are_small_jpegs_and_absent_for_files_that_are_not_pictures(media: dict[str, Path], check_lines: list[dict[str, Any]]) -> None:
    by_name = {Path(line["source"]).name: line for line in check_lines}
    for name in ("ok.png", "photo.jpg", "icon-8px.png"):
        thumb = previews.thumbnail_for(by_name[name], out_dir=None)
        assert thumb is not None, name
        im = _decode_thumb(thumb[0])
        assert max(im.size) <= report.THUMB_PX and im.size == thumb[1:]
    assert _decode_thumb(previews.thumbnail_for(by_name["photo.jpg"], out_dir=None)[0]).size == (160, 120)  # type: ignore[index]
    for name in ("broken.jpg", "notes.png"):
        assert previews.thumbnail_for(by_name[name], out_dir=None) is None, name
    # a line naming a missing file, or markup, or a URL: no preview, no exception, no network
    assert previews.thumbnail_for({"source": XSS_SOURCE, "kind": "image"}, out_dir=None) is None
    assert previews.thumbnail_for({"source": "https://example.invalid/x.png", "kind": "image"}, out_dir=None) is None


def test_a_video_gets_a_contact_sheet_of_frames_in_a_row(check_lines: list[dict[str, Any]], prepared: tuple[list[dict[str, Any]], Path]) -> None:
    clip = next(line for line in check_lines if line["source"].endswith("clip.mp4"))
    thumb = previews.thumbnail_for(clip, out_dir=None)  # sampled from the source
    assert thumb is not None
    sheet = _decode_thumb(thumb[0])
    assert sheet.height <= report.SHEET_FRAME_HEIGHT_PX and sheet.width > 4 * sheet.height  # six 3:2 frames side by side
    lines, out = prepared
    short = next(line for line in lines if line["source"].endswith("short.mp4"))
    assert short["outputs"] and all(o.endswith(".jpg") for o in short["outputs"])  # sent as frames
    thumb = previews.thumbnail_for(short, out_dir=out)  # made from the frame JPEGs
    assert thumb is not None and _decode_thumb(thumb[0]).width > 3 * report.SHEET_FRAME_HEIGHT_PX


def test_prepare_rows_preview_the_output_that_is_sent(prepared: tuple[list[dict[str, Any]], Path]) -> None:
    lines, out = prepared
    tiny = next(line for line in lines if line["source"].endswith("icon-8px.png"))
    thumb = previews.thumbnail_for(tiny, out_dir=out)
    assert thumb is not None and thumb[1:] == (11, 11)  # the padded output, not the 8×8 input


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths the report decodes pixels of (every thumbnail decode goes through load_first_frame)."""
    from mediaprep.backends import pillow_backend

    seen: list[Path] = []
    real = pillow_backend.load_first_frame
    monkeypatch.setattr(pillow_backend, "load_first_frame", lambda source, *a, **k: seen.append(source.path) or real(source, *a, **k))
    return seen


def test_huge_pictures_are_never_decoded_for_a_thumbnail(tmp_path: Path, decoded: list[Path]) -> None:
    """64 Mpx is under the library's decode guard but over the report's 50 Mpx budget: skipped
    after reading the header, without a decode."""
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(8000, 8000))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    small = tmp_path / "small.png"
    _gradient(40, 30).save(small)
    started = time.monotonic()
    for p in (big, bomb):
        assert previews.thumbnail_for({"source": str(p), "kind": "image", "status": "rejected"}, out_dir=None) is None
    assert decoded == [] and time.monotonic() - started < 2
    assert previews.thumbnail_for({"source": str(small), "kind": "image", "status": "ok"}, out_dir=None) is not None
    assert decoded == [small]


def test_an_input_that_crashed_or_hung_a_worker_is_not_decoded_again(tmp_path: Path, decoded: list[Path]) -> None:
    """The batch isolated it in a worker; decoding it here could take the report down with it."""
    picture = tmp_path / "crashy.png"
    _gradient(40, 30).save(picture)
    for code in ("source.crashed", "source.timeout"):
        line = {"source": str(picture), "kind": "image", "status": "rejected", "violations": [{"code": code, "severity": "error", "message": "…"}]}
        assert previews.thumbnail_for(line, out_dir=None) is None
    assert decoded == []


# --------------------------------------------------------------------------------------------------
# Links and the write


def test_outputs_and_sources_are_linked_relative_to_the_report(tmp_path: Path, prepared: tuple[list[dict[str, Any]], Path]) -> None:
    lines, out = prepared
    report = tmp_path / "reports" / "report.html"
    report.parent.mkdir()
    write_report(lines, report, out_dir=out)
    text = report.read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+)"', text)
    outputs = [o for line in lines for o in line["outputs"]]
    assert outputs
    for rel in outputs:
        assert any((report.parent / h).resolve() == (out / rel).resolve() for h in hrefs), rel
    for h in hrefs:
        assert not h.startswith("/") and (report.parent / h).exists(), h


def test_the_write_is_atomic(tmp_path: Path, check_lines: list[dict[str, Any]]) -> None:
    path = tmp_path / "report.html"
    write_report(check_lines[:1], path)
    before = path.read_bytes()

    def failing() -> Any:
        yield check_lines[0]
        raise RuntimeError("the batch died")

    with pytest.raises(RuntimeError):
        write_report(failing(), path)
    assert path.read_bytes() == before  # the old report is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # and no temporary is left


# --------------------------------------------------------------------------------------------------
# In a real browser

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run installs it)")


def _chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shutil.rmtree(profile, ignore_errors=True)
    return proc


def _screenshot(tmp_path: Path, url: str, png: Path, width: int, height: int) -> Image.Image:
    png.unlink(missing_ok=True)
    _chromium(tmp_path, url, f"--screenshot={png}", f"--window-size={width},{height}", "--hide-scrollbars")
    assert png.exists() and png.stat().st_size > 0
    with Image.open(png) as im:
        im.load()
        return im.copy()


def _rows(dom: str) -> list[tuple[str, bool]]:
    """(status, hidden) of every row in a dumped DOM."""
    return [(m.group(2), "hidden" in m.group(1) + m.group(3)) for m in re.finditer(r'<tr class="row"([^>]*?) data-status="([^"]*)"([^>]*)>', dom)]


@pytest.fixture(scope="module")
def browser_report(tmp_path_factory: pytest.TempPathFactory, check_lines: list[dict[str, Any]]) -> Path:
    path = tmp_path_factory.mktemp("report-browser") / "report.html"
    write_report(check_lines, path, title="mediaprep check report")
    return path


@needs_chromium
def test_in_chromium_one_row_per_input_and_the_status_filter_works(tmp_path: Path, browser_report: Path, check_lines: list[dict[str, Any]]) -> None:
    url = browser_report.as_uri()
    dom = _chromium(tmp_path, url, "--dump-dom").stdout
    rows = _rows(dom)
    assert [s for s, _ in rows] == _statuses(check_lines)  # one row per input, after the script ran
    assert not any(hidden for _, hidden in rows)
    assert 'data-filter="all"' in dom and f"showing {len(check_lines)} of {len(check_lines)}" in dom
    assert "data-pwned" not in re.search(r"<body[^>]*>", dom).group(0)  # type: ignore[union-attr]  # the markup-named input did not run

    dom = _chromium(tmp_path, url + "#status=rejected", "--dump-dom").stdout
    rows = _rows(dom)
    assert len(rows) == len(check_lines)
    assert any(s == "rejected" for s, _ in rows) and any(s != "rejected" for s, _ in rows)
    assert all(hidden == (s != "rejected") for s, hidden in rows), rows  # only rejected rows are visible
    assert re.search(r'<body[^>]*data-filter="rejected"', dom)
    assert re.search(r'data-filter="rejected" aria-pressed="true"', dom) and re.search(r'data-filter="all" aria-pressed="false"', dom)
    n_rejected = _statuses(check_lines).count("rejected")
    assert f"showing {n_rejected} of {len(check_lines)}" in dom

    dom = _chromium(tmp_path, url + "?status=ok,fixable", "--dump-dom").stdout  # a query works too, several statuses
    assert all(hidden == (s not in ("ok", "fixable")) for s, hidden in _rows(dom))


@needs_chromium
def test_in_chromium_it_renders_on_a_desktop_and_a_phone(tmp_path: Path, browser_report: Path, prepared: tuple[list[dict[str, Any]], Path]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    url = browser_report.as_uri()
    shot = _screenshot(tmp_path, url, ARTIFACTS / "report.png", 1200, 2000)
    assert shot.size == (1200, 2000)
    colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50  # text, badges and thumbnails, not a blank page

    phone = _screenshot(tmp_path, url, ARTIFACTS / "report-phone.png", 390, 2000)
    assert phone.size == (390, 2000)
    colours = phone.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50
    dom = _chromium(tmp_path, url, "--dump-dom", "--window-size=390,2000").stdout
    assert re.search(r'<html[^>]*data-layout="cards"', dom)  # the phone layout (rows as cards) applies
    dom = _chromium(tmp_path, url, "--dump-dom", "--window-size=1200,2000").stdout
    assert re.search(r'<html[^>]*data-layout="table"', dom)

    lines, out = prepared  # the prepare report, with output links and previews from the outputs
    report = out.parent / "report.html"
    write_report(lines, report, out_dir=out)
    shot = _screenshot(tmp_path, report.as_uri(), ARTIFACTS / "report-prepare.png", 1200, 2000)
    assert len(shot.convert("RGB").getcolors(maxcolors=1 << 20) or range(51)) > 50
    dom = _chromium(tmp_path, report.as_uri() + "#status=ready", "--dump-dom").stdout
    assert all(hidden == (s != "ready") for s, hidden in _rows(dom)) and len(_rows(dom)) == len(lines)
