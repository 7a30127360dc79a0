"""The configuration of a training run: one documented dataclass, filled from a preset, a file and the command line.

Precedence, lowest first: the dataclass defaults, the preset (`--preset`, or `preset:` in the file), the config file
(YAML or TOML), then command-line flags. The resolved configuration is saved as `config.yaml` in the run folder,
and `--resume` reads it back from there.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

try:
    import tomllib
except ModuleNotFoundError:     # Python 3.10: the same parser as a package
    import tomli as tomllib

from plastic_agents.a2c import A2CConfig
from plastic_agents.cells.options import resolve_options
from plastic_agents.ppo import PPOConfig


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


#: (lowest, highest) of each integer setting: past these a run would not fit in memory or time on any machine this
#: package targets, so they are refused before anything is allocated.
INT_LIMITS = {
    "hidden_size": (1, 8192),
    "iterations": (1, 10**9),
    "batch_size": (1, 65_536),
    "seed": (0, 999_999),
    "threads": (0, 1024),
    "max_steps": (1, 10**6),
    "log_every": (1, 10**9),
    "checkpoint_every": (1, 10**9),
}
MAX_MATCH_PARAMS = 10**9
#: Training episodes of seed s are seeded s * 1e9 + iteration * batch_size + i (see train.trainer.episode_seed):
#: with at most 1e9 episodes per run and seeds below 1e6 they stay below 1e15, where evaluation's begin.
MAX_EPISODES = 10**9


def _check_int(name: str, value, low: int, high: int) -> int:
    """`value` if it is an int (not a bool, a float or a string) in [low, high], else a ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (a string: quote-free numbers only)" if isinstance(value, str) else ""
        raise ConfigError(f"{name} must be an integer, got {value!r}{hint}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
    return value


#: Each algorithm's name (the value of `algo`, and its settings' section) and settings class.
ALGORITHMS = {"a2c": A2CConfig, "ppo": PPOConfig}


def check_algo(algo) -> str:
    """`algo` if it names an algorithm of ALGORITHMS, else a ConfigError listing them."""
    if not isinstance(algo, str) or algo not in ALGORITHMS:
        raise ConfigError(f"algo must be one of {', '.join(ALGORITHMS)}, got {algo!r}")
    return algo


def accepted_cell_options(kind) -> set[str]:
    """The names of the options cell kind `kind` has (ConfigError for an unknown kind)."""
    try:
        return set(resolve_options(kind, {}))
    except ValueError as err:
        raise ConfigError(str(err)) from None


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
    match_params: int | None = None
    """If set, pick the hidden size whose parameter count is closest to this number."""
    cell_options: dict = field(default_factory=dict)
    """Options of the cell kind, checked by the cell's own option check (plastic_agents.cells.options): clip,
    alpha_mode, modulator_fanout, modulator_init, eta_init, init_scale, as the kind has them. An option the kind
    does not have is an error. `--eta-init X` and `--modulator-init X` are the flags' spelling of
    cell_options.eta_init and cell_options.modulator_init."""
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
    algo: str = "a2c"
    """The learning algorithm: 'a2c' (the paper's) or 'ppo'; its settings are the section of that name."""
    a2c: A2CConfig = field(default_factory=A2CConfig)
    """A2C's loss and optimiser settings (used when algo is 'a2c')."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO's settings (used when algo is 'ppo')."""
    preset: str | None = None
    """Name of the preset this configuration started from (informational)."""

    def __post_init__(self):
        for name, cls in ALGORITHMS.items():
            if isinstance(getattr(self, name), dict):
                try:
                    setattr(self, name, cls(**getattr(self, name)))
                except TypeError as err:
                    raise ConfigError(f"{name}: {err}") from None
        check_algo(self.algo)
        for name, (low, high) in INT_LIMITS.items():
            _check_int(name, getattr(self, name), low, high)
        if self.match_params is not None:
            _check_int("match_params", self.match_params, 1, MAX_MATCH_PARAMS)
        if self.iterations * self.batch_size > MAX_EPISODES:
            raise ConfigError(f"iterations x batch_size = {self.iterations * self.batch_size:,} episodes is past the "
                              f"limit of {MAX_EPISODES:,} (training episode seeds must not reach the next seed's)")
        for name in ("env_id", "cell", "device", "implementation"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.preset is not None and not isinstance(self.preset, str):
            raise ConfigError(f"preset must be a string, got {self.preset!r}")
        if not isinstance(self.tensorboard, bool):
            raise ConfigError(f"tensorboard must be true or false, got {self.tensorboard!r}")
        if self.implementation not in ("fast", "reference"):
            raise ConfigError(f"implementation must be 'fast' or 'reference', got {self.implementation!r}")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device must be 'cpu' or 'cuda[:K]', got {self.device!r}")
        for name in ("env_kwargs", "cell_options"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping, got {getattr(self, name)!r}")
        try:
            resolve_options(self.cell, self.cell_options)
        except ValueError as err:
            raise ConfigError(f"cell_options: {err}") from None
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

    @property
    def algo_config(self):
        """The settings of the chosen algorithm (an A2CConfig or a PPOConfig)."""
        return getattr(self, self.algo)

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



TOP_LEVEL_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in ALGORITHMS]
A2C_FIELDS = A2CConfig.field_names()
#: The settings a file or a flag may give flat (not under `a2c:` or `ppo:`): they go to the chosen algorithm.
ALGORITHM_FIELDS = list(dict.fromkeys(A2C_FIELDS + PPOConfig.field_names()))
#: Settings merged key by key (a preset's, a file's and the flags' entries combine; a later one wins per key).
MAPPING_FIELDS = ("cell_options", "env_kwargs")
#: The flags' spelling of two cell options (`--eta-init`, `--modulator-init`).
CELL_OPTION_FLAGS = ("eta_init", "modulator_init")


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


def merge_settings(base: dict, overrides: dict, flat: list, layer: str) -> dict:
    """Overlay `overrides` on a nested config dict; unknown keys are errors. cell_options and env_kwargs merge key
    by key; an algorithm's section (`a2c:`, `ppo:`) key by key. Flat algorithm settings (`lr: 3e-4`) are appended
    to `flat` as (key, value, layer), for build_config to give to the chosen algorithm."""
    merged = json.loads(json.dumps(base))  # deep copy of plain data
    for key, value in overrides.items():
        if key in ALGORITHMS:
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a mapping of {key.upper()} settings, got {value!r}")
            known = ALGORITHMS[key].field_names()
            for sub_key, sub_value in value.items():
                if sub_key not in known:
                    raise ConfigError(f"unknown {key.upper()} setting {sub_key!r}; known: {', '.join(known)}")
                merged[key][sub_key] = sub_value
        elif key in ALGORITHM_FIELDS:
            flat.append((key, value, layer))
        elif key in MAPPING_FIELDS:
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a mapping, got {value!r}")
            merged[key] = {**merged[key], **value}
        elif key in TOP_LEVEL_FIELDS:
            merged[key] = value
        elif key in CELL_OPTION_FLAGS:
            raise ConfigError(f"{key} is a cell option: write it as cell_options: {{{key}: ...}} (or --"
                              f"{key.replace('_', '-')} on the command line)")
        else:
            raise ConfigError(
                f"unknown setting {key!r}; known: {', '.join(TOP_LEVEL_FIELDS + ALGORITHM_FIELDS)}"
            )
    return merged


def preset_settings(name: str) -> dict:
    """The settings of preset `name` (a deep copy: presets share nested mappings), or a ConfigError listing them."""
    from train.presets import PRESETS

    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name][1])


