#!/usr/bin/env bash
# End-to-end training bench on commit BASE (default 31271ed, before the acting interface) and on this checkout,
# alternating, two rounds each, writing before-N.json and after-N.json into before-after/.
# Usage, from the repository root in the environment `make` creates: bash docs/results/performance/before_after.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
BASE=${1:-31271ed}
ROOT=$PWD
OUT=$ROOT/docs/results/performance/before-after
WT=$(mktemp -d)/base
git worktree add -q --detach "$WT" "$BASE"
trap 'git worktree remove --force "$WT"' EXIT
mkdir -p "$OUT"
for round in 1 2; do
  (cd "$WT" && TORCH_EXTENSIONS_DIR=$WT/.ext PYTHONPATH=$WT "$ROOT/.venv/bin/python" -m train bench --only training \
      --json > "$OUT/before-$round.json")
  "$ROOT/.venv/bin/python" -m train bench --only training --json > "$OUT/after-$round.json"
done
