#!/usr/bin/env bash
# The benchmarks quoted in docs/PERFORMANCE.md, one after another, each writing its JSON report here, with the
# host's load average before each (a shared host's load moves the figures).
# Usage (from the repository root, in the environment `make` creates): bash docs/results/performance/run.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${1:-.venv/bin/python}
OUT=docs/results/performance
load() { echo "load average before $1: $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/host.txt; }
{
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "python: $($PY -c 'import sys; print(sys.version.split()[0])'), torch $($PY -c 'import torch; print(torch.__version__)')"
} > $OUT/host.txt
$PY -c "from plastic_agents.cells.native import load_kernels; load_kernels()"   # a first-use compile, not timed
load env; $PY -m plastic_envs.bench --json > $OUT/env.json
load cells; $PY -m plastic_agents.bench --kinds modplast modul plastic --sizes maze cue --json > $OUT/cells.json
load training; $PY -m train bench --only training --json > $OUT/training.json
load training-1thread; OMP_NUM_THREADS=1 $PY -m train bench --only training --json > $OUT/training-1thread.json
load sb3; $PY -m plastic_envs.sb3_bench --json > $OUT/sb3.json
load end
