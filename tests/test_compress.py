"""The quality search as pure arithmetic over a synthetic size curve."""

from __future__ import annotations

import math

import pytest

from mediaprep.compress import next_quality


def run(size_of, cap: int, start: int = 90, floor: int = 60, budget: int = 6) -> tuple[int | None, int]:
    samples: list[tuple[int, int]] = []
    q: int | None = start
    while q is not None and len(samples) < budget:
        samples.append((q, size_of(q)))
        if len(samples) == 1 and samples[0][1] <= cap:
            break
        q = next_quality(samples, cap, floor=floor, ceiling=start)
    fitting = [qq for qq, n in samples if n <= cap]
    return (max(fitting) if fitting else None), len(samples)


@pytest.mark.parametrize("slope", [0.015, 0.025, 0.035, 0.05])
@pytest.mark.parametrize("over", [1.05, 1.3, 1.8, 2.5])
def test_search_is_bounded_and_close_to_the_best(slope: float, over: float) -> None:
    cap = 1_000_000

    def size_of(q: int) -> int:
        return int(cap * over * math.exp(slope * (q - 90)))

    best = max(q for q in range(1, 91) if size_of(q) <= cap)
    found, encodes = run(size_of, cap)
    if best < 60:
        assert found is None or found >= 60
        return
    assert found is not None and best - found <= 5, (found, best)
    assert encodes <= 5


def test_first_encode_that_fits_is_kept() -> None:
    assert run(lambda q: 10, 100) == (90, 1)


def test_never_below_the_floor() -> None:
    found, _ = run(lambda q: 10_000_000, 100)
    assert found is None
