#!/usr/bin/env bash
# Minor page faults per training iteration (page_faults.py) of commit BASE (default 645cbf3: before the fused
# forward's checkpoint pool) and of this checkout, cue-paper and cue-ppo, into page-faults-{base,new}.json here.
# Counts, not timings: any load is fine.
# Usage, from the repository root in the environment `make` creates: bash docs/results/performance/page_faults.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/../../.."
BASE=${1:-645cbf3}
ROOT=$PWD
OUT=$ROOT/docs/results/performance
WT=$(mktemp -d)/base
git worktree add -q --detach "$WT" "$BASE"
trap 'git worktree remove --force "$WT"' EXIT
for side in base new; do
  dir=$([ $side = base ] && echo "$WT" || echo "$ROOT")
  (cd "$dir" && TORCH_EXTENSIONS_DIR=$dir/.ext PYTHONPATH=$dir OMP_NUM_THREADS=1 \
      "$ROOT/.venv/bin/python" "$ROOT/docs/results/performance/page_faults.py" > "$OUT/page-faults-$side.json")
done
