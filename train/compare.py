"""`backpropamine compare`: several cells by several seeds on one task, gathered into a CSV, a PNG and a table.

Every trial is an ordinary run folder `<out>/<cell>-seed<S>` (the same as `train` writes), so a trial that was
interrupted resumes from its checkpoint when `compare` is run again, and a finished one is not run twice.
Trials run one after the other (`--jobs 1`), in local processes (`--jobs N`), or as Ray Tune trials
(`--backend ray`, see train/sweep_ray.py).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import multiprocessing
import multiprocessing.connection
import os
import signal
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from plastic_envs import reference_levels
from train.config import ConfigError, TrainConfig, config_from_dict
from train.run_dir import (
    CONFIG_FILE,
    METRICS_FILE,
    RunDirError,
    atomic_write,
    checkpoint_iteration,
    load_run_config,
    read_metric_rows,
    run_files,
)
from train.trainer import StoppedBySignal, stop_signals_call


@dataclasses.dataclass
class Trial:
    """One cell x seed of a comparison: its config (as a dict, so it pickles) and its run folder."""

    cell: str
    seed: int
    config: dict
    run_dir: str


class SweepInterrupted(StoppedBySignal):
    """A local sweep stopped by SIGINT or SIGTERM; every running trial saved its checkpoint first.

    The message lists the iteration each interrupted trial has on disk."""

    def __init__(self, signum: int, saved: dict[str, int | None]):
        self.signum, self.saved = signum, saved
        parts = [f"{Path(run).name} at iteration {it}" if it is not None else f"{Path(run).name}: no checkpoint"
                 for run, it in saved.items()]
        super().__init__("saved " + ", ".join(parts) if parts else "no trial was running")


def plan_trials(configs: dict[str, TrainConfig], seeds: Iterable[int], out_dir: Path) -> list[Trial]:
    """The grid of trials: each cell's resolved config (see cli.config_from_args) with each seed substituted, each
    validated now, not mid-sweep."""
    trials = []
    for cell, config in configs.items():
        for seed in seeds:
            settings = {**config.to_dict(), "cell": cell, "seed": int(seed)}
            config_from_dict(settings)
            trials.append(Trial(cell, int(seed), settings, str(out_dir / f"{cell}-seed{seed}")))
    if not trials:
        raise ConfigError("compare needs at least one cell and one seed")
    return trials


def trial_mismatch(trial: Trial) -> list[str]:
    """The settings in which the run already in a trial's folder differs from the trial (those a re-run may
    change, RESUMABLE_SETTINGS, aside); [] when the folder holds no run yet."""
    from train.trainer import RESUMABLE_SETTINGS

    run_dir = Path(trial.run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        return []
    existing = load_run_config(run_dir).to_dict()
    wanted = config_from_dict(trial.config).to_dict()
    return [name for name in wanted if name not in RESUMABLE_SETTINGS and existing.get(name) != wanted[name]]


def refuse_mismatched(trial: Trial) -> None:
    """ConfigError when the trial's folder holds a run with other settings (see trial_mismatch)."""
    differ = trial_mismatch(trial)
    if differ:
        raise ConfigError(f"{trial.run_dir} holds a run with other settings ({', '.join(differ)}); use another "
                          "--out or the settings it was run with")


def check_existing_trials(trials: list[Trial]) -> TrainConfig:
    """Refuse (ConfigError) a sweep whose folders hold runs with other settings, before any trial starts; returns
    the first trial's config (the sweep's task)."""
    for trial in trials:
        refuse_mismatched(trial)
    return config_from_dict(trials[0].config)


def run_trial(trial: Trial, progress: bool = False, on_log: Callable[[dict], None] | None = None) -> str:
    """Train one trial to the end: new, resumed from its checkpoint, or skipped when already finished.

    on_log: called with every metrics row written (see Trainer.run).
    """
    from train.trainer import Trainer

    run_dir = Path(trial.run_dir)
    config = config_from_dict(trial.config)
    refuse_mismatched(trial)
    if run_files(run_dir):
        done = checkpoint_iteration(run_dir)
        if done is not None and done >= config.iterations:
            return trial.run_dir
        trainer = Trainer(None, run_dir, resume=True, progress=progress,
                          changes={name: getattr(config, name) for name in ("iterations", "threads")})
    else:
        trainer = Trainer(config, run_dir, progress=progress)
    trainer.run(on_log=on_log)
    return trial.run_dir


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (so a killed sweep leaves no orphan training:
    the trial saves and stops); a no-op where prctl is not available."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _run_trial_in_worker(trial: Trial) -> None:
    """Body of a worker process. Exit codes: 0 done; 128 + signal when stopped by one (the trial saved its
    checkpoint); 2 a bad configuration or run folder, 1 a stopped run (the message printed, no traceback).

    The worker leaves the terminal's process group, so a Ctrl-C reaches only the parent, which passes it on once."""
    from train.trainer import RunInterrupted, TrainingStopped

    os.setpgrp()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    try:
        run_trial(trial)
    except RunInterrupted as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
    except (ConfigError, RunDirError, TrainingStopped, OSError) as err:
        print(f"{trial.run_dir}: {err}", file=sys.stderr, flush=True)
        sys.exit(1 if isinstance(err, TrainingStopped) else 2)


