"""The run folder: what a training run writes, and how it is read back.

    <run>/config.yaml      the resolved TrainConfig
    <run>/checkpoint.pt    the latest checkpoint, replaced atomically (write to a temporary file, fsync, rename)
    <run>/metrics.csv      one row every `log_every` iterations
    <run>/tb/              TensorBoard event files (when enabled)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import yaml

from train.config import ConfigError, TrainConfig, config_from_dict

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tb"


class RunDirError(ValueError):
    """A run folder is missing, incomplete or corrupted; the message says which file and why."""


def save_checkpoint(run_dir: Path, payload: dict) -> None:
    """Write `payload` to <run>/checkpoint.pt atomically: a crash leaves either the old or the new file."""
    run_dir = Path(run_dir)
    fd, tmp_name = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=run_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, run_dir / CHECKPOINT_FILE)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(run_dir: Path) -> dict:
    """Read <run>/checkpoint.pt, or raise RunDirError naming what is wrong."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {CHECKPOINT_FILE}: is it a run folder written by `train`?")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many kinds of errors on a damaged file
        raise RunDirError(f"{path} cannot be read (corrupted or truncated?): {err}") from None
    required = {"policy", "optimizer", "iteration", "generator", "config"}
    if not isinstance(payload, dict) or not required <= set(payload):
        raise RunDirError(f"{path} is not a backpropamine checkpoint (missing {sorted(required - set(payload))})")
    return payload


def load_run_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig saved in a run folder, or RunDirError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run folder {run_dir} does not exist")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {CONFIG_FILE}: is it a run folder written by `train`?")
    try:
        data = yaml.safe_load(path.read_text())
        return config_from_dict(data)
    except (yaml.YAMLError, ConfigError, TypeError) as err:
        raise RunDirError(f"{path} is not a valid run configuration: {err}") from None
