"""Shared plumbing of the package's environments: the task-core contract (:class:`TaskCore`), a single
Gymnasium env (:class:`PlasticEnv`) and a native vector env (:class:`PlasticVectorEnv`), both driving one
batched NumPy core that holds the rules of a task for ``num_envs`` episodes at once.

A task is a :class:`TaskCore` subclass (``MazeCore``, ``CueRewardCore``) plus two one-line env classes
that name it as their ``core_class``. Episodes have a fixed length: the core truncates them itself
(``truncated`` is True on step ``episode_length``) and never terminates them.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from plastic_envs.rendering import HumanWindow
from plastic_envs.rng import draw_key

RENDER_FPS = 8

# Limits shared by every task (each task's module adds its own). They keep every table and state array an
# env allocates small enough to build at once, and a value past a limit is refused before any allocation.
#: Most sub-envs of one vector env (each keeps its own numpy Generator, about 1 KB, besides its state rows).
MAX_NUM_ENVS = 2**18
#: Longest episode (the cores hold a table of t / T for every step).
MAX_EPISODE_LENGTH = 1_000_000
#: Largest magnitude of a reward keyword (rewards appear in the float32 observation and its Box bounds).
MAX_ABS_REWARD = 1e6


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
# argument checks shared by the tasks

def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer (not bool) in [minimum, maximum], else raise
    TypeError/ValueError. A maximum is one of the package's limits, and the message says so."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum} (the limit of this env), got {value}")
    return value


def check_float(name: str, value: Any, minimum: float | None = None, max_abs: float | None = None) -> float:
    """Return ``value`` as a finite float (>= minimum and |value| <= max_abs where given), else raise
    TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if max_abs is not None and abs(value) > max_abs:
        raise ValueError(f"{name} must be within +-{max_abs:g} (the limit of this env), got {value:g}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as bool if it is a Python or NumPy bool, else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


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
# the task core

class TaskCore(abc.ABC):
    """The rules of one task for ``num_envs`` episodes at once: the contract between a task and the envs.

    The envs call only the public methods and attributes below; the base class implements them once from
    the abstract hooks a task provides, so every task resets, steps, observes and reports infos the same way.

    What the envs use:
      ``parse_options(options, num_envs) -> dict``: validate reset options (ValueError), change nothing.
      ``reset_envs(idx, keys, fixed)``: start new episodes in rows ``idx`` (int64 (m,)) with episode keys
      ``keys`` (uint64 (m,), see :mod:`plastic_envs.rng`) and the parsed options ``fixed``.
      ``step(actions) -> (rewards, truncated)``: advance every row by one step (actions int64 (num_envs,),
      already validated; returns fresh float64 and bool arrays (num_envs,)) and refresh ``obs``.
      ``obs``: float32 (num_envs, obs size), the current observation of every row (an internal buffer).
      ``info()``: fresh per-row info arrays with the dtypes of ``info_dtypes``; ``single_info(i)``: row i's
      values of the same keys and dtypes (NumPy arrays, 0-d for a scalar).
      ``render_rgb(i)`` (uint8 (H, W, 3)) and ``render_ansi(i)`` (str): pictures of row i.
      ``observation_space``, ``obs_layout``, ``num_actions``, ``episode_length``, ``config()``.

    State every core holds (shape (num_envs,)): ``key`` uint64 episode key; ``t`` int64 steps taken;
    ``prev_action`` int64 (-1 at t = 0); ``prev_reward`` float64 (0 at t = 0).

    What a task provides: the class attributes ``task_family`` (a short name, e.g. "maze"),
    ``num_actions``, ``reset_option_names`` and ``info_dtypes`` (info key -> dtype, declared once for the
    single and the vector env), and the hooks ``_parse_options``, ``_start_episodes``, ``_advance``,
    ``_write_obs``, ``_info_values``, ``render_rgb`` and ``render_ansi``. Its ``__init__`` calls
    ``super().__init__(num_envs, episode_length)`` first, validates its own keywords (each limit checked
    before anything is allocated), then calls ``_init_state(layout, reward_values, lows)``, which builds
    the observation space and the shared state. Every keyword of ``__init__`` (but ``num_envs``) is kept
    as an attribute of the same name, which ``config()`` reads.
    """

    task_family: ClassVar[str]
    num_actions: ClassVar[int]
    reset_option_names: ClassVar[tuple[str, ...]]
    info_dtypes: ClassVar[Mapping[str, np.dtype]]

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if inspect.isabstract(cls):
            return
        missing = [name for name in ("task_family", "num_actions", "reset_option_names", "info_dtypes")
                   if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"{cls.__name__} must define the class attributes {missing}")

    def __init__(self, num_envs: int, episode_length: int):
        self.num_envs = check_int("num_envs", num_envs, 1, MAX_NUM_ENVS)
        self.episode_length = check_int("episode_length", episode_length, 1, MAX_EPISODE_LENGTH)
        # t / T for t = 0 .. T + 1 (T + 1 is reached only by a finished row stepped before its autoreset).
        self._time_table = (np.arange(self.episode_length + 2) / self.episode_length).astype(np.float32)

    def _init_state(self, layout: ObsLayout, reward_values: Sequence[float],
                    lows: Mapping[str, float] | None = None) -> None:
        """Set ``obs_layout`` and ``observation_space`` and allocate the shared state.

        The Box is [0, 1] everywhere except: the fields named in ``lows`` start at the given value, and
        ``prev_reward`` spans 0 and every value of ``reward_values`` (the rewards a step can give). The
        layout must have the fields ``time`` and ``prev_reward`` (written here) and may have ``bias``.
        """
        self.obs_layout = layout
        low = np.zeros(layout.size, dtype=np.float32)
        high = np.ones(layout.size, dtype=np.float32)
        for name, value in (lows or {}).items():
            low[layout[name]] = value
        low[layout.prev_reward] = min(0.0, *reward_values)
        high[layout.prev_reward] = max(0.0, *reward_values)
        # Constant entries (bias 1, the legacy 0) keep the bounds [0, 1], and a reward range that is one
        # point v becomes [v, v + 1]: Gymnasium's checker rejects boxes with low == high.
        high[low == high] += 1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._time_col = layout.time.start
        self._reward_col = layout.prev_reward.start

        n = self.num_envs
        self.key = np.zeros(n, dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        self.prev_action = np.full(n, -1, dtype=np.int64)
        self.prev_reward = np.zeros(n, dtype=np.float64)
        self.obs = np.zeros((n, layout.size), dtype=np.float32)
        if "bias" in layout:
            self.obs[:, layout.bias] = 1.0

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The task's keywords with their default values (``num_envs`` left out)."""
        params = inspect.signature(cls.__init__).parameters
        return {name: p.default for name, p in params.items() if name not in ("self", "num_envs")}

    def config(self) -> dict[str, Any]:
        """The keywords this core was made with (``num_envs`` left out), after validation."""
        return {name: getattr(self, name) for name in self.defaults()}

    # -- what the envs call --------------------------------------------------------------------------------

    def parse_options(self, options: dict | None, num_envs: int) -> dict:
        """Validate reset options: a dict (or None) with keys among ``reset_option_names``. Returns the
        parsed values (arrays of leading size ``num_envs``) for ``reset_envs``, or {}."""
        options = check_option_keys(options, self.reset_option_names)
        return self._parse_options(options, num_envs) if options else {}

    def reset_envs(self, idx: np.ndarray, keys: np.ndarray, fixed: dict | None) -> None:
        """Start new episodes in rows ``idx`` (int64 (m,)) with keys ``keys`` (uint64 (m,))."""
        self.key[idx] = keys
        self.t[idx] = 0
        self.prev_action[idx] = -1
        self.prev_reward[idx] = 0.0
        self._start_episodes(idx, keys, fixed or {})
        self._observe(idx)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every row by one step with ``actions`` (int64 (num_envs,), already validated).

        Returns fresh arrays (rewards float64 (num_envs,), truncated bool (num_envs,)); refreshes ``obs``.
        """
        rewards = self._advance(actions)
        self.t += 1
        self.prev_action = actions.copy()
        self.prev_reward = rewards
        self._observe(None)
        return rewards.copy(), self.t >= self.episode_length

    def info(self) -> dict[str, np.ndarray]:
        """Fresh per-row infos, one array of leading size num_envs per key of ``info_dtypes``."""
        values = self._info_values()
        return {name: np.asarray(values[name], dtype=dtype) for name, dtype in self.info_dtypes.items()}

    def single_info(self, i: int) -> dict[str, np.ndarray]:
        """Row i's infos: the keys and dtypes of :meth:`info`, as NumPy arrays (0-d for a scalar). Arrays,
        not NumPy scalars: Gymnasium's SyncVectorEnv batches an ``np.bool_`` into an object array, but a 0-d
        array into an array of its dtype, so the sync and native vector envs report the same dtypes."""
        return {name: value[i, ...] for name, value in self.info().items()}

    def _observe(self, rows: np.ndarray | None) -> None:
        """Write the observation of rows ``rows`` (None: every row) into ``obs``."""
        self._write_obs(rows)
        if rows is None:
            self.obs[:, self._time_col] = self._time_table[self.t]
            self.obs[:, self._reward_col] = self.prev_reward
        else:
            self.obs[rows, self._time_col] = self._time_table[self.t[rows]]
            self.obs[rows, self._reward_col] = self.prev_reward[rows]

    # -- what a task provides ------------------------------------------------------------------------------

    @abc.abstractmethod
    def _parse_options(self, options: dict, num_envs: int) -> dict:
        """Parse a non-empty options dict whose keys are already checked (raise ValueError on bad values)."""

    @abc.abstractmethod
    def _start_episodes(self, idx: np.ndarray, keys: np.ndarray, fixed: dict) -> None:
        """Set the task's own state of new episodes in rows ``idx``; ``key``, ``t``, ``prev_action`` and
        ``prev_reward`` of those rows are already reset, and ``obs`` is written afterwards."""

    @abc.abstractmethod
    def _advance(self, actions: np.ndarray) -> np.ndarray:
        """Apply the rules to every row: update the task's own state and return the rewards (a fresh
        float64 array (num_envs,)). ``t``, ``prev_action`` and ``prev_reward`` still hold the values
        before this step; the base class updates them and writes ``obs`` afterwards."""

    @abc.abstractmethod
    def _write_obs(self, rows: np.ndarray | None) -> None:
        """Write the task's columns of the observation of rows ``rows`` (None: every row) into ``obs``;
        the base class writes ``time`` and ``prev_reward``. An observation is a function of its row's
        state alone, so writing more rows than asked is harmless."""

    @abc.abstractmethod
    def _info_values(self) -> dict[str, np.ndarray]:
        """Fresh per-row values of every key of ``info_dtypes`` (cast to those dtypes by :meth:`info`)."""

    @abc.abstractmethod
    def render_rgb(self, i: int) -> np.ndarray:
        """Row i as a picture, uint8 (H, W, 3), the same size for every row and step."""

    @abc.abstractmethod
    def render_ansi(self, i: int) -> str:
        """Row i as text."""


# ---------------------------------------------------------------------------------------------------------
# the two env classes

def _make_core(env: Any, num_envs: int, render_mode: str | None, params: dict) -> TaskCore:
    """Check ``render_mode`` against ``env.metadata``, then build ``env.core_class`` for ``num_envs`` rows."""
    modes = env.metadata["render_modes"]
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")
    return env.core_class(num_envs=num_envs, **params)


class PlasticEnv(gym.Env):
    """A single episode driven by a batch-1 core. Subclasses set ``core_class``.

    ``render_mode="human"`` shows each frame in a pygame window as ``reset`` and ``step`` happen, at most
    ``metadata["render_fps"]`` frames a second (pygame is the optional extra ``backpropamine[human]``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": RENDER_FPS}
    core_class: type[TaskCore]

    def __init__(self, render_mode: str | None = None, **params: Any):
        self._window: HumanWindow | None = None
        self._core = _make_core(self, 1, render_mode, params)
        self.render_mode = render_mode
        if render_mode == "human":
            self._window = HumanWindow(type(self).__name__)
        self.observation_space = self._core.observation_space
        self.action_space = gym.spaces.Discrete(self._core.num_actions)
        self.obs_layout: ObsLayout = self._core.obs_layout
        self._running = False
        self._row = np.zeros(1, dtype=np.int64)

    @property
    def core(self) -> TaskCore:
        """The batch-1 core holding this env's state (read it, do not modify it)."""
        return self._core

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        fixed = self._core.parse_options(options, 1)
        super().reset(seed=seed)
        keys = np.array([draw_key(self.np_random)], dtype=np.uint64)
        self._core.reset_envs(self._row, keys, fixed)
        self._running = True
        if self._window is not None:
            self.render()
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
        if self._window is not None:
            self.render()
        return self._core.obs[0].copy(), float(rewards[0]), False, trunc, self._core.single_info(0)

    def render(self):
        if self.render_mode == "rgb_array":
            return self._core.render_rgb(0)
        if self.render_mode == "ansi":
            return self._core.render_ansi(0)
        if self._window is not None:
            self._window.show(self._core.render_rgb(0), self.metadata["render_fps"])
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
        super().close()


class PlasticVectorEnv(VectorEnv):
    """``num_envs`` episodes stepped at once by one core, autoreset mode NEXT_STEP.

    Per-episode random streams match ``SyncVectorEnv`` over the single env: sub-env i has its own Generator
    (seeded with ``seed + i`` by ``reset(seed=seed)``) and draws one episode key from it at each of its
    resets; everything else is hashed from that key inside the core, so ``step`` has no loop over episodes.
    Reset options apply to every sub-env, or take one value per sub-env (see the task's core).

    ``max_episode_steps`` (what ``gym.make_vec(id, n, max_episode_steps=K)`` passes in every vectorisation
    mode): a positive K truncates every episode after min(K, episode_length) steps, as the ``TimeLimit``
    wrapper that the sync and async modes put on each sub-env does; the observation's time input still
    counts t / episode_length. None or -1 (Gymnasium's "no TimeLimit") leaves the episode's own length.

    ``reset(options={"reset_mask": mask})`` (mask: bool ndarray (num_envs,), at least one True; Gymnasium's
    convention, which ``SyncVectorEnv`` also honours) resets only the rows where ``mask`` is True, in one
    core call, and cancels their pending autoreset; a seed then applies to those rows only (int seed s:
    row i gets s + i). It returns the whole batch of observations, with info masks equal to ``mask``. It
    needs a full reset first. This partial reset is how :mod:`plastic_envs.sb3` gives Stable-Baselines3
    its same-step autoreset.

    ``call``, ``get_attr`` and ``set_attr`` have the semantics of ``SyncVectorEnv``'s (a tuple with one
    value per sub-env; a callable attribute is called with the arguments). A sub-env is seen as the single
    env of the same keywords: its attributes are ``render`` (its frame or text), ``render_mode``,
    ``metadata``, ``observation_space`` and ``action_space`` (the single spaces), ``obs_layout``,
    ``np_random`` and ``np_random_seed`` (its own Generator and seed), and the task's keywords
    (``core.config()``, e.g. ``episode_length``). Since the sub-envs share one core, ``set_attr`` sets only
    ``np_random`` (one Generator per sub-env, or one for all) and ``render_mode`` (one value for all);
    other names raise AttributeError.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": RENDER_FPS,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    core_class: type[TaskCore]
    _SUB_ENV_ATTRIBUTES = ("render", "render_mode", "metadata", "observation_space", "action_space",
                           "obs_layout", "np_random", "np_random_seed")

    def __init__(self, num_envs: int = 1, *, max_episode_steps: int | None = None,
                 render_mode: str | None = None, **params: Any):
        num_envs = check_int("num_envs", num_envs, 1, MAX_NUM_ENVS)
        if max_episode_steps is not None and max_episode_steps != -1:
            max_episode_steps = check_int("max_episode_steps", max_episode_steps, 1)
        self._core = _make_core(self, num_envs, render_mode, params)
        self.num_envs = num_envs
        self.render_mode = render_mode
        # The TimeLimit bound when it ends episodes before the core does; None when it never would.
        limit = None if max_episode_steps in (None, -1) else max_episode_steps
        self._step_limit = limit if limit is not None and limit < self._core.episode_length else None
        self.single_observation_space = self._core.observation_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = gym.spaces.Discrete(self._core.num_actions)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.obs_layout: ObsLayout = self._core.obs_layout
        self._generators: list[np.random.Generator | None] = [None] * num_envs
        self._seeds_used: list[int | None] = [None] * num_envs
        self._prev_done = np.zeros(num_envs, dtype=np.bool_)
        self._all = np.arange(num_envs, dtype=np.int64)
        self._started = False
        self._terminated = np.zeros(num_envs, dtype=np.bool_)

    @property
    def core(self) -> TaskCore:
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

    def _seed_row(self, i: int, seed: int | None) -> np.random.Generator:
        self._generators[i], self._seeds_used[i] = seeding.np_random(seed)
        return self._generators[i]

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
                self._seed_row(i, seeds[i])
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
        if self._step_limit is not None:
            truncated |= self._core.t >= self._step_limit
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
        return self.call("render") if self.render_mode is not None else None

    # -- Gymnasium's sub-env access ------------------------------------------------------------------------

    def _sub_env_attribute(self, name: str, i: int) -> Any:
        if name == "render":
            return lambda: self._render_row(i)
        if name in ("np_random", "np_random_seed"):
            if self._generators[i] is None:
                self._seed_row(i, None)
            return self._generators[i] if name == "np_random" else self._seeds_used[i]
        if name == "observation_space":
            return self.single_observation_space
        if name == "action_space":
            return self.single_action_space
        if name in self._SUB_ENV_ATTRIBUTES:
            return getattr(self, name)
        config = self._core.config()
        if name in config:
            return config[name]
        raise AttributeError(f"a sub-env of {type(self).__name__} has no attribute {name!r}; it has "
                             f"{sorted(self._SUB_ENV_ATTRIBUTES)} and the task's keywords {sorted(config)}")

    def _render_row(self, i: int) -> np.ndarray | str | None:
        if self.render_mode == "rgb_array":
            return self._core.render_rgb(i)
        if self.render_mode == "ansi":
            return self._core.render_ansi(i)
        return None

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Each sub-env's attribute ``name``, called with ``args`` and ``kwargs`` when it is callable."""
        results = []
        for i in range(self.num_envs):
            value = self._sub_env_attribute(name, i)
            results.append(value(*args, **kwargs) if callable(value) else value)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Each sub-env's attribute ``name`` (a method is returned, not called)."""
        return tuple(self._sub_env_attribute(name, i) for i in range(self.num_envs))

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set ``name`` on the sub-envs: ``values`` is a list or tuple with one value per sub-env, or one
        value for all. Only ``np_random`` and ``render_mode`` can be set (see the class docstring)."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError("Values must be a list or tuple with length equal to the number of environments. "
                             f"Got `{len(values)}` values for {self.num_envs} environments.")
        if name == "np_random":
            for i, value in enumerate(values):
                if not isinstance(value, np.random.Generator):
                    raise TypeError(f"np_random of sub-env {i} must be a numpy.random.Generator, "
                                    f"got {type(value).__name__}")
            self._generators = list(values)
            self._seeds_used = [-1] * self.num_envs  # Gymnasium's np_random_seed for a Generator set directly
        elif name == "render_mode":
            if any(value != values[0] for value in values):
                raise ValueError(f"render_mode must be the same for every sub-env (they share one core), "
                                 f"got {list(values)}")
            modes = self.metadata["render_modes"]
            if values[0] is not None and values[0] not in modes:
                raise ValueError(f"render_mode must be one of {modes} or None, got {values[0]!r}")
            self.render_mode = values[0]
        else:
            raise AttributeError(f"set_attr({name!r}): the sub-envs of {type(self).__name__} share one batched "
                                 f"core, so only 'np_random' and 'render_mode' can be set; make a new env to "
                                 f"change anything else")
