"""The fast plastic RNN cells `plastic`, `modplast` and `modul` (SPEC.md section 1), on the fused sequence function."""
from __future__ import annotations

import torch
from torch import nn

from .base import CellBase
from .fused import plastic_sequence
from .native import load_kernels, supports
from .recording import Recording
from .state import CellState


class PlasticRNNCell(CellBase):
    """x_j(t) = tanh(Win u + bin + sum_i (w_ij + alpha_ij H_ij(t)) x_i(t-1)), with the kind's trace update.

    Input u (B, I); state x (B, N), hebb (B, N, N), elig (B, N, N) for `modul`.  Whole sequences go through one
    autograd function with a hand-derived backward (see fused.py); a single step is a sequence of length 1.
    On the CPU kernel the cell also records acting for a replay (see recording.py).
    """

    implementation = "fast"

    def __getstate__(self):
        # The last recording's spare checkpoint buffers (see Recording.finish) are scratch memory, with a weak
        # reference to that recording: a pickled or deep-copied cell leaves them behind.
        state = dict(super().__getstate__())
        state.pop("_spare_checkpoints", None)
        return state

    def _sequence(self, u_seq, keep, state):
        x_seq, _m_seq, hebb, elig = plastic_sequence(
            self.kind, self.clip, self.options["alpha_mode"], self.i2h(u_seq), keep, state.x, state.hebb, state.elig,
            self.plastic_parameters())
        return x_seq, CellState(x=x_seq[-1], hebb=hebb, elig=elig)

    def start_recording(self, batch_size: int, expected_steps: int,
                        readout: nn.Linear | None = None) -> Recording | None:
        """A Recording of B = batch_size episodes (see CellBase.start_recording), or None when the compiled kernel
        does not apply: parameters (the readout's included) not all on the CPU in one of float32/float64, or the
        kernel disabled or not built."""
        tensors = list(self.parameters()) + ([] if readout is None else list(readout.parameters()))
        kernels = load_kernels() if supports(tensors) else None
        if kernels is None or not hasattr(kernels, "stepper"):
            return None
        return Recording(self, batch_size, max(1, int(expected_steps)), kernels, readout)

    def replay(self, u_seq: torch.Tensor, recording: Recording) -> torch.Tensor:
        """x_seq (T, B, N) of `recording` (made by this cell) on its inputs u_seq (T, B, I), differentiable with
        respect to the cell's parameters (see Recording.replay)."""
        if not isinstance(recording, Recording) or recording.cell is not self:
            raise ValueError("this recording was made by another cell")
        return recording.replay(u_seq)
