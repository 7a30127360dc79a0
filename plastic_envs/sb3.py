"""Stable-Baselines3 interop: a Gymnasium ``VectorEnv`` presented as an SB3 ``VecEnv``.

SB3 cannot consume a Gymnasium vector env (it has its own ``VecEnv`` API). :class:`SB3VecEnv` wraps one, so
SB3 algorithms step our native batched envs (one NumPy core for all sub-envs) instead of a ``DummyVecEnv``
that loops over single envs in Python::

    from stable_baselines3 import PPO
    from plastic_envs.sb3 import make_sb3_vec_env

    env = make_sb3_vec_env("BackpropamineMaze-v0", n_envs=16, seed=0)
    PPO("MlpPolicy", env).learn(10_000)

SB3 semantics of ``step`` (what ``DummyVecEnv`` over ``Monitor``-wrapped single envs returns, step for step
for the same seeds): ``(obs, rewards, dones, infos)`` with obs (n_envs, *obs_shape) in the space's dtype,
rewards float32 (n_envs,), dones bool (n_envs,) = terminated | truncated, and infos a list of n_envs fresh
dicts holding the sub-env's info, ``"TimeLimit.truncated"`` (truncated and not terminated) and, on the step
that ends an episode, ``"terminal_observation"`` (the last observation; ``obs`` already holds the first
observation of the next episode: SB3's same-step autoreset) and ``"episode"`` = {"r": return, "l": length,
"t": seconds since the adapter was made}, the dict SB3's ``Monitor`` writes (so ``ep_info_buffer`` and the
rollout/ep_rew_mean logs work without a ``Monitor``; turn it off with ``monitor=False``).

Autoreset: a SAME_STEP vector env already resets in the step (its ``final_obs``/``final_info`` infos are
used); under NEXT_STEP or DISABLED the adapter resets the sub-envs that just ended at once with
``reset(options={"reset_mask": dones})`` (the native envs reset all those rows in one core call; Gymnasium's
``SyncVectorEnv`` and ``AsyncVectorEnv`` honour the mask too). The only Python loops per step build the
list of info dicts SB3 asks for.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv, VectorWrapper
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from plastic_envs.base import PlasticVectorEnv, check_int

#: Vector env classes whose ``reset`` honours ``options["reset_mask"]`` under NEXT_STEP autoreset.
MASKED_RESET_CLASSES = (PlasticVectorEnv, SyncVectorEnv, AsyncVectorEnv)
_SKIP_INFO_KEYS = frozenset({"final_obs", "_final_obs", "final_info", "_final_info"})


def unbatch_infos(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium vector infos -> SB3 infos.

    ``info`` maps keys to arrays of leading size num_envs (or nested dicts of the same form), each with an
    optional bool mask ``"_" + key`` (num_envs,) saying which sub-envs have that key. Returns num_envs fresh
    dicts; sub-env i gets ``info[key][i]`` where its mask is True: a Python scalar for 1-d numeric arrays,
    a row (ndarray) for higher-dimensional ones, the object for object arrays, a dict for nested dicts.
    ``final_obs``/``final_info`` (SAME_STEP bookkeeping) are left out.
    """
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key in _SKIP_INFO_KEYS or (key.startswith("_") and key[1:] in info):
            continue
        if isinstance(value, dict):
            items: Sequence[Any] = unbatch_infos(value, num_envs)
        else:
            arr = np.asarray(value)
            if arr.ndim == 0:
                items = [arr.item()] * num_envs
            elif arr.ndim == 1 and arr.dtype != object:
                items = arr.tolist()
            else:
                items = list(arr)
        mask = info.get("_" + key)
        if mask is None or mask.all():
            for d, v in zip(out, items):
                d[key] = v
        else:
            for i in np.flatnonzero(mask).tolist():
                out[i][key] = items[i]
    return out


def _layers(venv: VectorEnv) -> list[VectorEnv]:
    """The wrapper chain of ``venv``, outermost first, ending with the unwrapped vector env."""
    chain = [venv]
    while isinstance(chain[-1], VectorWrapper):
        chain.append(chain[-1].env)
    return chain


def _options_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        try:
            if not np.array_equal(np.asarray(value), np.asarray(b[key])):
                return False
        except (TypeError, ValueError):  # ragged or not array-like: fall back to ==
            if value != b[key]:
                return False
    return True


