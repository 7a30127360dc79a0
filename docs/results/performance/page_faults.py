"""Minor page faults per training iteration (the OS mapping and zeroing fresh memory) of a fast trainer of each
preset named, in the checkout on PYTHONPATH, one thread: two iterations to warm up, then the mean over five. A
count, not a timing, so it needs no idle machine. Prints JSON.

    PYTHONPATH=CHECKOUT python docs/results/performance/page_faults.py [--preset cue-ppo ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile

from side_by_side import fast_trainer  # the script beside this one (its folder is on sys.path)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_per_iteration(preset: str, iterations: int = 5) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = fast_trainer(preset, None, 1, f"{tmp}/run")
        for k in range(2 + iterations):
            if k == 2:
                start = minor_faults()
            trainer.train_iteration()
            trainer.iteration += 1
        trainer.env.close()
        return (minor_faults() - start) / iterations


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", action="append", default=None, help="repeatable; default cue-paper and cue-ppo")
    args = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"commit": commit, "faults_per_iteration": {
        preset: faults_per_iteration(preset) for preset in args.preset or ["cue-paper", "cue-ppo"]}}, indent=1))


if __name__ == "__main__":
    main()
