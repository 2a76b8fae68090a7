"""Progress on a terminal (stderr) and the end-of-run summary table. Never touches stdout."""

from __future__ import annotations

import time
from collections import Counter
from typing import TextIO


class Progress:
    """`done/total, rate, ETA, counts by status` on one line, redrawn at most 10 times a second,
    only when `stream` is a terminal."""

    def __init__(self, stream: TextIO, total: int, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.total = total
        self.enabled = stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.done = 0
        self.counts: Counter[str] = Counter()
        self._last = 0.0

    def update(self, status: str) -> None:
        self.done += 1
        self.counts[status] += 1
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            elapsed = max(now - self.start, 1e-6)
            rate = self.done / elapsed
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            by = " ".join(f"{k} {n}" for k, n in sorted(self.counts.items()))
            self.stream.write(f"\r{self.done}/{self.total}  {rate:.1f}/s  ETA {eta:.0f} s  {by}\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()


def summary(stream: TextIO, counts: Counter[str], codes: Counter[str], *, elapsed_s: float | None = None) -> None:
    """A table of counts by status and by violation code."""
    total = sum(counts.values())
    timing = f" in {elapsed_s:.1f} s" if elapsed_s is not None else ""
    stream.write(f"{total} input{'s' if total != 1 else ''}{timing}\n")
    width = max([len(k) for k in counts] + [len(k) for k in codes] + [6])
    stream.write(f"  {'status':<{width}}  count\n")
    for status, n in sorted(counts.items()):
        stream.write(f"  {status:<{width}}  {n:>5}\n")
    if codes:
        stream.write(f"  {'code':<{width}}  count\n")
        for code, n in codes.most_common():
            stream.write(f"  {code:<{width}}  {n:>5}\n")
    stream.flush()
