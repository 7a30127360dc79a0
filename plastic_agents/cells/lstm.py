"""The LSTM baseline `lstm`: gates i, f, o and cell input g from u(t) and h(t-1)."""
from __future__ import annotations

import torch

from .base import CellBase
from .state import CellState


class LSTMCell(CellBase):
    """Ordinary LSTM; u (B, I), h = state.x (B, N), c (B, N).  Input drive of a sequence precomputed at once."""

    implementation = "fast"

    def _sequence(self, u_seq, keep, state):
        n = self.hidden_size
        a_seq = self.i2h(u_seq)                                   # (T, B, 4N)
        a_steps = a_seq.unbind(0)                                 # per-step views, one backward
        h, c = state.x, state.c
        hs = []
        for t in range(u_seq.shape[0]):
            if keep is not None:
                k = keep[t].unsqueeze(1)
                h, c = h * k, c * k
            pre = torch.addmm(a_steps[t], h, self.h2h.weight.t())
            ifo = torch.sigmoid(pre[:, :3 * n])
            g = torch.tanh(pre[:, 3 * n:])
            c = ifo[:, n:2 * n] * c + ifo[:, :n] * g
            h = ifo[:, 2 * n:] * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs), CellState(x=h, c=c)
