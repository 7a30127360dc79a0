"""`backpropamine compare`: several cells by several seeds on one task, gathered into a CSV, a PNG and a table.

Every trial is an ordinary run folder `<out>/<cell>-seed<S>` (the same as `train` writes), so a trial that was
interrupted resumes from its checkpoint when `compare` is run again, and a finished one is not run twice.
Trials run one after the other (`--jobs 1`), in local processes (`--jobs N`), or as Ray Tune trials
(`--backend ray`, see train/sweep_ray.py).
"""

from __future__ import annotations

import csv
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import statistics
import sys
from pathlib import Path
from typing import Callable, Iterable, Optional

from plastic_envs import reference_levels
from train.config import ConfigError, TrainConfig, config_from_dict
from train.run_dir import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, RunDirError, load_checkpoint


@dataclasses.dataclass
class Trial:
    """One cell x seed of a comparison: its config (as a dict, so it pickles) and its run folder."""

    cell: str
    seed: int
    config: dict
    run_dir: str


def plan_trials(base: TrainConfig, cells: Iterable[str], seeds: Iterable[int], out_dir: Path) -> list[Trial]:
    """The grid of trials: base config with each cell and seed substituted (each validated now, not mid-sweep)."""
    trials = []
    for cell in cells:
        for seed in seeds:
            settings = base.to_dict()
            settings.update(cell=cell, seed=int(seed))
            config_from_dict(settings)
            trials.append(Trial(cell, int(seed), settings, str(out_dir / f"{cell}-seed{seed}")))
    if not trials:
        raise ConfigError("compare needs at least one cell and one seed")
    return trials


def run_trial(trial: Trial, progress: bool = False, on_log: Optional[Callable[[dict], None]] = None) -> str:
    """Train one trial to the end: new, resumed from its checkpoint, or skipped when already finished.

    on_log: called with every metrics row written (see Trainer.run).
    """
    from train.trainer import Trainer

    run_dir = Path(trial.run_dir)
    config = config_from_dict(trial.config)
    if (run_dir / CONFIG_FILE).exists() and (run_dir / CHECKPOINT_FILE).exists():
        if int(load_checkpoint(run_dir)["iteration"]) >= config.iterations:
            return trial.run_dir
        trainer = Trainer(None, run_dir, resume=True, progress=progress)
        trainer.extend(config.iterations)
    else:
        trainer = Trainer(config, run_dir, progress=progress)
    trainer.run(on_log=on_log)
    return trial.run_dir


def _run_trial_in_worker(trial: Trial) -> None:
    """Body of a worker process. Exit codes: 0 done; 130 interrupted (the trial saved its checkpoint); 2 a bad
    configuration or run folder, 1 a stopped run (the message printed, no traceback)."""
    from train.trainer import TrainingStopped

    try:
        run_trial(trial)
    except KeyboardInterrupt:
        sys.exit(130)
    except (ConfigError, RunDirError, TrainingStopped) as err:
        print(f"{trial.run_dir}: {err}", file=sys.stderr, flush=True)
        sys.exit(2 if isinstance(err, (ConfigError, RunDirError)) else 1)


