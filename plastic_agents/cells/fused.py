"""Whole-sequence autograd function for the plastic RNN kinds (`plastic`, `modplast`, `modul`).

Forward runs the T steps with the traces updated in place in one (B, N, N) buffer each, and keeps only the
small per-step tensors (x(t-1), x(t), M(t): (T, B, N) / (T, B)) plus a copy of the traces every `segment` steps.
Backward walks the segments from last to first: it recomputes the segment's traces from its checkpoint into
a preallocated (segment, B, N, N) buffer together with the clip masks, then applies the hand-derived gradient
of each step.  Trace memory is therefore O((T / segment + segment) B N^2) instead of the naive O(c T B N^2).

Notation (per step t, batch row b): p = x(t-1) after any reset (B, N), x = x(t) (B, N), A = alpha broadcast to
(N, N), y_j = sum_i p_i A_ij H_ij, x = tanh(a + p w + y) with a = i2h(u(t)) (B, N).  eta_j(t) (B, N or 1):
the scalar eta (`plastic`), M(t) or a_j M(t) + c_j (modulated).  Hebbian update H' = clip(H + eta_j R) with
R = p x^T (`plastic`, `modplast`) or R = E (`modul`, then E' = (1 - eta_e) E + eta_e p x^T).

`plastic_sequence` dispatches CPU float32/float64 calls to the compiled kernel of native/ (same semantics, every
alpha mode and the fan-out) when it builds, unless BACKPROPAMINE_NATIVE=0; otherwise (CUDA, a failed build) it
runs the PyTorch implementation below.
"""
from __future__ import annotations

import math

import torch

from .native import NativePlasticSequence, load_kernels, supports
from .parameters import PlasticParameters

PLASTIC, MODPLAST, MODUL = 0, 1, 2
#: The kernel's code for each plastic RNN kind.
MODES = {"plastic": PLASTIC, "modplast": MODPLAST, "modul": MODUL}


class SequenceConfig:
    """Static description of one call: kind code, clip value, alpha mode, fan-out flag, checkpoint spacing,
    whether to keep what backward needs, and the compiled kernels module (None on the PyTorch path)."""

    __slots__ = ("mode", "clip", "alpha_mode", "fanout", "segment", "save", "kernels")

    def __init__(self, mode, clip, alpha_mode, fanout, segment, save, kernels=None):
        self.mode, self.clip, self.alpha_mode, self.fanout = mode, clip, alpha_mode, fanout
        self.segment, self.save, self.kernels = segment, save, kernels


def _rates(cfg, m, eta, fan_a, fan_c):
    """eta_j(t): (B, N) with fan-out, (B, 1) for plain modulation, (1, 1) for `plastic`."""
    if cfg.mode == PLASTIC:
        return eta.view(1, 1)
    if cfg.fanout:
        return torch.addcmul(fan_c, m.unsqueeze(1), fan_a.unsqueeze(0))
    return m.unsqueeze(1)


def _reset_rows(resets, keep, t, hebb, elig):
    """Zero in place the rows of the traces (B, N, N) that start an episode at step t."""
    if resets and resets[t]:
        k = keep[t].view(-1, 1, 1)
        hebb.mul_(k)
        if elig is not None:
            elig.mul_(k)


def _trace_update(cfg, hebb, elig, p, x, rate, ee):
    """In place: H <- clip(H + eta R), then for `modul` E <- (1 - eta_e) E + eta_e p x^T."""
    if cfg.mode == MODUL:
        hebb.addcmul_(elig, rate.unsqueeze(1))
    else:
        hebb.baddbmm_(p.unsqueeze(2), (rate * x).unsqueeze(1))
    hebb.clamp_(-cfg.clip, cfg.clip)
    if cfg.mode == MODUL:
        elig.mul_(1 - ee)
        elig.baddbmm_((ee * p).unsqueeze(2), x.unsqueeze(1))


def _plastic_input(cfg, hebb, p, alpha, scratch):
    """y_j = sum_i p_i A_ij H_ij (B, N); `scratch` (B, N, N) receives A * H in connection mode."""
    if cfg.alpha_mode == "connection":
        torch.mul(hebb, alpha, out=scratch)
        return torch.bmm(p.unsqueeze(1), scratch).squeeze(1)
    return torch.bmm(p.unsqueeze(1), hebb).squeeze(1) * alpha


