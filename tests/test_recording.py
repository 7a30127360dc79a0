"""Recorded acting and its replay (cells/recording.py, through the cell's start_recording and replay) against the
fused sequence: outputs, final traces, every parameter gradient; the fallback when the parameters changed; the
rollout and A2C update that use it."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from cell_cases import fast_and_reference

import plastic_envs  # noqa: F401
from plastic_agents import ActorCritic
from plastic_agents.a2c import A2C, A2CConfig
from plastic_agents.cells.native import load_kernels
from plastic_agents.rollout import collect_episodes

pytestmark = pytest.mark.skipif(load_kernels() is None, reason="the native kernel is not available")

T, B, IN, N = 23, 3, 5, 7
CASES = [("plastic", {}), ("modplast", {}), ("modul", {}), ("modul", {"alpha_mode": "neuron"}),
         ("modplast", {"alpha_mode": "scalar", "modulator_fanout": True}), ("modul", {"clip": 0.3})]


def _record(cell, u, expected_steps):
    recording = cell.start_recording(u.shape[1], expected_steps)
    assert recording is not None
    with torch.no_grad():
        for t in range(u.shape[0]):
            recording.step(u[t])
    return recording, recording.x_seq.clone()


@pytest.mark.parametrize("expected_steps", [T, 4], ids=["sized", "grows"])
@pytest.mark.parametrize("kind,options", CASES, ids=str)
def test_replay_matches_fused_sequence(kind, options, expected_steps):
    cell, _ = fast_and_reference(kind, IN, N, seed=0, scale=0.8, **options)
    cell = cell.double()
    u = 2 * torch.randn(T, B, IN, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    recording, stepped = _record(cell, u, expected_steps)
    x_fused, final = cell.forward_sequence(u, cell.initial_state(B, dtype=torch.float64))
    x_replay = cell.replay(u, recording)
    torch.testing.assert_close(stepped, x_fused.detach())
    state = recording.state()
    torch.testing.assert_close(state.hebb, final.hebb.detach())
    assert (state.hebb.abs() >= cell.options["clip"] - 1e-9).any()   # the clip acts
    # The kernel's rows are padded to whole vectors (N = 7 -> 16 columns); the padding stays zero.
    assert recording.hebb.shape[2] > N and not recording.hebb[:, :, N:].any()
    assert not recording.h_ck[: -(-T // recording.segment), :, :, N:].any()    # the checkpoints taken
    if final.elig is not None:
        torch.testing.assert_close(state.elig, final.elig.detach())
        assert not recording.elig[:, :, N:].any()
    weights = torch.randn(T, B, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    g_fused = torch.autograd.grad((x_fused * weights).sum(), list(cell.parameters()))
    g_replay = torch.autograd.grad((x_replay * weights).sum(), list(cell.parameters()))
    for (name, _), a, b in zip(cell.named_parameters(), g_replay, g_fused):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9, msg=name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_recording_readout_is_the_head_of_x_and_sparse_inputs_are_exact(dtype):
    cell, _ = fast_and_reference("modplast", IN, N, seed=0, scale=0.8)
    head = torch.nn.Linear(N, 4)
    cell, head = cell.to(dtype), head.to(dtype)
    u = 2 * torch.randn(T, B, IN, generator=torch.Generator().manual_seed(1), dtype=dtype)
    u[:, :, 1:4] = 0                                   # zero inputs are skipped by the kernel: still exact
    u[3] = 0
    recording = cell.start_recording(B, T, readout=head)
    x_fused, _ = cell.forward_sequence(u, cell.initial_state(B, dtype=dtype))
    # float32: the step and the fused forward sum the recurrent input in different orders (2.3e-6 apart after a few
    # steps in the build without FMA).
    tol = dict(atol=1e-12, rtol=1e-10) if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        for t in range(T):
            recording.step(u[t])
            x = recording.x_seq[t]
            torch.testing.assert_close(x, x_fused[t], **tol)
            torch.testing.assert_close(recording.readout_out, head(x), **tol)
    assert cell.start_recording(B, T).readout_out.shape == (B, 0)


def test_recording_draws_the_actions_numpy_would_from_its_readout():
    """actions = argmax(readout + noise[k]) as ActionSampler.sample computes it in NumPy, argmax without noise, and
    NumPy's NaN rule (the first NaN is the maximum)."""
    cell, _ = fast_and_reference("modplast", IN, N, seed=0, scale=0.8)
    head = torch.nn.Linear(N, 4)
    u = 2 * torch.randn(T, B, IN, generator=torch.Generator().manual_seed(1))
    noise = -torch.log(-torch.log(torch.rand(5, B, 4, generator=torch.Generator().manual_seed(2),
                                             dtype=torch.float64)))
    recording = cell.start_recording(B, T, readout=head)
    drawn = set()
    with torch.no_grad():
        for t in range(T):
            k = t % 5
            recording.step(u[t], noise, k)
            expected = np.add(recording.readout_out.numpy(), noise[k].numpy()).argmax(1)
            np.testing.assert_array_equal(recording.actions.numpy(), expected)
            drawn.update(expected.tolist())
        assert len(drawn) > 1
        plain = cell.start_recording(B, T, readout=head)
        for t in range(3):
            plain.step(u[t])
            np.testing.assert_array_equal(plain.actions.numpy(), plain.readout_out.numpy().argmax(1))
        head.bias[1:3] = float("nan")
        recording = cell.start_recording(B, T, readout=head)
        recording.step(u[0], noise, 0)
    assert (recording.actions == 1).all()


