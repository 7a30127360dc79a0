"""The recurrent state carried by every cell, and checks that a given state fits a cell."""
from __future__ import annotations

from typing import NamedTuple

import torch


class CellState(NamedTuple):
    """Recurrent state of one cell for a batch of B parallel episodes.

    x:    (B, N) hidden output after the nonlinearity (h for the LSTM kinds).
    hebb: (B, N, N) Hebbian trace H[b, i, j], i presynaptic, j postsynaptic; None for non-plastic kinds.
    elig: (B, N, N) eligibility trace E[b, i, j] of the retroactive kinds (`modul`, `modul_lstm`); else None.
    c:    (B, N) LSTM memory cell; None for the RNN kinds.
    """

    x: torch.Tensor
    hebb: torch.Tensor | None = None
    elig: torch.Tensor | None = None
    c: torch.Tensor | None = None


def zero_state(batch_size: int, hidden_size: int, *, has_hebb: bool, has_elig: bool, has_c: bool,
               device=None, dtype=None) -> CellState:
    """A state of zeros, as at the start of an episode (x, c: (B, N); hebb, elig: (B, N, N))."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    n = hidden_size

    def vec():
        return torch.zeros(batch_size, n, device=device, dtype=dtype)

    def mat():
        return torch.zeros(batch_size, n, n, device=device, dtype=dtype)

    return CellState(x=vec(), hebb=mat() if has_hebb else None, elig=mat() if has_elig else None,
                     c=vec() if has_c else None)


def check_state(state, batch_size: int, hidden_size: int, *, has_hebb: bool, has_elig: bool,
                has_c: bool, kind: str) -> CellState:
    """Raise a ValueError/TypeError unless `state` is a CellState of the right shapes for this cell."""
    if not isinstance(state, CellState):
        raise TypeError(f"state must be a CellState (from cell.initial_state), got {type(state).__name__}")
    expected = {"x": (batch_size, hidden_size), "c": (batch_size, hidden_size),
                "hebb": (batch_size, hidden_size, hidden_size), "elig": (batch_size, hidden_size, hidden_size)}
    present = {"x": True, "hebb": has_hebb, "elig": has_elig, "c": has_c}
    for name, shape in expected.items():
        value = getattr(state, name)
        if not present[name]:
            if value is not None:
                raise ValueError(f"state.{name} must be None for kind {kind!r}")
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"state.{name} must be a tensor of shape {shape} for kind {kind!r}, got None")
        if tuple(value.shape) != shape:
            raise ValueError(
                f"state.{name} has shape {tuple(value.shape)}, expected {shape} "
                f"(batch size {batch_size}, hidden size {hidden_size}); was it made for another batch or cell?")
    return state
