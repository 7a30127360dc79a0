#!/usr/bin/env bash
# The paper's cue-task recipe (preset cue-paper: modul N=200, B=30, lr 1e-4, gamma 0.9, the paper's observation, no
# curriculum) and its control (the same with plastic), side by side, one thread each, in segments: the command is
# the same for a first segment and for every later one (--resume when the folder holds a run). Each segment's end
# is logged in segments.log with the commit that ran it; stop a segment with SIGTERM (it saves), then commit
# checkpoint.pt, metrics.csv, config.yaml and segments.log.
# Usage, from the repository root in the environment `make` creates:
#   bash docs/results/cue-paper/run.sh [SECONDS [CELL...]]     (CELL: modul, plastic; both when none is named)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/results/cue-paper
SECONDS_PER_SEGMENT=${1:-3600}
segment() {     # NAME CELL
  local run=$HERE/$1 start commit
  start=$(date -u +%Y-%m-%dT%H:%MZ)
  commit=$(git rev-parse --short HEAD)    # the code this segment runs
  if [ -f "$run/config.yaml" ]; then
    timeout "$SECONDS_PER_SEGMENT" .venv/bin/backpropamine train --resume "$run" --no-progress > "$run.log" 2>&1 || true
  else
    timeout "$SECONDS_PER_SEGMENT" .venv/bin/backpropamine train --preset cue-paper --cell "$2" --seed 0 --threads 1 \
        --log-every 50 --checkpoint-every 100 --no-tensorboard --no-progress --run-dir "$run" > "$run.log" 2>&1 || true
  fi
  echo "$start - $(date -u +%Y-%m-%dT%H:%MZ) commit $commit: $(tail -1 "$run.log")" \
      >> "$run/segments.log"
}
shift || true
CELLS=("${@:-modul plastic}")
for cell in ${CELLS[*]}; do
  segment "$cell-seed0" "$cell" &
done
wait
# Held out, once the runs stop (one line per run and evaluation in evaluate.jsonl, the output with "run": NAME added):
#   OMP_NUM_THREADS=1 backpropamine evaluate docs/results/cue-paper/modul-seed0 --episodes 300 --json
# Curves and the RESULTS table: python docs/results/cue-paper/plot.py
