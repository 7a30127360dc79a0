"""The configuration of a training run: one documented dataclass, filled from a preset, a file and the command line.

Precedence, lowest first: the dataclass defaults, the preset (`--preset`, or `preset:` in the file), the config file
(YAML or TOML), then command-line flags. The resolved configuration is saved as `config.yaml` in the run folder,
and `--resume` reads it back from there.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

from plastic_agents.a2c import A2CConfig
from plastic_agents.cells.options import MODULATOR_INITS


class ConfigError(ValueError):
    """A configuration value, file or preset is invalid; the message says which and why."""


def check_device(device: str) -> str:
    """`device` if this machine has it ('cpu', 'cuda' or 'cuda:K'); a ConfigError naming the problem otherwise."""
    if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ConfigError(f"device must be 'cpu' or 'cuda[:K]', got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but CUDA is not available on this machine")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    return device


@dataclass
class TrainConfig:
    """Everything that defines a training run."""

    env_id: str = "BackpropamineMaze-v0"
    """Registered Gymnasium id; the vector env comes from `gym.make_vec(env_id, batch_size)`."""
    env_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments of the environment (e.g. {"wall_penalty": 0.1})."""
    env_schedule: list = field(default_factory=list)
    """A curriculum: stages {"from_iteration": I, "env_kwargs": {...}} with I increasing; once the run has done I
    updates, the environment is rebuilt with env_kwargs updated by every stage reached (see env_kwargs_at). The
    observation and action spaces must stay the same. E.g. [{"from_iteration": 600, "env_kwargs":
    {"outcome_scale": 0.0}}] takes the cue task's outcome input away after 600 updates."""
    cell: str = "modplast"
    """Recurrent cell kind (plastic_agents.CELL_KINDS)."""
    hidden_size: int = 100
    """Number of recurrent neurons N (ignored when match_params is set)."""
    match_params: Optional[int] = None
    """If set, pick the hidden size whose parameter count is closest to this number."""
    cell_options: dict = field(default_factory=dict)
    """Options of the cell (clip, alpha_mode, modulator_fanout, modulator_init, eta_init, init_scale)."""
    eta_init: Optional[float] = None
    """Initial plasticity rate (eta, or etaE for `modul`) of the kinds that have one; None keeps the cell's default."""
    modulator_init: Optional[str] = None
    """Initialisation of the modulator layer of the modulated kinds: 'default' (PyTorch's, the paper's) or 'zero'
    (M(t) = 0 and the traces 0 until training moves it); None keeps the cell's default. Other kinds ignore it."""
    implementation: str = "fast"
    """'fast' (sequence kernels, acting without a graph) or 'reference' (the naive cell, graph built while acting)."""
    iterations: int = 1000
    """Number of updates; each one runs batch_size whole episodes."""
    batch_size: int = 30
    """Parallel episodes per update (B)."""
    seed: int = 0
    """Seeds the parameters, the action sampling and the training episodes (evaluation uses other seeds)."""
    device: str = "cpu"
    """'cpu' or 'cuda' (or 'cuda:K')."""
    threads: int = 0
    """torch intra-op threads; 0 keeps torch's default."""
    max_steps: int = 10_000
    """Cap on the episode length for envs without a fixed one."""
    log_every: int = 10
    """Write a row of metrics every this many iterations."""
    checkpoint_every: int = 100
    """Write a checkpoint every this many iterations (and at the end, and on Ctrl-C)."""
    tensorboard: bool = True
    """Also write TensorBoard event files under <run>/tb."""
    a2c: A2CConfig = field(default_factory=A2CConfig)
    """Loss and optimiser settings."""
    preset: Optional[str] = None
    """Name of the preset this configuration started from (informational)."""

    def __post_init__(self):
        if isinstance(self.a2c, dict):
            self.a2c = A2CConfig(**self.a2c)
        positive = ["hidden_size", "iterations", "batch_size", "max_steps", "log_every", "checkpoint_every"]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.match_params is not None and (not isinstance(self.match_params, int) or self.match_params <= 0):
            raise ConfigError(f"match_params must be a positive integer, got {self.match_params!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ConfigError(f"threads must be a non-negative integer, got {self.threads!r}")
        if self.implementation not in ("fast", "reference"):
            raise ConfigError(f"implementation must be 'fast' or 'reference', got {self.implementation!r}")
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device must be 'cpu' or 'cuda[:K]', got {self.device!r}")
        if self.modulator_init is not None and self.modulator_init not in MODULATOR_INITS:
            raise ConfigError(f"modulator_init must be one of {', '.join(MODULATOR_INITS)}, got "
                              f"{self.modulator_init!r}")
        for name in ("env_kwargs", "cell_options"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping, got {getattr(self, name)!r}")
        self._check_env_schedule()

    def _check_env_schedule(self) -> None:
        if not isinstance(self.env_schedule, list):
            raise ConfigError(f"env_schedule must be a list of stages, got {self.env_schedule!r}")
        previous = 0
        for stage in self.env_schedule:
            if not isinstance(stage, dict) or set(stage) != {"from_iteration", "env_kwargs"}:
                raise ConfigError(f"env_schedule: each stage must be a mapping with exactly the keys from_iteration "
                                  f"and env_kwargs, got {stage!r}")
            start = stage["from_iteration"]
            if not isinstance(start, int) or isinstance(start, bool) or start <= previous:
                raise ConfigError(f"env_schedule: from_iteration must be integers > 0 in increasing order, got "
                                  f"{start!r} after {previous}")
            if not isinstance(stage["env_kwargs"], dict):
                raise ConfigError(f"env_schedule: env_kwargs of the stage from iteration {start} must be a mapping, "
                                  f"got {stage['env_kwargs']!r}")
            previous = start

    def env_kwargs_at(self, iteration: int) -> dict:
        """The environment's keyword arguments once `iteration` updates are done: env_kwargs, updated by every
        stage of env_schedule with from_iteration <= iteration."""
        kwargs = dict(self.env_kwargs)
        for stage in self.env_schedule:
            if iteration >= stage["from_iteration"]:
                kwargs.update(stage["env_kwargs"])
        return kwargs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)


TOP_LEVEL_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "a2c"]
A2C_FIELDS = A2CConfig.field_names()


