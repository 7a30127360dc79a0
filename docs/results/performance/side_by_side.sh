#!/usr/bin/env bash
# Training iterations of commit BASE (default aab9bcd: the main of issue 19's start plus the bench's per-part timing,
# no speed change) and of this checkout side by side (side_by_side.py), at the cue task's size (cue-paper) and the
# maze's (maze-paper), two threads, writing <preset>.json into side-by-side/. Run it on an otherwise idle machine.
# Usage, from the repository root in the environment `make` creates: bash docs/results/performance/side_by_side.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/../../.."
BASE=${1:-aab9bcd}
ROOT=$PWD
OUT=$ROOT/docs/results/performance/side-by-side
WT=$(mktemp -d)/base
git worktree add -q --detach "$WT" "$BASE"
trap 'git worktree remove --force "$WT"' EXIT
mkdir -p "$OUT"
for dir in "$WT" "$ROOT"; do     # each checkout's kernel build, before any timing
  (cd "$dir" && TORCH_EXTENSIONS_DIR=$dir/.ext PYTHONPATH=$dir "$ROOT/.venv/bin/python" -c \
      "from plastic_agents.cells.native import load_kernels; load_kernels()")
done
{ echo "base: $(git rev-parse --short "$BASE"), new: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- plastic_agents train || echo ' (with uncommitted changes)')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$OUT/host.txt"
for preset in cue-paper maze-paper; do
  "$ROOT/.venv/bin/python" docs/results/performance/side_by_side.py "$WT" "$ROOT" --preset "$preset" \
      --iterations 20 --threads 2 > "$OUT/$preset.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/host.txt"
