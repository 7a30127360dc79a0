"""Merge a comparison's curves.csv (written by `backpropamine compare` for the seeds of its last call) into the
curves.csv that collects every batch of seeds: rows of the (cell, seed) pairs in NEW replace those in TOTAL, others
are kept, so seeds run in batches (run.sh 0,1,2, then 3,4,5) end up in one file.

    python docs/results/merge_curves.py TOTAL NEW
"""

from __future__ import annotations

import csv
import os
import sys


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: merge_curves.py TOTAL NEW")
    total, new = sys.argv[1:]
    with open(new, newline="") as f:
        reader = csv.DictReader(f)
        fields, new_rows = reader.fieldnames, list(reader)
    replaced = {(r["cell"], r["seed"]) for r in new_rows}
    kept = []
    if os.path.exists(total):
        with open(total, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != fields:
                raise SystemExit(f"{total} and {new} have different columns")
            kept = [r for r in reader if (r["cell"], r["seed"]) not in replaced]
    rows = sorted(kept + new_rows, key=lambda r: (r["cell"], int(r["seed"]), int(r["iteration"])))
    with open(total + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(total + ".tmp", total)


if __name__ == "__main__":
    main()
