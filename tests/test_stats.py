"""The rank-sum test of train/stats.py: U by pair counting, exact p-values by brute force over the labellings,
known exact values, and the normal approximation against the exact count."""

import itertools
import math

import pytest

from train import stats


def pair_count_u(x, y):
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def brute_force_p(x, y):
    """Two-sided p over every labelling of the pooled values (permutations, so each split counts alike)."""
    pooled, n = list(x) + list(y), len(x)
    mean = len(x) * len(y) / 2
    observed = abs(pair_count_u(x, y) - mean)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), n):
        a = [pooled[i] for i in chosen]
        b = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += abs(pair_count_u(a, b) - mean) >= observed - 1e-9
    return hits / total


@pytest.mark.parametrize("x,y", [
    ([1, 2, 3], [4, 5, 6]),
    ([3.5, 1.0, 2.2, 9.0], [0.5, 2.2, 2.2, 7.0, 8.0]),      # ties across the samples
    ([1, 1, 2], [1, 2, 2]),
    ([5, 5, 5], [5, 5]),                                      # all tied
    ([10.1, 12.0, 9.9, 14.4, 13.0, 12.5], [7.0, 12.0, 6.5, 11.0, 9.9, 8.0]),
])
def test_u_and_exact_p_equal_the_pair_count_and_the_brute_force(x, y):
    result = stats.mann_whitney(x, y)
    assert result.exact
    assert result.u == pair_count_u(x, y)
    assert result.p_value == pytest.approx(brute_force_p(x, y), abs=1e-12)


def test_known_exact_values():
    assert stats.mann_whitney([1, 2, 3], [4, 5, 6]).p_value == pytest.approx(2 / 20)
    six = stats.mann_whitney(list(range(7, 13)), list(range(1, 7)))
    assert six.u == 36 and six.p_value == pytest.approx(2 / math.comb(12, 6))
    assert stats.mann_whitney([1, 2, 3], [1, 2, 3]).p_value == 1.0


def test_normal_approximation_for_large_samples_and_against_the_exact_count(monkeypatch):
    big = stats.mann_whitney([float(v) for v in range(20, 35)], [float(v) for v in range(15)])
    assert not big.exact and big.u == 225 and 1e-7 < big.p_value < 1e-5
    x, y = [3, 8, 1, 9, 12, 4, 7, 7], [2, 5, 5, 0, 6, 1, 3, 2]
    exact = stats.mann_whitney(x, y)
    monkeypatch.setattr(stats, "MAX_EXACT_SPLITS", 0)
    approx = stats.mann_whitney(x, y)
    assert exact.exact and not approx.exact and approx.u == exact.u
    assert approx.p_value == pytest.approx(exact.p_value, abs=0.02)


@pytest.mark.parametrize("x,y", [([], [1.0]), ([1.0], [float("nan")]), ([float("inf")], [1.0])])
def test_bad_samples_are_refused(x, y):
    with pytest.raises(ValueError):
        stats.mann_whitney(x, y)
