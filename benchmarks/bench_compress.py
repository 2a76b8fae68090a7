"""Compress-to-cap: how many encodes mediaprep's JPEG quality search uses, and how close it gets.

    python benchmarks/bench_compress.py            # 8 photo-like 24 MP images (6000×4000)
    python benchmarks/bench_compress.py --quick    # 2 of them

Each image is saved as an uncompressed TIFF (lossless, and a TIFF above 4K must be converted, so
mediaprep re-encodes it as JPEG), with detail and noise chosen so that quality 90 exceeds the base64
cap for most of them: the whole data URL ≤ 10,485,760 bytes, i.e. raw JPEG ≤ 7,864,302 bytes.

For each image: `mediaprep.prepare(path, target=Target(transport="base64"))` (in memory), read the
quality and encode count from its `compress` action (no such action: the first encode, at
quality 90, fitted), and compare with the best quality that fits, found with the same encoder
settings on the same RGB pixels (`im.save(buf, "JPEG", quality=q)`, no optimize) by a binary search
over 1..90 (90 being Policy.jpeg_quality, mediaprep's ceiling). The binary search assumes the JPEG
size grows with quality, which libjpeg's scaled quantisation tables make true in practice.
Goals (issue): mean encodes per image ≤ 3, largest gap ≤ 5 quality points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _media import DATA_URL_CAP_BYTES, RAW_JPEG_CAP_BYTES, jpeg_bytes, log, machine_line, photo_like, table  # noqa: E402
from PIL import Image  # noqa: E402

import mediaprep  # noqa: E402
from mediaprep.backends import pillow_ops  # noqa: E402  (only to record the qualities tried)

GOAL_ENCODES = 3.0
GOAL_GAP = 5
WIDTH, HEIGHT = 6000, 4000
# (detail, noise): from a calm scene that fits at quality 90 to a noisy, busy one
PRESETS = [(0.6, 2.0), (1.0, 3.0), (1.0, 4.5), (1.0, 6.0), (1.3, 7.0), (1.5, 8.0), (2.0, 10.0), (2.0, 14.0)]
QUICK_PRESETS = [(1.0, 6.0), (2.0, 10.0)]


def best_quality(im: Image.Image, cap: int, ceiling: int) -> tuple[int | None, dict[int, int], float]:
    """(highest quality in 1..ceiling whose JPEG fits `cap`, {quality: bytes} tried, seconds)."""
    t0 = time.perf_counter()
    sizes: dict[int, int] = {}

    def fits(q: int) -> bool:
        if q not in sizes:
            sizes[q] = len(jpeg_bytes(im, q))
        return sizes[q] <= cap

    if fits(ceiling):
        return ceiling, sizes, time.perf_counter() - t0
    if not fits(1):
        return None, sizes, time.perf_counter() - t0
    lo, hi = 1, ceiling  # lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo, sizes, time.perf_counter() - t0


def read_search(result: mediaprep.Prepared) -> tuple[int | None, int, str]:
    """(quality reached, JPEG encodes in the quality search, note) from prepare's actions."""
    quality, encodes, note = 90, 1, ""
    for action in result.actions:
        if action.op != "compress":
            continue
        if "quality" in action.params:
            quality, encodes = int(action.params["quality"]), int(action.params["encodes"])
        elif "width_px" in action.params:
            note = f"downscaled to {action.params['width_px']}x{action.params['height_px']}"
        else:
            note = action.reason[:60]
    if result.status != "ready":
        note = f"{result.status}: {', '.join(v.code for v in result.violations)}"
    return quality, encodes, note


