"""Stable-Baselines3 interop: the SB3VecEnv adapter against DummyVecEnv, SB3 algorithms through the adapter
and through make_vec_env (learn, save, load, predict), VecNormalize / VecMonitor on top, evaluate_policy with
our recurrent ActorCritic, bad inputs, and the benchmark's report."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

import plastic_envs  # noqa: F401  (registers the ids)
from plastic_envs.sb3 import SB3VecEnv, make_sb3_vec_env, unbatch_infos

MAZE, CUE = "BackpropamineMaze-v0", "BackpropamineCueReward-v0"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """SB3's tiny MLPs run far faster on one thread, and the test machine's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

try:
    import sb3_contrib
except ImportError:  # the optional extra backpropamine[contrib]
    sb3_contrib = None


def _venv(kind, env_id, n, **kwargs):
    """The same episodes three ways: native env (NEXT_STEP, masked reset), SyncVectorEnv NEXT_STEP (masked
    reset through Gymnasium), SyncVectorEnv SAME_STEP (final_obs / final_info)."""
    if kind == "native":
        return gym.make_vec(env_id, num_envs=n, **kwargs)
    mode = AutoresetMode.NEXT_STEP if kind == "sync-next" else AutoresetMode.SAME_STEP
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
                        **kwargs)


@pytest.mark.parametrize("kind", ["native", "sync-next", "sync-same"])
@pytest.mark.parametrize("env_id", [MAZE, CUE])
def test_adapter_matches_dummy_vec_env_step_for_step(env_id, kind):
    n, length = 3, 11
    ours = SB3VecEnv(_venv(kind, env_id, n, episode_length=length))
    ref = make_vec_env(env_id, n_envs=n, env_kwargs={"episode_length": length})  # DummyVecEnv of Monitors
    assert isinstance(ours, VecEnv) and isinstance(ref, DummyVecEnv) and ours.num_envs == n
    assert ours.observation_space == ref.observation_space and ours.action_space == ref.action_space
    ours.seed(21)
    ref.seed(21)
    obs, obs_ref = ours.reset(), ref.reset()
    np.testing.assert_array_equal(obs, obs_ref)
    for a, b in zip(ours.reset_infos, ref.reset_infos):
        assert a.keys() == b.keys()
    rng = np.random.default_rng(5)
    ends = 0
    for t in range(4 * length + 3):  # crosses four episode ends
        actions = rng.integers(0, ours.action_space.n, n)
        obs, rew, done, infos = ours.step(actions)
        obs_r, rew_r, done_r, infos_r = ref.step(actions)
        assert obs.dtype == obs_r.dtype and rew.dtype == rew_r.dtype and done.dtype == done_r.dtype
        np.testing.assert_array_equal(obs, obs_r, err_msg=f"obs at step {t}")
        np.testing.assert_array_equal(rew, rew_r, err_msg=f"rewards at step {t}")
        np.testing.assert_array_equal(done, done_r, err_msg=f"dones at step {t}")
        for i, (info, info_r) in enumerate(zip(infos, infos_r)):
            assert info.keys() == info_r.keys(), (t, i)
            for key in info_r:
                if key == "episode":
                    assert info[key]["r"] == info_r[key]["r"] and info[key]["l"] == info_r[key]["l"] == length
                    assert info[key]["t"] >= 0
                else:
                    np.testing.assert_array_equal(info[key], info_r[key], err_msg=f"{key} step {t} env {i}")
        for info, info_r in zip(ours.reset_infos, ref.reset_infos):
            for key in info_r:
                np.testing.assert_array_equal(info[key], info_r[key])
        ends += done.sum()
    assert ends == 4 * n
    assert all(info["TimeLimit.truncated"] for info in infos if "terminal_observation" in info)


