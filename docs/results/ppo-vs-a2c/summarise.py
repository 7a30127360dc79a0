"""Gather side-by-side A2C and PPO runs into curves.csv, curves.png and table.md (see README.md beside this file).

    python docs/results/ppo-vs-a2c/summarise.py [--minutes 1,2,4] [--episodes 3000,10000,20000] OUT RUN_DIR ...

Each RUN_DIR is a run folder named <preset>-seed<S>. The table gives, per preset, the reward per episode (mean of
the metrics rows in a window) at fixed training times and at fixed numbers of training episodes, as the median
over seeds and each seed's value.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path

WINDOW = 3          # metrics rows averaged around each point (each row is already a mean over log_every updates)
MINUTES = (1, 2, 4)
EPISODES = (3_000, 10_000, 20_000)


def read(run: Path) -> list[dict[str, float]]:
    with (run / "metrics.csv").open() as handle:
        return [{k: float(v) for k, v in row.items() if k in ("iteration", "episodes", "wall_time", "reward_mean")}
                for row in csv.DictReader(handle)]


def at(rows: list[dict[str, float]], key: str, value: float) -> float | None:
    """The mean reward of the WINDOW rows up to the last one with rows[key] <= value (None if the run is shorter)."""
    if not rows or rows[-1][key] < value:
        return None
    k = max(i for i, row in enumerate(rows) if row[key] <= value)
    window = rows[max(0, k - WINDOW + 1): k + 1]
    return statistics.fmean(row["reward_mean"] for row in window)


def main(out: Path, runs: list[Path], minutes: tuple[float, ...] = MINUTES,
         episodes: tuple[int, ...] = EPISODES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, dict[int, list[dict[str, float]]]] = {}
    for run in runs:
        preset, seed = re.fullmatch(r"(.+)-seed(\d+)", run.name).groups()
        curves.setdefault(preset, {})[int(seed)] = read(run)
    with (out / "curves.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["preset", "seed", "iteration", "episodes", "wall_time", "reward_mean"])
        for preset, seeds in curves.items():
            for seed, rows in sorted(seeds.items()):
                for row in rows:
                    writer.writerow([preset, seed, int(row["iteration"]), int(row["episodes"]), row["wall_time"],
                                     row["reward_mean"]])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (preset, seeds), color in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        for seed, rows in sorted(seeds.items()):
            label = preset if seed == min(seeds) else None
            axes[0].plot([r["episodes"] for r in rows], [r["reward_mean"] for r in rows], color=color, label=label,
                         lw=1)
            axes[1].plot([r["wall_time"] / 60 for r in rows], [r["reward_mean"] for r in rows], color=color,
                         label=label, lw=1)
    axes[0].set_xlabel("training episodes")
    axes[1].set_xlabel("training minutes (one thread each, side by side)")
    for ax in axes:
        ax.set_ylabel("reward per episode")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)

    def cell(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        if not known:
            return "-"
        each = ", ".join("-" if v is None else f"{v:.1f}" for v in values)
        return f"{statistics.median(known):.1f} ({each})"

    header = ["preset", "seeds", "episodes/s"] + [f"at {m:g} min" for m in minutes] + [f"at {e:,} episodes"
                                                                                     for e in episodes]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for preset, seeds in curves.items():
        runs_ = [rows for _, rows in sorted(seeds.items())]
        speed = statistics.median(rows[-1]["episodes"] / rows[-1]["wall_time"] for rows in runs_)
        row = [preset, ", ".join(str(s) for s in sorted(seeds)), f"{speed:.0f}"]
        row += [cell([at(rows, "wall_time", 60 * m) for rows in runs_]) for m in minutes]
        row += [cell([at(rows, "episodes", e) for rows in runs_]) for e in episodes]
        lines.append("| " + " | ".join(row) + " |")
    (out / "table.md").write_text(
        "Reward per episode (training batches; median over seeds, each seed in brackets), at a training time and "
        f"at a number of training episodes; each point is the mean of {WINDOW} metrics rows.\n\n"
        + "\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default=",".join(map(str, MINUTES)))
    parser.add_argument("--episodes", default=",".join(map(str, EPISODES)))
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    main(args.out, args.runs, tuple(float(m) for m in args.minutes.split(",")),
         tuple(int(e) for e in args.episodes.split(",")))
