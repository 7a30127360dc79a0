"""`backpropamine evaluate RUN`: the trained agent's reward over held-out episodes, with task metrics.

Evaluation episodes are seeded from EVAL_SEED_BASE upwards, a range training never uses (training seeds are
seed * 1e9 + iteration * B), so the numbers are on held-out episodes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import torch

from plastic_agents.rollout import check_vector_env, collect_episodes
from train.config import ConfigError
from train.tasks import task_metrics
from train.trainer import load_policy, make_vector_env

EVAL_SEED_BASE = 10**15


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int = 100,
    batch_size: Optional[int] = None,
    env_id: Optional[str] = None,
    seed: int = 0,
    deterministic: bool = False,
    device: str = "cpu",
) -> dict:
    """Run `episodes` held-out episodes with the run's latest checkpoint.

    Args:
        run_dir: the run folder.
        episodes: number of episodes (rounded up to whole batches).
        batch_size: parallel episodes (default: the run's batch size).
        env_id: evaluate on another env with the same spaces (e.g. the 11 x 11 maze); default: the run's, with
            the env keywords of the checkpoint's stage of env_schedule.
        seed: evaluation seed (episodes are seeded from EVAL_SEED_BASE + seed * 1e6).
        deterministic: take the most probable action instead of sampling.

    Returns a dict with env_id, episodes, reward_mean, reward_std, reward_median, the task metrics, iteration.
    """
    if episodes <= 0:
        raise ConfigError(f"episodes must be positive, got {episodes}")
    policy, config, checkpoint = load_policy(run_dir, device)
    env_id = env_id or config.env_id
    env_kwargs = config.env_kwargs_at(int(checkpoint["iteration"])) if env_id == config.env_id else {}
    batch_size = batch_size or config.batch_size
    env = make_vector_env(env_id, batch_size, env_kwargs)
    obs_size, num_actions = check_vector_env(env)
    if (obs_size, num_actions) != (policy.obs_size, policy.num_actions):
        env.close()
        raise ConfigError(
            f"{env_id} has {obs_size} observations and {num_actions} actions, the agent was trained on "
            f"{policy.obs_size} and {policy.num_actions}"
        )
    generator = torch.Generator().manual_seed(seed)
    returns, metric_sums, batches = [], {}, math.ceil(episodes / batch_size)
    for k in range(batches):
        batch = collect_episodes(
            env, policy, generator=generator, seed=EVAL_SEED_BASE + seed * 1_000_000 + k * batch_size,
            max_steps=config.max_steps, deterministic=deterministic,
        )
        returns.append(batch.episode_returns.cpu())
        for key, value in task_metrics(env_id, batch.rewards.cpu(), batch.valid.cpu()).items():
            metric_sums.setdefault(key, []).append(value)
    env.close()
    rewards = torch.cat(returns)
    result = {
        "env_id": env_id,
        "episodes": int(rewards.numel()),
        "reward_mean": rewards.mean().item(),
        "reward_std": rewards.std().item() if rewards.numel() > 1 else 0.0,
        "reward_median": rewards.median().item(),
        "iteration": int(checkpoint["iteration"]),
        "deterministic": deterministic,
    }
    for key, values in metric_sums.items():
        finite = [v for v in values if math.isfinite(v)]
        result[key] = sum(finite) / len(finite) if finite else float("nan")
    return result