def run_local(trials: list[Trial], jobs: int = 1, progress: bool = True) -> None:
    """Run the trials here: one after the other in this process (jobs=1), or `jobs` worker processes at a time.

    SIGINT (Ctrl-C) or SIGTERM stops the sweep: each running trial gets the signal once, saves its checkpoint and
    stops, this process waits for them, no other trial starts, and SweepInterrupted is raised naming the iteration
    each has on disk; running `compare` again resumes. A trial that fails raises TrainingStopped naming it, after
    the trials already running have finished.
    """
    from train.trainer import RunInterrupted, TrainingStopped

    if jobs <= 1:
        for k, trial in enumerate(trials):
            print(f"[{k + 1}/{len(trials)}] {trial.cell} seed {trial.seed} -> {trial.run_dir}", flush=True)
            try:
                run_trial(trial, progress=progress)
            except RunInterrupted as err:
                raise SweepInterrupted(err.signum, {trial.run_dir: err.saved_iteration}) from None
        return
    context = multiprocessing.get_context("fork")
    pending, running, failed = list(trials), {}, []
    stop: list[int] = []
    interrupted: dict[str, int | None] = {}

    def pass_on(signum: int) -> None:
        if not stop:
            stop.append(signum)
            print(f"\n{signal.Signals(signum).name}: stopping the running trials (each saves its checkpoint)",
                  file=sys.stderr, flush=True)
            for worker in running:
                if worker.exitcode is None:
                    os.kill(worker.pid, signum)

    with stop_signals_call(pass_on):
        while running or (pending and not failed and not stop):
            while pending and not failed and not stop and len(running) < jobs:
                trial = pending.pop(0)
                worker = context.Process(target=_run_trial_in_worker, args=(trial,),
                                         name=f"{trial.cell}-seed{trial.seed}")
                worker.start()
                running[worker] = trial
                if stop:        # the signal came while this worker was starting
                    os.kill(worker.pid, stop[0])
            multiprocessing.connection.wait([worker.sentinel for worker in running])
            for worker in [w for w in running if w.exitcode is not None]:
                worker.join()
                trial = running.pop(worker)
                if worker.exitcode == 0:
                    print(f"finished {trial.run_dir}", flush=True)
                elif worker.exitcode > 128 or worker.exitcode < 0:
                    interrupted[trial.run_dir] = checkpoint_iteration(Path(trial.run_dir))
                else:
                    failed.append(trial.run_dir)
    if stop:
        raise SweepInterrupted(stop[0], interrupted)
    if failed:
        raise TrainingStopped(f"{len(failed)} trial(s) failed (their messages are above): {', '.join(failed)}")


def read_curve(run_dir: Path) -> list[dict]:
    """The complete metric rows of a run folder (a row torn by a kill is left out), with numbers parsed."""
    return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
            for row in read_metric_rows(Path(run_dir) / METRICS_FILE)]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of `values` (inclusive method; one value is all three)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def final_reward(rewards: list[float]) -> float:
    """A run's final reward: the mean of the last 10 % (at least one) of its logged rewards, in logging order."""
    tail = max(1, len(rewards) // 10)
    return statistics.fmean(rewards[-tail:])


def summarise(trials: list[Trial], out_dir: Path, env_id: str, title: str | None = None) -> dict[str, Path]:
    """Write curves.csv, curves.png and table.md for finished (or partly finished) trials; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = [(t, read_curve(Path(t.run_dir))) for t in trials]
    cells = list(dict.fromkeys(t.cell for t in trials))

    csv_path = out_dir / "curves.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["cell", "seed", "iteration", "episodes", "wall_time", "reward_mean"])
    for trial, rows in curves:
        for row in rows:
            writer.writerow([trial.cell, trial.seed, int(row["iteration"]), int(row["episodes"]),
                             row["wall_time"], row["reward_mean"]])
    atomic_write(csv_path, buffer.getvalue().encode())

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
        q1, med, q3 = zip(*(quartiles(v) for v in per_step))
        line, = ax.plot(episodes, med, label=f"{cell} (n={len(runs)})")
        ax.fill_between(episodes, q1, q3, alpha=0.2, color=line.get_color())
        finals = [final_reward([r[i]["reward_mean"] for i in range(length)]) for r in runs]
        f1, fmed, f3 = quartiles(finals)
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
    image = io.BytesIO()
    fig.savefig(image, dpi=100, format="png")
    plt.close(fig)
    atomic_write(png_path, image.getvalue())

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
    atomic_write(md_path, ("\n".join(lines) + "\n").encode())
    return {"csv": csv_path, "png": png_path, "table": md_path}
