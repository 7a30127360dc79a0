"""A table over seeds from the curves.csv files that `backpropamine compare` writes (several folders may hold seeds of
one comparison), with each seed's held-out evaluation where an evaluate.jsonl beside a curves.csv has it, and the
two-sided Mann-Whitney rank-sum test (train.stats) between the pairs of cells named.

    python docs/results/seed_table.py FOLDER [FOLDER ...] [--threshold 12] [--pairs modplast:plastic,...]
        [--eval-key maze] [--final-iteration K]

Final reward of a seed: the mean of the last 10 % of its logged points up to --final-iteration (default: its last
logged point), as compare's table.md has it. Held out: `reward_mean` of the seed's line in evaluate.jsonl
(`{"run": "<cell>-seed<k>", "reward_mean": ...}`), or of its entry --eval-key (`{"run": ..., "<key>": {...}}`).
Prints markdown.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))    # the repository's train package

from train.compare import final_reward, quartiles  # noqa: E402
from train.stats import mann_whitney  # noqa: E402


def read_seeds(folders: list[Path], final_iteration: int | None, eval_key: str | None) -> dict:
    """{cell: {seed: {"final": float, "episodes": int, "held_out": float | None}}}; a seed in two folders is an
    error (one comparison, each seed once)."""
    seeds: dict = {}
    for folder in folders:
        rows: dict = {}
        with open(folder / "curves.csv", newline="") as f:
            for row in csv.DictReader(f):
                if final_iteration is None or int(row["iteration"]) <= final_iteration:
                    rows.setdefault((row["cell"], int(row["seed"])), []).append(row)
        held_out = {}
        if (folder / "evaluate.jsonl").exists():
            for line in (folder / "evaluate.jsonl").read_text().splitlines():
                entry = json.loads(line)
                result = entry.get(eval_key) if eval_key else entry
                if isinstance(result, dict) and "reward_mean" in result:
                    held_out[entry["run"]] = result["reward_mean"]
        for (cell, seed), points in rows.items():
            if seed in seeds.get(cell, {}):
                raise SystemExit(f"{cell} seed {seed} is in two folders")
            seeds.setdefault(cell, {})[seed] = {
                "final": final_reward([float(p["reward_mean"]) for p in points]),
                "episodes": int(points[-1]["episodes"]), "held_out": held_out.get(f"{cell}-seed{seed}")}
    return seeds


def table(seeds: dict, threshold: float | None, pairs: list[tuple[str, str]]) -> str:
    head = ["cell", "seeds", "episodes", "final reward, median [quartiles]", "per seed"]
    if threshold is not None:
        head.append(f"seeds past {threshold:g}")
    held = any(s["held_out"] is not None for cell in seeds.values() for s in cell.values())
    if held:
        head.append("held out, median [quartiles]")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell, by_seed in seeds.items():
        finals = [by_seed[s]["final"] for s in sorted(by_seed)]
        q1, med, q3 = quartiles(finals)
        row = [f"`{cell}`", str(len(finals)), f"{min(s['episodes'] for s in by_seed.values()):,}",
               f"{med:.2f} [{q1:.2f}, {q3:.2f}]", ", ".join(f"{v:.1f}" for v in finals)]
        if threshold is not None:
            row.append(f"{sum(v > threshold for v in finals)} of {len(finals)}")
        if held:
            values = [s["held_out"] for s in by_seed.values() if s["held_out"] is not None]
            if values:
                h1, hmed, h3 = quartiles(values)
                row.append(f"{hmed:.2f} [{h1:.2f}, {h3:.2f}] ({len(values)} seeds)")
            else:
                row.append("")
        lines.append("| " + " | ".join(row) + " |")
    if pairs:
        lines += ["", "| comparison (final reward) | U | two-sided p | exact |", "|---|---|---|---|"]
        for a, b in pairs:
            if a not in seeds or b not in seeds:
                raise SystemExit(f"--pairs: no seeds of {a if a not in seeds else b}")
            x = [s["final"] for s in seeds[a].values()]
            y = [s["final"] for s in seeds[b].values()]
            r = mann_whitney(x, y)
            lines.append(f"| `{a}` ({len(x)}) vs `{b}` ({len(y)}) | {r.u:g} | {r.p_value:.4f} | "
                         f"{'yes' if r.exact else 'normal approximation'} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--threshold", type=float)
    p.add_argument("--pairs", default="", help="comma-separated a:b cell pairs to test")
    p.add_argument("--eval-key")
    p.add_argument("--final-iteration", type=int)
    args = p.parse_args()
    pairs = [tuple(pair.split(":")) for pair in args.pairs.split(",") if pair]
    print(table(read_seeds(args.folders, args.final_iteration, args.eval_key), args.threshold, pairs))


if __name__ == "__main__":
    main()
