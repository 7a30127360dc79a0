"""The check runs' curves (curves.csv here, one column per seed) against the eight earlier seeds of
../cue-curriculum/curves.csv: at every logged update, whether a check's reward lies within the earlier seeds' range,
and the headline figures of both.
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
    checks = curves(HERE / "curves.csv")
    held = {json.loads(line)["run"]: json.loads(line)["reward_mean"]
            for line in (HERE / "evaluate.jsonl").read_text().splitlines()}
    earlier_held = [json.loads(line)["reward_mean"]
                    for line in (EARLIER / "evaluate.jsonl").read_text().splitlines()]

    def spread(values: list) -> str:
        return f"{min(values)}-{max(values)}" if isinstance(values[0], int) else f"{min(values):.2f}-{max(values):.2f}"

    def inside(check: dict[int, float]) -> str:
        common = [it for it in sorted(check) if all(it in c for c in earlier.values())]
        within = [min(c[it] for c in earlier.values()) <= check[it] <= max(c[it] for c in earlier.values())
                  for it in common]
        return f"{sum(within)} of {len(within)}"

    def held_out(seed: int) -> str:
        value = held.get(f"modul-seed{seed}")
        return "-" if value is None else f"{value:.2f}"

    rows = [
        ("logged updates within the earlier seeds' range", inside, None),
        ("first past 12, with the outcome shown (update)", lambda c: str(first_past(c, 12)),
         [first_past(c, 12) for c in earlier.values()]),
        ("first past 12 on the paper's information (update)", lambda c: str(first_past(c, 12, 1600)),
         [first_past(c, 12, 1600) for c in earlier.values()]),
        ("final reward (last 10 % of logged points)", lambda c: f"{final(c):.2f}",
         [final(c) for c in earlier.values()]),
    ]
    seeds = sorted(checks)
    print("| | " + " | ".join(f"check seed {s}" for s in seeds) + " | earlier 8 seeds (range) |")
    print("|---" * (len(seeds) + 2) + "|")
    for name, value, earlier_values in rows:
        cells = [value(checks[s]) for s in seeds]
        print(f"| {name} | " + " | ".join(cells) + f" | {spread(earlier_values) if earlier_values else ''} |")
    print("| held out, paper's information (300 episodes) | " + " | ".join(held_out(s) for s in seeds)
          + f" | {spread(earlier_held)} |")


if __name__ == "__main__":
    main()
