"""What the numbers of each task mean: task metrics computed from rewards (the spec's reference levels live in
plastic_envs: ``plastic_envs.reference_levels(env_id)``).

The metrics are derived from the reward sequence alone, so they apply to any run of these tasks:
- maze: a hit is a step with positive reward (+10; wall bumps are never positive), so hits per episode, the
  fraction of episodes with at least one hit, and the step of the first hit (1-based, over episodes that hit);
- cue task: every non-zero reward is a scored Go step (+1 correct, -1 wrong), so the fraction of correct answers.
"""

from __future__ import annotations

import torch

from plastic_envs import ENV_IDS, ReferenceLevels, reference_levels, task_family

#: The spec's reference levels of every registered id (read from plastic_envs, where they live).
REFERENCE_LEVELS: dict[str, ReferenceLevels] = {env_id: reference_levels(env_id) for env_id in ENV_IDS}

__all__ = ["REFERENCE_LEVELS", "ReferenceLevels", "task_family", "task_metrics"]


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
