"""Preflight of a batch file: lines per second of `mediaprep preflight` on 1,000 requests of mixed
media, in this process (the library) and through the command line (start-up included).

    python benchmarks/bench_preflight.py             # 1,000 lines; about 20 s
    python benchmarks/bench_preflight.py --lines 200 --workers 2

The batch file is generated into benchmarks/_work/preflight/ (git-ignored) from a handful of small
media reused across lines, like a real batch that sends the same few assets many times:
- OpenAI-compatible lines (Model Studio's batch interface), most with one data-URL image that is
  fine as it is (JPEG 320×240, PNG 160×120: passed through untouched), some with media that needs a
  fix (an 8×8 PNG icon: padded; an animated GIF: first frame, converted; a 2400×10 banner: padded),
  some with two images, a few with a 1 s video (sent as an image list);
- DashScope lines with `file://` paths (inlined as base64: paths do not travel over HTTP; one of
  them a 4000×600 WEBP, converted to JPEG above 4K);
- a few broken lines (invalid JSON, no body, an unreadable data URL), rejected and kept in place.

Passes, each timed once on a warm file (the media are in the page cache):
1. `preflight_file(batch, out)` in this process, one line after another (workers 0);
2. the same through `batch.run_local` with --workers processes;
3. the command line: `mediaprep preflight batch.jsonl --out DIR --workers N` (a subprocess);
4. the command line again on pass 3's output: every line ready and unchanged (the "is my batch
   still good" case: each reference is checked and passed through, nothing is rewritten).
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import av  # noqa: E402
import numpy as np  # noqa: E402
from _media import log, machine_line, photo_like, table  # noqa: E402
from PIL import Image  # noqa: E402

from mediaprep.batch import run_local  # noqa: E402
from mediaprep.preflight import preflight_file  # noqa: E402

ROOT = HERE.parent
WORK = HERE / "_work" / "preflight"


def _encoded(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _clip(path: Path, *, frames: int = 8, fps: int = 8, size: tuple[int, int] = (96, 64)) -> None:
    """A short H.264 MP4 (1 s): too short for a video file, so it becomes an image list."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            arr = np.full((size[1], size[0], 3), (i * 30) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_media(folder: Path) -> dict[str, str]:
    """The handful of assets the lines reuse: data URLs and file:// paths."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    photo = photo_like(rng, 320, 240)
    gif = folder / "anim.gif"
    frames = [Image.new("RGB", (48, 48), (i * 70 % 256, 90, 200)) for i in range(4)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    clip = folder / "clip.mp4"
    _clip(clip)
    photo_like(rng, 200, 150).save(folder / "ok.jpg", "JPEG", quality=88)
    photo_like(rng, 9, 9, shapes=0).save(folder / "tiny.png", "PNG")
    photo_like(rng, 4000, 600, detail=0.5).save(folder / "wide.webp", "WEBP", quality=80)
    return {
        "jpeg_ok": _data_url(_encoded(photo, "JPEG", quality=85), "image/jpeg"),
        "png_ok": _data_url(_encoded(photo.resize((160, 120)), "PNG"), "image/png"),
        "png_icon": _data_url(_encoded(photo.resize((8, 8)), "PNG"), "image/png"),
        "gif": _data_url(gif.read_bytes(), "image/gif"),
        "banner": _data_url(_encoded(photo.resize((2400, 10)), "PNG"), "image/png"),
        "clip": _data_url(clip.read_bytes(), "video/mp4"),
        "file_ok": f"file://{folder / 'ok.jpg'}",
        "file_tiny": f"file://{folder / 'tiny.png'}",
        "file_wide": f"file://{folder / 'wide.webp'}",
        "unreadable": "data:image/png;base64,!!not-base64!!",
    }


def _openai(cid: str, *urls: str, video: str | None = None) -> str:
    content: list[dict[str, object]] = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    if video is not None:
        content.append({"type": "video_url", "video_url": {"url": video}, "fps": 4})
    content.append({"type": "text", "text": "Describe the picture in one sentence."})
    body = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": content}], "max_tokens": 200}
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body})


def _dashscope(cid: str, *urls: str) -> str:
    content = [{"image": u} for u in urls] + [{"text": "Describe the picture in one sentence."}]
    body = {"model": "kimi-k2.6", "input": {"messages": [{"role": "user", "content": content}]}, "parameters": {"max_tokens": 200}}
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/api/v1/services/aigc/multimodal-generation/generation", "body": body})


def make_batch(path: Path, media: dict[str, str], lines: int) -> dict[str, int]:
    """`lines` requests; returns how many of each kind."""
    kinds: dict[str, int] = {}
    rows = []
    for n in range(lines):
        cid = f"req-{n:05d}"
        if n % 200 == 17:
            kind, row = "broken: invalid JSON", '{"custom_id": "' + cid + '", "body": {'
        elif n % 200 == 117:
            kind, row = "broken: no body", json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions"})
        elif n % 200 == 151:
            kind, row = "broken: unreadable data URL", _openai(cid, media["unreadable"])
        elif n % 100 == 50:
            kind, row = "video → image list", _openai(cid, video=media["clip"])
        elif n % 10 == 3:
            name = ("file_ok", "file_tiny", "file_ok", "file_wide")[n // 10 % 4]
            kind, row = f"dashscope {name}", _dashscope(cid, media[name])
        elif n % 10 == 7:
            kind, row = "two images (ok + icon)", _openai(cid, media["jpeg_ok"], media["png_icon"])
        elif n % 10 in (1, 9):
            name = ("png_icon", "gif", "banner")[n // 10 % 3]
            kind, row = f"fix {name}", _openai(cid, media[name])
        else:
            name = ("jpeg_ok", "png_ok")[n % 2]
            kind, row = f"ok {name}", _openai(cid, media[name])
        kinds[kind] = kinds.get(kind, 0) + 1
        rows.append(row)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log("generating media and the batch file ...")
    media = make_media(WORK / "media")
    batch = WORK / "batch.jsonl"
    kinds = make_batch(batch, media, args.lines)
    log(f"{batch}: {args.lines} lines, {batch.stat().st_size / 1e6:.1f} MB")
    batch.read_bytes()  # warm

    rows = []

    def timed(label: str, command: str, fn) -> dict[str, int]:  # noqa: ANN001
        t0 = time.perf_counter()
        counts = fn()
        elapsed = time.perf_counter() - t0
        rows.append((label, f"{elapsed:.2f} s", f"{args.lines / elapsed:,.0f}", command))
        log(f"{label}: {elapsed:.2f} s, {args.lines / elapsed:,.0f} lines/s")
        return counts

    def library(workers: int, dest: str) -> dict[str, int]:
        runner = functools.partial(run_local, workers=workers, item_timeout_s=300) if workers else None
        s = preflight_file(batch, WORK / dest / "batch.jsonl", report_path=WORK / dest / "preflight.jsonl", runner=runner)
        return {"ready": s.ready, "changed": s.changed, "rejected": s.rejected}

    def cli(src: Path, dest: str) -> dict[str, int]:
        cmd = [sys.executable, "-m", "mediaprep", "preflight", str(src), "--out", str(WORK / dest), "--workers", str(args.workers)]
        done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
        report = [json.loads(line) for line in (WORK / dest / "preflight.jsonl").read_text().splitlines()]
        return {"ready": sum(r["status"] == "ready" for r in report), "changed": sum(bool(r["changed"]) for r in report), "rejected": sum(r["status"] == "rejected" for r in report)}

    rel = batch.relative_to(ROOT)
    first = timed("library, in process (workers 0)", "preflight_file(batch, out)", lambda: library(0, "lib0"))
    timed(f"library, run_local workers {args.workers}", f"preflight_file(batch, out, runner=partial(run_local, workers={args.workers}))", lambda: library(args.workers, "lib"))
    cli_counts = timed(f"CLI, --workers {args.workers}", f"mediaprep preflight {rel} --out {WORK.relative_to(ROOT)}/cli --workers {args.workers}", lambda: cli(batch, "cli"))
    again = timed(
        f"CLI on its output (all unchanged), --workers {args.workers}",
        f"mediaprep preflight {WORK.relative_to(ROOT)}/cli/batch.jsonl --out {WORK.relative_to(ROOT)}/again --workers {args.workers}",
        lambda: cli(WORK / "cli" / "batch.jsonl", "again"),
    )
    identical = (WORK / "again" / "batch.jsonl").read_bytes() == (WORK / "cli" / "batch.jsonl").read_bytes()

    print(f"\npreflight of a {args.lines}-line batch file ({batch.stat().st_size / 1e6:.1f} MB); {machine_line()}")
    print("lines: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"first pass: {first['ready']} ready ({first['changed']} changed), {first['rejected']} rejected; CLI the same: {cli_counts == first}")
    print(f"second pass on the fixed file: {again['ready']} ready, {again['changed']} changed, {again['rejected']} rejected; output byte-identical to its input: {identical}\n")
    print(table(("pass", "time", "lines/s", "call"), rows))


if __name__ == "__main__":
    main()