def test_replay_recomputes_after_the_parameters_changed():
    cell, _ = fast_and_reference("modul", IN, N, seed=0, scale=0.8)
    cell = cell.double()
    u = torch.randn(T, B, IN, dtype=torch.float64)
    recording, _ = _record(cell, u, T)
    with torch.no_grad():
        cell.w.mul_(0.5)
    x_replay = cell.replay(u, recording)
    x_fresh, _ = cell.forward_sequence(u, cell.initial_state(B, dtype=torch.float64))
    torch.testing.assert_close(x_replay, x_fresh)


def _replay_gradients(cell, u, recording):
    weights = torch.randn(T, B, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = cell.replay(u, recording)
    return torch.autograd.grad((x * weights).sum(), list(cell.parameters()))


def test_a_finished_recording_lends_its_checkpoints_to_the_next_and_then_recomputes():
    cell, _ = fast_and_reference("modul", IN, N, seed=0, scale=0.8)
    cell = cell.double()
    u1 = torch.randn(T, B, IN, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    u2 = torch.randn(T, B, IN, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    first, _ = _record(cell, u1, T)
    expected_first = _replay_gradients(cell, u1, first)
    first.finish()
    with pytest.raises(RuntimeError, match="finished"):
        first.step(u1[0])
    second, _ = _record(cell, u2, T)
    # The second recording writes its checkpoints into the first's buffers ...
    assert second.h_ck.data_ptr() == first.h_ck.data_ptr() and second.e_ck.data_ptr() == first.e_ck.data_ptr()
    assert first.checkpoints_reused and not second.checkpoints_reused
    # ... so the first one's replay recomputes, and both give the gradients of their own rollouts.
    for a, b in zip(_replay_gradients(cell, u1, first), expected_first):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)
    x2, _ = cell.forward_sequence(u2, cell.initial_state(B, dtype=torch.float64))
    weights = torch.randn(T, B, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for a, b in zip(_replay_gradients(cell, u2, second),
                    torch.autograd.grad((x2 * weights).sum(), list(cell.parameters()))):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


def test_recordings_that_act_at_once_or_differ_in_size_get_their_own_checkpoints():
    cell, _ = fast_and_reference("modplast", IN, N, seed=0, scale=0.8)
    u = torch.randn(T, B, IN)
    first = cell.start_recording(B, T)
    second = cell.start_recording(B, T)     # the first has not finished: it keeps its buffers
    assert second.h_ck.data_ptr() != first.h_ck.data_ptr()
    with torch.no_grad():
        for t in range(T):
            first.step(u[t])
            second.step(u[t])
    torch.testing.assert_close(first.x_seq, second.x_seq)
    first.finish()
    other_size = cell.start_recording(B + 1, T)     # the spare does not fit: new buffers, the first keeps its own
    assert other_size.h_ck.data_ptr() != first.h_ck.data_ptr() and not first.checkpoints_reused


def test_a_cell_with_a_spare_pickles_and_copies_without_it():
    import copy
    import pickle

    cell, _ = fast_and_reference("modul", IN, N, seed=0, scale=0.8)
    recording, _ = _record(cell, torch.randn(T, B, IN), T)
    recording.finish()
    assert cell._spare_checkpoints is not None
    for clone in (pickle.loads(pickle.dumps(cell)), copy.deepcopy(cell)):
        assert getattr(clone, "_spare_checkpoints", None) is None
        torch.testing.assert_close(clone.w, cell.w)


def test_replay_refuses_a_mismatched_sequence():
    cell, _ = fast_and_reference("modplast", IN, N, seed=0, scale=0.8)
    u = torch.randn(T, B, IN)
    recording, _ = _record(cell, u, T)
    with pytest.raises(ValueError, match="steps"):
        cell.replay(u[:-1], recording)
    other, _ = fast_and_reference("modplast", IN, N, seed=1, scale=0.8)
    with pytest.raises(ValueError, match="another cell"):
        other.replay(u, recording)


@pytest.mark.parametrize("kind,implementation", [("rnn", "fast"), ("lstm", "fast"), ("plastic_lstm", "fast"),
                                                 ("modplast", "reference")])
def test_only_the_fast_plastic_rnn_kinds_record(kind, implementation):
    cell = ActorCritic(4, 2, kind, 6, implementation=implementation).cell
    assert cell.start_recording(3, 10) is None
    with pytest.raises(ValueError, match="another cell"):
        cell.replay(torch.zeros(2, 3, 4), object())


def test_recorded_rollout_update_equals_recomputed_update():
    env = gym.make_vec("BackpropamineCueReward-Easy-v0", num_envs=4, vectorization_mode="vector_entry_point",
                       episode_length=30)
    torch.manual_seed(0)
    policy = ActorCritic(env.single_observation_space.shape[0], 2, "modul", 16)
    batch = collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=5)
    assert batch.trace.source == "replay" and batch.hidden.shape == (30, 4, 16)
    grads = []
    for trace in (batch.trace, None):           # replayed, then recomputed (evaluate without a trace)
        algo = A2C(policy, A2CConfig(), 1)
        algo.optimizer.step = lambda: None      # keep the parameters: both updates see the same ones
        algo.update(dataclasses.replace(batch, trace=trace), 0)
        grads.append([p.grad.clone() for p in policy.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_recorded_rollout_bootstraps_like_the_step_by_step_one():
    env = gym.make_vec("BackpropamineMaze-v0", num_envs=3, vectorization_mode="vector_entry_point")
    torch.manual_seed(0)
    policy = ActorCritic(env.single_observation_space.shape[0], 4, "modplast", 12)
    batches = [collect_episodes(env, policy, generator=torch.Generator().manual_seed(0), seed=9, max_steps=20,
                                bootstrap_truncated=True, keep_graph=keep) for keep in (False, True)]
    assert batches[0].trace.source == "replay" and batches[1].trace.source == "graph"
    assert batches[0].truncated.all()
    assert torch.equal(batches[0].actions, batches[1].actions)
    torch.testing.assert_close(batches[0].bootstrap_values, batches[1].bootstrap_values.detach())
    torch.testing.assert_close(batches[0].final_state.hebb, batches[1].final_state.hebb.detach())
    assert (batches[0].bootstrap_values != 0).all()
