"""The training loop behind `backpropamine train`: A2C on whole episodes, logged, checkpointed, resumable.

Each iteration resets the vector env with seed `episode_seed(config.seed, iteration, B)` (sub-env i gets that
seed + i), so the training episodes depend only on the seed and the iteration number; together with the saved
parameters, optimiser state and action-sampling generator, a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import torch

import plastic_envs  # noqa: F401  (registers the Backpropamine envs)
from plastic_agents import ActorCritic, match_hidden_size
from plastic_agents.a2c import A2C, NonFiniteLossError
from plastic_agents.cells.native import prepare_kernels
from plastic_agents.ppo import PPO
from plastic_agents.rollout import EpisodeBatch, check_vector_env, collect_episodes
from train.config import ConfigError, TrainConfig, check_device, config_from_dict
from train.run_dir import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    LOCK_FILE,
    METRICS_FILE,
    TENSORBOARD_DIR,
    RunDirError,
    RunLock,
    append_metrics_row,
    check_env_id,
    checkpoint_iteration,
    load_checkpoint,
    load_run_config,
    read_metric_rows,
    remove_temporary_files,
    rewrite_metrics,
    run_files,
    save_checkpoint,
    save_run_config,
)

METRIC_COLUMNS = [
    "iteration", "episodes", "wall_time", "episodes_per_s", "reward_mean", "reward_std",
    "loss", "policy_loss", "value_loss", "prob_sq", "entropy", "grad_norm", "lr",
    "trace_abs_mean", "trace_at_clip", "modulator_mean", "modulator_std",
    "approx_kl", "clip_fraction", "explained_variance",
]
#: The per-iteration statistics a metrics row averages over its window (those an algorithm reports).
WINDOW_MEANS = ["loss", "policy_loss", "value_loss", "prob_sq", "entropy", "grad_norm", "lr", "reward_mean",
                "approx_kl", "clip_fraction", "explained_variance"]


#: Settings that `train --resume` (and a `compare` re-run) may change: they change how far the run goes and how
#: it is logged, never what an iteration computes, so the run's history stays one run's.
RESUMABLE_SETTINGS = ("iterations", "log_every", "checkpoint_every", "threads", "tensorboard")


class TrainingStopped(RuntimeError):
    """Training stopped early (non-finite loss or parameters); the message says why and which checkpoint is kept."""


class StoppedBySignal(KeyboardInterrupt):
    """Stopped by the signal `signum` (SIGINT or SIGTERM) after saving; a KeyboardInterrupt, so that code that
    handles Ctrl-C handles it too."""

    signum: int

    @property
    def exit_code(self) -> int:
        """The shell's status for a process ended by the signal: 128 + its number."""
        return 128 + int(self.signum)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class RunInterrupted(StoppedBySignal):
    """A run stopped by SIGINT or SIGTERM after saving its checkpoint.

    signum: the signal (SIGINT for a KeyboardInterrupt raised otherwise); saved_iteration: the iteration of the
    checkpoint on disk (None if none could be read).
    """

    def __init__(self, signum: int, saved_iteration: int | None):
        super().__init__(signum, saved_iteration)
        self.signum, self.saved_iteration = signum, saved_iteration


