#!/usr/bin/env bash
# Issue 19's learning check: cue-curriculum seeds (modul) trained with the sped-up code, as the eight seeds of
# docs/results/cue-curriculum were (the same command with other seeds), two at a time on one core each; each
# finished run's held-out evaluation on the paper's information (evaluate.jsonl), and the curves against those
# seeds' spread (spread.py), and these seeds beside the other cells' (table-with-cells.md). Seed 0 ran first, alone
# (run.log); seeds 1-3 and 4-5 after it.
# Usage, from the repository root in the environment `make` creates:
#   bash docs/results/cue-curriculum-check/run.sh [SEEDS]      (default 0; re-running continues)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/results/cue-curriculum-check
OUT=runs/cue-curriculum-check
SEEDS=${1:-0}
echo "seeds $SEEDS: commit $(git rev-parse --short HEAD), start $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
.venv/bin/backpropamine compare --preset cue-curriculum --cells modul --seeds "$SEEDS" --threads 1 --jobs 2 \
    --log-every 25 --no-tensorboard --out "$OUT"
bash docs/results/finish_batch.sh "$HERE" "$OUT" "$SEEDS"   # held-out evaluations, curves.csv
cp "$OUT/modul-seed0/config.yaml" "$HERE/config.yaml"
echo "seeds $SEEDS: end $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
.venv/bin/python "$HERE/spread.py" > "$HERE/spread.md"
# These seeds as the modul row of the other cells' table (../cue-curriculum-cells, the same code), with the tests.
.venv/bin/python docs/results/seed_table.py "$HERE" docs/results/cue-curriculum-cells --threshold 12 \
    --pairs modul:plastic,modul:lstm,modul:rnn,modul:modplast > "$HERE/table-with-cells.md"
