#!/usr/bin/env bash
# Training iterations of commit BASE (default aab9bcd: the main of issue 19's start plus the bench's per-part timing,
# no speed change) and of this checkout side by side (side_by_side.py), at the cue task's size (cue-paper, two
# threads and one; with modplast and plastic in place of modul, two threads; cue-ppo, two threads) and the maze's
# (maze-paper, two threads), writing <preset>[-<cell>]-<threads>t.json into side-by-side/; then this checkout against
# itself with OpenMP's threads sleeping instead of spinning between parallel regions (OMP_WAIT_POLICY=PASSIVE for
# "new"), cue-paper-passive-2t.json. Run it on an otherwise idle machine.
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
run() {   # PRESET THREADS NAME [side_by_side.py arguments]
  "$ROOT/.venv/bin/python" docs/results/performance/side_by_side.py "$WT" "$ROOT" --preset "$1" --threads "$2" \
      --iterations 20 "${@:4}" > "$OUT/$3.json"
}
run cue-paper 2 cue-paper-2t
run cue-paper 1 cue-paper-1t
run cue-paper 2 cue-paper-modplast-2t --cell modplast
run cue-paper 2 cue-paper-plastic-2t --cell plastic
run cue-ppo 2 cue-ppo-2t
run maze-paper 2 maze-paper-2t
WT=$ROOT run cue-paper 2 cue-paper-passive-2t --new-env OMP_WAIT_POLICY=PASSIVE
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/host.txt"