class PlasticSequence(torch.autograd.Function):
    """(a_seq, keep, x0, H0, E0, w, alpha, eta, eta_e, mod_w, mod_b, fan_a, fan_c) -> (x_seq, M_seq, H_T, E_T).

    a_seq (T, B, N) input drive i2h(u); keep (T, B) 0/1 reset mask or None; x0 (B, N); H0, E0 (B, N, N) (E0 None
    unless `modul`); w (N, N); alpha (N, N) / (N,) / (1,); eta (1,) or None; eta_e (1,) or None; mod_w (1, N) and
    mod_b (1,) of h2mod or None; fan_a (N,), fan_c (N,) of the fan-out or None.  Outputs: x_seq (T, B, N),
    M_seq (T, B) (empty for `plastic`; not differentiable), final traces H_T, E_T (E_T None unless `modul`).
    """

    @staticmethod
    def forward(ctx, cfg, a_seq, keep, x0, hebb0, elig0, w, alpha, eta, eta_e, mod_w, mod_b, fan_a, fan_c):
        t_len, batch, n = a_seq.shape
        save = cfg.save
        hebb = hebb0.clone()
        elig = elig0.clone() if cfg.mode == MODUL else None
        xs = a_seq.new_empty(t_len, batch, n)
        ps = a_seq.new_empty(t_len, batch, n)
        ms = a_seq.new_empty(t_len, batch) if cfg.mode != PLASTIC else a_seq.new_empty(0)
        scratch = torch.empty_like(hebb) if cfg.alpha_mode == "connection" else None
        resets = [] if keep is None else (keep == 0).any(dim=1).tolist()
        checkpoints = []
        x = x0
        for t in range(t_len):
            if save and t % cfg.segment == 0:
                checkpoints.append(hebb.clone())
                if elig is not None:
                    checkpoints.append(elig.clone())
            if resets and resets[t]:
                k = keep[t]
                x = x * k.unsqueeze(1)
                hebb.mul_(k.view(batch, 1, 1))
                if elig is not None:
                    elig.mul_(k.view(batch, 1, 1))
            p = x
            ps[t] = p
            pre = torch.addmm(a_seq[t], p, w)
            pre += _plastic_input(cfg, hebb, p, alpha, scratch)
            x = torch.tanh(pre, out=xs[t])
            m = None
            if cfg.mode != PLASTIC:
                m = torch.tanh(torch.addmm(mod_b, x, mod_w.t()).squeeze(1), out=ms[t])
            _trace_update(cfg, hebb, elig, p, x, _rates(cfg, m, eta, fan_a, fan_c), eta_e)
        ctx.cfg = cfg
        ctx.has_keep = keep is not None
        if save:
            ctx.n_ckpt = len(checkpoints)
            ctx.save_for_backward(xs, ps, ms, keep, w, alpha, eta, eta_e, mod_w, mod_b, fan_a, fan_c,
                                  *checkpoints)
        ctx.mark_non_differentiable(ms)
        return xs, ms, hebb, elig

    @staticmethod
    def backward(ctx, g_xs, _g_ms, g_hebb, g_elig):
        cfg = ctx.cfg
        xs, ps, ms, keep, w, alpha, eta, eta_e, mod_w, mod_b, fan_a, fan_c = ctx.saved_tensors[:12]
        checkpoints = ctx.saved_tensors[12:]
        t_len, batch, n = xs.shape
        modul = cfg.mode == MODUL
        per = 2 if modul else 1
        zeros3 = xs.new_zeros(batch, n, n)
        g_h = g_hebb.clone() if g_hebb is not None else zeros3.clone()
        g_e = None
        if modul:
            g_e = g_elig.clone() if g_elig is not None else zeros3.clone()
        g_xs = g_xs if g_xs is not None else torch.zeros_like(xs)
        resets = [] if keep is None else (keep == 0).any(dim=1).tolist()

        seg = cfg.segment
        hs_buf = xs.new_empty(min(seg, t_len), batch, n, n)
        es_buf = xs.new_empty(min(seg, t_len), batch, n, n) if modul else None
        # A float mask: boolean masks take several times longer to build and apply on CPU.
        mask_buf = xs.new_empty(min(seg, t_len), batch, n, n)
        scratch = torch.empty_like(zeros3)
        raw = torch.empty_like(zeros3)
        d_pre = torch.empty_like(xs)
        d_alpha = torch.zeros_like(alpha)
        d_eta = xs.new_zeros(1) if cfg.mode == PLASTIC else None
        d_eta_e = xs.new_zeros(1) if modul else None
        modulated = cfg.mode != PLASTIC
        d_mod_w = torch.zeros_like(mod_w) if modulated else None
        d_mod_b = torch.zeros_like(mod_b) if modulated else None
        d_fan_a = torch.zeros_like(fan_a) if cfg.fanout else None
        d_fan_c = torch.zeros_like(fan_c) if cfg.fanout else None
        carry = xs.new_zeros(batch, n)             # dL/dx(t) through step t+1 (after its reset)
        n_seg = len(checkpoints) // per
        for s in range(n_seg - 1, -1, -1):
            t0, t1 = s * seg, min(t_len, (s + 1) * seg)
            # Recompute the traces entering each step of the segment (after resets) and the clip masks
            # (1.0 where the clip was inactive, inclusive at the bounds as torch.clamp's own gradient).
            length = t1 - t0
            hs_buf[0].copy_(checkpoints[per * s])
            if modul:
                es_buf[0].copy_(checkpoints[per * s + 1])
            _reset_rows(resets, keep, t0, hs_buf[0], es_buf[0] if modul else None)
            for t in range(t0, t1):
                i = t - t0
                p, x = ps[t], xs[t]
                rate = _rates(cfg, ms[t] if modulated else None, eta, fan_a, fan_c)
                if modul:
                    torch.addcmul(hs_buf[i], es_buf[i], rate.unsqueeze(1), out=raw)
                else:
                    torch.baddbmm(hs_buf[i], p.unsqueeze(2), (rate * x).unsqueeze(1), out=raw)
                nxt = hs_buf[i + 1] if i + 1 < length else scratch
                torch.clamp(raw, -cfg.clip, cfg.clip, out=nxt)
                torch.eq(nxt, raw, out=mask_buf[i])
                if i + 1 < length:
                    if modul:
                        torch.mul(es_buf[i], 1 - eta_e, out=es_buf[i + 1])
                        es_buf[i + 1].baddbmm_((eta_e * p).unsqueeze(2), x.unsqueeze(1))
                    _reset_rows(resets, keep, t + 1, nxt, es_buf[i + 1] if modul else None)
            for t in range(t1 - 1, t0 - 1, -1):
                h_t = hs_buf[t - t0]
                p, x = ps[t], xs[t]
                m = ms[t] if modulated else None
                rate = _rates(cfg, m, eta, fan_a, fan_c)
                g_x = g_xs[t] + carry
                g_r = g_h.mul_(mask_buf[t - t0])       # dL/d(H + eta R): gradient through the clip
                if modul:
                    e_t = es_buf[t - t0]
                    # E' = (1 - eta_e) E + eta_e p x^T
                    z_e = torch.bmm(p.unsqueeze(1), g_e).squeeze(1)                  # (B, N): p^T gE'
                    d_eta_e += (z_e * x).sum() - torch.dot(g_e.reshape(-1), e_t.reshape(-1))
                    d_p = eta_e * torch.bmm(g_e, x.unsqueeze(2)).squeeze(2)
                    g_x = g_x + eta_e * z_e
                    # H' = clip(H + eta_j E): d eta_j = sum_i gR_ij E_ij; dE += gR eta_j
                    d_rate = torch.mul(g_r, e_t, out=scratch).sum(1)
                    g_e.mul_(1 - eta_e).addcmul_(g_r, rate.unsqueeze(1))
                else:
                    # H' = clip(H + p (eta x)^T)
                    z = torch.bmm(p.unsqueeze(1), g_r).squeeze(1)                    # (B, N): p^T gR
                    d_rate = z * x
                    g_x = g_x + rate * z
                    d_p = torch.bmm(g_r, (rate * x).unsqueeze(2)).squeeze(2)
                if cfg.mode == PLASTIC:
                    d_eta += d_rate.sum()
                else:
                    if cfg.fanout:
                        d_fan_a += (d_rate * m.unsqueeze(1)).sum(0)
                        d_fan_c += d_rate.sum(0)
                        d_m = d_rate @ fan_a
                    else:
                        d_m = d_rate.sum(1)
                    d_mlin = d_m * (1 - m * m)                                          # through tanh
                    d_mod_w += (d_mlin.unsqueeze(0) @ x)
                    d_mod_b += d_mlin.sum()
                    g_x = g_x + d_mlin.unsqueeze(1) * mod_w
                dp_t = torch.mul(g_x, 1 - x * x, out=d_pre[t])                          # dL/d pre-activation
                # y_j = sum_i p_i A_ij H_ij
                if cfg.alpha_mode == "connection":
                    torch.mul(h_t, alpha, out=scratch)
                    d_p += torch.bmm(scratch, dp_t.unsqueeze(2)).squeeze(2)
                    torch.mul(p.unsqueeze(2), dp_t.unsqueeze(1), out=scratch)         # p_i dpre_j
                    g_r.addcmul_(scratch, alpha)
                    d_alpha += scratch.mul_(h_t).sum(0)
                else:
                    ad = dp_t * alpha
                    d_p += torch.bmm(h_t, ad.unsqueeze(2)).squeeze(2)
                    g_r.baddbmm_(p.unsqueeze(2), ad.unsqueeze(1))
                    r = torch.bmm(p.unsqueeze(1), h_t).squeeze(1)
                    d_alpha += (dp_t * r).sum(0) if cfg.alpha_mode == "neuron" else (dp_t * r).sum().view(1)
                d_p.addmm_(dp_t, w.t())
                # g_r now holds dL/dH(t) after the reset; undo the reset into the state entering step t.
                g_h = g_r
                if resets and resets[t]:
                    kk = keep[t]
                    d_p.mul_(kk.unsqueeze(1))
                    g_h.mul_(kk.view(batch, 1, 1))
                    if modul:
                        g_e.mul_(kk.view(batch, 1, 1))
                carry = d_p
        d_w = ps.reshape(-1, n).t() @ d_pre.reshape(-1, n)
        return (None, d_pre, None, carry, g_h, g_e, d_w, d_alpha, d_eta, d_eta_e, d_mod_w, d_mod_b,
                d_fan_a, d_fan_c)


