#!/usr/bin/env bash
# Issue 19's learning check: one cue-curriculum seed (seed 0, modul) trained with the sped-up code, as the eight
# seeds of docs/results/cue-curriculum were (the same command with one seed), its held-out evaluation on the paper's
# information, and its curve against those seeds' spread (spread.py). Then the maze sweep B (../maze-compare).
# Usage, from the repository root in the environment `make` creates: bash docs/results/cue-curriculum-check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/results/cue-curriculum-check
OUT=runs/cue-curriculum-check
echo "commit $(git rev-parse --short HEAD), start $(date -u +%Y-%m-%dT%H:%MZ)" > "$HERE/run.log"
.venv/bin/backpropamine compare --preset cue-curriculum --cells modul --seeds 0 --threads 1 --jobs 1 \
    --log-every 25 --no-tensorboard --out "$OUT"
OMP_NUM_THREADS=1 .venv/bin/backpropamine evaluate "$OUT/modul-seed0" --episodes 300 --json > "$HERE/evaluate.json"
cp "$OUT/curves.csv" "$HERE/curves.csv"
cp "$OUT/modul-seed0/config.yaml" "$HERE/config.yaml"
echo "end $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
.venv/bin/python "$HERE/spread.py" > "$HERE/spread.md"
bash docs/results/maze-compare/more_seeds.sh B
