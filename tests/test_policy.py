"""ActorCritic: shapes, the paper's parameter counts, parameter matching and Stable-Baselines3's evaluate_policy."""
import numpy as np
import pytest
import torch

from plastic_agents import CELL_KINDS, ActorCritic, match_hidden_size

PAPER = {"rnn": (139, 22523), "plastic": (101, 22731), "modplast": (100, 22406), "modul": (100, 22407)}


@pytest.mark.parametrize("kind", sorted(PAPER))
def test_paper_parameter_counts(kind):
    n, count = PAPER[kind]
    assert ActorCritic(17, 4, kind, n).num_parameters() == count
    assert ActorCritic(16, 4, kind, n).num_parameters() == count - n
    assert match_hidden_size(kind, count, 17, 4) == n


def test_match_hidden_size_from_one_target():
    assert match_hidden_size("rnn", 22406, 17, 4) == 139
    assert match_hidden_size("modplast", 22406, 17, 4) == 100
    assert match_hidden_size("modul", 22406, 17, 4) == 100
    n = match_hidden_size("lstm", 22406, 17, 4)
    counts = {m: ActorCritic(17, 4, "lstm", m).num_parameters() for m in (n - 1, n, n + 1)}
    assert abs(counts[n] - 22406) <= min(abs(counts[n - 1] - 22406), abs(counts[n + 1] - 22406))
    assert match_hidden_size("plastic", 22406, 17, 4, alpha_mode="scalar") > 101
    with pytest.raises(ValueError, match="target_params"):
        match_hidden_size("rnn", 0, 17, 4)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_step_and_sequence_agree(kind):
    torch.manual_seed(0)
    model = ActorCritic(6, 3, kind, 8)
    obs = torch.randn(5, 2, 6)
    starts = torch.zeros(5, 2, dtype=torch.bool)
    starts[3, 0] = True
    logits, values, xs, final = model.forward_sequence(obs, model.initial_state(2), starts)
    assert logits.shape == (5, 2, 3) and values.shape == (5, 2) and xs.shape == (5, 2, 8)
    state = model.initial_state(2)
    with torch.no_grad():
        for t in range(5):
            if starts[t].any():
                fresh = model.initial_state(2)
                state = type(state)(*[None if v is None else torch.where(
                    starts[t].view(-1, *([1] * (v.dim() - 1))), f, v) for v, f in zip(state, fresh)])
            lg, v, x, state = model.step(obs[t], state)
            torch.testing.assert_close(lg, logits[t], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(v, values[t], atol=1e-5, rtol=1e-4)


def test_predict_shapes_resets_and_errors():
    torch.manual_seed(0)
    model = ActorCritic(4, 2, "modul", 8)
    obs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    actions, state = model.predict(obs)
    assert actions.shape == (3,) and set(actions.tolist()) <= {0, 1}
    _, state = model.predict(obs, state)
    assert torch.count_nonzero(state.elig) > 0
    actions, state2 = model.predict(obs, state, episode_start=np.array([True, False, False]),
                                    deterministic=True)
    _, fresh = model.predict(obs, None, deterministic=True)
    torch.testing.assert_close(state2.x[0], fresh.x[0])
    torch.testing.assert_close(state2.elig[0], fresh.elig[0])
    assert not torch.allclose(state2.x[1], fresh.x[1])
    single, _ = model.predict(obs[0])
    assert np.ndim(single) == 0
    with pytest.raises(ValueError, match="observation must have shape"):
        model.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="episode_start"):
        model.predict(obs, state, episode_start=np.array([True]))


def test_evaluate_policy_on_cartpole():
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.manual_seed(0)
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = ActorCritic(4, 2, "modplast", 16)
    rewards, lengths = evaluate_policy(model, env, n_eval_episodes=4, return_episode_rewards=True)
    env.close()
    assert len(rewards) == 4 and all(r >= 1 for r in rewards) and all(r == n for r, n in zip(rewards, lengths))
