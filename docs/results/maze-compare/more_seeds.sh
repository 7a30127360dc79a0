#!/usr/bin/env bash
# Seeds 3, 4 and 5 of the parameter-matched maze comparison (the command of docs/RESULTS.md with other seeds), in two
# sweeps side by side on one core each: A, then B after the cue-curriculum check (see ../cue-curriculum-check/run.sh)
# in the other; C (modul) later, as two runs side by side on one core each. Then the held-out evaluation of each
# finished run (finish_batch.sh); each sweep's curves.csv and evaluate.jsonl go into more-a/, more-b/ and more-c/
# here; `table` prints the table over all seeds (seed_table.py) with the rank-sum tests.
# Usage, from the repository root in the environment `make` creates: bash docs/results/maze-compare/more_seeds.sh A|B|C|table
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/results/maze-compare
sweep() {   # CELLS OUT JOBS
  local keep=$HERE/more-${2##*-}
  .venv/bin/backpropamine compare --preset maze-fast --cells "$1" --seeds 3,4,5 --match-params 22306 \
      --iterations 3000 --threads 1 --jobs "$3" --log-every 50 --no-tensorboard --out "$2"
  bash docs/results/finish_batch.sh "$keep" "$2" 3,4,5 maze   # held-out evaluations, curves.csv
  cp "$2"/config-*.yaml "$keep/" 2>/dev/null || true
}
case "${1:-}" in
  A) sweep modplast,plastic runs/maze-more-a 1 ;;
  B) sweep lstm,rnn runs/maze-more-b 1 ;;
  C) sweep modul runs/maze-more-c 2 ;;
  table) .venv/bin/python docs/results/seed_table.py "$HERE" "$HERE"/more-? --eval-key maze \
             --pairs modplast:plastic,modplast:lstm,modplast:rnn,modul:plastic,modul:lstm,modul:rnn,plastic:lstm ;;
  *) echo "usage: $0 A|B|C|table" >&2; exit 2 ;;
esac