def run_local(trials: list[Trial], jobs: int = 1, progress: bool = True) -> None:
    """Run the trials here: one after the other in this process (jobs=1), or `jobs` worker processes at a time.

    Ctrl-C (SIGINT, to this process or to a worker) stops the sweep: the running trials save their checkpoints
    and stop, no other trial starts, and KeyboardInterrupt is raised here; running `compare` again resumes.
    A trial that fails raises TrainingStopped naming it, after the trials already running have finished.
    """
    from train.trainer import TrainingStopped

    if jobs <= 1:
        for k, trial in enumerate(trials):
            print(f"[{k + 1}/{len(trials)}] {trial.cell} seed {trial.seed} -> {trial.run_dir}", flush=True)
            run_trial(trial, progress=progress)
        return
    context = multiprocessing.get_context()
    pending, running, failed = list(trials), {}, []
    try:
        while running or (pending and not failed):
            while pending and not failed and len(running) < jobs:
                trial = pending.pop(0)
                worker = context.Process(target=_run_trial_in_worker, args=(trial,),
                                         name=f"{trial.cell}-seed{trial.seed}")
                worker.start()
                running[worker] = trial
            multiprocessing.connection.wait([worker.sentinel for worker in running])
            for worker in [w for w in running if w.exitcode is not None]:
                trial = running.pop(worker)
                if worker.exitcode == 0:
                    print(f"finished {trial.run_dir}", flush=True)
                elif worker.exitcode == 130:
                    raise KeyboardInterrupt
                else:
                    failed.append(trial.run_dir)
    except KeyboardInterrupt:
        for worker in running:
            if worker.exitcode is None:
                os.kill(worker.pid, signal.SIGINT)
        for worker in running:
            worker.join()
        raise
    if failed:
        raise TrainingStopped(f"{len(failed)} trial(s) failed (their messages are above): {', '.join(failed)}")


def read_curve(run_dir: Path) -> list[dict]:
    """The metric rows of a run folder, with numbers parsed."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()})
    return rows


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def summarise(trials: list[Trial], out_dir: Path, env_id: str, title: Optional[str] = None) -> dict[str, Path]:
    """Write curves.csv, curves.png and table.md for finished (or partly finished) trials; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = [(t, read_curve(Path(t.run_dir))) for t in trials]
    cells = list(dict.fromkeys(t.cell for t in trials))

    csv_path = out_dir / "curves.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "seed", "iteration", "episodes", "wall_time", "reward_mean"])
        for trial, rows in curves:
            for row in rows:
                writer.writerow([trial.cell, trial.seed, int(row["iteration"]), int(row["episodes"]),
                                 row["wall_time"], row["reward_mean"]])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    table_rows = []
    for cell in cells:
        runs = [rows for t, rows in curves if t.cell == cell and rows]
        if not runs:
            table_rows.append((cell, 0, "no data", "", ""))
            continue
        length = min(len(r) for r in runs)
        episodes = [runs[0][i]["episodes"] for i in range(length)]
        per_step = [[r[i]["reward_mean"] for r in runs] for i in range(length)]
        q1, med, q3 = zip(*(_quartiles(v) for v in per_step))
        line, = ax.plot(episodes, med, label=f"{cell} (n={len(runs)})")
        ax.fill_between(episodes, q1, q3, alpha=0.2, color=line.get_color())
        tail = max(1, length // 10)
        finals = [statistics.fmean(r[i]["reward_mean"] for i in range(length - tail, length)) for r in runs]
        f1, fmed, f3 = _quartiles(finals)
        wall = statistics.fmean(r[length - 1]["wall_time"] for r in runs)
        table_rows.append((cell, len(runs), f"{fmed:.2f} [{f1:.2f}, {f3:.2f}]", f"{int(episodes[-1]):,}",
                           f"{wall:.0f}"))
    levels = reference_levels(env_id)
    if levels is not None:
        ax.axhline(levels.random, color="grey", linestyle="--", label=f"random ({levels.random:g})")
        if levels.best is not None:
            ax.axhline(levels.best, color="black", linestyle=":", label=f"{levels.best_name} ({levels.best:g})")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("reward per episode (median, quartiles over seeds)")
    ax.set_title(title or env_id)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    png_path = out_dir / "curves.png"
    fig.savefig(png_path, dpi=100)
    plt.close(fig)

    md_path = out_dir / "table.md"
    lines = [
        f"# {title or env_id}",
        "",
        "Final reward: mean of the last 10% of logged points per seed; "
        "median [first quartile, third quartile] over seeds.",
        "",
        "| cell | seeds | final reward | episodes | wall-clock s per run |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in table_rows]
    if levels is not None:
        best = f", {levels.best_name} {levels.best:g}" if levels.best is not None else ""
        lines += ["", f"Reference levels: random {levels.random:g}{best}."]
    md_path.write_text("\n".join(lines) + "\n")
    return {"csv": csv_path, "png": png_path, "table": md_path}
