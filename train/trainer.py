"""The training loop behind `backpropamine train`: A2C on whole episodes, logged, checkpointed, resumable.

Each iteration resets the vector env with seed `episode_seed(config.seed, iteration, B)` (sub-env i gets that
seed + i), so the training episodes depend only on the seed and the iteration number; together with the saved
parameters, optimiser state and action-sampling generator, a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Callable, Optional

import gymnasium as gym
import torch

import plastic_envs  # noqa: F401  (registers the Backpropamine envs)
from plastic_agents import ActorCritic, match_hidden_size
from plastic_agents.a2c import A2C, NonFiniteLossError
from plastic_agents.cells.native import prepare_kernels
from plastic_agents.cells.options import resolve_options
from plastic_agents.rollout import EpisodeBatch, check_vector_env, collect_episodes
from train.config import ConfigError, TrainConfig, check_device
from train.run_dir import (
    CONFIG_FILE, METRICS_FILE, TENSORBOARD_DIR, RunDirError, load_checkpoint, load_run_config, save_checkpoint,
)

METRIC_COLUMNS = [
    "iteration", "episodes", "wall_time", "episodes_per_s", "reward_mean", "reward_std",
    "loss", "policy_loss", "value_loss", "prob_sq", "entropy", "grad_norm", "lr",
    "trace_abs_mean", "trace_at_clip", "modulator_mean", "modulator_std",
]


class TrainingStopped(RuntimeError):
    """Training stopped early (non-finite loss); the message says why and which checkpoint is kept."""


def episode_seed(seed: int, iteration: int, batch_size: int) -> int:
    """The reset seed of the training episodes of `iteration`: distinct for every (iteration, sub-env)."""
    return seed * 1_000_000_000 + iteration * batch_size


def make_vector_env(env_id: str, num_envs: int, env_kwargs: Optional[dict] = None) -> gym.vector.VectorEnv:
    """`gym.make_vec(env_id, num_envs, **env_kwargs)` with clear errors for unknown ids and bad keywords."""
    try:
        return gym.make_vec(env_id, num_envs=num_envs, **(env_kwargs or {}))
    except gym.error.Error as err:
        raise ConfigError(f"cannot make environment {env_id!r}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"bad keyword or value for environment {env_id!r}: {err}") from None


def default_cell_options(kind: str) -> dict:
    """The options a cell kind accepts, with their defaults (ConfigError for an unknown kind)."""
    try:
        return resolve_options(kind, {})
    except ValueError as err:
        raise ConfigError(str(err)) from None


def cell_options(config: TrainConfig) -> dict:
    """The cell's keyword options: `cell_options` plus `eta_init` and `modulator_init` for the kinds that have a
    plasticity rate or a modulator."""
    options = dict(config.cell_options)
    accepted = default_cell_options(config.cell)
    for name in ("eta_init", "modulator_init"):
        if getattr(config, name) is not None and name in accepted:
            options.setdefault(name, getattr(config, name))
    return options


def build_policy(config: TrainConfig, obs_size: int, num_actions: int) -> ActorCritic:
    """The ActorCritic a config describes (hidden size matched to `match_params` when set)."""
    options = cell_options(config)
    hidden = config.hidden_size
    if config.match_params is not None:
        hidden = match_hidden_size(config.cell, config.match_params, obs_size, num_actions, **options)
    return ActorCritic(
        obs_size, num_actions, config.cell, hidden, implementation=config.implementation, **options
    ).to(config.device)


def batch_statistics(policy: ActorCritic, batch: EpisodeBatch) -> dict[str, float]:
    """Trace and modulator statistics of a batch: mean |H| and fraction at the clip at the episode end, M's mean/std."""
    stats: dict[str, float] = {}
    hebb = getattr(batch.final_state, "hebb", None)
    if hebb is not None:
        clip = float(getattr(policy.cell, "clip", 1.0))
        stats["trace_abs_mean"] = hebb.abs().mean().item()
        stats["trace_at_clip"] = (hebb.abs() >= clip * (1 - 1e-6)).float().mean().item()
    if policy.cell.is_modulated:
        with torch.no_grad():
            modulation = policy.cell.modulation(batch.hidden)[batch.valid]
        stats["modulator_mean"] = modulation.mean().item()
        stats["modulator_std"] = modulation.std().item() if modulation.numel() > 1 else 0.0
    return stats


