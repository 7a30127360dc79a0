"""Reward, modulator mean and traces at the clip over updates for two ways of taking the outcome input away.

    python plot_removal.py OUT.png LABEL=CSV [LABEL=CSV ...] [--seeds 0,1]

Each CSV is written by ../cue-modul-trap/extract.py from a folder of run folders <cell>-seed<S>. The grey band is
the stretch over which the help is lowered (updates 700 to 1,600), the dashed line where it reaches zero.
"""
import argparse
import csv
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("sources", nargs="+", help="LABEL=CSV")
parser.add_argument("--seeds", default="0,1")
args = parser.parse_args()
seeds = {int(s) for s in args.seeds.split(",")}
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
styles = ["-", ":", "--", "-."]
for k, source in enumerate(args.sources):
    style = styles[k % len(styles)]
    label, path = source.split("=", 1)
    runs = defaultdict(list)
    for row in csv.DictReader(open(path)):
        if int(row["seed"]) in seeds:
            runs[int(row["seed"])].append(row)
    for seed, rows in sorted(runs.items()):
        it = [int(r["iteration"]) for r in rows]
        for ax, key in zip(axes, ("reward_mean", "modulator_mean", "trace_at_clip")):
            ax.plot(it, [float(r[key]) for r in rows], style, color=f"C{seed}", lw=1.2,
                    label=f"{label}, seed {seed}")
for ax, title in zip(axes, ("reward per episode", "modulator M(t), batch mean", "fraction of H at the clip")):
    ax.axvspan(700, 1600, color="0.9", zorder=0)
    ax.axvline(1600, color="0.4", ls="--", lw=0.8)
    ax.set_xlabel("update")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
axes[0].axhline(16.2, color="0.5", lw=0.8)
axes[0].legend(fontsize=7)
fig.tight_layout()
fig.savefig(args.out, dpi=90)
