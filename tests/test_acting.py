"""The policy's acting interface: the rollout handle (act, value, hidden, finish), `evaluate` whatever produced the
outputs (replay of the kernel's recording, recompute, kept graph), and the one action sampler shared by rollouts
and `predict`."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import plastic_envs  # noqa: F401
from plastic_agents import ActorCritic
from plastic_agents.cells.native import load_kernels
from plastic_agents.rollout import collect_episodes

KERNEL = load_kernels() is not None


def _maze(num_envs=3):
    return gym.make_vec("BackpropamineMaze-v0", num_envs=num_envs, vectorization_mode="vector_entry_point")


def _policy(kind, implementation="fast", hidden=12):
    torch.manual_seed(0)
    return ActorCritic(16, 4, kind, hidden, implementation=implementation)


@pytest.mark.parametrize("kind,implementation,source", [
    ("modplast", "fast", "replay" if KERNEL else "recompute"), ("modul", "fast", "replay" if KERNEL else "recompute"),
    ("rnn", "fast", "recompute"), ("plastic_lstm", "fast", "recompute"), ("plastic", "reference", "recompute")])
def test_evaluate_gives_the_same_outputs_however_they_were_produced(kind, implementation, source):
    env = _maze()
    policy = _policy(kind, implementation)
    acted = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=3, max_steps=40)
    kept = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=3, max_steps=40,
                            keep_graph=True)
    assert acted.trace.source == source and kept.trace.source == "graph"
    assert torch.equal(acted.actions, kept.actions) and torch.equal(acted.obs, kept.obs)
    outputs = {"acted": policy.evaluate(acted.obs, acted.trace), "kept": policy.evaluate(kept.obs, kept.trace),
               "recomputed": policy.evaluate(acted.obs)}
    grads = {}
    for name, (logits, values) in outputs.items():
        assert logits.shape == (40, 3, 4) and values.shape == (40, 3)
        assert logits.requires_grad and values.requires_grad
        weights = torch.randn(40, 3, 5, generator=torch.Generator().manual_seed(1))
        loss = (logits * weights[..., :4]).sum() + (values * weights[..., 4]).sum()
        grads[name] = torch.autograd.grad(loss, list(policy.parameters()))
    for name in ("kept", "recomputed"):
        torch.testing.assert_close(outputs[name][0], outputs["acted"][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(outputs[name][1], outputs["acted"][1], atol=1e-5, rtol=1e-5)
        for a, b in zip(grads[name], grads["acted"]):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(acted.hidden, kept.hidden)
    env.close()


def test_evaluate_refuses_a_kept_graph_of_other_episodes():
    env = _maze(2)
    policy = _policy("rnn")
    kept = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=0, max_steps=10,
                            keep_graph=True)
    with pytest.raises(ValueError, match="kept graph"):
        policy.evaluate(kept.obs[:5], kept.trace)
    env.close()


@pytest.mark.parametrize("kind", ["modplast", "rnn"])
@pytest.mark.parametrize("deterministic", [False, True])
def test_predict_with_the_rollouts_generator_draws_the_rollouts_actions(kind, deterministic):
    env = _maze()
    policy = _policy(kind)
    batch = collect_episodes(env, policy, generator=torch.Generator().manual_seed(5), seed=2, max_steps=70,
                             deterministic=deterministic)
    generator, state, actions = torch.Generator().manual_seed(5), None, []
    for t in range(batch.obs.shape[0]):
        action, state = policy.predict(batch.obs[t].numpy(), state, deterministic=deterministic,
                                       generator=generator)
        actions.append(action)
    assert np.array_equal(np.stack(actions), batch.actions.numpy())
    assert len(np.unique(batch.actions.numpy())) > 1
    env.close()


@pytest.mark.parametrize("kind,keep_graph", [("modul", False), ("modul", True), ("lstm", False)])
def test_rollout_handle_acts_bootstraps_without_stepping_and_finishes(kind, keep_graph):
    policy = _policy(kind, hidden=6)
    obs = torch.randn(5, 3, 16, generator=torch.Generator().manual_seed(0))
    rollout = policy.start_rollout(3, generator=torch.Generator().manual_seed(0), keep_graph=keep_graph)
    twin = policy.start_rollout(3, generator=torch.Generator().manual_seed(0), keep_graph=keep_graph)
    for t in range(5):
        actions = rollout.act(obs[t])
        assert actions.shape == (3,) and actions.dtype == np.int64 and ((0 <= actions) & (actions < 4)).all()
        first, again = rollout.value(obs[t]), rollout.value(obs[(t + 1) % 5])
        assert first.shape == (3,) and not first.requires_grad and not torch.equal(first, again)
        assert np.array_equal(twin.act(obs[t]), actions)      # value() took no step and drew no noise
    trace = rollout.finish()
    assert trace.hidden.shape == (5, 3, 6) and not trace.hidden.requires_grad
    torch.testing.assert_close(rollout.hidden, trace.hidden[-1])
    # the state after the last step is what a fresh sequence over the same inputs ends in
    with torch.no_grad():
        _, _, x_seq, final = policy.forward_sequence(obs, policy.initial_state(3))
    torch.testing.assert_close(trace.hidden, x_seq, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(trace.final_state.x.detach(), final.x, atol=1e-5, rtol=1e-5)
    assert trace.source == ("graph" if keep_graph else "replay" if kind == "modul" and KERNEL else "recompute")
