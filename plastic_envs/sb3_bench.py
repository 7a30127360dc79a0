"""Benchmark: Stable-Baselines3 through the native adapter (:mod:`plastic_envs.sb3`) against SB3's own
``make_vec_env`` (``DummyVecEnv`` over ``Monitor``-wrapped single envs), same env count, same settings.

Two measurements per env count, each route in the same run:

- ``ppo``: ``PPO("MlpPolicy")`` trained for a fixed number of timesteps (the time of ``learn()`` only);
  steps/s = timesteps / seconds, so the figure includes SB3's rollout and update work.
- ``raw``: stepping with pre-drawn random actions, no learning (env steps/s = steps x n_envs / seconds).

``python -m plastic_envs.sb3_bench [--json] [--n-envs 16,64] [--ppo-timesteps N] [--raw-steps N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import plastic_envs  # noqa: F401  (registers the ids)
from plastic_envs.base import check_int
from plastic_envs.sb3 import make_sb3_vec_env

ROUTES = ("adapter", "make_vec_env")


def _make(route: str, env_id: str, n_envs: int, seed: int):
    if route == "adapter":
        return make_sb3_vec_env(env_id, n_envs, seed=seed)
    return make_vec_env(env_id, n_envs=n_envs, seed=seed)


def _ppo(route: str, env_id: str, n_envs: int, timesteps: int, seed: int, ppo_kwargs: dict) -> dict:
    env = _make(route, env_id, n_envs, seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", **ppo_kwargs)
    start = time.perf_counter()
    model.learn(timesteps)
    seconds = time.perf_counter() - start
    env.close()
    return {"mode": "ppo", "route": route, "n_envs": n_envs, "timesteps": int(model.num_timesteps),
            "seconds": seconds, "steps_per_second": model.num_timesteps / seconds}


def _raw(route: str, env_id: str, n_envs: int, steps: int, seed: int) -> dict:
    env = _make(route, env_id, n_envs, seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, (steps, n_envs))
    env.reset()
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    seconds = time.perf_counter() - start
    env.close()
    return {"mode": "raw", "route": route, "n_envs": n_envs, "timesteps": steps * n_envs,
            "seconds": seconds, "steps_per_second": steps * n_envs / seconds}


def run_benchmark(env_id: str = "BackpropamineMaze-v0", n_envs: tuple[int, ...] = (16, 64),
                  ppo_timesteps: int = 16384, raw_steps: int = 2000, seed: int = 0,
                  ppo_kwargs: dict | None = None, torch_threads: int = 1) -> dict[str, Any]:
    """Measure both routes at each env count; returns a JSON-friendly dict.

    ``torch_threads`` is set for the run (and restored after): SB3's small MLPs are fastest on one thread.

    Keys: env_id, settings (the PPO keywords and counts used), machine (platform, torch threads),
    results (one dict per (mode, route, n_envs): timesteps, seconds, steps_per_second, in the order
    ppo adapter, ppo make_vec_env, raw adapter, raw make_vec_env per env count), ratios (one per (mode,
    n_envs): ratio = adapter steps/s over make_vec_env steps/s).
    """
    counts = tuple(check_int("n_envs", n, 1) for n in n_envs)
    ppo_timesteps = check_int("ppo_timesteps", ppo_timesteps, 1)
    raw_steps = check_int("raw_steps", raw_steps, 1)
    kwargs = {"n_steps": 64, "batch_size": 64, "n_epochs": 4} if ppo_kwargs is None else dict(ppo_kwargs)
    torch_threads = check_int("torch_threads", torch_threads, 1)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    results = []
    try:
        for n in counts:
            for route in ROUTES:
                results.append(_ppo(route, env_id, n, ppo_timesteps, seed, kwargs))
            for route in ROUTES:
                results.append(_raw(route, env_id, n, raw_steps, seed))
    finally:
        torch.set_num_threads(previous_threads)
    ratios = []
    for mode in ("ppo", "raw"):
        for n in counts:
            rate = {r["route"]: r["steps_per_second"] for r in results
                    if r["mode"] == mode and r["n_envs"] == n}
            ratios.append({"mode": mode, "n_envs": n, "ratio": rate["adapter"] / rate["make_vec_env"]})
    return {"env_id": env_id,
            "settings": {"ppo_timesteps": ppo_timesteps, "raw_steps": raw_steps, "seed": seed,
                         "ppo_kwargs": kwargs},
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "torch_threads": torch_threads},
            "results": results, "ratios": ratios}


def format_report(report: dict[str, Any]) -> str:
    """The report as a text table with the adapter/make_vec_env ratios."""
    lines = [f"{report['env_id']}: SB3 through the adapter vs make_vec_env (DummyVecEnv)",
             (f"PPO settings {report['settings']['ppo_kwargs']}, {report['settings']['ppo_timesteps']} "
              f"timesteps; raw: {report['settings']['raw_steps']} steps of random actions"),
             f"{'mode':<5} {'route':<13} {'n_envs':>6} {'timesteps':>10} {'seconds':>9} {'steps/s':>12}"]
    for r in report["results"]:
        lines.append(f"{r['mode']:<5} {r['route']:<13} {r['n_envs']:>6} {r['timesteps']:>10} "
                     f"{r['seconds']:>9.3f} {r['steps_per_second']:>12,.0f}")
    for r in report["ratios"]:
        lines.append(f"{r['mode']} adapter/make_vec_env at {r['n_envs']} envs: {r['ratio']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="BackpropamineMaze-v0")
    parser.add_argument("--n-envs", default="16,64", help="comma-separated env counts")
    parser.add_argument("--ppo-timesteps", type=int, default=16384)
    parser.add_argument("--raw-steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        counts = tuple(int(x) for x in args.n_envs.split(","))
    except ValueError:
        parser.error(f"--n-envs must be comma-separated integers, got {args.n_envs!r}")
    report = run_benchmark(args.env_id, counts, args.ppo_timesteps, args.raw_steps, args.seed,
                           torch_threads=args.torch_threads)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == "__main__":
    main()
