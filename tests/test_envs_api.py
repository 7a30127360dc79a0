"""Gymnasium / SB3 contract of every registered env: checkers, seeding, native-vs-sync equivalence,
autoreset, rendering, pickling, JSON specs, and bad inputs."""

import json
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import plastic_envs
from plastic_envs import ENV_IDS, EpisodeOverError

VECTOR_INFO_KEYS = {"maze": {"agent_position", "reward_position", "hits"},
                    "cue": {"phase", "trial_step", "trial_length", "target_shown", "correct", "go_steps",
                            "target_cue"}}


def test_registry_lists_exactly_our_ids():
    ours = {eid for eid, spec in gym.registry.items()
            if isinstance(spec.entry_point, str) and spec.entry_point.startswith("plastic_envs.")}
    assert ours == set(ENV_IDS) == {"BackpropamineMaze-v0", "BackpropamineMaze-11x11-v0",
                                    "BackpropamineCueReward-v0", "BackpropamineCueReward-Easy-v0"}
    plastic_envs.register_envs()  # idempotent, no warning about overriding
    for eid in ENV_IDS:
        spec = gym.spec(eid)
        assert spec.vector_entry_point is not None and spec.max_episode_steps is None


def test_make_without_import_in_fresh_process():
    code = ("import gymnasium as gym; e = gym.make('plastic_envs:BackpropamineMaze-v0'); "
            "o, _ = e.reset(seed=0); print(o.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(16,)"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_checkers(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        check_env(env.unwrapped)
        sb3_check_env(gym.make(env_id).unwrapped, warn=True)
        env.close()
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_metadata_and_json_spec(env_id):
    env = gym.make(env_id)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box) and space.dtype == np.float32
    assert np.isfinite(space.low).all() and np.isfinite(space.high).all()
    assert isinstance(env.action_space, gym.spaces.Discrete) and env.action_space.start == 0
    assert env.metadata["render_fps"] > 0
    text = env.spec.to_json()
    json.loads(text)
    again = gym.make(EnvSpec.from_json(text))
    assert again.observation_space == space
    venv = gym.make_vec(env_id, num_envs=3)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    json.loads(venv.spec.to_json())
    assert type(venv).__name__.endswith("VectorEnv") and venv.num_envs == 3


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeding_and_determinism(env_id):
    def run(seed):
        def flat(info):
            return np.hstack([np.ravel(v) for v in info.values()]).astype(np.float64)

        env = gym.make(env_id)
        obs, info = env.reset(seed=seed)
        out = [obs, flat(info)]
        for t in range(250):
            obs, r, _, trunc, info = env.step(t * 7 % env.action_space.n)
            out += [obs, [r], flat(info)]
            if trunc:
                obs, info = env.reset()
                out += [obs, flat(info)]
        return np.concatenate(out)

    a, b, c = run(4), run(4), run(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_native_vector_matches_sync_step_for_step(env_id):
    n = 5
    native = gym.make_vec(env_id, num_envs=n, episode_length=37)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", episode_length=37)
    obs_n, info_n = native.reset(seed=11)
    obs_s, info_s = sync.reset(seed=11)
    np.testing.assert_array_equal(obs_n, obs_s)
    rng = np.random.default_rng(3)
    saw_reset = 0
    for t in range(300):  # crosses 7 episode boundaries
        actions = rng.integers(0, native.single_action_space.n, n)
        res_n, res_s = native.step(actions), sync.step(actions)
        for x, y in zip(res_n[:4], res_s[:4]):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        assert set(res_n[4]) == set(res_s[4])
        for key in res_s[4]:
            np.testing.assert_array_equal(res_n[4][key], res_s[4][key], err_msg=f"info {key} step {t}")
            assert res_n[4][key].dtype == res_s[4][key].dtype
        saw_reset += res_n[3].sum()
    assert saw_reset == (300 // 38) * n  # 37 steps, then the autoreset step


def test_vector_infos_have_masks_and_autoreset_is_next_step():
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=4, episode_length=3)
    obs, info = venv.reset(seed=0)
    assert set(k for k in info if not k.startswith("_")) == VECTOR_INFO_KEYS["maze"]
    for key in VECTOR_INFO_KEYS["maze"]:
        assert info["_" + key].dtype == np.bool_ and info["_" + key].all()
    for _ in range(3):
        obs, r, term, trunc, info = venv.step(np.zeros(4, dtype=np.int64))
    assert trunc.all() and not term.any()
    obs, r, term, trunc, info = venv.step(np.ones(4, dtype=np.int64))  # the autoreset step
    assert (r == 0).all() and not trunc.any() and not term.any()
    assert (obs[:, 10:] == 0).all()  # t = 0, no previous reward or action
    assert (info["agent_position"] == 5).all() and (info["hits"] == 0).all()
    cue = gym.make_vec("BackpropamineCueReward-v0", num_envs=2)
    _, info = cue.reset(seed=0)
    assert set(k for k in info if not k.startswith("_")) == VECTOR_INFO_KEYS["cue"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_and_infos_are_fresh_objects(env_id):
    env = gym.make(env_id)
    o1, i1 = env.reset(seed=0)
    o2, _, _, _, i2 = env.step(0)
    assert not np.shares_memory(o1, o2)
    o1_copy = o1.copy()
    env.step(1)
    np.testing.assert_array_equal(o1, o1_copy)
    venv = gym.make_vec(env_id, num_envs=3)
    v1, j1 = venv.reset(seed=0)
    v2, _, _, _, j2 = venv.step(np.zeros(3, dtype=np.int64))
    assert not np.shares_memory(v1, v2)
    for key in j1:
        assert not np.shares_memory(j1[key], j2[key])
    arrays = [value for value in j2.values() if isinstance(value, np.ndarray)]
    assert not any(np.shares_memory(a, b) for k, a in enumerate(arrays) for b in arrays[k + 1:])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_roundtrip_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=9)
    for a in (0, 1, 1, 0):
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    for a in (1, 0, 1, 1, 0, 0):
        x, y = env.step(a), clone.step(a)
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:4] == y[1:4]
    venv = gym.make_vec(env_id, num_envs=3)
    venv.reset(seed=1)
    vclone = pickle.loads(pickle.dumps(venv))
    actions = np.array([0, 1, 0])
    np.testing.assert_array_equal(venv.step(actions)[0], vclone.step(actions)[0])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rendering(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0, options={"reward_position": (1, 1)} if "Maze" in env_id else None)
    first = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert first.shape[0] >= 100 and first.shape[1] >= 100
    assert len(np.unique(first.reshape(-1, 3), axis=0)) >= 4
    env.step(0)
    second = env.render()
    assert second.shape == first.shape and not np.array_equal(first, second)
    text_env = gym.make(env_id, render_mode="ansi")
    text_env.reset(seed=0)
    text = text_env.render()
    assert isinstance(text, str) and ("t=0" in text or "t 0" in text)
    venv = gym.make_vec(env_id, num_envs=2, render_mode="rgb_array")
    venv.reset(seed=0)
    frames = venv.render()
    assert len(frames) == 2 and frames[0].shape == first.shape
    venv.close()
    venv.close()


def test_maze_render_shows_agent_moving():
    env = gym.make("BackpropamineMaze-v0", render_mode="rgb_array")
    env.reset(seed=0, options={"reward_position": (1, 1)})
    before = env.render()
    env.step(3)  # right: (5, 5) -> (5, 6)
    after = env.render()
    cell = 24
    changed = np.argwhere((before != after).any(axis=2))
    rows, cols = set(changed[:, 0] // cell), set(changed[:, 1] // cell)
    assert {5, 6} <= cols and 5 in rows  # the two cells the agent left and entered
    ansi = gym.make("BackpropamineMaze-v0", render_mode="ansi")
    ansi.reset(seed=0, options={"reward_position": (1, 1)})
    assert ansi.render().splitlines()[5][5] == "A" and ansi.render().splitlines()[1][1] == "R"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_actions_leave_state_unchanged(env_id):
    env = gym.make(env_id).unwrapped
    twin = gym.make(env_id).unwrapped
    env.reset(seed=3)
    twin.reset(seed=3)
    n = env.action_space.n
    for bad, err in ((n, ValueError), (-1, ValueError), (0.0, TypeError), ("1", TypeError),
                     (np.array([0]), TypeError), (True, TypeError)):
        with pytest.raises(err, match="action"):
            env.step(bad)
    for a in (1, 0, 1):
        x, y = env.step(a), twin.step(a)
        np.testing.assert_array_equal(x[0], y[0])

    venv = gym.make_vec(env_id, num_envs=4)
    vtwin = gym.make_vec(env_id, num_envs=4)
    venv.reset(seed=3)
    vtwin.reset(seed=3)
    for bad, err, what in ((np.zeros(3, dtype=np.int64), ValueError, "shape"),
                           (np.zeros((4, 1), dtype=np.int64), ValueError, "shape"),
                           (np.zeros(4, dtype=np.float32), TypeError, "dtype"),
                           (np.array([0, 1, n, 0]), ValueError, "in \\[0"),
                           (np.array([0, -1, 0, 0]), ValueError, "in \\[0"),
                           (np.array([0, -1, 0, 0], dtype=np.int8), ValueError, "in \\[0"),
                           (np.array([0, 255, 0, 0], dtype=np.uint8), ValueError, "in \\[0"),
                           (np.array([0, 9, 0, -5, 0, 0, 0, 0])[1::2], ValueError, "in \\[0")):
        with pytest.raises(err, match=what):
            venv.step(bad)
    actions = np.array([1, 0, 1, 1])
    for _ in range(3):
        np.testing.assert_array_equal(venv.step(actions)[0], vtwin.step(actions)[0])
    # Other integer dtypes and strided views are valid actions too.
    for valid in (np.array([1, 0, 1, 1], dtype=np.uint8), np.array([1, 9, 0, 9, 1, 9, 1, 9])[::2]):
        np.testing.assert_array_equal(venv.step(valid)[0], vtwin.step(actions)[0])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_after_end_or_before_reset_is_refused(env_id):
    env = gym.make(env_id, episode_length=4).unwrapped
    with pytest.raises(EpisodeOverError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(4):
        *_, trunc, _ = env.step(0)
    assert trunc
    with pytest.raises(EpisodeOverError, match="reset"):
        env.step(0)
    obs, _ = env.reset()
    assert obs[env.obs_layout.time][0] == 0
    venv = gym.make_vec(env_id, num_envs=2)
    with pytest.raises(EpisodeOverError, match="reset"):
        venv.step(np.zeros(2, dtype=np.int64))


def test_bad_constructor_and_reset_arguments():
    with pytest.raises(ValueError, match="render_mode"):
        plastic_envs.MazeEnv(render_mode="video")
    with pytest.raises(ValueError, match="num_envs"):
        plastic_envs.MazeVectorEnv(num_envs=0)
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=2)
    with pytest.raises(ValueError, match="seed"):
        venv.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="options"):
        venv.reset(seed=0, options=[("reward_position", (1, 1))])
    _, info = venv.reset(seed=[4, None])
    single = gym.make("BackpropamineMaze-v0")
    _, sinfo = single.reset(seed=4)
    np.testing.assert_array_equal(info["reward_position"][0], sinfo["reward_position"])


def test_benchmark_function_reports_every_configuration():
    from plastic_envs.bench import format_report, run_benchmark

    report = run_benchmark(env_ids=("BackpropamineCueReward-Easy-v0",), native_sizes=(1, 8), sync_sizes=(8,),
                           seconds=0.02)
    json.dumps(report)
    modes = [(r["mode"], r["num_envs"]) for r in report["results"]]
    assert modes == [("single", 1), ("sync", 8), ("native", 1), ("native", 8)]
    assert all(r["steps_per_second"] > 0 for r in report["results"])
    assert [r["num_envs"] for r in report["ratios"]] == [8]
    assert "native/sync at 8 envs" in format_report(report)


@pytest.mark.parametrize("env_id", ["BackpropamineMaze-v0", "BackpropamineCueReward-v0"])
def test_masked_reset_matches_sync_vector_env(env_id):
    """reset(options={"reset_mask": m}) resets only the masked rows, cancels their pending autoreset and
    draws the same episodes as SyncVectorEnv's masked reset (seeded rows and continued generators)."""
    n = 4
    native = gym.make_vec(env_id, num_envs=n, episode_length=9)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", episode_length=9)
    np.testing.assert_array_equal(native.reset(seed=2)[0], sync.reset(seed=2)[0])
    rng = np.random.default_rng(0)
    for t in range(40):
        actions = rng.integers(0, native.single_action_space.n, n)
        res_n, res_s = native.step(actions), sync.step(actions)
        for x, y in zip(res_n[:4], res_s[:4]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        mask = res_n[3] | (rng.random(n) < 0.15)  # every ending row, and some rows mid-episode
        if mask.any():
            seed = [None if i % 2 else 100 + t + i for i in range(n)] if t % 3 == 0 else None
            obs_n, info_n = native.reset(seed=seed, options={"reset_mask": mask.copy()})
            obs_s, info_s = sync.reset(seed=seed, options={"reset_mask": mask.copy()})
            np.testing.assert_array_equal(obs_n, obs_s)
            for key in info_s:
                if key.startswith("_"):
                    np.testing.assert_array_equal(info_n[key], mask)
                else:
                    np.testing.assert_array_equal(info_n[key][mask], info_s[key][mask])


def test_masked_reset_bad_masks():
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=3)
    with pytest.raises(EpisodeOverError, match="full reset"):
        venv.reset(options={"reset_mask": np.ones(3, dtype=bool)})
    venv.reset(seed=0)
    with pytest.raises(TypeError, match="bool numpy array"):
        venv.reset(options={"reset_mask": [True, False, True]})
    with pytest.raises(ValueError, match="shape"):
        venv.reset(options={"reset_mask": np.ones(2, dtype=bool)})
    with pytest.raises(ValueError, match="at least one"):
        venv.reset(options={"reset_mask": np.zeros(3, dtype=bool)})
    options = {"reset_mask": np.array([False, True, False]), "reward_position": (1, 1)}
    venv.reset(options=options)
    assert "reset_mask" in options  # the caller's dict is left alone
    np.testing.assert_array_equal(venv.core.info()["reward_position"][1], (1, 1))
