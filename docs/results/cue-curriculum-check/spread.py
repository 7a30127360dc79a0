"""The check run's curve (curves.csv here) against the eight earlier seeds of ../cue-curriculum/curves.csv: at every
logged update, whether the check's reward lies within the earlier seeds' range, and the headline figures of both.
Prints markdown.

    python docs/results/cue-curriculum-check/spread.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))    # the repository's train package

from train.compare import final_reward  # noqa: E402

HERE = Path(__file__).resolve().parent
EARLIER = HERE.parent / "cue-curriculum"


def curves(path: Path) -> dict[int, dict[int, float]]:
    """{seed: {iteration: reward_mean}}."""
    out: dict = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["seed"]), {})[int(row["iteration"])] = float(row["reward_mean"])
    return out


def first_past(curve: dict[int, float], level: float, after: int = 0) -> int | None:
    return next((it for it in sorted(curve) if it > after and curve[it] > level), None)


def final(curve: dict[int, float]) -> float:
    return final_reward([curve[it] for it in sorted(curve)])


def main() -> None:
    earlier = curves(EARLIER / "curves.csv")
    check = curves(HERE / "curves.csv")[0]
    common = [it for it in sorted(check) if all(it in c for c in earlier.values())]
    inside = [min(c[it] for c in earlier.values()) <= check[it] <= max(c[it] for c in earlier.values())
              for it in common]
    held = json.loads((HERE / "evaluate.json").read_text())
    earlier_held = [json.loads(line)["reward_mean"]
                    for line in (EARLIER / "evaluate.jsonl").read_text().splitlines()]
    rows = [
        ("logged updates within the earlier seeds' range", f"{sum(inside)} of {len(inside)}", ""),
        ("first past 12, with the outcome shown (update)", str(first_past(check, 12)),
         f"{min(first_past(c, 12) for c in earlier.values())}-{max(first_past(c, 12) for c in earlier.values())}"),
        ("first past 12 on the paper's information (update)", str(first_past(check, 12, 1600)),
         f"{min(first_past(c, 12, 1600) for c in earlier.values())}-"
         f"{max(first_past(c, 12, 1600) for c in earlier.values())}"),
        ("final reward (last 10 % of logged points)", f"{final(check):.2f}",
         f"{min(final(c) for c in earlier.values()):.2f}-{max(final(c) for c in earlier.values()):.2f}"),
        ("held out, paper's information (300 episodes)", f"{held['reward_mean']:.2f}",
         f"{min(earlier_held):.2f}-{max(earlier_held):.2f}"),
    ]
    print("| | check (seed 0, this code) | earlier 8 seeds (range) |\n|---|---|---|")
    for name, value, spread in rows:
        print(f"| {name} | {value} | {spread} |")


if __name__ == "__main__":
    main()
