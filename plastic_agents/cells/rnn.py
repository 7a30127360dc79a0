"""The plain recurrent baseline `rnn`: x(t) = tanh(Win u(t) + bin + x(t-1) w)."""
from __future__ import annotations

import torch

from .base import CellBase
from .state import CellState


class RNNCell(CellBase):
    """Non-plastic RNN; u (B, I), x (B, N).  The input drive of a whole sequence is one matrix product."""

    implementation = "fast"

    def _sequence(self, u_seq, keep, state):
        a_seq = self.i2h(u_seq)                                   # (T, B, N)
        a_steps = a_seq.unbind(0)                                 # per-step views, one backward
        x = state.x
        xs = []
        for t in range(u_seq.shape[0]):
            if keep is not None:
                x = x * keep[t].unsqueeze(1)
            x = torch.tanh(torch.addmm(a_steps[t], x, self.w))
            xs.append(x)
        return torch.stack(xs), CellState(x=x)