def test_seeds_options_and_attribute_access():
    env = make_sb3_vec_env(MAZE, n_envs=4, seed=7)
    first = env.reset()
    np.testing.assert_array_equal(env.reset_infos[0]["reward_position"],
                                  gym.make(MAZE).reset(seed=7)[1]["reward_position"])
    assert env.seed(7) == [7, 8, 9, 10]
    np.testing.assert_array_equal(env.reset(), first)
    second = [info["reward_position"].tolist() for info in env.reset_infos]
    env.reset()  # no seed: generators continue, new reward squares
    assert [info["reward_position"].tolist() for info in env.reset_infos] != second
    env.set_options({"reward_position": (1, 1)})
    env.reset()
    assert all(info["reward_position"].tolist() == [1, 1] for info in env.reset_infos)
    env.set_options({"reward_position": np.array([(1, 1), (1, 2), (1, 3), (2, 1)])})  # one row per sub-env
    env.reset()
    assert [info["reward_position"].tolist() for info in env.reset_infos] == [[1, 1], [1, 2], [1, 3], [2, 1]]
    env.reset()
    assert [info["reward_position"].tolist() for info in env.reset_infos] != [[1, 1], [1, 2], [1, 3], [2, 1]]

    assert env.get_attr("render_mode") == ["rgb_array"] * 4
    assert env.get_attr("num_envs", indices=[1, 3]) == [4, 4]
    assert env.has_attr("obs_layout") and not env.has_attr("no_such_attribute")
    env.set_attr("custom_flag", 3)
    assert env.get_attr("custom_flag", indices=0) == [3]
    frames = env.env_method("render")
    assert len(frames) == 4 and len(frames[0]) == 4 and frames[0][0].dtype == np.uint8
    assert env.env_is_wrapped(Monitor) == [True] * 4
    assert env.env_is_wrapped(gym.vector.VectorWrapper) == [False] * 4
    assert SB3VecEnv(gym.make_vec(MAZE, 2), monitor=False).env_is_wrapped(Monitor) == [False, False]
    image = env.render()
    one = env.get_images()[0]
    assert image.dtype == np.uint8 and image.shape == (2 * one.shape[0], 2 * one.shape[1], 3)
    env.close()
    env.close()


