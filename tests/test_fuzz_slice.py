"""A fixed-seed slice of the fuzz campaign (`benchmarks/fuzz.py`) that CI runs on every change.

300 mutants of `samples/media` only (the corpus is optional, and input i depends on the seed set), each
in its own process through probe, check, check(fast=True), prepare (its outputs re-checked) and, for
videos, a few extracted frames, with the campaign's default limits (20 s a stage, RLIMIT_AS 1 GiB).
Every count must be zero. A failure prints the summary: each signature with the input that shows it
and the command that rebuilds it (`python benchmarks/fuzz.py --seed 20260612 --only I --no-corpus
--keep DIR`). About 10 s on 2 idle cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import fuzz  # noqa: E402

SEED = 20260612
COUNT = 300


@pytest.mark.slow
def test_fuzz_slice_finds_nothing(tmp_path: Path) -> None:
    summary = fuzz.run_campaign(
        count=COUNT,
        seed=SEED,
        jobs=min(2, os.cpu_count() or 1),
        timeout=20.0,
        mem_mb=1024,
        include_corpus=False,
        keep=str(tmp_path / "kept"),
    )
    report = fuzz.format_summary(summary, top=20)
    assert summary.count == COUNT, report
    # the mutants reach the code: check sees images and videos, and not every input is rejected
    assert any(k.startswith("video") for k in summary.verdicts), report
    assert sum(n for k, n in summary.verdicts.items() if k.endswith((" ok", " fixable"))) >= COUNT // 10, report
    counts = {c: summary.counts[c] for c in fuzz.CATEGORIES}
    assert counts == {
        "uncaught": 0,
        "crash": 0,
        "hang": 0,
        "memory": 0,
        "disagreement": 0,
        "bad_output": 0,
    }, report
