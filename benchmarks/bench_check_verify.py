"""Verifying check: `mediaprep.check(path)` proves the pixels decode (JPEG in draft mode at 1/8 scale).

    python benchmarks/bench_check_verify.py            # 300 mixed images + 10 JPEGs of 6000×4000
    python benchmarks/bench_check_verify.py --quick    # 60 mixed images + 2 large JPEGs

Part 1: files/s of the default (verifying) check over a mixed folder, per format, next to a full
Pillow decode of the same files (`Image.open(p).load()`) and the header-only check.
Part 2: on large photo-like JPEGs (6000×4000, quality 90), mediaprep's draft-mode verification
against a full decode; the speedup is full-decode time / check time.
Part 3: a large JPEG truncated to 60 % of its bytes, to show that draft verification still reads
the whole entropy-coded stream and reports the file (printed, not asserted).
Timings: OS cache warmed, one untimed pass, best of 3.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _media import best_of, log, machine_line, make_mixed_folder, photo_like, table, warm  # noqa: E402
from PIL import Image  # noqa: E402

import mediaprep  # noqa: E402

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "HEIC")


def check_pass(paths: list[str], *, fast: bool = False) -> None:
    for p in paths:
        mediaprep.check(p, fast=fast)  # the default Target


def full_decode_pass(paths: list[str]) -> None:
    for p in paths:
        with Image.open(p) as im:
            im.load()


def draft_decode_pass(paths: list[str]) -> None:
    """Pillow's own 1/8 draft decode: the floor for what mediaprep's JPEG verification can cost."""
    for p in paths:
        with Image.open(p) as im:
            im.draft(im.mode, (im.width // 8, im.height // 8))
            im.load()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 mixed images and 2 large JPEGs (under 30 s)")
    parser.add_argument("--seed", type=int, default=4321)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    n_mixed = 60 if args.quick else 300
    n_large = 2 if args.quick else 10
    large_w, large_h = 6000, 4000
    repeat = 3
    target = mediaprep.Target()

    import pillow_heif

    pillow_heif.register_heif_opener()  # so Pillow's own loop can open the HEIC files too

    with tempfile.TemporaryDirectory(prefix="mediaprep-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        log(f"generating {n_mixed} mixed images and {n_large} JPEGs of {large_w}x{large_h} in {root} ...")
        files = make_mixed_folder(root / "mixed", n_mixed, seed=args.seed, max_long_px=1500 if args.quick else 3000, heic=4 if args.quick else 10)
        rng = np.random.default_rng(args.seed + 1)
        large: list[str] = []
        (root / "large").mkdir()
        for i in range(n_large):
            im = photo_like(rng, large_w, large_h, detail=0.6 + 0.15 * i, noise=2.0 + 0.6 * i, shapes=40)
            path = root / "large" / f"photo{i:02d}.jpg"
            im.save(path, "JPEG", quality=90)
            large.append(str(path))
            log(f"  large JPEG {i + 1}/{n_large}: {path.stat().st_size / 1e6:.1f} MB")
        gen_s = time.perf_counter() - t0

        # ---- part 1: mixed folder
        by_format = {fmt: [str(f.path) for f in files if f.format == fmt] for fmt in FORMATS}
        by_format = {k: v for k, v in by_format.items() if v}
        every = [str(f.path) for f in files]
        warm([Path(p) for p in every])
        check_pass(every)
        full_decode_pass(every)
        rows = []
        for fmt, paths in by_format.items():
            tc = best_of(lambda paths=paths: check_pass(paths), repeat)
            td = best_of(lambda paths=paths: full_decode_pass(paths), repeat)
            rows.append((fmt, len(paths), f"{len(paths) / tc:,.0f}", f"{len(paths) / td:,.0f}", f"{tc / len(paths) * 1e3:.2f}", f"{td / len(paths) * 1e3:.2f}", f"{tc / td:.2f}x"))
        tc_all = best_of(lambda: check_pass(every), repeat)
        td_all = best_of(lambda: full_decode_pass(every), repeat)
        tf_all = best_of(lambda: check_pass(every, fast=True), repeat)
        rows.append(("all (mixed)", len(every), f"{len(every) / tc_all:,.0f}", f"{len(every) / td_all:,.0f}", f"{tc_all / len(every) * 1e3:.2f}", f"{td_all / len(every) * 1e3:.2f}", f"{tc_all / td_all:.2f}x"))
        reports = [mediaprep.check(p, target=target) for p in every]
        statuses = Counter(r.status for r in reports)
        verified = Counter(r.verified for r in reports)

        # ---- part 2: large JPEGs
        warm([Path(p) for p in large])
        check_pass(large)
        full_decode_pass(large)
        t_check = best_of(lambda: check_pass(large), repeat)
        t_full = best_of(lambda: full_decode_pass(large), repeat)
        t_draft = best_of(lambda: draft_decode_pass(large), repeat)
        t_fast = best_of(lambda: check_pass(large, fast=True), repeat)
        large_mb = sum(Path(p).stat().st_size for p in large) / len(large) / 1e6
        speedup = t_full / t_check
        n = len(large)
        big_rows = [
            ("Pillow full decode: Image.open(p).load()", f"{t_full / n * 1e3:.1f}", f"{n / t_full:.2f}", "1.00x"),
            ("mediaprep.check(p)  (draft 1/8 verify)", f"{t_check / n * 1e3:.1f}", f"{n / t_check:.2f}", f"{t_full / t_check:.2f}x"),
            ("Pillow draft 1/8 decode alone", f"{t_draft / n * 1e3:.1f}", f"{n / t_draft:.2f}", f"{t_full / t_draft:.2f}x"),
            ("mediaprep.check(p, fast=True)", f"{t_fast / n * 1e3:.2f}", f"{n / t_fast:,.0f}", f"{t_full / t_fast:,.0f}x"),
        ]
        large_reports = [mediaprep.check(p, target=target) for p in large]
        verdicts = Counter((r.status, r.verified) for r in large_reports)
        large_codes = Counter(c for r in large_reports for c in r.codes)

        # ---- part 3: truncation
        data = Path(large[0]).read_bytes()
        cut = root / "truncated-60pct.jpg"
        cut.write_bytes(data[: int(len(data) * 0.6)])
        trunc = mediaprep.check(str(cut), target=target)
        trunc_fast = mediaprep.check(str(cut), target=target, fast=True)
        try:
            with Image.open(cut) as im:
                im.load()
            pillow_says = "decoded without error"
        except Exception as exc:  # the point is to show what Pillow says
            pillow_says = f"{type(exc).__name__}: {exc}"

    print("bench_check_verify: default check (decodes to verify) vs a full Pillow decode")
    print(machine_line())
    print(f"generated in {gen_s:.0f} s; timing: OS cache warmed, one untimed pass each, best of {repeat}")
    print()
    print(f"1. {len(every)} mixed images ({', '.join(f'{k} {len(v)}' for k, v in by_format.items())}), 64 px to {1500 if args.quick else 3000} px")
    print(table(("format", "files", "check files/s", "full decode files/s", "check ms/file", "decode ms/file", "check/decode"), rows))
    print(f"header-only check on the same files: {len(every) / tf_all:,.0f} files/s; verdicts {dict(sorted(statuses.items()))}, verified {dict(sorted(verified.items()))}")
    print()
    print(f"2. {n} photo-like JPEGs {large_w}x{large_h}, quality 90, {large_mb:.1f} MB each on average")
    print(table(("method", "ms/file", "files/s", "speedup"), big_rows))
    print(f"verdicts (status, verified): {dict(verdicts)}; codes: {dict(large_codes) or 'none'}")
    print()
    print(f"3. {Path(large[0]).name} truncated to 60 % ({len(data) * 0.6 / 1e6:.1f} of {len(data) / 1e6:.1f} MB)")
    v = trunc.violations[0] if trunc.violations else None
    print(f"   check(path):            status {trunc.status!r}, codes {list(trunc.codes)}, verified {trunc.verified!r}")
    if v is not None:
        print(f"   message: {v.message}")
    print(f"   check(path, fast=True): status {trunc_fast.status!r}, codes {list(trunc_fast.codes)} (header only)")
    print(f"   Pillow full decode:     {pillow_says}")
    print()
    caught = trunc.status == "rejected" and "image.unreadable" in trunc.codes
    print(
        f"SUMMARY: verifying check {len(every) / tc_all:,.0f} files/s on mixed images; on {large_w}x{large_h} JPEGs draft verification takes "
        f"{t_check / n * 1e3:.0f} ms vs {t_full / n * 1e3:.0f} ms for a full decode ({speedup:.1f}x faster); truncated JPEG {'caught' if caught else 'NOT caught'} ({trunc.status}, {', '.join(trunc.codes) or 'no codes'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
