"""The two cue-paper runs side by side, from their metrics.csv: curves.png (reward per episode against training
episodes, each logged point a mean over 50 updates, with its mean over each 50,000 episodes), curves.csv (those
50,000-episode means) and, printed, the table of docs/RESULTS.md.

    python docs/results/cue-paper/plot.py
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = ("modul-seed0", "plastic-seed0")
WINDOW = 50_000     # episodes per mean


def read(run: str) -> list[dict]:
    with open(HERE / run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def window_means(rows: list[dict]) -> list[tuple[int, float]]:
    """(end of the window in episodes, mean reward of its logged points) for each whole 50,000 episodes."""
    out, current, end = [], [], WINDOW
    for row in rows:
        if row["episodes"] > end:
            if current:
                out.append((end, statistics.fmean(current)))
            current, end = [], end + WINDOW
        current.append(row["reward_mean"])
    if current and rows[-1]["episodes"] >= end:
        out.append((end, statistics.fmean(current)))
    return out


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RUNS), figsize=(11, 4.2), sharey=True)
    table = ["| run | episodes | updates | training time | episodes/s (last point) | reward, mean of each "
             "50,000 episodes (min, max) | last 50,000 |", "|---|---|---|---|---|---|---|"]
    with open(HERE / "curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "episodes_end", "reward_mean"])
        for ax, run in zip(axes, RUNS):
            rows = read(run)
            means = window_means(rows)
            for end, mean in means:
                writer.writerow([run, end, f"{mean:.4f}"])
            ax.plot([r["episodes"] for r in rows], [r["reward_mean"] for r in rows], lw=0.5, alpha=0.5,
                    label="each logged point (50 updates)")
            ax.plot([e - WINDOW / 2 for e, _ in means], [m for _, m in means], lw=2,
                    label="mean of each 50,000 episodes")
            ax.axhline(0, color="grey", ls="--", lw=1, label="chance (0)")
            ax.axhline(16.2, color="black", ls=":", lw=1, label="ideal observer (16.2)")
            ax.set_xlabel("training episodes")
            ax.set_title(f"{run.split('-')[0]}, seed 0")
            last = rows[-1]
            values = [m for _, m in means]
            table.append(f"| `{run.split('-')[0]}` | {int(last['episodes']):,} | {int(last['iteration']):,} | "
                         f"{last['wall_time'] / 3600:.2f} h | {last['episodes_per_s']:.0f} | "
                         f"{min(values):.3f}, {max(values):.3f} | {values[-1]:.3f} |")
    axes[0].set_ylabel("reward per episode")
    axes[0].legend(fontsize=8, loc="center right")
    fig.suptitle("cue-paper: the paper's settings and observation, B = 30, lr 1e-4")
    fig.tight_layout()
    fig.savefig(HERE / "curves.png", dpi=100)
    print("\n".join(table))


if __name__ == "__main__":
    main()
