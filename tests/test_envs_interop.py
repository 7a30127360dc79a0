"""Interop edges of the envs met by other libraries: max_episode_steps in every vectorisation mode, info dtypes,
call / get_attr / set_attr on the native vector envs, and the human render mode."""

import sys
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import DependencyNotInstalled
from gymnasium.utils import seeding

import plastic_envs
from plastic_envs import ENV_IDS

# -- max_episode_steps -----------------------------------------------------------------------------------------


def _run(venv, steps, seed=4):
    """(obs, rewards, terminated, truncated) of ``steps`` steps with fixed random actions, stacked."""
    obs, _ = venv.reset(seed=seed)
    rng = np.random.default_rng(1)
    out = [[obs], [], [], []]
    for _ in range(steps):
        o, r, term, trunc, _ = venv.step(rng.integers(0, venv.single_action_space.n, venv.num_envs))
        for part, x in zip(out, (o, r, term, trunc)):
            part.append(x)
    return [np.stack(part) for part in out]


@pytest.mark.parametrize("env_id", ["BackpropamineMaze-v0", "BackpropamineCueReward-v0"])
@pytest.mark.parametrize("limit", [7, 50])
def test_max_episode_steps_in_native_and_sync_modes(env_id, limit):
    """K below the episode's length truncates after K steps; above it, the episode's own length (20) stays the
    bound. Native and sync (TimeLimit on each sub-env) agree step for step."""
    n, length = 3, 20
    native = gym.make_vec(env_id, n, max_episode_steps=limit, episode_length=length)
    sync = gym.make_vec(env_id, n, vectorization_mode="sync", max_episode_steps=limit, episode_length=length)
    assert type(native.unwrapped).__name__.endswith("VectorEnv") and native.spec.kwargs["max_episode_steps"] == limit
    a, b = _run(native, 60), _run(sync, 60)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    trunc = a[3]
    bound = min(limit, length)
    # Episodes of `bound` steps, each followed by the autoreset step.
    assert [int(t) for t in np.flatnonzero(trunc[:, 0])] == list(range(bound - 1, 60, bound + 1))
    assert not a[2].any()


def test_max_episode_steps_in_async_mode_and_no_limit():
    n = 2
    asynchronous = gym.make_vec("BackpropamineMaze-v0", n, vectorization_mode="async", max_episode_steps=5,
                                episode_length=9)
    try:
        a = _run(asynchronous, 13)
    finally:
        asynchronous.close()
    b = _run(gym.make_vec("BackpropamineMaze-v0", n, max_episode_steps=5, episode_length=9), 13)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # -1 is Gymnasium's "no TimeLimit": the episode's own length.
    c = _run(gym.make_vec("BackpropamineMaze-v0", n, max_episode_steps=-1, episode_length=9), 13)
    assert list(np.flatnonzero(c[3][:, 0])) == [8]
    with pytest.raises(TypeError, match="max_episode_steps"):
        gym.make_vec("BackpropamineMaze-v0", n, max_episode_steps=2.5)


# -- info dtypes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ENV_IDS)
def test_infos_are_arrays_of_the_declared_dtypes_in_single_and_vector_envs(env_id):
    env = gym.make(env_id)
    dtypes = env.unwrapped.core.info_dtypes
    _, info = env.reset(seed=0)
    infos = [info] + [env.step(1)[4] for _ in range(3)]
    for info in infos:
        assert set(info) == set(dtypes)
        for key, value in info.items():
            assert isinstance(value, np.ndarray) and value.dtype == dtypes[key], (key, type(value))
    # 0-d arrays for scalars, so that the sync vector env batches them to the same dtypes as the native one.
    sync = gym.make_vec(env_id, 2, vectorization_mode="sync")
    native = gym.make_vec(env_id, 2)
    for venv in (sync, native):
        _, vinfo = venv.reset(seed=0)
        _, _, _, _, vinfo = venv.step(np.ones(2, dtype=np.int64))
        for key, dtype in dtypes.items():
            assert vinfo[key].dtype == dtype and vinfo[key].shape[0] == 2, (type(venv).__name__, key)


def test_infos_read_as_tensors_the_way_torchrl_reads_them():
    """TorchRL's info-dict reader turns each info value into a tensor of a spec'd dtype; with plain Python
    numbers that failed, with arrays of fixed dtypes it works (torch is what torchrl builds on)."""
    import torch

    env = gym.make("BackpropamineCueReward-v0")
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    tensors = {key: torch.as_tensor(value) for key, value in info.items()}
    assert tensors["target_shown"].dtype == torch.bool and tensors["phase"].dtype == torch.int64
    assert all(t.shape == () for t in tensors.values())


