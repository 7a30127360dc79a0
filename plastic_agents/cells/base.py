"""What every cell shares: attributes, parameters, state creation, argument checks and the step/sequence API.

A subclass implements `_sequence(u_seq, keep, state) -> (x_seq, final_state)` over a whole sequence, where
keep (T, B) is 0.0 where the state is reset before step t and 1.0 elsewhere.
"""
from __future__ import annotations

import torch
from torch import nn

from .options import (
    LSTM_KINDS,
    MODULATED_KINDS,
    PLASTIC_KINDS,
    RETROACTIVE_KINDS,
    check_kind,
    check_size,
    resolve_options,
)
from .parameters import PlasticParameters, build_parameters
from .state import CellState, check_state, zero_state


class CellBase(nn.Module):
    """Base of all cells: input_size I, hidden_size N, batch B, sequence length T."""

    implementation = "base"

    def __init__(self, kind: str, input_size: int, hidden_size: int, **options):
        super().__init__()
        self.kind = check_kind(kind)
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.options = resolve_options(kind, options)
        self.is_plastic = kind in PLASTIC_KINDS
        self.is_modulated = kind in MODULATED_KINDS
        self.is_retroactive = kind in RETROACTIVE_KINDS
        self.is_lstm = kind in LSTM_KINDS
        build_parameters(self, kind, input_size, hidden_size, self.options)

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"kind={self.kind!r}, input_size={self.input_size}, hidden_size={self.hidden_size}" + (
            f", {opts}" if opts else "")

    @property
    def clip(self) -> float | None:
        """The bound of the plastic traces, |H| <= clip (option `clip`: 1.0 for the RNN kinds, 2.0 for the plastic
        LSTMs by default); None for the kinds without traces."""
        return self.options.get("clip")

    def plastic_parameters(self) -> PlasticParameters:
        """The learned tensors of the plastic recurrent path, gathered in one named bundle (the parameters
        themselves, not copies: autograd flows through them).  Raises ValueError for a kind without plasticity."""
        if not self.is_plastic:
            raise ValueError(f"cell kind {self.kind!r} has no plastic parameters")
        fan = self.options.get("modulator_fanout", False)
        return PlasticParameters(
            w=self.w, alpha=self.alpha,
            eta=None if self.is_modulated else self.eta,
            eta_e=self.eta_e if self.is_retroactive else None,
            mod_w=self.h2mod.weight if self.is_modulated else None,
            mod_b=self.h2mod.bias if self.is_modulated else None,
            fan_a=self.fanout.weight[:, 0] if fan else None,
            fan_c=self.fanout.bias if fan else None)

    # ----------------------------------------------------------------------------------------------- state
    def initial_state(self, batch_size: int, device=None, dtype=None) -> CellState:
        """Zeros, as at the start of an episode: x (and c) (B, N), hebb (and elig) (B, N, N) where the kind has them."""
        ref = self.i2h.weight
        return zero_state(batch_size, self.hidden_size, has_hebb=self.is_plastic, has_elig=self.is_retroactive,
                          has_c=self.is_lstm, device=device if device is not None else ref.device,
                          dtype=dtype if dtype is not None else ref.dtype)

    def _check_state(self, state, batch_size: int) -> CellState:
        return check_state(state, batch_size, self.hidden_size, has_hebb=self.is_plastic,
                           has_elig=self.is_retroactive, has_c=self.is_lstm, kind=self.kind)

    def _check_input(self, u, dims: int, what: str) -> torch.Tensor:
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(u).__name__}")
        if u.dim() != dims or u.shape[-1] != self.input_size:
            shape = "(B, input_size)" if dims == 2 else "(T, B, input_size)"
            raise ValueError(f"{what} must have shape {shape} with input_size={self.input_size}, "
                             f"got {tuple(u.shape)}")
        if not u.is_floating_point():
            raise TypeError(f"{what} must be a floating-point tensor, got {u.dtype}")
        return u

    # ------------------------------------------------------------------------------------------------- API
    def forward(self, u: torch.Tensor, state: CellState) -> tuple[torch.Tensor, CellState]:
        """One step: u (B, I) -> x (B, N) and the new state (x(t), H(t+1), E(t+1), c(t))."""
        u = self._check_input(u, 2, "u")
        state = self._check_state(state, u.shape[0])
        return self._step(u, state)

    def _step(self, u: torch.Tensor, state: CellState) -> tuple[torch.Tensor, CellState]:
        x_seq, new_state = self._sequence(u.unsqueeze(0), None, state)
        return x_seq[0], new_state

    def forward_sequence(self, u_seq: torch.Tensor, state: CellState,
                         episode_starts: torch.Tensor | None = None) -> tuple[torch.Tensor, CellState]:
        """Run T steps: u_seq (T, B, I) -> x_seq (T, B, N) and the final state.

        episode_starts: optional (T, B) bool tensor; where True the state of that batch row is reset to the
        initial (zero) state before step t.
        """
        u_seq = self._check_input(u_seq, 3, "u_seq")
        t_len, batch = u_seq.shape[0], u_seq.shape[1]
        if t_len == 0:
            raise ValueError("u_seq must hold at least one step (T >= 1)")
        state = self._check_state(state, batch)
        keep = None
        if episode_starts is not None:
            if not isinstance(episode_starts, torch.Tensor) or tuple(episode_starts.shape) != (t_len, batch):
                shape = tuple(episode_starts.shape) if isinstance(episode_starts, torch.Tensor) else episode_starts
                raise ValueError(f"episode_starts must be a (T, B) = ({t_len}, {batch}) bool tensor, got {shape!r}")
            if episode_starts.dtype != torch.bool:
                raise TypeError(f"episode_starts must be a bool tensor, got {episode_starts.dtype}")
            if bool(episode_starts.any()):
                keep = (~episode_starts).to(device=u_seq.device, dtype=u_seq.dtype)
        return self._sequence(u_seq, keep, state)

    def start_recording(self, batch_size: int, expected_steps: int, readout: nn.Linear | None = None):
        """An acting recorder for B = batch_size episodes that start together, or None when this cell does not
        record (the default; the fast plastic RNN cells record on the compiled CPU kernel, see recording.py).

        A recorder steps the cell without autograd and keeps what `replay` needs to make the whole sequence
        differentiable without recomputing its forward pass; `readout` (an nn.Linear(N, A), such as a policy head)
        is applied to x(t) at every step.  expected_steps sizes its buffers (they grow when a rollout runs longer).
        """

    def replay(self, u_seq: torch.Tensor, recording) -> torch.Tensor:
        """x_seq (T, B, N) of a recording made by this cell's `start_recording` on inputs u_seq (T, B, I),
        differentiable with respect to the cell's parameters."""
        raise ValueError("this recording was made by another cell")

    def _sequence(self, u_seq, keep, state):
        raise NotImplementedError(f"{type(self).__name__} must implement _sequence")

    def modulation(self, x: torch.Tensor) -> torch.Tensor:
        """The neuromodulator M = tanh(h2mod(x)): x (..., N) -> M (...), before any fan-out."""
        if not self.is_modulated:
            raise ValueError(f"cell kind {self.kind!r} has no neuromodulator; modulated kinds: "
                             f"{', '.join(sorted(MODULATED_KINDS))}")
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.hidden_size:
            raise ValueError(f"x must have shape (..., {self.hidden_size}), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        return torch.tanh(self.h2mod(x)).squeeze(-1)

    def plasticity_rate(self, m: torch.Tensor) -> torch.Tensor:
        """Per-postsynaptic rate eta_j(t) from M (B,): (B, N) with fan-out, else (B, 1) (broadcast over j)."""
        if self.options.get("modulator_fanout"):
            return self.fanout(m.unsqueeze(-1))
        return m.unsqueeze(-1)


def apply_reset(keep_t: torch.Tensor | None, state: CellState) -> CellState:
    """Zero the rows of `state` whose keep_t (B,) is 0 (out of place, for the step-by-step cells)."""
    if keep_t is None:
        return state
    k1 = keep_t.unsqueeze(-1)
    k2 = k1.unsqueeze(-1)
    return CellState(x=state.x * k1, hebb=None if state.hebb is None else state.hebb * k2,
                     elig=None if state.elig is None else state.elig * k2,
                     c=None if state.c is None else state.c * k1)
