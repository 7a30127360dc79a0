"""End-to-end training speed: episodes per second of `train` iterations, fast against naive, in one run.

Fast: the production cell, acting under no_grad, the sequence recomputed with gradients by the fused kernel.
Naive: the reference cell (B x N x N traces in plain autograd), the autograd graph built step by step while acting.
Both run the same A2C update on the same env, so the ratio is the speed-up a user sees.
"""

from __future__ import annotations

import tempfile
import time

import torch

from train.config import build_config


def time_training(preset: str, implementation: str, iterations: int, overrides: dict) -> dict:
    """Time `iterations` training iterations (after one warm-up) of a preset; returns episodes/s and s/iteration."""
    from train.trainer import Trainer

    settings = {"implementation": implementation, "tensorboard": False, "iterations": iterations + 1,
                "checkpoint_every": 10**9, "log_every": 10**9, **overrides}
    config = build_config({}, {"preset": preset, **settings})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, tmp, progress=False)
        trainer.train_iteration()
        trainer.iteration += 1
        start = time.perf_counter()
        for _ in range(iterations):
            trainer.train_iteration()
            trainer.iteration += 1
        if config.device.startswith("cuda"):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        trainer.env.close()
    return {
        "implementation": implementation,
        "seconds_per_iteration": elapsed / iterations,
        "episodes_per_s": iterations * config.batch_size / elapsed,
    }


def run_training_benchmark(preset: str = "maze-paper", iterations: int = 5, overrides: dict | None = None) -> dict:
    """Fast and naive training speed of `preset` in one run, and their ratio."""
    overrides = overrides or {}
    fast = time_training(preset, "fast", iterations, overrides)
    naive = time_training(preset, "reference", iterations, overrides)
    return {
        "preset": preset,
        "iterations": iterations,
        "fast": fast,
        "naive": naive,
        "speedup": fast["episodes_per_s"] / naive["episodes_per_s"],
    }
