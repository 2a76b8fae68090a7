"""The quality search for compress-to-cap, as pure arithmetic over (quality, bytes) samples.

JPEG size grows roughly exponentially with quality over the useful range, so log(bytes) is close to
linear in quality: from one sample the next quality is predicted with a typical slope, from two it is
interpolated. The search keeps a bracket (best quality that fits, lowest that does not) and stops
when the bracket is narrow or the encode budget is spent.
"""

from __future__ import annotations

import math

# d ln(bytes) / d quality for libjpeg at 4:2:0 between q50 and q95 (measured on photos: 0.02–0.05).
TYPICAL_SLOPE = 0.035
# A fitting encode this close under the cap is kept: one quality point more costs 1.5–5 % more bytes,
# so the next point up would most likely not fit (benchmarks/bench_compress.py: gap ≤ 1 point).
CLOSE_ENOUGH = 0.03


def next_quality(samples: list[tuple[int, int]], cap_bytes: int, *, floor: int, ceiling: int) -> int | None:
    """The next quality to try, or None when the best fitting sample is close enough (within 3 % of
    the cap, or within 2 points of the smallest quality known not to fit) or nothing better can be tried."""
    fits = [q for q, n in samples if n <= cap_bytes]
    over = [q for q, n in samples if n > cap_bytes]
    lo = max(fits) if fits else None  # best known fitting quality
    hi = min(over) if over else None  # lowest known failing quality
    if lo is not None and (hi is None or hi - lo <= 2):
        return None
    if lo is not None and dict(samples)[lo] >= cap_bytes * (1 - CLOSE_ENOUGH):
        return None
    if hi is not None and hi <= floor:
        return None
    # interpolate in log space between the two samples nearest the cap
    ordered = sorted(samples)
    target = math.log(cap_bytes * 0.985)  # aim a hair under the cap
    guess: float
    below = [(q, n) for q, n in ordered if n <= cap_bytes]
    above = [(q, n) for q, n in ordered if n > cap_bytes]
    if below and above:
        (q0, n0), (q1, n1) = below[-1], above[0]
        slope = (math.log(n1) - math.log(n0)) / max(1, q1 - q0)
        guess = q0 + (target - math.log(n0)) / max(slope, 1e-4)
    else:
        q0, n0 = (above[0] if above else below[-1])
        slope = TYPICAL_SLOPE
        if len(ordered) >= 2:
            (qa, na), (qb, nb) = ordered[0], ordered[-1]
            if qb != qa and nb != na:
                slope = max(1e-3, (math.log(nb) - math.log(na)) / (qb - qa))
        guess = q0 + (target - math.log(n0)) / slope
    q = int(round(guess))
    lower = (lo + 1) if lo is not None else floor
    upper = (hi - 1) if hi is not None else ceiling
    q = max(lower, min(upper, q, ceiling))
    q = max(q, floor)
    tried = {qq for qq, _ in samples}
    if q in tried:
        return None
    return q
