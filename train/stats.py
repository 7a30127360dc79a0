"""The two-sided Mann-Whitney rank-sum test, as the paper's figures use it to compare two cells over seeds.

Exact for the sample sizes of a seed comparison: the p-value counts, over every way of splitting the pooled values
into groups of the two sizes, the splits whose U is at least as far from its mean as the observed one (ties get
their mid-ranks, and the count is over the mid-ranks as they are, so ties need no correction). Larger samples use
the normal approximation with the tie correction.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

#: Above this many splits, the normal approximation replaces the enumeration.
MAX_EXACT_SPLITS = 2_000_000


class RankSumResult(NamedTuple):
    u: float            # U of the first sample: pairs (x, y) with x > y, ties counted one half
    p_value: float      # two-sided
    exact: bool         # True when counted over every split


def mid_ranks(values: list[float]) -> list[float]:
    """Ranks 1..n of `values` in their order, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def mann_whitney(x: list[float], y: list[float]) -> RankSumResult:
    """Two-sided Mann-Whitney U test of `x` against `y` (each at least one finite value)."""
    x, y = [float(v) for v in x], [float(v) for v in y]
    if not x or not y:
        raise ValueError("mann_whitney needs at least one value in each sample")
    if not all(math.isfinite(v) for v in x + y):
        raise ValueError("mann_whitney needs finite values")
    n, m = len(x), len(y)
    ranks = mid_ranks(x + y)
    offset = n * (n + 1) / 2
    u = sum(ranks[:n]) - offset
    mean = n * m / 2
    distance = abs(u - mean)
    if math.comb(n + m, n) <= MAX_EXACT_SPLITS:
        # (a small tolerance: mid-ranks are halves, sums of them exact in binary, but keep float noise out)
        extreme = total = 0
        for chosen in itertools.combinations(ranks, n):
            total += 1
            if abs(sum(chosen) - offset - mean) >= distance - 1e-9:
                extreme += 1
        return RankSumResult(u, extreme / total, True)
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    ties = sum(c ** 3 - c for c in counts.values())
    variance = n * m / 12 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if variance <= 0:
        return RankSumResult(u, 1.0, False)
    z = distance / math.sqrt(variance)
    return RankSumResult(u, min(1.0, math.erfc(z / math.sqrt(2))), False)
