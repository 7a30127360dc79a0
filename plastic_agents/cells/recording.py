"""Acting that the update replays: a plastic RNN cell (`plastic`, `modplast`, `modul`) on the CPU kernel steps
through a rollout in place and keeps what the fused backward needs, so the A2C update skips the forward recompute.

While acting (no autograd graph), `Recording.step(u, noise, k)` runs one step of the compiled kernel on
preallocated buffers: the input projection i2h(u), x(t), M(t) and, when the recording has a readout layer (the
policy head), its output and the actions drawn from it, all in one call; the traces H (and E) are updated in place,
x(t) and M(t) are written into the recording, and every `segment` steps the traces entering the step are copied to
a checkpoint, exactly what the fused forward saves.
`Recording.replay(u_seq)` (reached through the cell's `replay`) is then an autograd function whose forward returns
the recorded x_seq (T, B, N) and whose backward is the fused kernel's backward (recompute each segment's traces
from its checkpoint, then the hand-derived gradient), so the update costs one backward pass instead of a forward
and a backward.

The recording is valid only for the parameters it was made with: the replay checks their version counters (every
in-place change, an optimiser step included, bumps them) and recomputes the sequence with `forward_sequence`
when they changed.  Episodes must all start at step 0 of the recording (a rollout's reset), with no reset inside.
Recordings are made by `PlasticRNNCell.start_recording` (cells/plastic.py), which decides whether the kernel applies.
"""
from __future__ import annotations

import weakref

import torch
from torch import nn

from .fused import MODES, MODUL, PLASTIC, SequenceConfig, default_segment
from .native import native_grads, scalar_value
from .state import CellState


