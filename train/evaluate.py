"""`backpropamine evaluate RUN`: the trained agent's reward over held-out episodes, with task metrics.

Evaluation episodes are seeded from EVAL_SEED_BASE = 1e15 upwards. Training episodes are seeded
seed * 1e9 + iteration * B + i with seed < 1e6 and iterations * B <= 1e9 (train.config.INT_LIMITS, MAX_EPISODES),
so every training seed is below 1e15 and no evaluation episode is ever a training episode, for any training seed
and batch size.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from plastic_agents.rollout import check_vector_env, collect_episodes
from train.config import INT_LIMITS, ConfigError
from train.tasks import task_metrics
from train.trainer import load_policy, make_vector_env

EVAL_SEED_BASE = 10**15
#: At most this many episodes per evaluation, and evaluation seeds up to MAX_EVAL_SEED: evaluation seed s uses
#: EVAL_SEED_BASE + s * MAX_EVAL_EPISODES + k, k < episodes, so two evaluation seeds never share an episode.
MAX_EVAL_EPISODES = 1_000_000
MAX_EVAL_SEED = 10**9


def evaluation_seed(seed: int, first_episode: int) -> int:
    """The reset seed of the batch of evaluation `seed` that starts at episode `first_episode` (sub-env i of the
    batch gets this + i)."""
    return EVAL_SEED_BASE + seed * MAX_EVAL_EPISODES + first_episode


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int = 100,
    batch_size: int | None = None,
    env_id: str | None = None,
    seed: int = 0,
    deterministic: bool = False,
    device: str = "cpu",
    trusted_modules: tuple[str, ...] = (),
) -> dict:
    """Run `episodes` held-out episodes with the run's latest checkpoint.

    Args:
        run_dir: the run folder.
        episodes: number of episodes (rounded up to whole batches).
        batch_size: parallel episodes (default: the run's batch size).
        env_id: evaluate on another env with the same spaces (e.g. the 11 x 11 maze); default: the run's, with
            the env keywords of the checkpoint's stage of env_schedule.
        seed: evaluation seed (see evaluation_seed).
        deterministic: take the most probable action instead of sampling.

    Returns a dict with env_id, episodes, reward_mean, reward_std, reward_median, the task metrics, iteration.
    """
    if not 0 < episodes <= MAX_EVAL_EPISODES:
        raise ConfigError(f"episodes must be between 1 and {MAX_EVAL_EPISODES:,}, got {episodes:,}")
    if not 0 <= seed <= MAX_EVAL_SEED:
        raise ConfigError(f"seed must be between 0 and {MAX_EVAL_SEED:,}, got {seed:,}")
    if batch_size is not None and not 0 < batch_size <= INT_LIMITS["batch_size"][1]:
        raise ConfigError(f"batch_size must be between 1 and {INT_LIMITS['batch_size'][1]:,}, got {batch_size:,}")
    policy, config, checkpoint = load_policy(run_dir, device, trusted_modules)
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
            env, policy, generator=generator, seed=evaluation_seed(seed, k * batch_size),
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
