#!/usr/bin/env bash
# Issue 21's contrast on the paper's information: the cue-curriculum preset (the eight modul seeds of
# ../cue-curriculum) for modplast, plastic, lstm and rnn, N = 200 each, two runs at a time on one core each, seeds
# in the order given; then each finished run's held-out evaluation (300 episodes, the curriculum's last stage: the
# paper's observation, outcome never shown) into evaluate.jsonl, curves.csv (every batch merged), and table.md (medians,
# quartiles, seeds past 12 and rank-sum tests, with modul's eight seeds). Re-running continues.
# Usage, from the repository root in the environment `make` creates:
#   bash docs/results/cue-curriculum-cells/run.sh 0,1,2      (then 3,4,5)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/results/cue-curriculum-cells
OUT=runs/cue-curriculum-cells
echo "seeds $1: commit $(git rev-parse --short HEAD), start $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
.venv/bin/backpropamine compare --preset cue-curriculum --cells modplast,plastic,lstm,rnn --seeds "$1" --threads 1 \
    --jobs 2 --log-every 25 --no-tensorboard --out "$OUT"
bash docs/results/finish_batch.sh "$HERE" "$OUT" "$1"   # held-out evaluations, curves.csv
for cell in modplast plastic lstm rnn; do cp "$OUT/$cell-seed0/config.yaml" "$HERE/config-$cell-seed0.yaml" 2>/dev/null || true; done
echo "seeds $1: end $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
# The table with modul's eight seeds (../cue-curriculum) and the rank-sum tests of the paper's contrasts.
.venv/bin/python docs/results/seed_table.py docs/results/cue-curriculum "$HERE" --threshold 12 \
    --pairs modul:plastic,modul:lstm,modul:rnn,modplast:plastic,modplast:lstm,modplast:rnn > "$HERE/table.md"