def test_wrappers_on_top_vec_normalize_and_vec_monitor():
    length = 20
    plain = SB3VecEnv(gym.make_vec(MAZE, 4, episode_length=length), monitor=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # monitor=False: VecMonitor has nothing to overwrite
        monitored = VecMonitor(plain)
    ref = SB3VecEnv(gym.make_vec(MAZE, 4, episode_length=length))
    monitored.seed(3)
    ref.seed(3)
    monitored.reset()
    ref.reset()
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(2 * length):
        actions = rng.integers(0, 4, 4)
        _, _, done, infos = monitored.step(actions)
        _, _, _, infos_ref = ref.step(actions)
        for i in np.flatnonzero(done):
            assert infos[i]["episode"]["r"] == infos_ref[i]["episode"]["r"]
            assert infos[i]["episode"]["l"] == infos_ref[i]["episode"]["l"] == length
            episodes.append(infos[i]["episode"]["r"])
    assert len(episodes) == 8

    norm = VecNormalize(make_sb3_vec_env(MAZE, n_envs=4, seed=0), norm_reward=True)
    model = PPO("MlpPolicy", norm, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert norm.obs_rms.count > 256
    obs = norm.reset()
    assert np.abs(obs).max() <= norm.clip_obs
    assert np.abs(norm.get_original_obs()).max() <= 10.0  # raw maze observations are within [0, 10]


def _algorithms():
    out = [("PPO", PPO, "MlpPolicy", {"n_steps": 64, "batch_size": 64, "n_epochs": 2}),
           ("A2C", A2C, "MlpPolicy", {"n_steps": 8})]
    if sb3_contrib is not None:
        out.append(("RecurrentPPO", sb3_contrib.RecurrentPPO, "MlpLstmPolicy",
                    {"n_steps": 64, "batch_size": 64, "n_epochs": 1,
                     "policy_kwargs": {"lstm_hidden_size": 16, "net_arch": [16]}}))
    return out


ALGOS = {name: (cls, policy, kwargs) for name, cls, policy, kwargs in _algorithms()}


@pytest.mark.parametrize("route", ["adapter", "make_vec_env"])
@pytest.mark.parametrize("env_id", [MAZE, CUE])
@pytest.mark.parametrize("algo", ["PPO", "A2C", "RecurrentPPO"])
def test_learn_save_load_predict(algo, env_id, route, tmp_path):
    if algo not in ALGOS:
        pytest.skip("sb3_contrib cannot be imported: install the optional extra backpropamine[contrib]")
    cls, policy, kwargs = ALGOS[algo]
    n = 2
    env = make_sb3_vec_env(env_id, n, seed=1) if route == "adapter" else make_vec_env(env_id, n, seed=1)
    model = cls(policy, env, seed=0, device="cpu", **kwargs)
    length = gym.make(env_id).unwrapped.core.episode_length
    steps = 2 * n * length  # two episodes per sub-env
    model.learn(steps)
    assert model.num_timesteps >= steps
    assert len(model.ep_info_buffer) >= 2 * n  # the episode infos reached SB3's logger buffer
    lengths = {ep["l"] for ep in model.ep_info_buffer}
    assert lengths == {length}
    model.save(tmp_path / "model")
    loaded = cls.load(tmp_path / "model", env=env, device="cpu")
    obs = env.reset()
    actions, state = model.predict(obs, deterministic=True)
    actions_loaded, state_loaded = loaded.predict(obs, deterministic=True)
    assert actions.shape == (n,) and env.action_space.contains(int(actions[0]))
    np.testing.assert_array_equal(actions, actions_loaded)
    if algo == "RecurrentPPO":  # the LSTM state comes back and feeds the next call
        assert state[0].shape == (1, n, 16)
        np.testing.assert_allclose(state[0], state_loaded[0], rtol=1e-5, atol=1e-6)
        obs, *_ = env.step(actions)
        again, _ = loaded.predict(obs, state=state_loaded, episode_start=np.zeros(n, dtype=bool))
        assert again.shape == (n,)
    env.close()


def test_evaluate_policy_with_recurrent_actor_critic():
    """evaluate_policy runs our plastic ActorCritic through the adapter, resetting its recurrent state at
    episode starts: the returns equal a hand-run of the same deterministic policy on single envs."""
    from plastic_agents import ActorCritic

    torch.manual_seed(0)
    agent = ActorCritic(16, 4, "modplast", 16)
    env = make_sb3_vec_env(MAZE, n_envs=2, seed=5)
    mean, std = evaluate_policy(agent, env, n_eval_episodes=4, deterministic=True)
    env.seed(5)
    returns, lengths = evaluate_policy(agent, env, n_eval_episodes=4, deterministic=True,
                                       return_episode_rewards=True)
    assert lengths == [200] * 4
    assert mean == pytest.approx(np.mean(returns)) and std == pytest.approx(np.std(returns))

    expected = []
    for i in range(2):  # sub-env i: seed 5 + i, two episodes in a row
        single = gym.make(MAZE)
        obs, _ = single.reset(seed=5 + i)
        for _ in range(2):
            state, total, done = agent.initial_state(1), 0.0, False
            while not done:
                with torch.no_grad():
                    logits, _, _, state = agent.step(torch.as_tensor(obs[None]), state)
                obs, r, _, done, _ = single.step(int(logits.argmax()))
                total += r
            expected.append(total)
            obs, _ = single.reset()
    # episodes end together, so evaluate_policy records env 0, env 1, env 0, env 1
    assert returns == pytest.approx([expected[0], expected[2], expected[1], expected[3]])


def test_bad_inputs_get_clear_errors():
    env = make_sb3_vec_env(MAZE, n_envs=3, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(3,\)"):
        env.step(np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"actions must have shape \(3,\)"):
        env.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        env.step(np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integer"):
        env.step(np.zeros(3))
    with pytest.raises(RuntimeError, match="step_async"):
        env.step_wait()
    env.set_options([{"reward_position": (1, 1)}, {}, {}])
    with pytest.raises(ValueError, match="one options dict"):
        env.reset()
    with pytest.raises(ValueError, match="indices=None"):
        env.set_attr("x", 1, indices=[0])
    with pytest.raises(ValueError, match="indices=None"):
        env.env_method("render", indices=1)
    with pytest.raises(ValueError, match="out of range"):
        env.get_attr("num_envs", indices=[3])
    with pytest.raises(AttributeError, match="no_such"):
        env.get_attr("no_such")
    with pytest.raises(TypeError, match="VectorEnv"):
        SB3VecEnv(gym.make(MAZE))
    with pytest.raises(TypeError, match="SAME_STEP"):  # NEXT_STEP without a masked reset
        SB3VecEnv(gym.make_vec("CartPole-v1", 2, vectorization_mode="vector_entry_point"))
    dict_obs = SyncVectorEnv([lambda: gym.wrappers.TransformObservation(
        gym.make(MAZE), lambda o: {"x": o}, gym.spaces.Dict({"x": gym.make(MAZE).observation_space}))])
    with pytest.raises(TypeError, match="array observations"):
        SB3VecEnv(dict_obs)
    with pytest.raises(ValueError, match="n_envs"):
        make_sb3_vec_env(MAZE, 0)


def test_other_envs_and_nested_infos():
    env = make_sb3_vec_env("CartPole-v1", n_envs=3, seed=0)  # Sync with SAME_STEP autoreset
    ref = make_vec_env("CartPole-v1", n_envs=3, seed=0)
    np.testing.assert_array_equal(env.reset(), ref.reset())
    for _ in range(60):
        out, out_ref = env.step(np.ones(3, dtype=np.int64)), ref.step(np.ones(3, dtype=np.int64))
        np.testing.assert_array_equal(out[0], out_ref[0])
        np.testing.assert_array_equal(out[2], out_ref[2])
    infos = unbatch_infos({"a": np.array([1, 2]), "_a": np.array([True, False]),
                           "ep": {"r": np.array([0.5, 1.5]), "_r": np.array([False, True])},
                           "_ep": np.array([False, True]), "pos": np.arange(4).reshape(2, 2)}, 2)
    assert infos[0] == {"a": 1, "pos": infos[0]["pos"]} and infos[0]["pos"].tolist() == [0, 1]
    assert infos[1]["ep"] == {"r": 1.5} and "a" not in infos[1]


def test_benchmark_report():
    from plastic_envs.sb3_bench import format_report, run_benchmark

    report = run_benchmark(n_envs=(2,), ppo_timesteps=128, raw_steps=20)
    json.dumps(report)
    assert [(r["mode"], r["route"], r["n_envs"]) for r in report["results"]] == [
        ("ppo", "adapter", 2), ("ppo", "make_vec_env", 2), ("raw", "adapter", 2), ("raw", "make_vec_env", 2)]
    assert all(r["steps_per_second"] > 0 for r in report["results"])
    assert {(r["mode"], r["n_envs"]) for r in report["ratios"]} == {("ppo", 2), ("raw", 2)}
    assert "adapter/make_vec_env" in format_report(report)


@pytest.mark.parametrize("script", ["sb3_ppo_maze", "sb3_a2c_cue", "sb3_recurrent_ppo"])
def test_examples_run(script, tmp_path, monkeypatch, capsys):
    import pathlib
    import runpy

    if script == "sb3_recurrent_ppo" and sb3_contrib is None:
        pytest.skip("sb3_contrib cannot be imported: install the optional extra backpropamine[contrib]")
    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / f"{script}.py"
    monkeypatch.setattr("sys.argv", [str(path), "--timesteps", "64", "--n-envs", "2", "--out", str(tmp_path)])
    runpy.run_path(str(path), run_name="__main__")
    assert (tmp_path / "model.zip").is_file()
    assert "per episode" in capsys.readouterr().out