class Recording:
    """The buffers of one recorded rollout of `batch_size` episodes, grown as steps are added.

    xs_buf (T_cap + 1, B, N): row 0 zeros (x(-1)), row t + 1 = x(t); ms (T_cap, B) M(t) (empty for `plastic`);
    hebb, elig (B, N, W) the current traces (elig empty unless `modul`); drive (B, W) the recurrent input of the
    next step, sum_i x_i (w_ij + A_ij H_ij), which the kernel accumulates while it updates the traces;
    h_ck, e_ck (n_ck, B, N, W) the traces entering steps 0, segment, 2 segment, ...; steps: the number of steps
    taken; readout_out (B, A): readout(x(t)) of the last step when a readout layer (nn.Linear(N, A)) was given,
    else (B, 0), and actions (B,) int64 the actions the last step drew from it.  W = kernels.row_width(N) >= N:
    the kernel's rows are whole vectors, columns N .. W-1 are zero padding (also in w_rows and amat_rows (N, W), the
    step's copies of w and A); `state()` gives the (B, N, N) view.
    """

    def __init__(self, cell, batch_size: int, expected_steps: int, kernels, readout: nn.Linear | None = None):
        p = cell.w
        n = cell.hidden_size
        self.cell, self.kernels, self.readout = cell, kernels, readout
        self.clip = float(cell.clip)
        self.readout_out = p.new_zeros(batch_size, 0 if readout is None else readout.out_features)
        self.actions = torch.zeros(batch_size, dtype=torch.int64)
        self._no_noise = torch.empty(0, dtype=torch.float64)
        self.mode = MODES[cell.kind]
        self.segment = default_segment(expected_steps)
        self.steps = 0
        self.versions = _versions(cell)
        cap = expected_steps
        self.xs_buf = p.new_zeros(cap + 1, batch_size, n)
        self.ms = p.new_empty(cap if self.mode != PLASTIC else 0, batch_size)
        width = kernels.row_width(n)
        self.hebb = p.new_zeros(batch_size, n, width)
        self.drive = p.new_zeros(batch_size, width)
        self.elig = p.new_zeros(batch_size if self.mode == MODUL else 0, n, width)
        n_ck = -(-cap // self.segment)
        self.finished = False       # set by finish(): no more steps; the checkpoints may then go to a later recording
        self.checkpoints_reused = False     # set when they did: the replay then recomputes
        self.h_ck, self.e_ck = _take_spare_checkpoints(cell, (n_ck, batch_size, n, width),
                                                       (n_ck if self.mode == MODUL else 0, batch_size, n, width), p)
        self._bind_parameters()
        self._bind_stepper()

    def _bind_parameters(self) -> None:
        """Detached copies of the parameters in the kernel's layout (alpha as A (N, N); w and A also as rows padded
        to the trace width), and the scalars the kernel takes by value."""
        n = self.cell.hidden_size
        params = self.cell.plastic_parameters().with_full_alpha()

        def d(t):
            return t.detach().contiguous()

        empty = params.w.new_empty(0)
        self.w_in_t = self.cell.i2h.weight.detach().t().contiguous()
        self.b_in = d(self.cell.i2h.bias)
        self.w = d(params.w)
        self.amat = d(params.alpha)
        width = self.hebb.shape[2]
        self.w_rows = torch.nn.functional.pad(self.w, (0, width - n))
        self.amat_rows = torch.nn.functional.pad(self.amat, (0, width - n))
        self.eta = scalar_value(params.eta)
        self.eta_e = scalar_value(params.eta_e)
        self.mod_w = empty if params.mod_w is None else d(params.mod_w.reshape(-1))
        self.mod_b = scalar_value(params.mod_b)
        self.fan_a = empty if params.fan_a is None else d(params.fan_a)
        self.fan_c = empty if params.fan_c is None else d(params.fan_c)
        self.w_out = empty.view(0, n) if self.readout is None else d(self.readout.weight)
        self.b_out = empty if self.readout is None else d(self.readout.bias)

    def _bind_stepper(self) -> None:
        """The kernel's Stepper over the current buffers (it holds them: made again when they are replaced)."""
        self._stepper = self.kernels.stepper(
            self.mode, self.clip, self.segment, self.w_in_t, self.b_in, self.xs_buf, self.ms, self.hebb, self.elig,
            self.drive, self.h_ck, self.e_ck, self.w_rows, self.amat_rows, self.eta, self.eta_e, self.mod_w,
            self.mod_b, self.fan_a, self.fan_c, self.w_out, self.b_out, self.readout_out, self.actions)

    def _grow(self) -> None:
        """Double the step capacity (rare: only when the rollout outlasts `expected_steps`)."""
        cap = self.xs_buf.shape[0] - 1
        self.xs_buf = torch.cat([self.xs_buf, self.xs_buf.new_zeros(cap, *self.xs_buf.shape[1:])])
        if self.mode != PLASTIC:
            self.ms = torch.cat([self.ms, self.ms.new_empty(cap, self.ms.shape[1])])
        n_ck = -(-2 * cap // self.segment) - self.h_ck.shape[0]
        self.h_ck = torch.cat([self.h_ck, self.h_ck.new_empty(n_ck, *self.h_ck.shape[1:])])
        if self.mode == MODUL:
            self.e_ck = torch.cat([self.e_ck, self.e_ck.new_empty(n_ck, *self.e_ck.shape[1:])])
        self._bind_stepper()

    def step(self, u: torch.Tensor, noise: torch.Tensor | None = None, k: int = 0) -> None:
        """One step on observation u (B, I): writes x(t) (the next row of x_seq), M(t), readout_out and, with a
        readout, `actions` (B,) = argmax(readout_out + noise[k]), noise a (K, B, A) float64 block of Gumbel
        noise (see rollout.GumbelSampler; None: the argmax of readout_out); advances the traces.  Runs without
        autograd (the kernel writes plain buffers)."""
        if self.finished:
            raise RuntimeError("this recording is finished: start a new one to act further")
        t = self.steps
        if t + 1 >= self.xs_buf.shape[0]:
            self._grow()
        if u.dtype != self.w.dtype or not u.is_contiguous():     # (the checks cost less than a no-op .to())
            u = u.to(self.w.dtype).contiguous()
        self._stepper.step(t, u, self._no_noise if noise is None else noise, k)
        self.steps = t + 1

    def finish(self) -> None:
        """End the acting: no more steps. The checkpoint buffers become the cell's spare, which the cell's next
        recording of the same size takes (this one's replay then recomputes instead): each rollout would otherwise
        allocate them afresh, and at the cue task's size (tens of MB) the OS maps and zeroes every page again."""
        if not self.finished:
            self.finished = True
            self.cell._spare_checkpoints = (weakref.ref(self), self.h_ck, self.e_ck)

    @property
    def x_seq(self) -> torch.Tensor:
        """The recorded x(0) .. x(T-1): (T, B, N) view."""
        return self.xs_buf[1: self.steps + 1]

    @property
    def m_seq(self) -> torch.Tensor:
        """The recorded M(0) .. M(T-1): (T, B) view (empty for `plastic`)."""
        return self.ms[: self.steps] if self.mode != PLASTIC else self.ms

    def state(self) -> CellState:
        """The cell state after the last step (views of the recording's buffers)."""
        n = self.hebb.shape[1]
        return CellState(x=self.xs_buf[self.steps], hebb=self.hebb[:, :, :n],
                         elig=self.elig[:, :, :n] if self.mode == MODUL else None, c=None)


    def replay(self, u_seq: torch.Tensor) -> torch.Tensor:
        """x_seq (T, B, N) of the recorded rollout on its inputs u_seq (T, B, I), differentiable with respect to the
        cell's parameters; recomputed with `forward_sequence` when the parameters changed since the recording."""
        cell = self.cell
        t_len, batch = u_seq.shape[0], u_seq.shape[1]
        if t_len != self.steps or batch != self.hebb.shape[0]:
            raise ValueError(f"u_seq has {t_len} steps of {batch} episodes, the recording {self.steps} of "
                             f"{self.hebb.shape[0]}")
        if _versions(cell) != self.versions or self.checkpoints_reused:
            x_seq, _ = cell.forward_sequence(u_seq, cell.initial_state(batch))
            return x_seq
        if u_seq.dtype != self.w.dtype:
            raise ValueError(f"u_seq is {u_seq.dtype}, the recording {self.w.dtype}")
        params = cell.plastic_parameters()
        cfg = SequenceConfig(self.mode, self.clip, cell.options["alpha_mode"], params.fan_a is not None,
                             self.segment, True, self.kernels)
        return _Replay.apply(cfg, self, u_seq, cell.i2h.weight, cell.i2h.bias, *params.with_full_alpha())


def _take_spare_checkpoints(cell, h_shape: tuple, e_shape: tuple, like: torch.Tensor):
    """(h_ck, e_ck) of the given shapes for a new recording of `cell`: the spare that its last finished recording
    left (see Recording.finish) when the shapes and dtype match, that recording then marked as having lost them;
    else new (uninitialised) tensors. Only a finished recording gives its buffers up, so two rollouts acting at
    once never share them."""
    spare = getattr(cell, "_spare_checkpoints", None)
    cell._spare_checkpoints = None
    if spare is not None:
        owner_ref, h_ck, e_ck = spare
        if tuple(h_ck.shape) == h_shape and tuple(e_ck.shape) == e_shape and h_ck.dtype == like.dtype:
            owner = owner_ref()
            if owner is not None:
                owner.checkpoints_reused = True
            return h_ck, e_ck
    return like.new_empty(h_shape), like.new_empty(e_shape)


def _versions(cell) -> tuple:
    return tuple(p._version for p in cell.parameters())


class _Replay(torch.autograd.Function):
    """(u_seq, w_in, b_in, w, amat, eta, eta_e, mod_w, mod_b, fan_a, fan_c) -> the recorded x_seq (T, B, N), a view of
    the recording; backward = the fused kernel's backward over the recording, then the input projection's
    gradients from its d_pre (the projection itself, which the step computed, is not recomputed)."""

    @staticmethod
    def forward(ctx, cfg, recording, u_seq, w_in, b_in, w, amat, eta, eta_e, mod_w, mod_b, fan_a, fan_c):
        # (w, amat, mod_w, fan_a, fan_c are inputs for their gradients; their values are the recording's copies.)
        t_len = recording.steps
        n_ck = -(-t_len // recording.segment)
        xs = recording.xs_buf[1: t_len + 1]
        ps = recording.xs_buf[:t_len]
        empty = xs.new_empty(0)
        ctx.cfg = cfg
        ctx.u_seq = u_seq       # an input without gradient (the observations)
        ctx.save_for_backward(xs, ps, recording.m_seq, empty, recording.h_ck[:n_ck],
                              recording.e_ck[:n_ck] if cfg.mode == MODUL else empty, recording.w, recording.amat,
                              eta, eta_e, recording.mod_w, mod_b, recording.fan_a, recording.fan_c)
        return xs

    @staticmethod
    def backward(ctx, g_xs):
        grads = native_grads(ctx, g_xs, None, None, initial_traces=False)    # the replay starts from zero traces
        # native_grads follows the fused function's inputs (a_seq, keep, x0, H0, E0, w, A, eta, eta_e, mod_w,
        # mod_b, fan_a, fan_c); the replay has no keep, x0, H0 or E0, and takes u_seq and the projection instead
        # of a_seq = u_seq W_in^T + b_in.
        d_pre, _keep, _x0, _h0, _e0, *rest = grads
        flat = d_pre.reshape(-1, d_pre.shape[-1])
        u = ctx.u_seq.reshape(-1, ctx.u_seq.shape[-1])
        d_w_in = flat.t() @ u if ctx.needs_input_grad[3] else None
        d_b_in = flat.sum(0) if ctx.needs_input_grad[4] else None
        return (None, None, None, d_w_in, d_b_in, *rest)


