#!/usr/bin/env bash
# The side-by-side runs of docs/RESULTS.md, "PPO beside A2C": each pair of runs trains at once, one thread each,
# for a fixed wall-clock time (`timeout` sends SIGTERM, on which a run saves its checkpoint and stops), on the
# 2-core machine with nothing else running. Then the summaries and the held-out evaluations.
# Usage, from the repository root in the environment `make` creates: bash docs/results/ppo-vs-a2c/run.sh RUNS_DIR
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-runs/ppo-vs-a2c}
HERE=docs/results/ppo-vs-a2c
BP=".venv/bin/backpropamine"
pair() {    # SECONDS PRESET_A ARGS_A... -- PRESET_B ARGS_B... (run names from the first word after each preset)
  local seconds=$1; shift
  local a=() b=() side=a
  for word in "$@"; do
    if [ "$word" = "--" ]; then side=b; elif [ $side = a ]; then a+=("$word"); else b+=("$word"); fi
  done
  timeout "$seconds" $BP train "${a[@]:1}" --iterations 100000 --threads 1 --run-dir "$RUNS/${a[0]}" \
      --no-progress --no-tensorboard > "$RUNS/${a[0]}.log" 2>&1 &
  timeout "$seconds" $BP train "${b[@]:1}" --iterations 100000 --threads 1 --run-dir "$RUNS/${b[0]}" \
      --no-progress --no-tensorboard > "$RUNS/${b[0]}.log" 2>&1 &
  wait || true
}
mkdir -p "$RUNS"
for seed in 0 1; do
  pair 300 maze-fast-seed$seed --preset maze-fast --seed $seed -- maze-ppo-seed$seed --preset maze-ppo --seed $seed
done
pair 720 cue-outcome-modul-seed0 --preset cue-outcome-modul --seed 0 -- cue-ppo-seed0 --preset cue-ppo --seed 0
for seed in 0 1; do
  pair 240 cue-easy-a2c-seed$seed --preset cue-easy-ppo --algo a2c --seed $seed \
       -- cue-easy-ppo-lr1e-3-seed$seed --preset cue-easy-ppo --lr 1e-3 --seed $seed
done
pair 600 cue-outcome-modul-seed1 --preset cue-outcome-modul --seed 1 -- cue-ppo-seed1 --preset cue-ppo --seed 1
pair 240 cue-easy-ppo-seed0 --preset cue-easy-ppo --seed 0 -- cue-easy-ppo-seed1 --preset cue-easy-ppo --seed 1

PY=.venv/bin/python
$PY $HERE/summarise.py $HERE/maze "$RUNS"/maze-{fast,ppo}-seed{0,1}
$PY $HERE/summarise.py --minutes 2,5,9 --episodes 5000,20000,50000 $HERE/cue "$RUNS"/cue-outcome-modul-seed{0,1} \
    "$RUNS"/cue-ppo-seed{0,1}
$PY $HERE/summarise.py --minutes 1,2,3 --episodes 5000,20000,50000 $HERE/cue-easy "$RUNS"/cue-easy-a2c-seed{0,1} \
    "$RUNS"/cue-easy-ppo-lr1e-3-seed{0,1} "$RUNS"/cue-easy-ppo-seed{0,1}
for run in "$RUNS"/*-seed[0-9]; do
  name=$(basename "$run")
  task=$(case $name in maze-*) echo maze;; cue-easy-*) echo cue-easy;; *) echo cue;; esac)
  cp "$run/config.yaml" "$HERE/$task/config-$name.yaml"
  $BP evaluate "$run" --episodes 300 --json | sed "s/^{/{\"run\": \"$name\", /" >> "$HERE/$task/evaluate.jsonl"
done