def read_config_file(path: str | Path) -> dict:
    """Read a YAML (.yaml/.yml) or TOML (.toml) file into a mapping; A2C keys may be flat or under `a2c`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml", ".json"):
            data = yaml.safe_load(path.read_text()) or {}
        else:
            raise ConfigError(f"config file {path}: use a .yaml, .yml or .toml file")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be parsed: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")
    return data


def merge_settings(base: dict, overrides: dict) -> dict:
    """Overlay `overrides` (flat or with an `a2c` mapping) on a nested config dict; unknown keys are errors."""
    merged = json.loads(json.dumps(base))  # deep copy of plain data
    for key, value in overrides.items():
        if key == "a2c":
            if not isinstance(value, dict):
                raise ConfigError(f"a2c must be a mapping of A2C settings, got {value!r}")
            for sub_key, sub_value in value.items():
                if sub_key not in A2C_FIELDS:
                    raise ConfigError(f"unknown A2C setting {sub_key!r}; known: {', '.join(A2C_FIELDS)}")
                merged["a2c"][sub_key] = sub_value
        elif key in A2C_FIELDS:
            merged["a2c"][key] = value
        elif key in TOP_LEVEL_FIELDS:
            merged[key] = value
        else:
            raise ConfigError(
                f"unknown setting {key!r}; known: {', '.join(TOP_LEVEL_FIELDS + A2C_FIELDS)}"
            )
    return merged


def build_config(file_settings: dict, cli_settings: dict) -> TrainConfig:
    """Resolve defaults < preset < file < command line into a validated TrainConfig.

    The preset is named by `preset` on the command line, else in the file.
    """
    from train.presets import preset_settings

    file_settings, cli_settings = dict(file_settings), dict(cli_settings)
    preset = cli_settings.pop("preset", None) or file_settings.get("preset")
    file_settings.pop("preset", None)
    settings = TrainConfig().to_dict()
    if preset is not None:
        settings = merge_settings(settings, preset_settings(preset))
        settings["preset"] = preset
    settings = merge_settings(settings, file_settings)
    settings = merge_settings(settings, cli_settings)
    return config_from_dict(settings)


def config_from_dict(settings: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from its nested dict form, turning bad values into ConfigError."""
    try:
        return TrainConfig(**settings)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
