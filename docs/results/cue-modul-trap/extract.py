"""Collect reward, trace and modulator columns of each run's metrics.csv (run folders <cell>-seed<S>) into one CSV."""
import csv
import pathlib
import sys

out, dirs = sys.argv[1], sys.argv[2:]
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["cell", "seed", "iteration", "reward_mean", "trace_at_clip", "modulator_mean", "modulator_std"])
    for d in dirs:
        runs = sorted(pathlib.Path(d).glob("*-seed*"),
                      key=lambda p: (p.name.split("-seed")[0], int(p.name.split("-seed")[1])))
        for run in runs:
            cell, seed = run.name.split("-seed")
            for row in csv.DictReader(open(run / "metrics.csv")):
                w.writerow([cell, seed, row["iteration"]] + [f"{float(row[k]):.4f}" if row[k] else "" for k in
                           ("reward_mean", "trace_at_clip", "modulator_mean", "modulator_std")])
