"""What the numbers of each task mean: the spec's reference levels, and task metrics computed from rewards.

The metrics are derived from the reward sequence alone, so they apply to any run of these tasks:
- maze: a hit is a step with positive reward (+10; wall bumps are never positive), so hits per episode, the
  fraction of episodes with at least one hit, and the step of the first hit (1-based, over episodes that hit);
- cue task: every non-zero reward is a scored Go step (+1 correct, -1 wrong), so the fraction of correct answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class ReferenceLevels:
    """Reward per episode of a uniform random policy and of the best known agent (SPEC.md sections 2-3)."""

    random: float
    best: Optional[float]
    best_name: str


REFERENCE_LEVELS = {
    "BackpropamineMaze-v0": ReferenceLevels(7.8, 324.0, "oracle"),
    "BackpropamineMaze-11x11-v0": ReferenceLevels(5.4, 270.0, "oracle"),
    "BackpropamineCueReward-v0": ReferenceLevels(0.0, 16.2, "ideal observer"),
    "BackpropamineCueReward-Easy-v0": ReferenceLevels(0.0, None, ""),
}


def task_family(env_id: str) -> str:
    """'maze', 'cue' or 'other'."""
    name = env_id.split(":")[-1]
    if name.startswith("BackpropamineMaze"):
        return "maze"
    if name.startswith("BackpropamineCueReward"):
        return "cue"
    return "other"


def task_metrics(env_id: str, rewards: torch.Tensor, valid: torch.Tensor) -> dict[str, float]:
    """Task metrics of a batch of episodes. rewards, valid: (T, B). Returns a flat dict of floats."""
    rewards = rewards * valid
    family = task_family(env_id)
    metrics: dict[str, float] = {}
    if family == "maze":
        hits = rewards > 0
        per_episode = hits.sum(0).float()
        any_hit = per_episode > 0
        metrics["hits_per_episode"] = per_episode.mean().item()
        metrics["fraction_with_hit"] = any_hit.float().mean().item()
        first = hits.float().argmax(0) + 1
        metrics["steps_to_first_hit"] = first[any_hit].float().mean().item() if any_hit.any() else float("nan")
    elif family == "cue":
        answered = (rewards != 0).sum().item()
        correct = (rewards > 0).sum().item()
        metrics["go_steps_per_episode"] = answered / rewards.shape[1]
        metrics["fraction_correct"] = correct / answered if answered else float("nan")
    return metrics
