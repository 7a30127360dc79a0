"""Shared plumbing of the package's environments: a single Gymnasium env and a native vector env, both
driving one batched NumPy *core* (``MazeCore``, ``CueRewardCore``) that holds the rules of a task.

A core holds the state of ``num_envs`` episodes in arrays of leading dimension ``num_envs`` and offers:

- ``parse_options(options, num_envs) -> dict`` validate reset options (raise ``ValueError``), change nothing;
- ``reset_envs(idx, keys, fixed)`` start new episodes in the rows ``idx`` (int64 array) with episode keys
  ``keys`` (uint64 array, one per row, see :mod:`plastic_envs.rng`) and the parsed ``fixed`` options;
- ``step(actions) -> (rewards, truncated)`` advance every row by one step (actions: int64 (num_envs,);
  rewards: float64 (num_envs,); truncated: bool (num_envs,)) and refresh ``core.obs``;
- ``obs``: float32 (num_envs, obs_size), the current observation of every row (an internal buffer);
- ``info() -> dict[str, ndarray]`` fresh per-row info arrays; ``single_info(i) -> dict`` the same for row i
  in single-env form (Python scalars, NumPy arrays for vectors);
- ``render_rgb(i) -> uint8 (H, W, 3)`` and ``render_ansi(i) -> str`` pictures of row i;
- ``observation_space``: the float32 Box of one observation; ``num_actions``; ``episode_length``.

Episodes have a fixed length: the core truncates them itself (``truncated`` is True on step
``episode_length``), they are never terminated, and the registered specs carry no ``max_episode_steps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from plastic_envs.rng import draw_key

RENDER_FPS = 8


class EpisodeOverError(RuntimeError):
    """step() was called on a single env whose episode has ended (or never started): call reset() first."""


class ObsLayout:
    """Named positions of an observation vector.

    ``fields`` is a sequence of ``(name, slice, meaning)``; ``layout["name"]`` or ``layout.name`` gives the
    slice; ``layout.size`` is the observation length; ``layout.rows()`` yields ``(index text, meaning)``
    pairs for documentation.
    """

    def __init__(self, fields: Sequence[tuple[str, slice, str]]):
        self.fields = tuple(fields)
        self._by_name = {name: sl for name, sl, _ in self.fields}
        self.size = max(sl.stop for _, sl, _ in self.fields)

    def __getitem__(self, name: str) -> slice:
        return self._by_name[name]

    def __getattr__(self, name: str) -> slice:
        try:
            return self.__dict__["_by_name"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def rows(self) -> list[tuple[str, str]]:
        """(index or index range as text, meaning) per field, in order."""
        out = []
        for _, sl, meaning in self.fields:
            idx = str(sl.start) if sl.stop - sl.start == 1 else f"{sl.start}-{sl.stop - 1}"
            out.append((idx, meaning))
        return out

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={s.start}:{s.stop}" for n, s, _ in self.fields)
        return f"ObsLayout({inner})"


# ---------------------------------------------------------------------------------------------------------
# argument checks shared by both tasks

def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer (not bool) >= minimum, else raise TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(name: str, value: Any, minimum: float | None = None) -> float:
    """Return ``value`` as a finite float (>= minimum if given), else raise TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_single_action(action: Any, num_actions: int) -> int:
    """Validate one action of a ``Discrete(num_actions)`` space; return it as int.

    Accepts Python ints and NumPy integer scalars or 0-d integer arrays; raises TypeError for other types
    and ValueError for values outside [0, num_actions).
    """
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action[()]
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
        raise TypeError(
            f"action must be an integer in [0, {num_actions}), got {action!r} ({type(action).__name__})"
        )
    if not 0 <= action < num_actions:
        raise ValueError(f"action must be in [0, {num_actions}), got {action}")
    return int(action)


