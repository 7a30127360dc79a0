"""End-to-end training speed: episodes per second of `train` iterations, fast against naive, in one run, and where a
fast iteration's time goes.

Fast: the production cell acting without autograd graph; the update's `policy.evaluate` replays the kernel's
recording (plastic RNN kinds) or recomputes the sequence with the fused function.
Naive: the reference cell (B x N x N traces in plain autograd), the autograd graph kept step by step while acting.
Both run the same A2C update on the same env, so the ratio is the speed-up a user sees.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

from plastic_agents.cells.native import timed_kernels
from train.config import build_config

#: The presets `backpropamine bench` times: the maze's and the cue task's network sizes.
TRAINING_PRESETS = ("maze-paper", "cue-paper")

#: The parts of a fast iteration (seconds each, see IterationParts).
PARTS = ("acting_kernel", "env_step", "acting_other", "backward_kernel", "update_other")


class IterationParts:
    """Where one trainer's iterations spend their time, part by part, per iteration.

    acting_kernel: the kernel's acting steps (the forward pass of the plastic kinds, recorded for the update);
    env_step: the vector env's steps; acting_other: the rest of collecting the episodes (observations, sampling
    noise, bookkeeping; for cells without the kernel, their whole forward); backward_kernel: the kernel's backward
    (the update's recompute from the checkpoints and the gradient sweeps), plus any fused forward the update runs;
    update_other: the rest of the update (heads, loss, the gradient of w, clipping, Adam). Installs itself on the
    trainer's env and algorithm; kernel calls come through `timed_kernels`.
    """

    def __init__(self, trainer):
        self.current = dict.fromkeys(("step", "forward", "backward", "env", "update"), 0.0)
        self.iterations: list[dict] = []
        env_step, update = trainer.env.step, trainer.algo.update

        def timed_env_step(actions):
            start = time.perf_counter()
            result = env_step(actions)
            self.current["env"] += time.perf_counter() - start
            return result

        def timed_update(*args, **kwargs):
            start = time.perf_counter()
            result = update(*args, **kwargs)
            self.current["update"] += time.perf_counter() - start
            return result

        trainer.env.step = timed_env_step
        trainer.algo.update = timed_update

    def reset(self) -> None:
        """Forget what was timed so far (the warm-up iteration)."""
        self.current = dict.fromkeys(self.current, 0.0)
        self.iterations = []

    def record_kernel(self, name: str, seconds: float) -> None:
        self.current[name] += seconds

    def end_iteration(self, total: float) -> None:
        c = self.current
        kernel_update = c["backward"] + c["forward"]
        self.iterations.append({
            "acting_kernel": c["step"], "env_step": c["env"],
            "acting_other": max(0.0, total - c["update"] - c["step"] - c["env"]),
            "backward_kernel": kernel_update, "update_other": max(0.0, c["update"] - kernel_update)})
        self.current = dict.fromkeys(c, 0.0)

    def medians(self) -> dict:
        return {part: statistics.median(it[part] for it in self.iterations) for part in PARTS}


def run_training_benchmark(preset: str = "maze-paper", iterations: int = 10, overrides: dict | None = None) -> dict:
    """Fast and naive training speed of `preset` in one run, their ratio, and the fast iteration's parts.

    Both trainers are built and warmed up (one iteration each) first; then `iterations` rounds each time one
    fast and one naive iteration, in alternating order, so that a slow spell of the machine falls on both alike.
    The speed-up is the ratio of the two implementations' median iteration times (a median, because a shared
    machine has slow spells that a total would carry); `round_speedups` gives the ratio per round, to show the
    spread. Episodes/s and seconds per iteration are from the medians too; `fast["parts"]` holds the median of each
    part of a fast iteration (see IterationParts; their sum need not equal the median iteration).
    """
    from train.trainer import Trainer

    settings = {"tensorboard": False, "iterations": iterations + 1, "checkpoint_every": 10**9,
                "log_every": 10**9, **(overrides or {})}
    names = ("fast", "reference")
    elapsed = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name in names:
            config = build_config({}, {"preset": preset, **settings, "implementation": name})
            trainers[name] = Trainer(config, f"{tmp}/{name}", progress=False)
        parts = IterationParts(trainers["fast"])
        with timed_kernels(parts.record_kernel):
            for name in names:     # the fast trainer's recordings are made here, with the timed kernel
                trainers[name].train_iteration()
                trainers[name].iteration += 1
            parts.reset()
            cuda = config.device.startswith("cuda")
            for k in range(iterations):
                for name in (names if k % 2 == 0 else names[::-1]):
                    start = time.perf_counter()
                    trainers[name].train_iteration()
                    if cuda:
                        torch.cuda.synchronize()
                    elapsed[name].append(time.perf_counter() - start)
                    trainers[name].iteration += 1
                    if name == "fast":
                        parts.end_iteration(elapsed[name][-1])
        for trainer in trainers.values():
            trainer.env.close()
    result = {"preset": preset, "iterations": iterations, "batch_size": config.batch_size,
              "hidden_size": config.hidden_size, "cell": config.cell, "threads": torch.get_num_threads()}
    for key, name in (("fast", "fast"), ("naive", "reference")):
        median = statistics.median(elapsed[name])
        result[key] = {"implementation": name, "seconds_per_iteration": median,
                       "episodes_per_s": config.batch_size / median}
    result["fast"]["parts"] = parts.medians()
    result["speedup"] = result["naive"]["seconds_per_iteration"] / result["fast"]["seconds_per_iteration"]
    result["round_speedups"] = [n / f for f, n in zip(elapsed["fast"], elapsed["reference"])]
    return result


def run_training_benchmarks(presets=TRAINING_PRESETS, iterations: int = 10, overrides: dict | None = None) -> dict:
    """run_training_benchmark for each preset, one after the other: {preset: result}."""
    return {preset: run_training_benchmark(preset, iterations, overrides) for preset in presets}


def format_training_report(results: dict) -> str:
    """The training part of `backpropamine bench`'s report, as text."""
    lines = []
    for preset, t in results.items():
        lines.append(f"End-to-end training ({preset}: {t['cell']} N={t['hidden_size']} B={t['batch_size']}, "
                     f"{t['threads']} threads, {t['iterations']} iterations each, interleaved):")
        for name in ("fast", "naive"):
            r = t[name]
            lines.append(f"  {name:>6}: {r['episodes_per_s']:8.1f} episodes/s  "
                         f"({r['seconds_per_iteration']:.3f} s/iteration)")
        rounds = sorted(t["round_speedups"])
        lines.append(f"  speed-up fast / naive: {t['speedup']:.2f}x (per round: {rounds[0]:.2f}x to "
                     f"{rounds[-1]:.2f}x)")
        lines.append("  fast iteration, median s per part: " + ", ".join(
            f"{part} {seconds:.4f}" for part, seconds in t["fast"]["parts"].items()))
    return "\n".join(lines)