def build_config(file_settings: dict, cli_settings: dict, notes: list[str] | None = None) -> TrainConfig:
    """Resolve defaults < preset < file < command line into a validated TrainConfig.

    The preset is named by `preset` on the command line, else in the file. `eta_init` and `modulator_init` in
    cli_settings are the flags' spelling of those cell options. A preset's cell_options belong to the preset's
    cell: those the run's cell kind does not have are left out, and a line saying so is appended to `notes`;
    any other option the kind does not have is an error.
    """
    file_settings, cli_settings = dict(file_settings), dict(cli_settings)
    flag_options = {name: cli_settings.pop(name) for name in CELL_OPTION_FLAGS if name in cli_settings}
    if flag_options:
        cli_settings["cell_options"] = {**cli_settings.get("cell_options", {}), **flag_options}
    preset = cli_settings.pop("preset", None) or file_settings.get("preset")
    file_settings.pop("preset", None)
    settings = TrainConfig().to_dict()
    preset_options: dict = {}
    chosen: dict = {}
    if preset is not None:
        chosen = preset_settings(preset)
        preset_options = chosen.pop("cell_options", {})
        settings["preset"] = preset
    flat: list = []
    settings = merge_settings(settings, chosen, flat, "preset")
    settings = merge_settings(settings, file_settings, flat, "file")
    settings = merge_settings(settings, cli_settings, flat, "flags")
    algo = check_algo(settings["algo"])
    known, left_out_settings = ALGORITHMS[algo].field_names(), []
    for key, value, layer in flat:
        if key in known:
            settings[algo][key] = value
        elif layer == "preset":     # the preset's settings of another algorithm
            left_out_settings.append(key)
        else:
            raise ConfigError(f"{key} is not a setting of {algo.upper()} (its settings: {', '.join(known)})")
    if left_out_settings and notes is not None:
        notes.append(f"preset {preset}: {', '.join(sorted(set(left_out_settings)))} left out: not settings of "
                     f"{algo.upper()}")
    if preset_options:
        kind = settings["cell"]
        accepted = accepted_cell_options(kind)
        left_out = sorted(set(preset_options) - accepted - set(settings["cell_options"]))
        settings["cell_options"] = {**{k: v for k, v in preset_options.items() if k in accepted},
                                    **settings["cell_options"]}
        if left_out and notes is not None:
            notes.append(f"preset {preset}: cell option(s) {', '.join(left_out)} of its cell "
                         f"{chosen.get('cell')!r} left out: cell kind {kind!r} has none")
    return config_from_dict(settings)


def config_from_dict(settings: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from its nested dict form (as saved in a run folder), turning bad values into
    ConfigError.

    Run folders written before cell options had one spelling hold top-level `eta_init` and `modulator_init`; they
    are read as those runs used them: moved into cell_options where the kind has them and cell_options does not
    set them, and dropped elsewhere.
    """
    if not isinstance(settings, dict):
        raise ConfigError(f"a configuration must be a mapping, got {type(settings).__name__}")
    settings = dict(settings)
    legacy = {name: settings.pop(name) for name in CELL_OPTION_FLAGS if name in settings}
    legacy = {name: value for name, value in legacy.items() if value is not None}
    if legacy and isinstance(settings.get("cell_options", {}), dict):
        accepted = accepted_cell_options(settings.get("cell", TrainConfig.cell))
        settings["cell_options"] = {**{k: v for k, v in legacy.items() if k in accepted},
                                    **settings.get("cell_options", {})}
    try:
        return TrainConfig(**settings)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
