"""Environment throughput: ``python -m plastic_envs.bench [--json] [--seconds S]``.

Measures env steps per second (episodes advanced by one step, summed over sub-envs) of, for each task: the
single env (``gym.make``), Gymnasium's SyncVectorEnv over it, and the native vector env (``gym.make_vec``),
all in one run on the same machine, with the native/sync ratio at equal env counts. Actions are uniform
random, drawn before timing; the timed loop includes the info dicts and autoresets.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import numpy as np

import plastic_envs  # noqa: F401  (registers the ids)

DEFAULT_ENV_IDS = ("BackpropamineMaze-v0", "BackpropamineCueReward-v0")
DEFAULT_NATIVE_SIZES = (1, 64, 1024, 4096)
DEFAULT_SYNC_SIZES = (64, 1024, 4096)  # at 4096 building the envs dominates the benchmark's time


def _time_loop(step, actions: np.ndarray, num_envs: int, seconds: float) -> float:
    """Call ``step(actions[i % len(actions)])`` for at least ``seconds``; return env steps per second."""
    steps = 0
    start = time.perf_counter()
    while True:
        for a in actions:
            step(a)
        steps += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps * num_envs / elapsed


def measure_single(env_id: str, seconds: float, seed: int = 0) -> float:
    """Steps per second of one ``gym.make(env_id)`` env (reset whenever an episode ends)."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, 256).tolist()

    def step(a):
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()

    rate = _time_loop(step, actions, 1, seconds)
    env.close()
    return rate


def measure_vector(env_id: str, num_envs: int, mode: str, seconds: float, seed: int = 0) -> float:
    """Steps per second of ``gym.make_vec(env_id, num_envs)``.

    mode: "native" (the registered vector_entry_point) or "sync" (SyncVectorEnv over the single env).
    """
    kwargs = {} if mode == "native" else {"vectorization_mode": "sync"}
    env = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    env.reset(seed=seed)
    n_actions = env.single_action_space.n
    actions = np.random.default_rng(seed).integers(0, n_actions, (64, num_envs))
    rate = _time_loop(env.step, actions, num_envs, seconds)
    env.close()
    return rate


def run_benchmark(env_ids=DEFAULT_ENV_IDS, native_sizes=DEFAULT_NATIVE_SIZES, sync_sizes=DEFAULT_SYNC_SIZES,
                  seconds: float = 1.0, seed: int = 0) -> dict:
    """Measure every configuration; return a JSON-friendly dict.

    Returns {"machine": str, "seconds_per_measurement": float, "results": [{"env_id", "mode" ("single",
    "sync" or "native"), "num_envs", "steps_per_second"}...], "ratios": [{"env_id", "num_envs",
    "native_over_sync"}...]} with one ratio per env count measured in both sync and native mode.
    """
    results = []
    ratios = []
    for env_id in env_ids:
        results.append({"env_id": env_id, "mode": "single", "num_envs": 1,
                        "steps_per_second": measure_single(env_id, seconds, seed)})
        sync = {}
        for n in sync_sizes:
            sync[n] = measure_vector(env_id, n, "sync", seconds, seed)
            results.append({"env_id": env_id, "mode": "sync", "num_envs": n, "steps_per_second": sync[n]})
        for n in native_sizes:
            rate = measure_vector(env_id, n, "native", seconds, seed)
            results.append({"env_id": env_id, "mode": "native", "num_envs": n, "steps_per_second": rate})
            if n in sync:
                ratios.append({"env_id": env_id, "num_envs": n, "native_over_sync": rate / sync[n]})
    return {"machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
            "seconds_per_measurement": seconds, "results": results, "ratios": ratios}


def format_report(report: dict) -> str:
    """The benchmark dict as an aligned text table."""
    lines = [f"{'env id':32s} {'mode':7s} {'envs':>6s} {'steps/s':>14s}"]
    for r in report["results"]:
        lines.append(f"{r['env_id']:32s} {r['mode']:7s} {r['num_envs']:6d} {r['steps_per_second']:14,.0f}")
    for r in report["ratios"]:
        lines.append(f"{r['env_id']:32s} native/sync at {r['num_envs']} envs: {r['native_over_sync']:.1f}x")
    return "\n".join(lines)


def _sizes(text: str) -> tuple[int, ...]:
    """Parse "1,64,1024" into (1, 64, 1024); every count must be a positive integer."""
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"env counts must be >= 1, got {text!r}")
    return sizes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per configuration")
    parser.add_argument("--sync-sizes", type=_sizes, default=DEFAULT_SYNC_SIZES,
                        help="comma-separated SyncVectorEnv env counts (default 64,1024,4096)")
    parser.add_argument("--native-sizes", type=_sizes, default=DEFAULT_NATIVE_SIZES,
                        help="comma-separated native vector env counts (default 1,64,1024,4096)")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    report = run_benchmark(native_sizes=args.native_sizes, sync_sizes=args.sync_sizes, seconds=args.seconds)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == "__main__":
    main()