def check_batch_action(actions: Any, num_envs: int, num_actions: int) -> np.ndarray:
    """Validate a batch of actions: integer array-like of shape (num_envs,) with values in [0, num_actions).

    Returns an int64 array: ``actions`` itself when it already is one (the cores never modify it), else a
    converted copy. Raises TypeError for a non-integer dtype, ValueError for a wrong shape or an out-of-range
    value.
    """
    arr = np.asarray(actions)
    if arr.dtype != np.int64:
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"actions must be an integer array of shape ({num_envs},), got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    if arr.shape != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got shape {arr.shape}")
    # One reduction checks both ends: a negative int64 read as uint64 is above any valid action.
    if num_envs and arr.view(np.uint64).max() >= num_actions:
        bad = arr[(arr < 0) | (arr >= num_actions)]
        raise ValueError(f"actions must be in [0, {num_actions}), got {bad[:5].tolist()}")
    return arr


def per_env_array(name: str, value: Any, num_envs: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast an option to int64 (num_envs, *item_shape): one value for all envs or one per env."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged sequences
        raise ValueError(f"option {name!r} must be integers of shape {item_shape}, got {value!r}") from exc
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"option {name!r} must hold integers, got {value!r}")
    if arr.shape == item_shape:
        arr = np.broadcast_to(arr, (num_envs, *item_shape))
    elif arr.shape != (num_envs, *item_shape):
        raise ValueError(
            f"option {name!r} must have shape {item_shape} (all envs) or {(num_envs, *item_shape)} "
            f"(one per env), got shape {arr.shape}"
        )
    return arr.astype(np.int64)


