#!/usr/bin/env bash
# The bandwidth floor of the cue-size kernels (PERFORMANCE.md, "The floor at the cue task's size"): streams.cpp,
# built with the kernel's compiler flags, measures the cache bandwidth of the kernel's access patterns on this
# machine (floor/streams.json), then side_by_side.sh times the training iterations of the base and of this
# checkout in the same session (side-by-side/), which tables.py sets beside the floor.  Run it on an otherwise idle
# machine.  Usage, from the repository root in the environment `make` creates:
#   bash docs/results/performance/floor/run.sh [BASE]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../../../.."
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
# Built with the flags the kernel is built with on this machine.
FLAGS=$(.venv/bin/python -c "from plastic_agents.cells.native import kernel_cflags; print(' '.join(kernel_cflags()))")
g++ $FLAGS "$HERE/streams.cpp" -o "$BIN/streams"
{ echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -m1 "model name" /proc/cpuinfo; } > "$HERE/host.txt"
"$BIN/streams" > "$HERE/streams.json"
bash "$HERE/../side_by_side.sh" "$@"
