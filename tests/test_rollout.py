"""The shared rollout loop: reset semantics, validity masks, autoreset modes, any Gymnasium vector env."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import plastic_envs  # noqa: F401
from plastic_agents import ActorCritic
from plastic_agents.rollout import check_vector_env, collect_episodes
from plastic_agents.sampling import ActionSampler


class CountdownEnv(gym.Env):
    """Episode of `length` steps, reward 1 per step, observation = (steps left, length); ends terminated."""

    observation_space = gym.spaces.Box(0.0, 100.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, length: int, truncate: bool = False):
        self.length, self.truncate, self.t = length, truncate, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([self.length, self.length], np.float32), {}

    def step(self, action):
        assert self.t < self.length, "stepped past the end without the rollout noticing"
        self.t += 1
        done = self.t == self.length
        obs = np.array([self.length - self.t, self.length], np.float32)
        return obs, 1.0, done and not self.truncate, done and self.truncate, {}


def _policy(obs_size=2, actions=3, kind="modplast"):
    torch.manual_seed(0)
    return ActorCritic(obs_size, actions, kind, 8)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_each_sub_env_contributes_exactly_one_episode(mode):
    lengths = [3, 5, 4]
    env = SyncVectorEnv([lambda n=n: CountdownEnv(n) for n in lengths], autoreset_mode=mode)
    batch = collect_episodes(env, _policy(), generator=torch.Generator().manual_seed(0), seed=0)
    assert batch.obs.shape[0] == max(lengths)
    assert batch.episode_lengths.tolist() == lengths
    assert batch.episode_returns.tolist() == [float(n) for n in lengths]
    # valid is a prefix of each column: once an episode has ended, nothing of the next one leaks in
    for b, n in enumerate(lengths):
        assert batch.valid[:n, b].all() and not batch.valid[n:, b].any()
    # the first observation of each episode is its reset observation
    assert batch.obs[0, :, 0].tolist() == [float(n) for n in lengths]
    assert not batch.truncated.any()


def test_truncated_episodes_are_bootstrapped_with_the_value_of_the_final_observation():
    env = SyncVectorEnv([lambda: CountdownEnv(3, truncate=True), lambda: CountdownEnv(2)])
    policy = _policy()
    batch = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=0,
                             bootstrap_truncated=True)
    assert batch.truncated.tolist() == [True, False]
    assert batch.bootstrap_values[1] == 0.0
    # recompute V(s_3) for episode 0 by replaying its observations then the final observation
    state = policy.initial_state(1)
    with torch.no_grad():
        for t in range(3):
            _, _, _, state = policy.step(batch.obs[t, :1], state)
        _, value, _, _ = policy.step(torch.tensor([[0.0, 3.0]]), state)
    assert batch.bootstrap_values[0].item() == pytest.approx(value.item(), abs=1e-6)


def test_step_cap_truncates_and_marks_episodes():
    env = SyncVectorEnv([lambda: CountdownEnv(50)] * 2)
    batch = collect_episodes(env, _policy(), generator=torch.Generator().manual_seed(0), max_steps=7)
    assert batch.obs.shape[0] == 7 and batch.truncated.all() and batch.valid.all()


def test_recurrent_state_starts_from_zero_every_call():
    env = gym.make_vec("BackpropamineMaze-v0", num_envs=3)
    policy = _policy(16, 4)
    gen = torch.Generator().manual_seed(0)
    first = collect_episodes(env, policy, generator=gen, seed=5)
    collect_episodes(env, policy, generator=gen, seed=6)
    again = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=5)
    # same seed and generator state -> the same episode, whatever ran before (no state carried across calls)
    assert torch.equal(first.actions, again.actions) and torch.equal(first.rewards, again.rewards)
    assert first.obs.shape == (200, 3, 16) and first.valid.all()


def test_acting_builds_no_graph_unless_asked():
    env = gym.make_vec("BackpropamineMaze-v0", num_envs=2)
    policy = _policy(16, 4)
    batch = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=0)
    assert batch.trace.source != "graph" and not batch.hidden.requires_grad
    graph = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=0, keep_graph=True)
    assert graph.trace.source == "graph"
    kept_logits, kept_values = policy.evaluate(graph.obs, graph.trace)
    assert kept_logits.requires_grad and kept_values.requires_grad
    # the recomputed sequence gives the logits the step-by-step graph gave
    logits, values = policy.evaluate(batch.obs)
    assert torch.allclose(logits, kept_logits, atol=1e-5) and torch.allclose(values, kept_values, atol=1e-5)


def test_works_with_gymnasium_cartpole():
    env = gym.make_vec("CartPole-v1", num_envs=4)
    batch = collect_episodes(env, _policy(4, 2, "rnn"), generator=torch.Generator().manual_seed(0), seed=0)
    lengths = batch.episode_lengths
    assert (lengths >= 8).all() and (batch.episode_returns == lengths.float()).all()


def test_unsupported_spaces_are_refused_clearly():
    env = gym.make_vec("Pendulum-v1", num_envs=2)
    with pytest.raises(ValueError, match="Discrete action space"):
        check_vector_env(env)
    with pytest.raises(ValueError, match="VectorEnv"):
        check_vector_env(gym.make("CartPole-v1"))


def test_action_sampler_draws_the_softmax_distribution_reproducibly():
    logits = np.array([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [-30.0, 5.0, -30.0, -30.0]])
    sampler = ActionSampler(3, 4, generator=torch.Generator().manual_seed(0), block=50)
    draws = np.stack([sampler.sample(logits) for _ in range(20_000)])       # crosses 400 noise blocks
    probs = torch.softmax(torch.as_tensor(logits), -1).numpy()
    for row in range(3):
        freq = np.bincount(draws[:, row], minlength=4) / len(draws)
        sigma = np.sqrt(probs[row] * (1 - probs[row]) / len(draws))
        assert np.all(np.abs(freq - probs[row]) <= 5 * sigma + 1e-12), (row, freq, probs[row])
    again = ActionSampler(3, 4, generator=torch.Generator().manual_seed(0), block=50)
    assert np.array_equal(np.stack([again.sample(logits) for _ in range(120)]), draws[:120])
    # the draws do not depend on the block size: one step per call draws the same actions
    single = ActionSampler(3, 4, generator=torch.Generator().manual_seed(0), block=1)
    assert np.array_equal(np.stack([single.sample(logits) for _ in range(120)]), draws[:120])
    greedy = ActionSampler(3, 4, deterministic=True)
    assert greedy.sample(logits).tolist() == [0, 0, 1] and greedy.noise() == ()


def test_the_default_generator_is_torchs_global_one():
    logits = np.zeros((2, 5))
    torch.manual_seed(7)
    first = [ActionSampler(2, 5).sample(logits) for _ in range(10)]
    torch.manual_seed(7)
    again = [ActionSampler(2, 5, generator=torch.default_generator).sample(logits) for _ in range(10)]
    assert np.array_equal(first, again)