class Trainer:
    """Owns one run folder: builds env, policy and optimiser, runs iterations, logs and checkpoints.

    Args:
        config: the run's configuration (ignored when resuming: the run folder's own is used).
        run_dir: the run folder.
        resume: continue the run in `run_dir` from its checkpoint.
        progress: show a progress bar.
    """

    def __init__(self, config: Optional[TrainConfig], run_dir: str | Path, *, resume: bool = False,
                 progress: bool = True):
        self.run_dir = Path(run_dir)
        self.progress = progress
        if resume:
            self.config = load_run_config(self.run_dir)
            checkpoint = load_checkpoint(self.run_dir)
        else:
            if (self.run_dir / CONFIG_FILE).exists():
                raise RunDirError(
                    f"{self.run_dir} already holds a run; use `--resume {self.run_dir}` or another --run-dir"
                )
            self.config = config
            checkpoint = None
        cfg = self.config
        check_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)

        self.env_kwargs = dict(cfg.env_kwargs)
        self.env = make_vector_env(cfg.env_id, cfg.batch_size, self.env_kwargs)
        try:
            obs_size, num_actions = check_vector_env(self.env)
        except ValueError as err:
            raise ConfigError(f"environment {cfg.env_id!r}: {err}") from None
        self._check_env_schedule(obs_size, num_actions)
        torch.manual_seed(cfg.seed)
        try:
            self.policy = build_policy(cfg, obs_size, num_actions)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"cannot build cell {cfg.cell!r}: {err}") from None
        self.algo = A2C(self.policy, cfg.a2c, cfg.iterations)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.iteration = 0
        self.episodes = 0
        self.train_seconds = 0.0
        self.window: list[dict] = []

        if checkpoint is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / CONFIG_FILE)
            self._truncate_metrics(0)
            self.save()
        else:
            self._restore(checkpoint)
            self._truncate_metrics(self.iteration)
        self.writer = None
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), purge_step=self.iteration + 1)

    # -- curriculum --------------------------------------------------------------------------------------------
    def _check_env_schedule(self, obs_size: int, num_actions: int) -> None:
        """Build the environment of every stage of env_schedule once: bad keywords or changed spaces are a
        ConfigError now, not in the middle of the run."""
        cfg = self.config
        for stage in cfg.env_schedule:
            kwargs = cfg.env_kwargs_at(stage["from_iteration"])
            env = make_vector_env(cfg.env_id, cfg.batch_size, kwargs)
            try:
                spaces = check_vector_env(env)
            except ValueError as err:
                raise ConfigError(f"env_schedule, stage from iteration {stage['from_iteration']}: {err}") from None
            finally:
                env.close()
            if spaces != (obs_size, num_actions):
                raise ConfigError(
                    f"env_schedule, stage from iteration {stage['from_iteration']} ({kwargs}): {spaces[0]} "
                    f"observations and {spaces[1]} actions, the run starts with {obs_size} and {num_actions}")

    def _enter_env_stage(self) -> None:
        """Rebuild the environment when the run has reached a new stage of env_schedule."""
        kwargs = self.config.env_kwargs_at(self.iteration)
        if kwargs != self.env_kwargs:
            self.env.close()
            self.env = make_vector_env(self.config.env_id, self.config.batch_size, kwargs)
            self.env_kwargs = kwargs

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _payload(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.algo.optimizer.state_dict(),
            "iteration": self.iteration,
            "episodes": self.episodes,
            "train_seconds": self.train_seconds,
            "generator": self.generator.get_state(),
            "window": list(self.window),
            "config": self.config.to_dict(),
            "obs_size": self.policy.obs_size,
            "num_actions": self.policy.num_actions,
            "hidden_size": self.policy.cell.hidden_size,
        }

    def extend(self, iterations: int) -> None:
        """Set the run's total number of iterations (to continue a finished or shorter run further)."""
        if iterations < self.iteration:
            raise ConfigError(f"iterations={iterations} is below the {self.iteration} this run has already done")
        self.config.iterations = iterations
        self.algo.total_iterations = iterations
        self.config.save(self.run_dir / CONFIG_FILE)

    def save(self) -> None:
        save_checkpoint(self.run_dir, self._payload())

    def _restore(self, checkpoint: dict) -> None:
        try:
            self.policy.load_state_dict(checkpoint["policy"])
            self.algo.optimizer.load_state_dict(checkpoint["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise RunDirError(f"{self.run_dir}: the checkpoint does not fit its config.yaml: {err}") from None
        self.generator.set_state(checkpoint["generator"])
        self.iteration = int(checkpoint["iteration"])
        self.episodes = int(checkpoint.get("episodes", 0))
        self.train_seconds = float(checkpoint.get("train_seconds", 0.0))
        self.window = list(checkpoint.get("window", []))

    # -- metrics -----------------------------------------------------------------------------------------------
    def _truncate_metrics(self, up_to: int) -> None:
        """Keep only the metric rows of iterations <= up_to (so a resumed run continues the same curve)."""
        path = self.run_dir / METRICS_FILE
        rows = []
        if path.exists() and up_to > 0:
            with path.open(newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if r.get("iteration", "").isdigit()
                        and int(r["iteration"]) <= up_to]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, METRIC_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def _log(self, row: dict) -> None:
        with (self.run_dir / METRICS_FILE).open("a", newline="") as handle:
            csv.DictWriter(handle, METRIC_COLUMNS, extrasaction="ignore").writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "iteration" and isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(f"train/{key}", value, row["iteration"])
            self.writer.flush()

    # -- the loop ----------------------------------------------------------------------------------------------
    def train_iteration(self) -> dict:
        """Collect one batch of episodes and take one A2C step. Returns the iteration's statistics."""
        cfg = self.config
        self._enter_env_stage()
        batch = collect_episodes(
            self.env, self.policy, generator=self.generator,
            seed=episode_seed(cfg.seed, self.iteration, cfg.batch_size),
            max_steps=cfg.max_steps, bootstrap_truncated=cfg.a2c.bootstrap_truncated,
            keep_graph=cfg.implementation == "reference",
        )
        stats = self.algo.update(batch, self.iteration)
        returns = batch.episode_returns
        stats["reward_mean"] = returns.mean().item()
        stats["reward_sq"] = (returns ** 2).mean().item()
        if (self.iteration + 1) % cfg.log_every == 0:
            stats.update(batch_statistics(self.policy, batch))
        return stats

    def _window_row(self, elapsed: float, episodes_done: int) -> dict:
        keys = ["loss", "policy_loss", "value_loss", "prob_sq", "entropy", "grad_norm", "lr", "reward_mean"]
        row = {k: sum(s[k] for s in self.window) / len(self.window) for k in keys}
        mean_sq = sum(s["reward_sq"] for s in self.window) / len(self.window)
        row["reward_std"] = math.sqrt(max(0.0, mean_sq - row["reward_mean"] ** 2))
        row.update({k: v for k, v in self.window[-1].items() if k.startswith(("trace_", "modulator_"))})
        row.update(iteration=self.iteration, episodes=self.episodes, wall_time=round(self.train_seconds, 3),
                   episodes_per_s=round(episodes_done / max(elapsed, 1e-9), 2))
        return row

    def run(self, on_log: Optional[Callable[[dict], None]] = None) -> dict:
        """Train until `iterations`; returns the last metrics row. Ctrl-C saves a checkpoint, then re-raises.

        on_log: called with every metrics row after it is written (e.g. to report it to Ray Tune).
        """
        cfg = self.config
        prepare_kernels(self.policy.cell)  # a first-use compile happens here, not inside the bar's first iteration
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.iterations, initial=self.iteration, unit="it", dynamic_ncols=True)
        start, start_episodes = time.perf_counter(), self.episodes
        last_row: dict = {}
        try:
            while self.iteration < cfg.iterations:
                iteration_start = time.perf_counter()
                try:
                    stats = self.train_iteration()
                except NonFiniteLossError as err:
                    raise TrainingStopped(
                        f"{err}; training stopped. The last good checkpoint (iteration "
                        f"{self._checkpoint_iteration()}) is kept in {self.run_dir}"
                    ) from None
                self.iteration += 1
                self.episodes += cfg.batch_size
                self.train_seconds += time.perf_counter() - iteration_start
                self.window.append(stats)
                if self.iteration % cfg.log_every == 0:
                    elapsed = time.perf_counter() - start
                    last_row = self._window_row(elapsed, self.episodes - start_episodes)
                    self._log(last_row)
                    if on_log is not None:
                        on_log(last_row)
                    self.window = []
                    if bar is not None:
                        bar.set_postfix(reward=f"{last_row['reward_mean']:.2f}",
                                        eps_s=f"{last_row['episodes_per_s']:.0f}")
                if self.iteration % cfg.checkpoint_every == 0:
                    self.save()
                if bar is not None:
                    bar.update(1)
            self.save()
        except KeyboardInterrupt:
            self.save()
            raise
        finally:
            if bar is not None:
                bar.close()
            if self.writer is not None:
                self.writer.close()
            self.env.close()
        return last_row

    def _checkpoint_iteration(self) -> int:
        try:
            return int(load_checkpoint(self.run_dir)["iteration"])
        except RunDirError:
            return 0


def load_policy(run_dir: str | Path, device: str = "cpu") -> tuple[ActorCritic, TrainConfig, dict]:
    """The trained policy of a run folder (from its latest checkpoint) on `device`, its config and the checkpoint."""
    check_device(device)
    config = load_run_config(Path(run_dir))
    checkpoint = load_checkpoint(Path(run_dir))
    options = cell_options(config)
    try:
        policy = ActorCritic(
            int(checkpoint["obs_size"]), int(checkpoint["num_actions"]), config.cell,
            int(checkpoint["hidden_size"]), implementation=config.implementation, **options,
        )
        policy.load_state_dict(checkpoint["policy"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise RunDirError(f"{run_dir}: the checkpoint does not fit its config.yaml: {err}") from None
    policy.eval()
    return policy.to(device), config, checkpoint