# -- call / get_attr / set_attr ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["BackpropamineMaze-v0", "BackpropamineCueReward-v0"])
def test_call_get_attr_set_attr_match_sync_vector_env(env_id):
    n = 3
    native = gym.make_vec(env_id, n, render_mode="rgb_array")
    sync = gym.make_vec(env_id, n, vectorization_mode="sync", render_mode="rgb_array")
    native.reset(seed=7)
    sync.reset(seed=7)
    frames_n, frames_s = native.call("render"), sync.call("render")
    assert isinstance(frames_n, tuple) and len(frames_n) == n
    for x, y in zip(frames_n, frames_s):
        np.testing.assert_array_equal(x, y)
    for name in ("render_mode", "observation_space", "action_space", "np_random_seed"):
        assert native.get_attr(name) == sync.get_attr(name), name
    assert native.call("render_mode") == ("rgb_array",) * n  # a value is returned as it is
    for g_n, g_s in zip(native.get_attr("np_random"), sync.get_attr("np_random")):
        assert g_n.bit_generator.state == g_s.bit_generator.state
    assert native.get_attr("episode_length") == (native.unwrapped.core.episode_length,) * n
    assert callable(native.get_attr("render")[0])  # a method is returned, not called

    # The same generators set on both: the next (unseeded) resets draw the same episodes.
    gens = [seeding.np_random(100 + i)[0] for i in range(n)]
    native.set_attr("np_random", gens)
    sync.set_attr("np_random", [seeding.np_random(100 + i)[0] for i in range(n)])
    np.testing.assert_array_equal(native.reset()[0], sync.reset()[0])
    assert native.get_attr("np_random_seed") == sync.get_attr("np_random_seed") == (-1,) * n
    native.set_attr("render_mode", "ansi")
    assert all(isinstance(text, str) for text in native.call("render"))

    with pytest.raises(ValueError, match="length equal to the number of environments"):
        native.set_attr("np_random", gens[:2])
    with pytest.raises(ValueError, match="same for every sub-env"):
        native.set_attr("render_mode", ["ansi", "rgb_array", "ansi"])
    with pytest.raises(ValueError, match="render_mode"):
        native.set_attr("render_mode", "human")
    with pytest.raises(TypeError, match="Generator"):
        native.set_attr("np_random", 3)
    with pytest.raises(AttributeError, match="episode_length"):
        native.set_attr("episode_length", 5)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        native.get_attr("nonexistent")


def test_call_before_reset_and_skrl_style_render():
    """skrl's trainer calls call("render") every step; before any reset the generators are made lazily, as
    Gymnasium's envs make np_random on first use."""
    venv = gym.make_vec("BackpropamineMaze-v0", 2)
    assert venv.call("render") == (None, None)  # no render mode
    seeds = venv.get_attr("np_random_seed")
    assert all(isinstance(s, int) and s >= 0 for s in seeds)


# -- human render mode ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["BackpropamineMaze-v0", "BackpropamineCueReward-v0"])
def test_human_mode_shows_the_rgb_frames_at_render_fps(env_id, monkeypatch):
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = gym.make(env_id, render_mode="human")
    twin = gym.make(env_id, render_mode="rgb_array")
    assert "human" in env.metadata["render_modes"]
    env.unwrapped.metadata = {**env.unwrapped.metadata, "render_fps": 40}
    start = time.perf_counter()
    env.reset(seed=0)
    twin.reset(seed=0)
    for a in (1, 0, 1, 0, 1):
        env.step(a)
        twin.step(a)
    elapsed = time.perf_counter() - start
    assert elapsed >= 5 / 40 * 0.9  # six frames (reset and five steps) at 40 a second
    assert env.render() is None
    shown = pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)
    np.testing.assert_array_equal(shown, twin.render())
    env.close()
    env.close()


def test_human_mode_without_pygame_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # import pygame now raises ImportError
    with pytest.raises(DependencyNotInstalled, match=r"backpropamine\[human\]"):
        plastic_envs.MazeEnv(render_mode="human")
    with pytest.raises(DependencyNotInstalled, match=r"backpropamine\[human\]"):
        gym.make("BackpropamineCueReward-v0", render_mode="human")
    plastic_envs.MazeEnv(render_mode="rgb_array").close()  # the other modes do not need pygame


def test_vector_envs_have_no_human_mode_like_gymnasiums_own():
    with pytest.raises(ValueError, match="render_mode"):
        gym.make_vec("BackpropamineMaze-v0", 2, render_mode="human")
