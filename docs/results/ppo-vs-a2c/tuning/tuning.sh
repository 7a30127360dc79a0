#!/usr/bin/env bash
# The short maze runs that chose maze-ppo's settings (seed 0, 500 updates, one thread, two runs at a time). The
# preset was then {lr 1e-3, GAE lambda 0.95, value weight 0.5}; its own first run (700 updates) is
# metrics-first-preset.csv. The preset now holds the last variant's settings (lr 3e-4, lambda 1, value weight 0.1).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
RUNS=${1:-runs/ppo-tuning}
FIRST="--preset maze-ppo --lr 1e-3 --gae-lambda 0.95 --value-coef 0.5"
run() { .venv/bin/backpropamine train $FIRST --iterations 500 --seed 0 --threads 1 --run-dir "$RUNS/$1" \
            --no-progress --no-tensorboard "${@:2}"; }
run lr3e-4 --lr 3e-4 & run lambda1 --gae-lambda 1.0 & wait
run e2m2 --n-epochs 2 --num-minibatches 2 & run lambda1-lr3e-4-vc01 --gae-lambda 1.0 --lr 3e-4 --value-coef 0.1 & wait
