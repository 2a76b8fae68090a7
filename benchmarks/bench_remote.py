"""Remote probing: what it costs to probe and check URLs, against a plain full download.

    python benchmarks/bench_remote.py            # about 1 min
    python benchmarks/bench_remote.py --quick    # 60 URLs instead of 200

A real HTTP/1.1 server (tests/remote_server.py: Range support, keep-alive, byte and request counts)
runs in a separate process on 127.0.0.1, so its work does not share this interpreter's GIL. Media:
a ~20 MB JPEG (noise at quality 100), and a 200 MB H.264 MP4 with its moov atom first and last (a
real 3 s clip whose mdat is padded with zeros; the server holds it sparse).

1. Bytes and requests, counted by the server, for `mediaprep.probe(url)` and the default
   `mediaprep.check(url)`, against one plain GET of the whole body (`mediaprep.remote.download`);
   ratio = probe / full download, for bytes and for wall time.
2. Wall time of `mediaprep.check(url)` over N URLs (small JPEGs, distinct paths) with 50 ms of added
   latency per request: sequential (the CLI's behaviour: it has no concurrency option yet) against
   a thread pool of 8 calling the library.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mproc
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

import mediaprep as mp  # noqa: E402
from mediaprep import remote  # noqa: E402
from _media import machine_line  # noqa: E402

OPTIONS = mp.RemoteOptions(allow_private=True, deadline_s=120)  # the server is on loopback
LATENCY_S = 0.05
POOL = 8


def serve(queue: Any, latency_s: float, count: int) -> None:
    """Child process: build the media, serve them on two servers (plain and with latency), report ports."""
    from remote_server import BytesBody, MediaServer, Route, big_jpeg, padded_mp4, small_mp4

    from media import encoded, photo

    plain = MediaServer()
    plain.add("/photo.jpg", Route(body=BytesBody(big_jpeg(20_000_000)), content_type="image/jpeg"))
    plain.add("/moov-first.mp4", Route(body=padded_mp4(small_mp4(faststart=True), 200_000_000), content_type="video/mp4"))
    plain.add("/moov-last.mp4", Route(body=padded_mp4(small_mp4(faststart=False), 200_000_000), content_type="video/mp4"))
    slow = MediaServer(latency_s=latency_s)
    small = BytesBody(encoded(photo(640, 480), "JPEG"))
    for i in range(count):
        slow.add(f"/img/{i:04d}.jpg", Route(body=small, content_type="image/jpeg"))
    queue.put((plain.port, slow.port, small.size))
    while True:
        time.sleep(3600)


class Counter:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(trust_env=False)

    def reset(self) -> None:
        self.client.get(self.base + "/__reset")

    def stats(self) -> dict[str, int]:
        return json.loads(self.client.get(self.base + "/__stats").content)


def measure(counter: Counter, fn: Any) -> tuple[dict[str, int], float]:
    counter.reset()
    t0 = time.perf_counter()
    fn()
    took = time.perf_counter() - t0
    time.sleep(0.05)  # let the server's handler threads finish their bookkeeping
    return counter.stats(), took


def full_download(url: str) -> None:
    got = remote.download(mp.Source(label=url, kind="url", url=url), options=OPTIONS, cap_bytes=2 << 30)
    assert not isinstance(got, mp.Violation), got
    got.path.unlink()


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 URLs instead of 200")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    count = args.count or (60 if args.quick else 200)

    ctx = mproc.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=serve, args=(queue, LATENCY_S, count), daemon=True)
    child.start()
    try:
        plain_port, slow_port, small_size = queue.get(timeout=120)
        print(machine_line())
        print(f"server: separate process on 127.0.0.1; mediaprep {mp.__version__}; Range block {remote.BLOCK_BYTES // 1024} KiB, read-ahead ≤ {remote.MAX_READ_AHEAD_BLOCKS * remote.BLOCK_BYTES // (1 << 20)} MiB")
        counter = Counter(plain_port)
        rows = []
        for name, path in (("JPEG ~20 MB", "/photo.jpg"), ("MP4 200 MB, moov first", "/moov-first.mp4"), ("MP4 200 MB, moov last", "/moov-last.mp4")):
            url = f"http://127.0.0.1:{plain_port}{path}"
            mp.probe(url, remote=OPTIONS)  # warm: imports, codecs
            probe_stats, probe_s = min((measure(counter, lambda: mp.probe(url, remote=OPTIONS)) for _ in range(3)), key=lambda r: r[1])
            check_stats, check_s = min((measure(counter, lambda: mp.check(url, target=mp.Target(transport="url"), remote=OPTIONS)) for _ in range(3)), key=lambda r: r[1])
            full_stats, full_s = measure(counter, lambda: full_download(url))
            rows.append(
                [
                    name,
                    f"{full_stats['body_bytes']:,}",
                    f"{probe_stats['body_bytes']:,}",
                    str(probe_stats["requests"]),
                    f"{check_stats['body_bytes']:,}",
                    str(check_stats["requests"]),
                    f"{probe_stats['body_bytes'] / full_stats['body_bytes']:.5f}",
                    f"{probe_s * 1000:.1f}",
                    f"{full_s * 1000:.0f}",
                    f"{probe_s / full_s:.4f}",
                ]
            )
        print()
        print("1. probing a URL vs downloading it (bytes and requests counted by the server; times best of 3, full download once)")
        print(table(rows, ["file", "full bytes", "probe bytes", "req", "check bytes", "req", "bytes ratio", "probe ms", "full ms", "time ratio"]))

        urls = [f"http://127.0.0.1:{slow_port}/img/{i:04d}.jpg" for i in range(count)]
        slow = Counter(slow_port)
        target = mp.Target(transport="url")
        mp.check(urls[0], target=target, remote=OPTIONS)  # warm

        def sequential() -> None:
            for u in urls:
                assert mp.check(u, target=target, remote=OPTIONS).status == "ok"

        def pooled() -> None:
            with ThreadPoolExecutor(POOL) as pool:
                assert all(r.status == "ok" for r in pool.map(lambda u: mp.check(u, target=target, remote=OPTIONS), urls))

        seq_stats, seq_s = measure(slow, sequential)
        pool_stats, pool_s = measure(slow, pooled)
        print()
        print(f"2. check over {count} URLs (640×480 JPEG, {small_size:,} bytes each), {LATENCY_S * 1000:.0f} ms added per request by the server")
        rows2 = [
            ["sequential (CLI default: no concurrency)", f"{seq_s:.2f}", f"{seq_s / count * 1000:.1f}", str(seq_stats["requests"]), f"{seq_stats['body_bytes']:,}", "1.00"],
            [f"thread pool of {POOL} (library)", f"{pool_s:.2f}", f"{pool_s / count * 1000:.1f}", str(pool_stats["requests"]), f"{pool_stats['body_bytes']:,}", f"{pool_s / seq_s:.3f}"],
        ]
        print(table(rows2, ["mode", "wall s", "ms/URL", "requests", "bytes", "time ratio"]))
        print(f"speed-up with {POOL} threads: {seq_s / pool_s:.1f}×")
    finally:
        child.kill()
        child.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