def check_option_keys(options: dict | None, allowed: Sequence[str]) -> dict:
    """Return ``options`` (or {}) after checking it is a dict whose keys are all in ``allowed``."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(f"options must be a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; allowed: {sorted(allowed)}")
    return options


# ---------------------------------------------------------------------------------------------------------
# the two env classes

class PlasticEnv(gym.Env):
    """A single episode driven by a batch-1 core. Subclasses set ``core_class``."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": RENDER_FPS}
    core_class: type

    def __init__(self, render_mode: str | None = None, **params: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        self._core = self.core_class(num_envs=1, **params)
        self.observation_space = self._core.observation_space
        self.action_space = gym.spaces.Discrete(self._core.num_actions)
        self.obs_layout: ObsLayout = self._core.obs_layout
        self._running = False
        self._row = np.zeros(1, dtype=np.int64)

    @property
    def core(self):
        """The batch-1 core holding this env's state (read it, do not modify it)."""
        return self._core

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        fixed = self._core.parse_options(options, 1)
        super().reset(seed=seed)
        keys = np.array([draw_key(self.np_random)], dtype=np.uint64)
        self._core.reset_envs(self._row, keys, fixed)
        self._running = True
        return self._core.obs[0].copy(), self._core.single_info(0)

    def step(self, action):
        a = check_single_action(action, self._core.num_actions)
        if not self._running:
            raise EpisodeOverError(
                "step() called before reset() or after the episode ended (truncated=True); call reset()"
            )
        rewards, truncated = self._core.step(np.array([a], dtype=np.int64))
        trunc = bool(truncated[0])
        self._running = not trunc
        return self._core.obs[0].copy(), float(rewards[0]), False, trunc, self._core.single_info(0)

    def render(self):
        if self.render_mode == "rgb_array":
            return self._core.render_rgb(0)
        if self.render_mode == "ansi":
            return self._core.render_ansi(0)
        return None


class PlasticVectorEnv(VectorEnv):
    """``num_envs`` episodes stepped at once by one core, autoreset mode NEXT_STEP.

    Per-episode random streams match ``SyncVectorEnv`` over the single env: sub-env i has its own Generator
    (seeded with ``seed + i`` by ``reset(seed=seed)``) and draws one episode key from it at each of its
    resets; everything else is hashed from that key inside the core, so ``step`` has no loop over episodes.
    Reset options apply to every sub-env, or take one value per sub-env (see the task's core).

    ``reset(options={"reset_mask": mask})`` (mask: bool ndarray (num_envs,), at least one True; Gymnasium's
    convention, which ``SyncVectorEnv`` also honours) resets only the rows where ``mask`` is True, in one
    core call, and cancels their pending autoreset; a seed then applies to those rows only (int seed s:
    row i gets s + i). It returns the whole batch of observations, with info masks equal to ``mask``. It
    needs a full reset first. This partial reset is how :mod:`plastic_envs.sb3` gives Stable-Baselines3
    its same-step autoreset.
    """

    metadata = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": RENDER_FPS,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    core_class: type

    def __init__(self, num_envs: int = 1, *, max_episode_steps: int | None = None,
                 render_mode: str | None = None, **params: Any):
        num_envs = check_int("num_envs", num_envs, 1)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.num_envs = num_envs
        self.render_mode = render_mode
        self._core = self.core_class(num_envs=num_envs, **params)
        if max_episode_steps is not None and max_episode_steps != self._core.episode_length:
            raise ValueError(
                f"max_episode_steps={max_episode_steps} differs from episode_length="
                f"{self._core.episode_length}; these envs truncate their fixed-length episodes themselves, "
                f"so set episode_length instead"
            )
        self.single_observation_space = self._core.observation_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = gym.spaces.Discrete(self._core.num_actions)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.obs_layout: ObsLayout = self._core.obs_layout
        self._generators: list[np.random.Generator | None] = [None] * num_envs
        self._prev_done = np.zeros(num_envs, dtype=np.bool_)
        self._all = np.arange(num_envs, dtype=np.int64)
        self._started = False
        self._terminated = np.zeros(num_envs, dtype=np.bool_)

    @property
    def core(self):
        """The core holding all sub-envs' state (read it, do not modify it)."""
        return self._core

    def _infos(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        info = self._core.info()
        keys = list(info)
        # One allocation for every key's mask; its rows do not overlap, so each mask is a separate array.
        masks = np.empty((len(keys), self.num_envs), dtype=np.bool_)
        masks[:] = True if mask is None else mask
        for key, row in zip(keys, masks):
            info["_" + key] = row
        return info

    def _check_reset_mask(self, mask: Any) -> np.ndarray:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},), "
                            f"got {type(mask).__name__} {getattr(mask, 'dtype', '')}".rstrip())
        if mask.shape != (self.num_envs,):
            raise ValueError(f"options['reset_mask'] must have shape ({self.num_envs},), got {mask.shape}")
        if not mask.any():
            raise ValueError("options['reset_mask'] must have at least one True entry")
        if not self._started:
            raise EpisodeOverError("reset with options['reset_mask'] needs a full reset() first")
        return mask

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        mask = None
        if isinstance(options, dict) and "reset_mask" in options:
            mask = self._check_reset_mask(options["reset_mask"])
            options = {k: v for k, v in options.items() if k != "reset_mask"}
        fixed = self._core.parse_options(options, self.num_envs)
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed must be an int, None, or a sequence of {self.num_envs} seeds; "
                                 f"got {len(seeds)} seeds")
        for i, s in enumerate(seeds):
            if s is not None:
                check_int(f"seed[{i}]", s, 0)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        rows = self._all if mask is None else np.flatnonzero(mask)
        gens = self._generators
        for i in rows:
            if seeds[i] is not None or gens[i] is None:
                gens[i] = seeding.np_random(seeds[i])[0]
        keys = np.array([draw_key(gens[i]) for i in rows], dtype=np.uint64)
        self._core.reset_envs(rows, keys, fixed)
        self._prev_done[rows] = False
        self._started = True
        return self._core.obs.copy(), self._infos(mask)

    def step(self, actions):
        a = check_batch_action(actions, self.num_envs, self._core.num_actions)
        if not self._started:
            raise EpisodeOverError("step() called before reset(); call reset(seed=...) first")
        rewards, truncated = self._core.step(a)
        if np.count_nonzero(self._prev_done):
            idx = np.flatnonzero(self._prev_done)
            gens = self._generators
            keys = np.array([draw_key(gens[i]) for i in idx], dtype=np.uint64)
            self._core.reset_envs(idx, keys, None)
            rewards[idx] = 0.0
            truncated[idx] = False
        self._prev_done = truncated.copy()
        return self._core.obs.copy(), rewards, self._terminated.copy(), truncated, self._infos()

    def render(self):
        if self.render_mode == "rgb_array":
            return tuple(self._core.render_rgb(i) for i in range(self.num_envs))
        if self.render_mode == "ansi":
            return tuple(self._core.render_ansi(i) for i in range(self.num_envs))
        return None
