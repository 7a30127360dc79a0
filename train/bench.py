"""End-to-end training speed: episodes per second of `train` iterations, fast against naive, in one run.

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

from train.config import build_config


def run_training_benchmark(preset: str = "maze-paper", iterations: int = 10, overrides: dict | None = None) -> dict:
    """Fast and naive training speed of `preset` in one run, and their ratio.

    Both trainers are built and warmed up (one iteration each) first; then `iterations` rounds each time one
    fast and one naive iteration, in alternating order, so that a slow spell of the machine falls on both alike.
    The speed-up is the ratio of the two implementations' median iteration times (a median, because a shared
    machine has slow spells that a total would carry); `round_speedups` gives the ratio per round, to show the
    spread. Episodes/s and seconds per iteration are from the medians too.
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
            trainers[name].train_iteration()
            trainers[name].iteration += 1
        cuda = config.device.startswith("cuda")
        for k in range(iterations):
            for name in (names if k % 2 == 0 else names[::-1]):
                start = time.perf_counter()
                trainers[name].train_iteration()
                if cuda:
                    torch.cuda.synchronize()
                elapsed[name].append(time.perf_counter() - start)
                trainers[name].iteration += 1
        for trainer in trainers.values():
            trainer.env.close()
    result = {"preset": preset, "iterations": iterations}
    for key, name in (("fast", "fast"), ("naive", "reference")):
        median = statistics.median(elapsed[name])
        result[key] = {"implementation": name, "seconds_per_iteration": median,
                       "episodes_per_s": config.batch_size / median}
    result["speedup"] = result["naive"]["seconds_per_iteration"] / result["fast"]["seconds_per_iteration"]
    result["round_speedups"] = [n / f for f, n in zip(elapsed["fast"], elapsed["reference"])]
    return result