@contextmanager
def stop_signals_call(handler: Callable[[int], None]):
    """Within the block, SIGINT and SIGTERM call handler(signum) instead of interrupting; the previous handlers are
    restored after it. Outside the main thread, where Python delivers no signals, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda signum, _frame: handler(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def episode_seed(seed: int, iteration: int, batch_size: int) -> int:
    """The reset seed of the training episodes of `iteration`: distinct for every (iteration, sub-env)."""
    return seed * 1_000_000_000 + iteration * batch_size


def make_vector_env(env_id: str, num_envs: int, env_kwargs: dict | None = None) -> gym.vector.VectorEnv:
    """`gym.make_vec(env_id, num_envs, **env_kwargs)` with clear errors for unknown ids and bad keywords."""
    try:
        return gym.make_vec(env_id, num_envs=num_envs, **(env_kwargs or {}))
    except gym.error.Error as err:
        raise ConfigError(f"cannot make environment {env_id!r}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"bad keyword or value for environment {env_id!r}: {err}") from None


def make_algorithm(config: TrainConfig, policy: ActorCritic):
    """The config's learning algorithm (A2C or PPO) on `policy`: `update(batch, iteration)`, `optimizer`,
    `total_iterations`."""
    if config.algo == "ppo":
        return PPO(policy, config.ppo, config.iterations, seed=config.seed)
    return A2C(policy, config.a2c, config.iterations)


def build_policy(config: TrainConfig, obs_size: int, num_actions: int) -> ActorCritic:
    """The ActorCritic a config describes (hidden size matched to `match_params` when set)."""
    options = dict(config.cell_options)
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
        clip = policy.cell.clip
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

    The folder is locked (train.run_dir.RunLock) from construction until `run` returns or `close` is called, so
    a second writer is refused with a line naming this one.

    Args:
        config: the run's configuration (None when resuming: the run folder's own is used).
        run_dir: the run folder.
        resume: continue the run in `run_dir` from its checkpoint (from its start when the first checkpoint was
            never written).
        progress: show a progress bar.
        changes: settings of RESUMABLE_SETTINGS to change on resume (others are refused before this point).
        trusted_modules: modules the user named with `--import`, which an env id read from the folder may name.
    """

    def __init__(self, config: TrainConfig | None, run_dir: str | Path, *, resume: bool = False,
                 progress: bool = True, changes: dict | None = None, trusted_modules: tuple[str, ...] = ()):
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.writer = None
        self.env = None
        self.notes: list[str] = []
        if resume and not self.run_dir.is_dir():
            raise RunDirError(f"run folder {self.run_dir} does not exist")
        if not resume and self.run_dir.exists() and not self.run_dir.is_dir():
            raise RunDirError(f"{self.run_dir} is a file, not a folder")
        created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.run_dir).acquire()
        try:
            self._open(config, resume, changes or {}, trusted_modules)
        except BaseException:
            self.close()
            if created and not run_files(self.run_dir):     # leave no empty folder behind a refused run
                (self.run_dir / LOCK_FILE).unlink(missing_ok=True)
                if not any(self.run_dir.iterdir()):
                    self.run_dir.rmdir()
            raise

    def _open(self, config: TrainConfig | None, resume: bool, changes: dict,
              trusted_modules: tuple[str, ...]) -> None:
        """Read or start the run (with the lock held), then build env, policy and optimiser."""
        for path in remove_temporary_files(self.run_dir):
            self.notes.append(f"removed {path.name}, left by a write that was interrupted")
        checkpoint = None
        if resume:
            self.config, checkpoint = self._read_run(trusted_modules)
            for name, value in changes.items():
                if name not in RESUMABLE_SETTINGS:
                    raise ConfigError(f"{name} cannot change on resume")
                old = getattr(self.config, name)
                if value != old:
                    if name == "iterations" and checkpoint is not None and value < checkpoint["iteration"]:
                        raise ConfigError(f"iterations={value} is below the {checkpoint['iteration']} this run has "
                                          "already done")
                    self.config = config_from_dict({**self.config.to_dict(), name: value})
                    self.notes.append(f"resume: {name} {old} -> {value}")
        else:
            present = run_files(self.run_dir)
            if present:
                raise RunDirError(f"{self.run_dir} already holds a run ({', '.join(present)}); use `--resume "
                                  f"{self.run_dir}` or another --run-dir")
            self.config = config
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
        self.algo = make_algorithm(cfg, self.policy)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.iteration = 0
        self.episodes = 0
        self.train_seconds = 0.0
        self.window: list[dict] = []

        # Written in this order so that a kill between two writes leaves a folder that --resume starts over.
        save_run_config(self.run_dir, cfg)
        if checkpoint is None:
            rewrite_metrics(self.run_dir / METRICS_FILE, METRIC_COLUMNS, [])
            self.save()
        else:
            self._restore(checkpoint)
            self._truncate_metrics(self.iteration)
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), purge_step=self.iteration + 1)

    def _read_run(self, trusted_modules: tuple[str, ...]) -> tuple[TrainConfig, dict | None]:
        """The run's config and checkpoint (None when the first checkpoint was never written); a config.yaml lost
        after the checkpoint was written is taken from the checkpoint, which holds the same settings."""
        has_config = (self.run_dir / CONFIG_FILE).is_file()
        has_checkpoint = (self.run_dir / CHECKPOINT_FILE).is_file()
        if not has_config and not has_checkpoint:
            raise RunDirError(f"{self.run_dir} holds no run to resume (no {CONFIG_FILE}, no {CHECKPOINT_FILE})")
        checkpoint = load_checkpoint(self.run_dir) if has_checkpoint else None
        if has_config:
            config = load_run_config(self.run_dir)
        else:
            try:
                config = config_from_dict(checkpoint["config"])
            except ConfigError as err:
                raise RunDirError(f"{self.run_dir}: {CONFIG_FILE} is missing and the checkpoint's config is not "
                                  f"valid: {err}") from None
            self.notes.append(f"{CONFIG_FILE} was missing: restored from the checkpoint")
        check_env_id(config.env_id, trusted_modules, source=str(self.run_dir / CONFIG_FILE))
        if checkpoint is None:
            self.notes.append(f"{self.run_dir} has no checkpoint (the run stopped before its first one): starting "
                              "it from iteration 0")
        else:
            try:
                saved = config_from_dict(checkpoint["config"]).to_dict()
            except ConfigError as err:
                raise RunDirError(f"{self.run_dir}: the checkpoint's config is not valid: {err}") from None
            fixed = {name: saved[name] for name in RESUMABLE_SETTINGS}
            if saved != {**config.to_dict(), **fixed}:
                raise RunDirError(f"{self.run_dir}: {CONFIG_FILE} and {CHECKPOINT_FILE} describe different runs")
        return config, checkpoint

    def close(self) -> None:
        """Close the env and the TensorBoard writer, and release the folder's lock (idempotent)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.env is not None:
            self.env.close()
            self.env = None
        self.lock.release()

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

    def save(self) -> None:
        """Write the checkpoint (atomically). TrainingStopped, nothing written, when a parameter is not finite: the
        checkpoint on disk is always a good one."""
        try:
            save_checkpoint(self.run_dir, self._payload())
        except ValueError as err:
            raise TrainingStopped(f"{err} at iteration {self.iteration}; training stopped. The last good checkpoint "
                                  f"(iteration {checkpoint_iteration(self.run_dir)}) is kept in {self.run_dir}"
                                  ) from None

    def _restore(self, checkpoint: dict) -> None:
        try:
            self.policy.load_state_dict(checkpoint["policy"])
            self.algo.optimizer.load_state_dict(checkpoint["optimizer"])
            self.generator.set_state(checkpoint["generator"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise RunDirError(f"{self.run_dir}: the checkpoint does not fit its config.yaml: {err}") from None
        self.iteration = int(checkpoint["iteration"])
        self.episodes = int(checkpoint.get("episodes", 0))
        self.train_seconds = float(checkpoint.get("train_seconds", 0.0))
        self.window = list(checkpoint.get("window", []))

    # -- metrics -----------------------------------------------------------------------------------------------
    def _truncate_metrics(self, up_to: int) -> None:
        """Keep only the metric rows of iterations <= up_to (so a resumed run continues the same curve), replacing
        the file atomically; a row torn by a kill is dropped."""
        path = self.run_dir / METRICS_FILE
        rows = [r for r in read_metric_rows(path) if int(r["iteration"]) <= up_to]
        rewrite_metrics(path, METRIC_COLUMNS, rows)

    def _log(self, row: dict) -> None:
        append_metrics_row(self.run_dir / METRICS_FILE, METRIC_COLUMNS, row)
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
            max_steps=cfg.max_steps, bootstrap_truncated=cfg.algo_config.bootstrap_truncated,
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
        keys = [k for k in WINDOW_MEANS if all(k in s for s in self.window)]
        row = {k: sum(s[k] for s in self.window) / len(self.window) for k in keys}
        mean_sq = sum(s["reward_sq"] for s in self.window) / len(self.window)
        row["reward_std"] = math.sqrt(max(0.0, mean_sq - row["reward_mean"] ** 2))
        row.update({k: v for k, v in self.window[-1].items() if k.startswith(("trace_", "modulator_"))})
        row.update(iteration=self.iteration, episodes=self.episodes, wall_time=round(self.train_seconds, 3),
                   episodes_per_s=round(episodes_done / max(elapsed, 1e-9), 2))
        return row

    def _ask_to_stop(self, signum: int) -> None:
        """SIGINT or SIGTERM: stop after the current iteration (the loop then saves); a second signal does not
        abort the save."""
        if self.stop_signal is None:
            self.stop_signal = signum
            print(f"\n{signal.Signals(signum).name}: stopping after this iteration and saving a checkpoint",
                  file=sys.stderr, flush=True)

    def run(self, on_log: Callable[[dict], None] | None = None) -> dict:
        """Train until `iterations`; returns the last metrics row, and releases the folder.

        SIGINT (Ctrl-C) or SIGTERM stops after the current iteration: the checkpoint is saved, then RunInterrupted
        is raised (a KeyboardInterrupt, with the signal and the iteration on disk).
        on_log: called with every metrics row after it is written (e.g. to report it to Ray Tune).
        """
        cfg = self.config
        self.stop_signal: int | None = None
        bar = None
        last_row: dict = {}
        try:
            prepare_kernels(self.policy.cell)  # a first-use compile happens here, not inside the bar's first iteration
            start, start_episodes = time.perf_counter(), self.episodes
            with stop_signals_call(self._ask_to_stop):
                if self.progress:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=cfg.iterations, initial=self.iteration, unit="it", dynamic_ncols=True)
                try:
                    while self.iteration < cfg.iterations and self.stop_signal is None:
                        row = self._iterate(start, start_episodes, on_log)
                        if row is not None:
                            last_row = row
                            if bar is not None:
                                bar.set_postfix(reward=f"{row['reward_mean']:.2f}",
                                                eps_s=f"{row['episodes_per_s']:.0f}")
                        if bar is not None:
                            bar.update(1)
                except KeyboardInterrupt:
                    self.stop_signal = signal.SIGINT
                self.save()     # (raises, stating the iteration on disk, when it cannot save)
                if self.stop_signal is not None:
                    raise RunInterrupted(self.stop_signal, self.iteration)
        finally:
            if bar is not None:
                bar.close()
            self.close()
        return last_row

    def _iterate(self, start: float, start_episodes: int, on_log) -> dict | None:
        """One training iteration with its logging and checkpointing; returns the metrics row if one was written."""
        cfg = self.config
        iteration_start = time.perf_counter()
        try:
            stats = self.train_iteration()
        except NonFiniteLossError as err:
            raise TrainingStopped(
                f"{err}; training stopped. The last good checkpoint (iteration "
                f"{checkpoint_iteration(self.run_dir)}) is kept in {self.run_dir}"
            ) from None
        self.iteration += 1
        self.episodes += cfg.batch_size
        self.train_seconds += time.perf_counter() - iteration_start
        self.window.append(stats)
        row = None
        if self.iteration % cfg.log_every == 0:
            row = self._window_row(time.perf_counter() - start, self.episodes - start_episodes)
            self._log(row)
            if on_log is not None:
                on_log(row)
            self.window = []
        if self.iteration % cfg.checkpoint_every == 0:
            self.save()
        return row


def load_policy(run_dir: str | Path, device: str = "cpu",
                trusted_modules: tuple[str, ...] = ()) -> tuple[ActorCritic, TrainConfig, dict]:
    """The trained policy of a run folder (from its latest checkpoint) on `device`, its config and the checkpoint.

    Opening the folder runs no code: the checkpoint is read weights-only and its env id must be registered (or name
    a module in `trusted_modules`). A checkpoint with non-finite parameters is refused."""
    check_device(device)
    config = load_run_config(Path(run_dir))
    check_env_id(config.env_id, trusted_modules, source=str(Path(run_dir) / CONFIG_FILE))
    checkpoint = load_checkpoint(Path(run_dir), require_finite=True)
    options = dict(config.cell_options)
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
