"""Header-only check: `mediaprep.check(path, fast=True)` against a bare `PIL.Image.open(f).size` loop.

    python benchmarks/bench_check_fast.py            # 1,000 mixed images (about 1 min to generate)
    python benchmarks/bench_check_fast.py --quick    # 150 smaller images

Generates a mixed folder (JPEG, PNG, WEBP, BMP, TIFF, GIF and a few HEIC; 64 px to ~3000 px; some
with an EXIF orientation; a few animated GIFs) in a temporary folder, reads every file once to warm
the OS cache, then times both loops over the same files, best of 3, per format and over the whole
mixed folder. Also times the CLI once (`mediaprep check --fast --json DIR`, interpreter start-up
included). Goal (issue): mediaprep time / Pillow time ≤ 1.5.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _media import best_of, log, machine_line, make_mixed_folder, table, warm  # noqa: E402
from PIL import Image  # noqa: E402

import mediaprep  # noqa: E402

GOAL_RATIO = 1.5
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "HEIC")


def pillow_pass(paths: list[str]) -> None:
    for p in paths:
        with Image.open(p) as im:
            im.size  # noqa: B018 - the header read is the point


def mediaprep_pass(paths: list[str]) -> None:
    for p in paths:
        mediaprep.check(p, fast=True)  # the default Target, as a caller would write it


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("mediaprep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mediaprep"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="150 images up to 1500 px (under 30 s)")
    parser.add_argument("--count", type=int, default=None, help="number of images (default 1000, quick 150)")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    count = args.count or (150 if args.quick else 1000)
    max_long = 1500 if args.quick else 3000
    repeat = 3

    # Pillow needs pillow-heif's opener to read HEIC at all; mediaprep calls the plugin directly.
    import pillow_heif

    pillow_heif.register_heif_opener()

    with tempfile.TemporaryDirectory(prefix="mediaprep-bench-") as tmp:
        folder = Path(tmp) / "mixed"
        t0 = time.perf_counter()
        log(f"generating {count} images (seed {args.seed}) in {folder} ...")
        files = make_mixed_folder(folder, count, seed=args.seed, max_long_px=max_long, heic=4 if args.quick else 12)
        gen_s = time.perf_counter() - t0
        total_bytes = sum(f.path.stat().st_size for f in files)
        by_format = {fmt: [str(f.path) for f in files if f.format == fmt] for fmt in FORMATS}
        by_format = {k: v for k, v in by_format.items() if v}
        every = [str(f.path) for f in files]  # generation order: formats interleaved
        target = mediaprep.Target()

        # warm: the OS cache, then one untimed pass of each loop (imports, plugin init)
        warm([f.path for f in files])
        pillow_pass(every)
        mediaprep_pass(every)

        rows = []
        for fmt, paths in by_format.items():
            tp = best_of(lambda paths=paths: pillow_pass(paths), repeat)
            tm = best_of(lambda paths=paths: mediaprep_pass(paths), repeat)
            rows.append((fmt, len(paths), f"{len(paths) / tp:,.0f}", f"{len(paths) / tm:,.0f}", f"{tp / len(paths) * 1e3:.3f}", f"{tm / len(paths) * 1e3:.3f}", f"{tm / tp:.2f}x"))
        tp_all = best_of(lambda: pillow_pass(every), repeat)
        tm_all = best_of(lambda: mediaprep_pass(every), repeat)
        ratio = tm_all / tp_all
        rows.append(("all (mixed)", len(every), f"{len(every) / tp_all:,.0f}", f"{len(every) / tm_all:,.0f}", f"{tp_all / len(every) * 1e3:.3f}", f"{tm_all / len(every) * 1e3:.3f}", f"{ratio:.2f}x"))

        statuses = Counter(mediaprep.check(p, target=target, fast=True).status for p in every)

        # the CLI, once: interpreter start-up + imports + the walk + JSON lines. Start-up alone is
        # the same command over an empty folder (best of 3).
        cmd = cli_command()
        empty = Path(tmp) / "empty"
        empty.mkdir()
        startup_s = best_of(lambda: subprocess.run([*cmd, "check", "--fast", "--json", str(empty)], check=True, capture_output=True), repeat)
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, "check", "--fast", "--json", str(folder)], capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    fmt_counts = ", ".join(f"{k} {len(v)}" for k, v in by_format.items())
    oriented = sum(1 for f in files if f.orientation != 1)
    animated = sum(1 for f in files if f.animated)
    print("bench_check_fast: header-only check, mediaprep.check(path, fast=True) vs PIL.Image.open(path).size")
    print(machine_line())
    print(f"{len(files)} files, {total_bytes / 1e6:,.0f} MB ({fmt_counts}); {oriented} with an orientation tag, {animated} animated GIFs; generated in {gen_s:.0f} s")
    print(f"timing: OS cache warmed, one untimed pass each, best of {repeat}; default Target ({target.model}, {target.transport}); Pillow with pillow-heif's opener registered")
    print()
    print(table(("format", "files", "Pillow files/s", "mediaprep files/s", "Pillow ms/file", "mediaprep ms/file", "ratio"), rows))
    print(f"(ratio = mediaprep time / Pillow time; fast-check verdicts: {dict(sorted(statuses.items()))})")
    print()
    print(f"CLI: {' '.join(Path(c).name for c in cmd)} check --fast --json DIR -> {len(lines)} JSON lines, exit {proc.returncode}, {cli_s:.2f} s wall = {len(lines) / cli_s:,.0f} files/s including start-up")
    work_s = cli_s - startup_s
    without = f"about {len(lines) / work_s:,.0f} files/s" if work_s > 0.1 * cli_s else "too small to tell apart"
    print(f"     (start-up alone, the same command on an empty folder: {startup_s:.2f} s; without it: {without})")
    if len(lines) != len(files):
        print(f"     WARNING: the CLI reported {len(lines)} inputs for {len(files)} files; stderr: {proc.stderr.strip()[-300:]}")
    print()
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    print(f"SUMMARY: fast check {len(every) / tm_all:,.0f} files/s vs Pillow {len(every) / tp_all:,.0f} files/s -> {ratio:.2f}x Pillow's time ({verdict} the <= {GOAL_RATIO}x goal); CLI {len(lines) / cli_s:,.0f} files/s incl. start-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
