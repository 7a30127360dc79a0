#!/usr/bin/env bash
# The maze-release preset (the authors' simplified maze script's settings), two seeds of 1,500 updates side by
# side, one thread each, then the curves, the configs and held-out evaluations beside this script.
# Usage, from the repository root in the environment `make` creates: bash docs/results/maze-release/run.sh RUNS_DIR
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-runs/maze-release}
HERE=docs/results/maze-release
BP=.venv/bin/backpropamine
for seed in 0 1; do
  $BP train --preset maze-release --iterations 1500 --seed $seed --threads 1 --log-every 10 --no-tensorboard \
      --no-progress --run-dir "$RUNS/maze-release-seed$seed" > "$RUNS-seed$seed.log" 2>&1 &
done
wait
rm -f "$HERE/evaluate.jsonl"
for seed in 0 1; do
  run="$RUNS/maze-release-seed$seed"
  cp "$run/config.yaml" "$HERE/config-seed$seed.yaml"
  $BP evaluate "$run" --episodes 300 --json | sed "s/^{/{\"run\": \"maze-release-seed$seed\", /" >> "$HERE/evaluate.jsonl"
done
.venv/bin/python - "$RUNS" "$HERE" <<'PY'
import csv, sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

runs, here = Path(sys.argv[1]), Path(sys.argv[2])
fig, ax = plt.subplots(figsize=(7, 4))
with (here / "curves.csv").open("w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["seed", "iteration", "episodes", "wall_time", "reward_mean"])
    for seed in (0, 1):
        with (runs / f"maze-release-seed{seed}" / "metrics.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            writer.writerow([seed, row["iteration"], row["episodes"], row["wall_time"], row["reward_mean"]])
        ax.plot([int(r["iteration"]) for r in rows], [float(r["reward_mean"]) for r in rows], label=f"seed {seed}")
ax.axhline(7.8, color="grey", linestyle="--", label="random (7.8)")
ax.set_xlabel("updates (30 episodes each)")
ax.set_ylabel("reward per episode (training batches)")
ax.set_title("maze-release: the simplified maze script's settings")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(here / "curves.png", dpi=100)
PY
