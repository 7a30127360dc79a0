"""Actor-critic on a recurrent (possibly plastic) trunk, and parameter-matched hidden sizes (SPEC.md section 1)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cells import CellState, make_cell
from .cells.options import check_size
from .cells.recording import replay


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

    def heads(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
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
                         episode_starts: Optional[torch.Tensor] = None):
        """T steps: obs_seq (T, B, obs_size) -> logits (T, B, A), values (T, B), x_seq (T, B, N), final state.

        episode_starts (T, B) bool: where True the trunk state is reset before that step.
        """
        x_seq, final = self.cell.forward_sequence(obs_seq, state, episode_starts)
        return *self.heads(x_seq), x_seq, final

    def replay(self, obs_seq: torch.Tensor, recording):
        """The recorded rollout (cells/recording.py) made differentiable: obs_seq (T, B, obs_size) -> logits
        (T, B, A), values (T, B), x_seq (T, B, N), without recomputing the trunk's forward pass."""
        x_seq = replay(self.cell, obs_seq, recording)
        return *self.heads(x_seq), x_seq

    def predict(self, observation, state: Optional[CellState] = None, episode_start=None,
                deterministic: bool = False) -> Tuple[np.ndarray, CellState]:
        """Stable-Baselines3's predict: observation (n_envs, obs_size) or (obs_size,) array -> actions (n_envs,)
        (or a scalar array for one unbatched observation) and the new state to pass back.

        state None starts fresh episodes; episode_start (n_envs,) bool resets those rows first.  Sampling uses
        torch's global generator; deterministic=True takes the most probable action.
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
            if deterministic:
                actions = logits.argmax(dim=-1)
            else:
                actions = torch.distributions.Categorical(logits=logits).sample()
        actions = actions.cpu().numpy()
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