class EncodeLog:
    """Wraps mediaprep's one encode function to record the (format, quality, bytes) of each call.
    Changes no behaviour; the wrapper costs a list append per encode."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self._real = pillow_ops.encode

    def __enter__(self) -> "EncodeLog":
        real = self._real

        def encode(im, fmt, **kwargs):  # type: ignore[no-untyped-def]
            data = real(im, fmt, **kwargs)
            self.calls.append((fmt, int(kwargs.get("quality", 90)), len(data)))
            return data

        pillow_ops.encode = encode  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        pillow_ops.encode = self._real  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 images (under 30 s)")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    presets = QUICK_PRESETS if args.quick else PRESETS
    target = mediaprep.Target(transport="base64")
    policy = mediaprep.Policy()
    ceiling = policy.jpeg_quality
    cap = RAW_JPEG_CAP_BYTES

    rows = []
    gaps: list[int] = []
    encodes_used: list[int] = []
    prepare_s: list[float] = []
    brute_s: list[float] = []
    brute_encodes: list[int] = []
    one_encode_s: list[float] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mediaprep-bench-") as tmp:
        t0 = time.perf_counter()
        for i, (detail, noise) in enumerate(presets):
            rng = np.random.default_rng(args.seed + i)
            im = photo_like(rng, WIDTH, HEIGHT, detail=detail, noise=noise, shapes=40)
            path = Path(tmp) / f"photo{i:02d}.tif"
            im.save(path, "TIFF")  # uncompressed, lossless: 72 MB
            del im
            log(f"  generated {path.name} (detail {detail}, noise {noise}) at {time.perf_counter() - t0:.0f} s")

            # mediaprep
            with EncodeLog() as enc_log:
                t1 = time.perf_counter()
                result = mediaprep.prepare(str(path), target=target, policy=policy)
                prepare_s.append(time.perf_counter() - t1)
            tried = ">".join(str(q) for f, q, _ in enc_log.calls if f == "JPEG")
            other = [f for f, _, _ in enc_log.calls if f != "JPEG"]
            quality, encodes, note = read_search(result)
            out = result.outputs[0] if result.outputs else None
            part = result.part or {}
            url_len = len(part.get("image_url", {}).get("url", "")) if part else 0

            # the reference, on the same RGB pixels mediaprep encoded
            with Image.open(path) as src:
                pixels = src.convert("RGB")
            t1 = time.perf_counter()
            jpeg_bytes(pixels, ceiling)
            one_encode_s.append(time.perf_counter() - t1)
            best, sizes, secs = best_quality(pixels, cap, ceiling)
            brute_s.append(secs)
            brute_encodes.append(len(sizes))
            same = "-"
            if out is not None and out.format == "JPEG" and quality is not None and not note:
                ours = sizes.get(quality) or len(jpeg_bytes(pixels, quality))
                same = "yes" if ours == out.size_bytes else f"no ({ours})"
            del pixels
            gap = (best - quality) if (best is not None and quality is not None and not note) else None
            if gap is not None:
                gaps.append(gap)
            encodes_used.append(encodes)
            if note:
                notes.append(f"{path.name}: {note}")
            if other:
                notes.append(f"{path.name}: also {len(other)} non-JPEG encodes ({', '.join(other)}) before the JPEG search")
            rows.append(
                (
                    path.name,
                    f"{detail}/{noise}",
                    f"{sizes[ceiling] / 1e6:.2f}",
                    encodes,
                    tried,
                    quality if not note else "-",
                    best if best is not None else "none",
                    gap if gap is not None else "-",
                    f"{out.size_bytes / 1e6:.2f}" if out else "-",
                    f"{url_len:,}" + (" ok" if 0 < url_len <= DATA_URL_CAP_BYTES else " OVER"),
                    same,
                    f"{prepare_s[-1]:.2f}",
                    f"{secs:.2f} ({len(sizes)})",
                )
            )
        gen_total = time.perf_counter() - t0

    over = sum(1 for r in rows if float(r[2]) * 1e6 > cap)
    mean_enc = statistics.mean(encodes_used)
    max_gap = max(gaps) if gaps else None
    searched = [e for e in encodes_used if e > 1]
    print("bench_compress: compress-to-cap, mediaprep.prepare(path, target=Target(transport='base64')) vs the best quality that fits")
    print(machine_line())
    print(f"{len(presets)} photo-like {WIDTH}x{HEIGHT} uncompressed TIFFs; cap: data URL <= {DATA_URL_CAP_BYTES:,} bytes = raw JPEG <= {cap:,} bytes; quality ceiling {ceiling}, floor {policy.jpeg_quality_floor}, max_encodes {policy.max_encodes}")
    print(f"{over} of {len(rows)} are over the cap at quality {ceiling}; one quality-{ceiling} encode takes {statistics.mean(one_encode_s):.2f} s on average; whole run {gen_total:.0f} s")
    print()
    print(table(("image", "detail/noise", "q90 MB", "encodes", "qualities tried", "quality", "best q", "gap", "out MB", "data URL bytes", "same bytes", "prepare s", "brute s (encodes)"), rows))
    print("(encodes: JPEG encodes in mediaprep's quality search, 1 = quality 90 fitted at once; best q: highest quality <= 90 that fits, by binary search;")
    print(" data URL bytes: length of the part's data URL, ok when <= the cap;")
    print(" gap = best q - quality; same bytes: mediaprep's output has the size our encode at its quality has; prepare s includes mediaprep's check, decode, encodes and base64)")
    for n in notes:
        print(f"note: {n}")
    print()
    print(f"mean encodes per image: {mean_enc:.2f} (goal <= {GOAL_ENCODES:g}); over the cap only: {statistics.mean(searched) if searched else 0:.2f} over {len(searched)} images")
    print(f"max gap: {max_gap if max_gap is not None else '-'} quality points (goal <= {GOAL_GAP}); mean gap {statistics.mean(gaps) if gaps else 0:.2f}")
    print(f"mean wall time per image: mediaprep prepare {statistics.mean(prepare_s):.2f} s; brute-force binary search {statistics.mean(brute_s):.2f} s ({statistics.mean(brute_encodes):.1f} encodes, pixels already decoded)")
    print()
    ok_enc = mean_enc <= GOAL_ENCODES
    ok_gap = max_gap is not None and max_gap <= GOAL_GAP
    print(
        f"SUMMARY: {mean_enc:.2f} encodes per image ({'meets' if ok_enc else 'misses'} <= {GOAL_ENCODES:g}), max gap {max_gap} points ({'meets' if ok_gap else 'misses'} <= {GOAL_GAP}); "
        f"prepare {statistics.mean(prepare_s):.2f} s vs brute force {statistics.mean(brute_s):.2f} s per image"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
