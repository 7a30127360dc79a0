"""The plastic LSTM kinds `plastic_lstm`, `modplast_lstm`, `modul_lstm` (SPEC.md section 1, language-model cell).

Gates i, f, o are those of an ordinary LSTM; only the cell input is plastic:
    g_j(t) = tanh(Wxc u + bxc + sum_i h_i(t-1) (w_ij + alpha_j Hebb_ij))
    Hebb_ij <- clip(Hebb_ij + eta_j(t) h_i(t-1) g_j(t), -clip, clip)
`modul_lstm` is the retroactive form of the RNN `modul` cell carried over to this path:
    Hebb <- clip(Hebb + eta_j(t) E), then E <- (1 - eta_e) E + eta_e h(t-1) g(t)^T.
Plain autograd per step, but the input drive of the sequence is one product, alpha is folded into the (B, N)
result when it is per neuron or scalar (no alpha * Hebb tensor) and the trace updates are fused baddbmm/addcmul.
"""
from __future__ import annotations

import torch

from .base import CellBase
from .state import CellState


class PlasticLSTMCell(CellBase):
    """u (B, I); state h = x (B, N), c (B, N), hebb (B, N, N), elig (B, N, N) for `modul_lstm`."""

    implementation = "fast"

    def _rate(self, h):
        """eta_j(t): (1, 1) for `plastic_lstm`, else from M(t) = tanh(h2mod(h)): (B, N) fanned out or (B, 1)."""
        if not self.is_modulated:
            return self.eta.view(1, 1)
        return self.plasticity_rate(self.modulation(h))

    def _sequence(self, u_seq, keep, state):
        n = self.hidden_size
        clip = self.options["clip"]
        connection = self.options["alpha_mode"] == "connection"
        a_seq = self.i2h(u_seq)                                   # (T, B, 4N)
        a_steps = a_seq.unbind(0)                                 # per-step views, one backward
        h, c, hebb, elig = state.x, state.c, state.hebb, state.elig
        w_rec = torch.cat([self.h2h.weight.t(), self.w], dim=1)   # (N, 4N): gate and cell-input weights
        hs = []
        for t in range(u_seq.shape[0]):
            if keep is not None:
                k = keep[t]
                h, c = h * k.unsqueeze(1), c * k.unsqueeze(1)
                hebb = hebb * k.view(-1, 1, 1)
                elig = None if elig is None else elig * k.view(-1, 1, 1)
            h_prev = h
            pre = torch.addmm(a_steps[t], h_prev, w_rec)
            if connection:
                plastic = torch.bmm(h_prev.unsqueeze(1), self.alpha * hebb).squeeze(1)
            else:
                plastic = torch.bmm(h_prev.unsqueeze(1), hebb).squeeze(1) * self.alpha
            ifo = torch.sigmoid(pre[:, :3 * n])
            g = torch.tanh(pre[:, 3 * n:] + plastic)
            c = ifo[:, n:2 * n] * c + ifo[:, :n] * g
            h = ifo[:, 2 * n:] * torch.tanh(c)
            rate = self._rate(h)
            if elig is not None:
                hebb = torch.clamp(torch.addcmul(hebb, elig, rate.unsqueeze(1)), -clip, clip)
                elig = torch.baddbmm(elig, (self.eta_e * h_prev).unsqueeze(2), g.unsqueeze(1), beta=1.0) \
                    - self.eta_e * elig
            else:
                hebb = torch.clamp(torch.baddbmm(hebb, h_prev.unsqueeze(2), (rate * g).unsqueeze(1)), -clip, clip)
            hs.append(h)
        return torch.stack(hs), CellState(x=h, hebb=hebb, elig=elig, c=c)
