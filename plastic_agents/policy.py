"""Actor-critic on a recurrent (possibly plastic) trunk, and parameter-matched hidden sizes (SPEC.md section 1).

The policy owns acting and evaluation. `start_rollout` gives a `Rollout` handle that acts in B episodes at once
(`act(obs) -> actions`, `value(obs)` for bootstrapping, `finish() -> ActingTrace`), and `evaluate(obs_seq, trace)`
gives the differentiable logits and values of that rollout, however they are best produced: the plastic RNN cells
on the CPU kernel record while they act and are replayed (only the fused backward runs), a rollout that kept its
autograd graph returns what it kept, and any other is recomputed with `forward_sequence`. The algorithm never asks
which; the three agree (tests/test_acting.py).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cells import CellState, make_cell
from .cells.options import check_size
from .sampling import ActionSampler

#: Steps a rollout's recording is first sized for (it grows when the episodes run longer).
RECORDING_STEPS = 256

TRACE_SOURCES = ("replay", "graph", "recompute")


class ActingTrace:
    """What a rollout of B episodes over T steps leaves behind, for `ActorCritic.evaluate` and for statistics.

    Attributes:
        hidden: (T, B, N) the trunk's x(t) at every step, without autograd graph.
        final_state: the trunk's CellState after the last step (its traces, for statistics).
        source: how `evaluate` produces the outputs: "replay" (the cell recorded the rollout: one fused backward
            over the recording, no forward recompute), "graph" (the graph was kept while acting: the kept logits
            and values) or "recompute" (`forward_sequence` with gradients from the zero state).
    """

    def __init__(self, hidden: torch.Tensor, final_state: CellState, source: str, kept=None):
        if source not in TRACE_SOURCES:
            raise ValueError(f"unknown trace source {source!r}; one of {', '.join(TRACE_SOURCES)}")
        self.hidden, self.final_state, self.source = hidden, final_state, source
        self._kept = kept       # the cell's recording ("replay"), (logits, values) ("graph"), else None


class Rollout:
    """Acting in B = num_envs episodes that start together, one step at a time (from `ActorCritic.start_rollout`).

    `act(obs)` takes the observations (B, obs_size) of the next step and returns the actions (B,) int64 drawn by
    the policy's ActionSampler; `value(obs)` is V (B,) of observations that follow the last step (bootstrapping at
    truncation), without taking a step; `hidden` is x(t) (B, N) of the last step; `finish()` returns the
    ActingTrace for `evaluate`. Without keep_graph no autograd graph is built.
    """

    def __init__(self, policy: ActorCritic, num_envs: int, sampler: ActionSampler, keep_graph: bool,
                 expected_steps: int):
        self.policy, self.sampler, self.keep_graph = policy, sampler, keep_graph
        self.device = next(policy.parameters()).device
        self._recording = None if keep_graph else policy.cell.start_recording(num_envs, expected_steps,
                                                                              readout=policy.policy_head)
        if self._recording is not None:
            self._actions = self._recording.actions.numpy()      # the recording's step draws into it in place
        else:
            self._state = policy.initial_state(num_envs, device=self.device)
            self._hidden, self._logits, self._values = [], [], []

    def act(self, obs: torch.Tensor) -> np.ndarray:
        """obs (B, obs_size) on the policy's device -> actions (B,) int64, and one step of the trunk."""
        if self._recording is not None:
            self._recording.step(obs, *self.sampler.noise())
            return self._actions.copy()
        with torch.set_grad_enabled(self.keep_graph):
            logits, value, x, self._state = self.policy.step(obs, self._state)
        self._hidden.append(x.detach())
        if self.keep_graph:
            self._logits.append(logits)
            self._values.append(value)
        return self.sampler.sample(logits.detach().cpu().numpy())

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V (B,) of observations obs (B, obs_size) that follow the last step, from the state it left; no step is
        taken and no graph built."""
        state = self._state if self._recording is None else self._recording.state()
        with torch.no_grad():
            _, value, _, _ = self.policy.step(obs, state)
        return value

    @property
    def hidden(self) -> torch.Tensor:
        """x(t) (B, N) of the last step taken, without graph."""
        return self._hidden[-1] if self._recording is None else self._recording.x_seq[-1]

    def finish(self) -> ActingTrace:
        """The ActingTrace of the steps taken (at least one)."""
        if self._recording is not None:
            self._recording.finish()
            return ActingTrace(self._recording.x_seq, self._recording.state(), "replay", self._recording)
        hidden = torch.stack(self._hidden)
        if self.keep_graph:
            return ActingTrace(hidden, self._state, "graph", (torch.stack(self._logits), torch.stack(self._values)))
        return ActingTrace(hidden, self._state, "recompute")


class ActorCritic(nn.Module):
    """Shared trunk `cell` (obs (B, obs_size) -> x (B, N)), `policy_head` Linear(N, A), `value_head` Linear(N, 1)."""

    def __init__(self, obs_size: int, num_actions: int, kind: str, hidden_size: int, *,
                 implementation: str = "fast", **cell_options):
        super().__init__()
        self.obs_size = check_size("obs_size", obs_size)
        self.num_actions = check_size("num_actions", num_actions)
        self.kind = kind
        self.cell = make_cell(kind, obs_size, hidden_size, implementation=implementation, **cell_options)
        self.hidden_size = hidden_size
        self.policy_head = nn.Linear(hidden_size, num_actions)
        self.value_head = nn.Linear(hidden_size, 1)

    def num_parameters(self) -> int:
        """Number of learned scalars (trunk and both heads)."""
        return sum(p.numel() for p in self.parameters())

    def initial_state(self, batch_size: int, device=None) -> CellState:
        """The trunk's zero state for B episodes (see CellState)."""
        return self.cell.initial_state(batch_size, device=device)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (..., N) -> logits (..., A), values (...): both heads in one matrix product (over a whole episode
        batch one product and, in the backward, one for the gradient of x instead of two and their sum)."""
        out = F.linear(x, torch.cat([self.policy_head.weight, self.value_head.weight]),
                       torch.cat([self.policy_head.bias, self.value_head.bias]))
        return out[..., :-1], out[..., -1]

    def step(self, obs: torch.Tensor, state: CellState):
        """One step: obs (B, obs_size) -> logits (B, A), value (B,), x (B, N), new state."""
        x, new_state = self.cell(obs, state)
        return *self.heads(x), x, new_state

    def forward_sequence(self, obs_seq: torch.Tensor, state: CellState,
                         episode_starts: torch.Tensor | None = None):
        """T steps: obs_seq (T, B, obs_size) -> logits (T, B, A), values (T, B), x_seq (T, B, N), final state.

        episode_starts (T, B) bool: where True the trunk state is reset before that step.
        """
        x_seq, final = self.cell.forward_sequence(obs_seq, state, episode_starts)
        return *self.heads(x_seq), x_seq, final

    def start_rollout(self, num_envs: int, *, generator: torch.Generator | None = None,
                      deterministic: bool = False, keep_graph: bool = False,
                      max_steps: int | None = None) -> Rollout:
        """A Rollout handle acting in num_envs episodes that start now, from the zero state.

        generator: the CPU torch.Generator the actions are drawn from (see ActionSampler; None: torch's global
        one); deterministic: take the most probable action; keep_graph: build the autograd graph while acting (the
        naive way, for benchmarks and the reference cells); max_steps: the rollout's step cap where known (it sizes
        a recording's buffers, which grow when needed)."""
        sampler = ActionSampler(num_envs, self.num_actions, generator=generator, deterministic=deterministic)
        expected = RECORDING_STEPS if max_steps is None else min(max_steps, RECORDING_STEPS)
        return Rollout(self, num_envs, sampler, keep_graph, expected)

    def evaluate(self, obs_seq: torch.Tensor, trace: ActingTrace | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The differentiable outputs of a rollout: obs_seq (T, B, obs_size), the observations it acted on ->
        logits (T, B, A), values (T, B), with autograd graph to the parameters.

        trace: the rollout's ActingTrace (its `source` says how the outputs are produced); None recomputes them
        with `forward_sequence` from the zero state.  All three ways give the same values."""
        source = "recompute" if trace is None else trace.source
        if source == "graph":
            logits, values = trace._kept
            if logits.shape[:2] != obs_seq.shape[:2]:
                raise ValueError(f"obs_seq has {tuple(obs_seq.shape[:2])} (T, B), the kept graph "
                                 f"{tuple(logits.shape[:2])}")
            return logits, values
        if source == "replay":
            return self.heads(self.cell.replay(obs_seq, trace._kept))
        state = self.initial_state(obs_seq.shape[1], device=obs_seq.device)
        logits, values, _, _ = self.forward_sequence(obs_seq, state)
        return logits, values

    def predict(self, observation, state: CellState | None = None, episode_start=None,
                deterministic: bool = False, generator: torch.Generator | None = None
                ) -> tuple[np.ndarray, CellState]:
        """Stable-Baselines3's predict: observation (n_envs, obs_size) or (obs_size,) array -> actions (n_envs,)
        (or a scalar array for one unbatched observation) and the new state to pass back.

        state None starts fresh episodes; episode_start (n_envs,) bool resets those rows first.  Actions are drawn
        by the ActionSampler, one step of noise per call from `generator` (None: torch's global generator, seeded
        by torch.manual_seed), so a loop of predict calls with a generator seeded as a rollout's draws the
        rollout's actions; deterministic=True takes the most probable action.
        """
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        if single:
            obs = obs[None]
        if obs.ndim != 2 or obs.shape[1] != self.obs_size:
            raise ValueError(f"observation must have shape (n_envs, {self.obs_size}) or ({self.obs_size},), "
                             f"got {np.shape(observation)}")
        param = next(self.parameters())
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, device=param.device, dtype=param.dtype)
            n_envs = obs.shape[0]
            if state is None:
                state = self.initial_state(n_envs, device=param.device)
            if episode_start is not None:
                starts = np.asarray(episode_start, dtype=bool).reshape(-1)
                if starts.shape != (n_envs,):
                    raise ValueError(f"episode_start must have {n_envs} entries, got {np.shape(episode_start)}")
                if starts.any():
                    keep = torch.as_tensor(~starts, device=param.device, dtype=param.dtype)
                    state = CellState(*[None if v is None else v * keep.view(-1, *([1] * (v.dim() - 1)))
                                        for v in state])
            logits, _value, _x, state = self.step(obs_t, state)
        sampler = ActionSampler(n_envs, self.num_actions, generator=generator, deterministic=deterministic, block=1)
        actions = sampler.sample(logits.cpu().numpy())
        return (actions[0] if single else actions), state


def _count(kind: str, hidden_size: int, obs_size: int, num_actions: int, cell_options: dict) -> int:
    with torch.device("meta"):
        return ActorCritic(obs_size, num_actions, kind, hidden_size, **cell_options).num_parameters()


def match_hidden_size(kind: str, target_params: int, obs_size: int, num_actions: int, **cell_options) -> int:
    """The hidden size N whose ActorCritic(obs_size, num_actions, kind, N) count is closest to target_params
    (the smaller N on a tie).  Counts grow with N, so this is a bisection on parameter-free meta tensors."""
    check_size("target_params", target_params)
    lo, hi = 1, 1
    while _count(kind, hi, obs_size, num_actions, cell_options) < target_params:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _count(kind, mid, obs_size, num_actions, cell_options) < target_params:
            lo = mid
        else:
            hi = mid
    below = abs(target_params - _count(kind, lo, obs_size, num_actions, cell_options))
    above = abs(_count(kind, hi, obs_size, num_actions, cell_options) - target_params)
    return lo if below <= above else hi
