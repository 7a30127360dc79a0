"""The run folder: what a training run writes, and how it is read back safely.

    <run>/config.yaml      the resolved TrainConfig
    <run>/checkpoint.pt    the latest checkpoint
    <run>/metrics.csv      one row every `log_every` iterations
    <run>/tb/              TensorBoard event files (when enabled)
    <run>/.lock            held (flock) by the one process writing the run; says which process that is

Invariants:
- Every file is replaced atomically (written aside, fsynced, renamed over the old one): a kill at any moment
  leaves the old or the new file, never a truncated one. `metrics.csv` is only appended to while a run goes; a row
  torn by a kill is dropped when the file is next read (and when a resume rewrites it).
- One writer per folder: `RunLock` takes an exclusive `flock` for the whole run; the OS releases it when the
  process dies, so a crash never leaves a stale lock.
- Opening a folder runs no code: checkpoints are read with `torch.load(weights_only=True)` and hold only tensors,
  plain containers, strings and numbers; an env id read from a folder must be registered (see `check_env_id`).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import yaml

from train.config import ConfigError, TrainConfig, config_from_dict

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tb"
LOCK_FILE = ".lock"
#: The files whose presence means a folder holds (part of) a run: a fresh `train` never writes over them.
RUN_FILES = (CONFIG_FILE, CHECKPOINT_FILE, METRICS_FILE, TENSORBOARD_DIR)
#: Prefix of the temporary files of atomic writes (left behind only by a kill during a write).
TEMP_PREFIX = ".tmp-"
#: The keys every checkpoint holds.
CHECKPOINT_KEYS = frozenset({"policy", "optimizer", "iteration", "generator", "config"})


class RunDirError(ValueError):
    """A run folder is missing, incomplete, corrupted, unsafe or in use; the message says which file and why."""


# -- atomic files ------------------------------------------------------------------------------------------------
def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data` atomically: a temporary file in the same folder, fsynced, then renamed over it."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some filesystems refuse to open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temporary_files(run_dir: Path) -> list[Path]:
    """Delete the temporary files a kill during an atomic write left in `run_dir` (call with the lock held)."""
    removed = []
    for path in Path(run_dir).glob(f"{TEMP_PREFIX}*"):
        path.unlink(missing_ok=True)
        removed.append(path)
    for path in Path(run_dir).glob(".checkpoint-*.tmp"):    # the name earlier versions used
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def run_files(run_dir: Path) -> list[str]:
    """The names of RUN_FILES present in `run_dir`."""
    return [name for name in RUN_FILES if (Path(run_dir) / name).exists()]


# -- the writer's lock -------------------------------------------------------------------------------------------
class RunLock:
    """An exclusive lock on a run folder for one writing process (`flock` on <run>/.lock).

    `acquire()` raises RunDirError naming the holder (pid, host, command, start time) when another process has
    it. The OS drops the lock when the holding process exits or dies, so there is no stale lock to clean up.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunDirError(f"{self.path.parent} is in use by {holder}; wait for it to finish or stop it "
                              "first") from None
        except BaseException:
            os.close(fd)
            raise
        holder = (f"pid {os.getpid()} on {socket.gethostname()} ({' '.join(Path(sys.argv[0]).name.split())} "
                  f"since {time.strftime('%Y-%m-%d %H:%M:%S')})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)       # closing the descriptor releases the flock
            self._fd = None



# -- checkpoints -------------------------------------------------------------------------------------------------
_PLAIN = (str, int, float, bool, type(None), bytes, torch.Tensor, torch.dtype, torch.Size)


def check_plain(value, where: str = "checkpoint") -> None:
    """Raise TypeError unless `value` is made only of tensors, plain containers, strings and numbers (what
    `torch.load(weights_only=True)` reads back without running code)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_plain(key, where)
            check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            check_plain(item, f"{where}[{k}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where} holds a {type(value).__name__}, which a weights-only checkpoint cannot store")


def non_finite_parameters(state_dict: dict) -> list[str]:
    """The names of the floating-point tensors of `state_dict` that hold a NaN or an infinity."""
    return [name for name, value in state_dict.items()
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()]


def save_checkpoint(run_dir: Path, payload: dict) -> None:
    """Write `payload` to <run>/checkpoint.pt atomically: a crash leaves either the old or the new file.

    Refuses (ValueError, nothing written) a payload whose policy parameters are not all finite, so the file on
    disk is always a good checkpoint; and (TypeError) one holding anything but plain data.
    """
    bad = non_finite_parameters(payload["policy"])
    if bad:
        raise ValueError(f"not writing a checkpoint with non-finite parameters ({', '.join(bad[:3])})")
    check_plain(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(Path(run_dir) / CHECKPOINT_FILE, buffer.getvalue())


def load_checkpoint(run_dir: Path, *, require_finite: bool = False) -> dict:
    """Read <run>/checkpoint.pt without running any code in it, or raise RunDirError naming what is wrong.

    require_finite: also refuse a checkpoint whose parameters are not all finite (for evaluating or rendering).
    """
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {CHECKPOINT_FILE}: is it a run folder written by `train`?")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds of errors on a damaged or unsafe file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise RunDirError(f"{path} holds objects other than tensors and plain data; refusing to load it "
                              f"(it could run code): {first}") from None
        raise RunDirError(f"{path} cannot be read (corrupted or truncated?): {first}") from None
    if not isinstance(payload, dict) or not CHECKPOINT_KEYS <= set(payload):
        missing = sorted(CHECKPOINT_KEYS - set(payload)) if isinstance(payload, dict) else sorted(CHECKPOINT_KEYS)
        raise RunDirError(f"{path} is not a backpropamine checkpoint (missing {missing})")
    if not isinstance(payload["policy"], dict) or not isinstance(payload["iteration"], int):
        raise RunDirError(f"{path} is not a backpropamine checkpoint (bad policy or iteration)")
    if require_finite:
        bad = non_finite_parameters(payload["policy"])
        if bad:
            raise RunDirError(f"{path} has non-finite parameters ({', '.join(bad[:3])}); it is not a usable agent")
    return payload


def checkpoint_iteration(run_dir: Path) -> int | None:
    """The iteration of the checkpoint on disk, or None when there is none that can be read."""
    try:
        return int(load_checkpoint(run_dir)["iteration"])
    except RunDirError:
        return None


# -- the configuration -------------------------------------------------------------------------------------------
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
    except (yaml.YAMLError, ConfigError, TypeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path} is not a valid run configuration: {err}") from None


def save_run_config(run_dir: Path, config: TrainConfig) -> None:
    atomic_write(Path(run_dir) / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False).encode())


def check_env_id(env_id: str, trusted_modules: Iterable[str] = (), *, source: str = "the run folder") -> str:
    """`env_id` if it is safe to make: registered with Gymnasium, and not of the `module:Env` form (which makes
    Gymnasium import `module`) unless the user named that module in `trusted_modules` (`--import MODULE`).

    Env ids read from a file a user was given go through here, so that opening a folder never imports code.
    """
    import gymnasium as gym

    import plastic_envs  # noqa: F401  (registers the package's ids)

    if not isinstance(env_id, str):
        raise RunDirError(f"{source} names env {env_id!r}, which is not an id")
    module, colon, name = env_id.rpartition(":")
    if colon:
        if module not in set(trusted_modules):
            raise RunDirError(f"{source} names env {env_id!r}, which would import the module {module!r}; pass "
                              f"--import {module} if you trust it")
        return env_id
    if env_id not in gym.registry:
        raise RunDirError(f"{source} names env {env_id!r}, which is not registered; pass --import MODULE to "
                          "register it from a module you trust")
    return env_id


def import_trusted(modules: Iterable[str]) -> None:
    """Import the modules the user named with `--import` (they register their envs when imported)."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ConfigError(f"--import {name}: {err}") from None


# -- metrics -----------------------------------------------------------------------------------------------------
def read_metric_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a metrics CSV (keyed by its own header, which older runs wrote with fewer columns),
    as strings: a row torn by a kill (fewer fields than the header, a missing or non-numeric iteration) is
    dropped, and so is any row after it."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text(errors="replace")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]     # the last line was torn mid-write
    rows: list[dict[str, str]] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return rows
    for fields in reader:
        if len(fields) != len(header) or not fields[0].isdigit():
            break
        rows.append(dict(zip(header, fields)))
    return rows


def rewrite_metrics(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Replace the metrics CSV atomically by a header and `rows`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(path), buffer.getvalue().encode())


def append_metrics_row(path: Path, columns: list[str], row: dict) -> None:
    """Append one row (one write of a whole line, flushed and fsynced)."""
    buffer = io.StringIO()
    csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n").writerow(row)
    with Path(path).open("a") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
