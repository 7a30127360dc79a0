"""The cue task's inference is second order: a counting rule reads the answer, no single input predicts it.

Acting at random on the easy cue task (2,000 episodes), at every Go step: the counting rule (per cue, the sum over
past trials of the outcome times +1 if the cue was in that trial's pair and -1 if not, where the outcome is the
previous reward signed by the previous action, i.e. +1 when the target was in the pair; answer "present" when the
two shown cues' sums add up above 0) and the correlation of the right answer with single inputs, with the last
trial's outcome, and with that outcome times the overlap of the last and the current pair (+1 same pair, -1
disjoint, 0 one cue shared).

    python docs/results/cue-diagnostics/counting_heuristic.py [ENV_ID]
"""
import sys

import gymnasium as gym
import numpy as np

import plastic_envs  # noqa: F401  (registers the ids)

env_id = sys.argv[1] if len(sys.argv) > 1 else "BackpropamineCueReward-Easy-v0"
B = 2000
env = gym.make_vec(env_id, num_envs=B, vectorization_mode="vector_entry_point")
core = env.unwrapped.core
rng = np.random.default_rng(0)
env.reset(seed=0)
K, rows = core.num_cues, np.arange(B)
score = np.zeros((B, K))
last_outcome = np.zeros(B)  # outcome of the last answered trial (0 before the first)
last_pair = np.full((B, 2), -1)
right = answered = 0
columns = []
for t in range(120):
    go = core.k == core.length - 2
    label = (core.cue1 == core.target) | (core.cue2 == core.target)
    action = rng.integers(0, 2, B)
    if go.any():
        total = score[rows, core.cue1] + score[rows, core.cue2]
        guess = np.where(total == 0, rng.integers(0, 2, B), total > 0)
        right += (guess == label)[go].sum()
        answered += go.sum()
        shared = ((core.cue1[:, None] == last_pair) | (core.cue2[:, None] == last_pair)).sum(1)
        overlap = np.select([shared == 2, shared == 0], [1.0, -1.0], 0.0)  # same pair +1, disjoint -1
        columns.append(np.stack([label, action, core.cue1, core.cue2, core.t, last_outcome,
                                 last_outcome * overlap], 1)[go])
        outcome = np.where(action == label, 1.0, -1.0) * np.where(action == 1, 1.0, -1.0)
        in_pair = np.zeros((B, K))
        in_pair[rows, core.cue1] = in_pair[rows, core.cue2] = 1
        score += go[:, None] * outcome[:, None] * (2 * in_pair - 1)
        last_outcome = np.where(go, outcome, last_outcome)
        last_pair = np.where(go[:, None], np.stack([core.cue1, core.cue2], 1), last_pair)
    env.step(action)
f = np.concatenate(columns).astype(float)
print(f"{env_id}: counting rule right at {right / answered:.3f} of {answered} Go steps")
for name, col in (("the action", 1), ("the first cue's index", 2), ("the second cue's index", 3), ("t", 4),
                  ("the last outcome", 5), ("the last outcome x the pairs' overlap (a product)", 6)):
    print(f"correlation of the right answer with {name}: {np.corrcoef(f[:, 0], f[:, col])[0, 1]:+.4f}")