class SB3VecEnv(VecEnv):
    """A Gymnasium vector env (NEXT_STEP, SAME_STEP or DISABLED autoreset) as an SB3 ``VecEnv``.

    Args:
        venv: the vector env, e.g. ``gym.make_vec("BackpropamineMaze-v0", 16)``. Observations must be arrays
            (no Dict/Tuple spaces). Under NEXT_STEP it must honour ``reset(options={"reset_mask": m})``:
            the native envs, ``SyncVectorEnv`` and ``AsyncVectorEnv`` (possibly inside vector wrappers) do;
            build others with SAME_STEP autoreset.
        monitor: write SB3 ``Monitor``'s ``"episode"`` info on the step ending each episode (default True);
            ``env_is_wrapped(Monitor)`` then answers True, as SB3 expects of monitored envs.

    Seeding and options: ``seed(s)`` (SB3's, inherited) stores seeds s + i used by the next ``reset()``,
    which passes them on as ``venv.reset(seed=s)`` (sub-env i seeded with s + i, as SB3 and Gymnasium
    both do); ``set_options(d)`` passes ``d`` as the reset options (the native envs take one value for
    all sub-envs or an array with one row per sub-env, e.g. ``{"target_cue": np.arange(n) % 4}``).
    Different option dicts per sub-env cannot be honoured by one batched reset (ValueError).

    The batched env is one object, not n_envs: ``get_attr(name)`` returns its attribute (searched through
    vector wrappers, outermost first) once per requested index; ``set_attr`` and ``env_method`` act on it
    once and so refuse a subset of indices (ValueError), and ``env_method`` returns its result once per
    sub-env; ``env_is_wrapped(cls)`` says whether a vector wrapper of class ``cls`` is in the chain (or,
    for SB3's ``Monitor``, whether ``monitor`` is on).
    """

    def __init__(self, venv: VectorEnv, monitor: bool = True):
        if not isinstance(venv, VectorEnv):
            raise TypeError(f"venv must be a gymnasium.vector.VectorEnv (e.g. gym.make_vec(id, n)), "
                            f"got {type(venv).__name__}")
        if isinstance(venv.single_observation_space, (gym.spaces.Dict, gym.spaces.Tuple)):
            raise TypeError("SB3VecEnv handles array observations; got a "
                            f"{type(venv.single_observation_space).__name__} observation space")
        mode = AutoresetMode(venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        if mode == AutoresetMode.NEXT_STEP and not isinstance(venv.unwrapped, MASKED_RESET_CLASSES):
            raise TypeError(
                f"{type(venv.unwrapped).__name__} uses NEXT_STEP autoreset and is not known to honour "
                "reset(options={'reset_mask': ...}), which SB3's same-step reset needs; build it with "
                "autoreset_mode=AutoresetMode.SAME_STEP (e.g. gym.make_vec(id, n, vectorization_mode='sync', "
                "vector_kwargs={'autoreset_mode': AutoresetMode.SAME_STEP}))"
            )
        if not isinstance(monitor, bool):
            raise TypeError(f"monitor must be a bool, got {monitor!r}")
        self.venv = venv
        self.autoreset_mode = mode
        self.monitor = monitor
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        n = self.num_envs
        self._actions: np.ndarray | None = None
        self._ep_returns = np.zeros(n, dtype=np.float64)
        self._ep_lengths = np.zeros(n, dtype=np.int64)
        self._t_start = time.time()

    # -- reset and step --------------------------------------------------------------------------------------

    def _batched_seed(self) -> int | list[int | None] | None:
        seeds = self._seeds
        if all(s is None for s in seeds):
            return None
        first = seeds[0]
        if first is not None and all(s == first + i for i, s in enumerate(seeds)):
            return int(first)
        return list(seeds)

    def _batched_options(self) -> dict | None:
        opts = self._options
        if all(not o for o in opts):
            return None
        if not all(_options_equal(opts[0], o) for o in opts[1:]):
            raise ValueError(
                "SB3VecEnv resets all sub-envs in one call and takes one options dict; set per-sub-env "
                "values as arrays with one row per sub-env in a single dict: env.set_options({...})"
            )
        return dict(opts[0])

    def reset(self) -> np.ndarray:
        """Reset every sub-env with the seeds of ``seed()`` and options of ``set_options()`` (used once).

        Returns the observations (n_envs, *obs_shape); the per-sub-env reset infos go to ``reset_infos``.
        """
        seed, options = self._batched_seed(), self._batched_options()
        obs, info = self.venv.reset(seed=seed, options=options)
        self.reset_infos = unbatch_infos(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        self._ep_returns[:] = 0.0
        self._ep_lengths[:] = 0
        self._actions = None
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store ``actions`` (shape ``(n_envs, *action_shape)``, e.g. int (n_envs,) for Discrete) for
        ``step_wait``. Raises ValueError on a wrong shape (values are checked by the vector env)."""
        arr = np.asarray(actions)
        expected = self.venv.action_space.shape
        if arr.shape != expected:
            raise ValueError(f"actions must have shape {expected} (one action per sub-env), got shape "
                             f"{arr.shape}")
        self._actions = arr

    def step_wait(self):
        """Step every sub-env with the stored actions; returns (obs, rewards, dones, infos) as described in
        the module docstring, the sub-envs that ended already reset."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without a pending step_async(actions)")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        n = self.num_envs
        dones = np.logical_or(terminated, truncated)
        infos = unbatch_infos(info, n)
        for d, cut in zip(infos, (truncated & ~terminated).tolist()):
            d["TimeLimit.truncated"] = cut
        self._ep_returns += rewards
        self._ep_lengths += 1
        if dones.any():
            idx = np.flatnonzero(dones)
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final_obs = info["final_obs"]
                final_infos = unbatch_infos(info.get("final_info", {}), n)
                for i in idx.tolist():
                    reset_info = infos[i]
                    reset_info.pop("TimeLimit.truncated")
                    self.reset_infos[i] = reset_info
                    infos[i] = final_infos[i]
                    infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                    infos[i]["terminal_observation"] = final_obs[i]
            else:
                terminal = obs[idx]
                obs = np.array(obs)
                reset_obs, reset_info = self.venv.reset(options={"reset_mask": dones.copy()})
                obs[idx] = reset_obs[idx]
                reset_infos = unbatch_infos(reset_info, n)
                for k, i in enumerate(idx.tolist()):
                    infos[i]["terminal_observation"] = terminal[k]
                    self.reset_infos[i] = reset_infos[i]
            if self.monitor:
                elapsed = round(time.time() - self._t_start, 6)
                for i, ret, length in zip(idx.tolist(), self._ep_returns[idx].tolist(),
                                          self._ep_lengths[idx].tolist()):
                    infos[i]["episode"] = {"r": round(ret, 6), "l": length, "t": elapsed}
            self._ep_returns[idx] = 0.0
            self._ep_lengths[idx] = 0
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    # -- rendering and closing -------------------------------------------------------------------------------

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One uint8 (H, W, 3) frame per sub-env (the vector env's ``render()``) when render_mode is
        "rgb_array"; otherwise a warning and None per sub-env, as ``DummyVecEnv`` does."""
        if self.render_mode != "rgb_array":
            warnings.warn(f"The render mode is {self.render_mode}, but get_images() needs 'rgb_array'.")
            return [None] * self.num_envs
        return list(self.venv.render())

    def close(self) -> None:
        """Close the vector env (safe to call twice)."""
        self.venv.close()

    # -- attributes and methods of the batched env ----------------------------------------------------------

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        idx = [indices] if isinstance(indices, (int, np.integer)) else list(indices)
        for i in idx:
            check_int("index", i, 0)
            if i >= self.num_envs:
                raise ValueError(f"index {i} out of range for {self.num_envs} sub-envs")
        return [int(i) for i in idx]

    def _require_all(self, what: str, indices: VecEnvIndices) -> None:
        idx = self._indices(indices)
        if sorted(idx) != list(range(self.num_envs)):
            raise ValueError(
                f"{what} acts on the batched vector env, which all {self.num_envs} sub-envs share; it cannot "
                f"be applied to the sub-envs {idx} alone (call it with indices=None)"
            )

    def _owner(self, name: str) -> VectorEnv:
        for layer in _layers(self.venv):
            if hasattr(layer, name):
                return layer
        raise AttributeError(f"{type(self.venv).__name__} (and its vector wrappers) has no attribute "
                             f"{name!r}")

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The batched env's attribute ``attr_name`` (outermost wrapper that has it), once per index."""
        value = getattr(self._owner(attr_name), attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on the outermost layer that has it (else on the outermost one); every sub-env
        sees the change, so ``indices`` must name all sub-envs."""
        self._require_all("set_attr", indices)
        try:
            owner = self._owner(attr_name)
        except AttributeError:
            owner = self.venv
        setattr(owner, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs):
        """Call the batched env's method once (``indices`` must name all sub-envs); returns its result once
        per sub-env."""
        self._require_all("env_method", indices)
        result = getattr(self._owner(method_name), method_name)(*method_args, **method_kwargs)
        return [result] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """For SB3's ``Monitor``: whether the adapter writes its episode statistics (``monitor``). For other
        classes: whether a layer of the vector wrapper chain is an instance of ``wrapper_class``."""
        if wrapper_class is Monitor:
            flag = self.monitor
        else:
            flag = any(isinstance(layer, wrapper_class) for layer in _layers(self.venv))
        return [flag] * len(self._indices(indices))


def make_sb3_vec_env(env_id: str, n_envs: int, seed: int | None = None, **env_kwargs: Any) -> SB3VecEnv:
    """``gym.make_vec(env_id, n_envs, **env_kwargs)`` wrapped as an :class:`SB3VecEnv`.

    Our ids get their native batched env; other ids get a ``SyncVectorEnv`` with SAME_STEP autoreset.
    ``render_mode`` defaults to "rgb_array" as in SB3's ``make_vec_env``. With ``seed`` the first
    ``reset()`` seeds sub-env i with seed + i.
    """
    n_envs = check_int("n_envs", n_envs, 1)
    if seed is not None:
        seed = check_int("seed", seed, 0)
    kwargs = {"render_mode": "rgb_array", **env_kwargs}
    entry = gym.spec(env_id).vector_entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    if isinstance(creator, type) and issubclass(creator, PlasticVectorEnv):
        venv = gym.make_vec(env_id, num_envs=n_envs, **kwargs)
    else:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync",
                            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs)
    env = SB3VecEnv(venv)
    if seed is not None:
        env.seed(seed)
    return env
