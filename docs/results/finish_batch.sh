#!/usr/bin/env bash
# After `backpropamine compare` has run a batch of seeds into OUT: each of the batch's runs evaluated on 300
# held-out episodes (one thread; the env of the run's last training stage) into HERE/evaluate.jsonl, one line
# {"run": "<cell>-seed<k>", ...} per run (or {"run": ..., "KEY": {...}} when KEY is given) unless it is there
# already, and OUT's curves.csv (compare's, this batch's seeds only) merged into HERE/curves.csv (merge_curves.py).
# Usage, from the repository root in the environment `make` creates:
#   bash docs/results/finish_batch.sh HERE OUT SEEDS [KEY]      (SEEDS as given to compare: 0,1,2)
set -euo pipefail
HERE=$1
OUT=$2
KEY=${4:-}
mkdir -p "$HERE"
for seed in ${3//,/ }; do
  for run in "$OUT"/*-seed"$seed"/; do
    name=$(basename "$run")
    grep -q "\"$name\"" "$HERE/evaluate.jsonl" 2>/dev/null && continue
    OMP_NUM_THREADS=1 .venv/bin/backpropamine evaluate "$run" --episodes 300 --json \
        | python3 -c "import json, sys; r = json.load(sys.stdin); key = '$KEY'
print(json.dumps({'run': '$name', **({key: r} if key else r)}))" >> "$HERE/evaluate.jsonl"
  done
done
.venv/bin/python docs/results/merge_curves.py "$HERE/curves.csv" "$OUT/curves.csv"
