"""The slow oracle: every kind written line by line from SPEC.md section 1, one explicit step at a time.

Plain autograd, full (B, N, N) traces and effective weights. Same interface and parameter names as the fast
cells (see parameters.py), so a state_dict loads into either. Used by the tests and the benchmark baseline.
"""
from __future__ import annotations

import torch

from .base import CellBase, apply_reset
from .state import CellState


class ReferenceCell(CellBase):
    """Naive step-by-step implementation of any kind (B batch, N hidden, I inputs)."""

    implementation = "reference"

    def _alpha_full(self) -> torch.Tensor:
        """alpha broadcast to (N, N): per connection as is, per neuron alpha_j on column j, or one scalar."""
        n = self.hidden_size
        return self.alpha.expand(n, n)

    def _eta(self, m_or_none, batch: int) -> torch.Tensor:
        """eta_j(t) as a (B, N) tensor: eta for `plastic*`, M(t) (or a_j M(t) + c_j with fan-out) if modulated."""
        n = self.hidden_size
        if self.is_modulated:
            if self.options["modulator_fanout"]:
                return m_or_none.unsqueeze(1) * self.fanout.weight[:, 0].unsqueeze(0) + self.fanout.bias
            return m_or_none.unsqueeze(1).expand(batch, n)
        return self.eta.expand(batch, n)

    def _sequence(self, u_seq, keep, state):
        xs = []
        for t in range(u_seq.shape[0]):
            state = apply_reset(None if keep is None else keep[t], state)
            x, state = self._step(u_seq[t], state)
            xs.append(x)
        return torch.stack(xs), state

    def _step(self, u, state):
        if self.is_lstm:
            return self._lstm_step(u, state)
        return self._rnn_step(u, state)

    def _rnn_step(self, u, state):
        x_prev, hebb, elig = state.x, state.hebb, state.elig
        batch = u.shape[0]
        if not self.is_plastic:
            x = torch.tanh(self.i2h(u) + x_prev @ self.w)
            return x, CellState(x=x)
        # x_j(t) = tanh(Win u + bin + sum_i (w_ij + alpha_ij H_ij(t)) x_i(t-1))
        w_eff = self.w.unsqueeze(0) + self._alpha_full().unsqueeze(0) * hebb          # (B, N, N)
        x = torch.tanh(self.i2h(u) + torch.bmm(x_prev.unsqueeze(1), w_eff).squeeze(1))
        m = self.modulation(x) if self.is_modulated else None                         # M(t) from x(t)
        eta = self._eta(m, batch)                                                     # (B, N), per postsyn j
        outer = x_prev.unsqueeze(2) * x.unsqueeze(1)                                  # x_i(t-1) x_j(t)
        clip = self.options["clip"]
        if self.is_retroactive:
            new_hebb = torch.clamp(hebb + eta.unsqueeze(1) * elig, -clip, clip)       # M(t) E(t), old E
            new_elig = (1 - self.eta_e) * elig + self.eta_e * outer
        else:
            new_hebb = torch.clamp(hebb + eta.unsqueeze(1) * outer, -clip, clip)
            new_elig = None
        return x, CellState(x=x, hebb=new_hebb, elig=new_elig)

    def _lstm_step(self, u, state):
        h_prev, c_prev, hebb, elig = state.x, state.c, state.hebb, state.elig
        n = self.hidden_size
        batch = u.shape[0]
        pre = self.i2h(u)
        if not self.is_plastic:
            pre = pre + self.h2h(h_prev)
            i, f, o = (torch.sigmoid(pre[:, k * n:(k + 1) * n]) for k in range(3))
            g = torch.tanh(pre[:, 3 * n:])
            c = f * c_prev + i * g
            h = o * torch.tanh(c)
            return h, CellState(x=h, c=c)
        gates = pre[:, :3 * n] + self.h2h(h_prev)
        i, f, o = (torch.sigmoid(gates[:, k * n:(k + 1) * n]) for k in range(3))
        # g_j = tanh(Wxc x + bxc + sum_i h_{t-1,i} (w_ij + alpha_j Hebb_ij))
        w_eff = self.w.unsqueeze(0) + self._alpha_full().unsqueeze(0) * hebb
        g = torch.tanh(pre[:, 3 * n:] + torch.bmm(h_prev.unsqueeze(1), w_eff).squeeze(1))
        c = f * c_prev + i * g
        h = o * torch.tanh(c)
        m = self.modulation(h) if self.is_modulated else None
        eta = self._eta(m, batch)
        outer = h_prev.unsqueeze(2) * g.unsqueeze(1)                                  # h_{t-1,i} g_{t,j}
        clip = self.options["clip"]
        if self.is_retroactive:
            new_hebb = torch.clamp(hebb + eta.unsqueeze(1) * elig, -clip, clip)
            new_elig = (1 - self.eta_e) * elig + self.eta_e * outer
        else:
            new_hebb = torch.clamp(hebb + eta.unsqueeze(1) * outer, -clip, clip)
            new_elig = None
        return h, CellState(x=h, hebb=new_hebb, elig=new_elig, c=c)
