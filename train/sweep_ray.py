"""`backpropamine compare --backend ray`: the trials of a comparison as Ray Tune trials.

Each trial runs `train.compare.run_trial` inside a Ray worker, so it writes the same run folder as a local
`train` (config, checkpoints, metrics.csv, TensorBoard) and reports every metrics row to Tune. A trial that
fails (an exception, a lost worker) is retried up to `max_failures` times by Tune, and the retry resumes from
the run folder's last checkpoint instead of starting over. On a cluster the output folder must be on storage
every node sees (NFS or similar), since the run folders are the trials' checkpoints; pass the cluster's address
(`--ray-address ray://head:10001` or `auto` on a node of the cluster). Without an address a local Ray is started
inside this process and stopped at the end.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from train.compare import Trial, run_trial
from train.config import ConfigError
from train.trainer import TrainingStopped


def _import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError(
            "the ray backend needs Ray Tune: pip install 'backpropamine[ray]' (or 'ray[tune]')"
        ) from None
    return ray, tune


def _ray_trainable(params: dict) -> None:
    """Tune function trainable: one comparison trial, reporting each metrics row."""
    from ray import tune

    trial = Trial(**params["trial"])
    run_trial(trial, progress=False, on_log=lambda row: tune.report(
        {k: v for k, v in row.items() if isinstance(v, (int, float))}))


def run_ray(trials: list[Trial], *, address: str | None = None, max_failures: int = 2,
            cpus_per_trial: float = 1.0) -> list[dict]:
    """Run `trials` as Ray Tune trials; returns one dict per trial (run folder, error or None)."""
    ray, tune = _import_ray()
    if cpus_per_trial <= 0:
        raise ConfigError(f"cpus_per_trial must be positive, got {cpus_per_trial}")
    if max_failures < 0:
        raise ConfigError(f"max_failures must be >= 0, got {max_failures}")
    threads = max(1, int(cpus_per_trial))
    payload = []
    for trial in trials:
        settings = dict(trial.config)
        settings["threads"] = settings.get("threads") or threads   # no oversubscription inside a worker
        payload.append(dataclasses.asdict(dataclasses.replace(
            trial, config=settings, run_dir=str(Path(trial.run_dir).resolve()))))
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        storage = Path(payload[0]["run_dir"]).parent / "ray_results"
        tuner = tune.Tuner(
            tune.with_resources(_ray_trainable, {"cpu": cpus_per_trial}),
            param_space={"trial": tune.grid_search(payload)},
            run_config=tune.RunConfig(
                name="compare", storage_path=str(storage),
                failure_config=tune.FailureConfig(max_failures=max_failures), verbose=0,
            ),
        )
        results = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    outcome = []
    for result in results:
        trial = result.config["trial"]
        outcome.append({"run_dir": trial["run_dir"], "error": None if result.error is None else str(result.error)})
    failed = [o for o in outcome if o["error"]]
    if failed:
        raise TrainingStopped(f"{len(failed)} Ray trial(s) failed after {max_failures} retries: "
                          + "; ".join(f"{o['run_dir']}: {o['error'].splitlines()[0]}" for o in failed))
    return outcome
