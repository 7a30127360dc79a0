"""Counter-based random numbers: every random draw of an episode after its reset is a pure function of
(episode key, counter), so a batch of episodes can draw in one vectorised NumPy expression.

Each episode draws one 64-bit key from its own ``numpy.random.Generator`` when it is reset (the single
env's ``self.np_random``; one Generator per sub-env in the vector env). Later draws hash ``(key, counter)``
with the SplitMix64 finaliser; each caller documents which counters it uses, so no two draws of one
episode share a counter.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)

#: Largest ``n`` that :func:`uniform_int` accepts (it keeps 32 random bits).
MAX_UNIFORM_N = 2**32


def draw_key(generator: np.random.Generator) -> np.uint64:
    """One episode key: a uniform 64-bit integer from ``generator`` (advances it by one draw)."""
    return generator.integers(0, 2**64, dtype=np.uint64, endpoint=False)


def hash64(keys: np.ndarray, counters: np.ndarray | int) -> np.ndarray:
    """SplitMix64 hash of ``keys + (counters + 1) * golden`` (all arithmetic modulo 2**64).

    keys: uint64 array of any shape; counters: int array broadcastable to it (non-negative), or an int.
    Returns a uint64 array of the broadcast shape (at least 1-d, so the wrapping arithmetic stays in
    arrays, where NumPy wraps silently) whose values behave as independent uniform 64-bit words
    for distinct (key, counter) pairs.
    """
    c = np.atleast_1d(np.asarray(counters, dtype=np.uint64)) + np.uint64(1)
    z = np.atleast_1d(np.asarray(keys, dtype=np.uint64)) + c * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def uniform_int(words: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Map uint64 hash words to integers uniform in [0, n) (int64 array of the broadcast shape, at least 1-d).

    Uses the top 32 bits and Lemire's multiply-shift: floor(hi32 * n / 2**32). ``n`` must be in
    [1, 2**32]; the bias is at most n / 2**32 (below 1e-8 for every n used by this package's defaults).
    """
    hi = np.atleast_1d(np.asarray(words, dtype=np.uint64)) >> _S32
    return ((hi * np.atleast_1d(np.asarray(n, dtype=np.uint64))) >> _S32).astype(np.int64)
