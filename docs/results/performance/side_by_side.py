"""Training iterations of two checkouts of the package side by side: one worker process per checkout, each with its
own trainer of the same preset and seed, taking iterations in turn (ABAB..., then BABA... in the next round), so
that a slow spell of the machine falls on both alike. Reports each checkout's median seconds per iteration and per
part (train.bench.IterationParts), and the ratio of the medians, as JSON.

    python side_by_side.py BASE_DIR NEW_DIR [--preset cue-paper] [--cell CELL] [--iterations 20] [--threads 2]

Each checkout runs its own code and its own build of the kernel (TORCH_EXTENSIONS_DIR=<checkout>/.ext), with the
interpreter that runs this script. A worker sleeps while the other one runs, after a pause that lets OpenMP's
spinning threads go idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PAUSE_S = 0.2


def fast_trainer(preset: str, cell: str | None, threads: int, run_dir: str):
    """A fast trainer of `preset` (with `cell` in place of the preset's, if given) on `threads` torch threads, its
    kernel loaded, writing nothing but its run folder's start."""
    import torch

    from plastic_agents.cells.native import prepare_kernels
    from train.config import build_config
    from train.trainer import Trainer

    torch.set_num_threads(threads)
    settings = {"preset": preset, "tensorboard": False, "checkpoint_every": 10**9, "log_every": 10**9,
                "threads": threads}
    if cell is not None:
        settings["cell"] = cell
    trainer = Trainer(build_config({}, settings), run_dir, progress=False)
    prepare_kernels(trainer.policy.cell)
    return trainer


def worker(preset: str, cell: str | None, threads: int) -> None:
    """Build a fast trainer (fast_trainer), then for each line on stdin run one iteration and print its
    timings."""
    import tempfile

    from plastic_agents.cells.native import timed_kernels
    from train.bench import IterationParts

    with tempfile.TemporaryDirectory() as tmp:
        trainer = fast_trainer(preset, cell, threads, f"{tmp}/run")
        parts = IterationParts(trainer)
        with timed_kernels(parts.record_kernel):
            for line in sys.stdin:
                if line.strip() == "reset":
                    parts.reset()
                    print("{}", flush=True)
                    continue
                start = time.perf_counter()
                trainer.train_iteration()
                total = time.perf_counter() - start
                trainer.iteration += 1
                parts.end_iteration(total)
                print(json.dumps({"total": total, **parts.iterations[-1]}), flush=True)
        trainer.env.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base")
    p.add_argument("new")
    p.add_argument("--preset", default="cue-paper")
    p.add_argument("--cell", default=None, help="a cell in place of the preset's (same size and settings)")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable for the base worker only (e.g. OMP_WAIT_POLICY=PASSIVE)")
    p.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable for the new worker only")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.preset, args.cell, args.threads)
        return
    workers = {}
    extra = {"base": args.base_env, "new": args.new_env}
    for name, root in (("base", args.base), ("new", args.new)):
        root = os.path.abspath(root)
        env = {**os.environ, "PYTHONPATH": root, "TORCH_EXTENSIONS_DIR": os.path.join(root, ".ext"),
               "OMP_NUM_THREADS": str(args.threads), **dict(item.split("=", 1) for item in extra[name])}
        workers[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), args.base, args.new, "--worker", "--preset", args.preset,
             "--threads", str(args.threads)] + (["--cell", args.cell] if args.cell else []),
            cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def iterate(name: str, command: str = "go") -> dict:
        time.sleep(PAUSE_S)
        workers[name].stdin.write(command + "\n")
        workers[name].stdin.flush()
        line = workers[name].stdout.readline()
        if not line:
            raise SystemExit(f"the {name} worker stopped")
        return json.loads(line)

    for _ in range(args.warmup):
        for name in workers:
            iterate(name)
    for name in workers:
        iterate(name, "reset")
    rows = {name: [] for name in workers}
    for k in range(args.iterations):
        for name in (("base", "new") if k % 2 == 0 else ("new", "base")):
            rows[name].append(iterate(name))
    for w in workers.values():
        w.stdin.close()
        w.wait()
    result = {"preset": args.preset, "cell": args.cell, "threads": args.threads, "iterations": args.iterations,
              "checkouts": {"base": args.base, "new": args.new},
              "environment": {"base": args.base_env, "new": args.new_env}}
    for name, its in rows.items():
        result[name] = {key: statistics.median(it[key] for it in its) for key in its[0]}
        result[name]["all_totals"] = [it["total"] for it in its]
    result["speedup"] = result["base"]["total"] / result["new"]["total"]
    result["round_speedups"] = [b["total"] / n["total"] for b, n in zip(rows["base"], rows["new"])]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