def default_segment(t_len: int) -> int:
    """Checkpoint spacing that balances checkpoint and recompute-buffer memory: about sqrt(T)."""
    return max(1, int(math.ceil(math.sqrt(t_len))))


def plastic_sequence(kind: str, clip: float, alpha_mode: str, a_seq: torch.Tensor, keep: torch.Tensor | None,
                     x0, hebb0, elig0, params: PlasticParameters, segment: int | None = None):
    """Run the fused sequence; returns (x_seq (T, B, N), M_seq (T, B) or empty, H_T (B, N, N), E_T or None).

    a_seq (T, B, N) the input drive i2h(u); keep (T, B) 0/1 reset mask or None; x0 (B, N); hebb0, elig0 (B, N, N)
    (elig0 None unless `modul`); params: the cell's plastic parameters (`CellBase.plastic_parameters`).
    On the CPU (float32/float64) the compiled kernel runs it when available (see the module docstring)."""
    seg = segment if segment is not None else default_segment(a_seq.shape[0])
    tensors = (a_seq, x0, hebb0, elig0, *params)
    save = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
    kernels = load_kernels() if supports(tensors + (keep,)) else None
    cfg = SequenceConfig(MODES[kind], float(clip), alpha_mode, params.fan_a is not None, seg, save, kernels)
    if kernels is not None:
        return NativePlasticSequence.apply(cfg, a_seq, keep, x0, hebb0, elig0, *params.with_full_alpha())
    return PlasticSequence.apply(cfg, a_seq, keep, x0, hebb0, elig0, *params)
