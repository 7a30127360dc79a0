"""Reward and modulator mean per seed over updates, from a CSV written by extract.py."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

src, out, title = sys.argv[1], sys.argv[2], sys.argv[3]
runs = defaultdict(list)
for row in csv.DictReader(open(src)):
    runs[int(row["seed"])].append(row)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for seed, rows in sorted(runs.items()):
    it = [int(r["iteration"]) for r in rows]
    for ax, key in zip(axes, ("reward_mean", "modulator_mean", "trace_at_clip")):
        ax.plot(it, [float(r[key]) for r in rows], label=f"seed {seed}", lw=1.2)
for ax, label in zip(axes, ("reward per episode", "modulator M(t), batch mean", "fraction of H at the clip")):
    ax.set_xlabel("update")
    ax.set_title(label, fontsize=10)
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=7, ncol=2)
fig.suptitle(title, fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=90)
