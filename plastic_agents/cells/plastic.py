"""The fast plastic RNN cells `plastic`, `modplast` and `modul` (SPEC.md section 1), on the fused sequence function."""
from __future__ import annotations

from .base import CellBase
from .fused import plastic_sequence
from .state import CellState


class PlasticRNNCell(CellBase):
    """x_j(t) = tanh(Win u + bin + sum_i (w_ij + alpha_ij H_ij(t)) x_i(t-1)), with the kind's trace update.

    Input u (B, I); state x (B, N), hebb (B, N, N), elig (B, N, N) for `modul`.  Whole sequences go through one
    autograd function with a hand-derived backward (see fused.py); a single step is a sequence of length 1.
    """

    implementation = "fast"

    def _sequence(self, u_seq, keep, state):
        fan = self.options.get("modulator_fanout", False)
        x_seq, _m_seq, hebb, elig = plastic_sequence(
            self.kind, self.options["clip"], self.options["alpha_mode"], self.i2h(u_seq), keep,
            state.x, state.hebb, state.elig, self.w, self.alpha,
            eta=getattr(self, "eta", None), eta_e=getattr(self, "eta_e", None),
            mod_w=self.h2mod.weight if self.is_modulated else None,
            mod_b=self.h2mod.bias if self.is_modulated else None,
            fan_a=self.fanout.weight[:, 0] if fan else None, fan_c=self.fanout.bias if fan else None)
        return x_seq, CellState(x=x_seq[-1], hebb=hebb, elig=elig)
