"""Fast cells against the line-by-line reference: outputs, final traces and every gradient, with clipping active,
episode resets inside the sequence, and every option."""
import pytest
import torch
from cell_cases import fast_and_reference

from plastic_agents import CELL_KINDS, CellState, make_cell

T, B, I, N = 14, 3, 5, 7  # noqa: E741  (SPEC.md notation: I is the input size)


def _pair(kind, **options):
    if kind.endswith("_lstm") and "clip" not in options:
        options["clip"] = 0.5          # the LSTM traces grow slowly: a tighter clip makes it act within T steps
    return fast_and_reference(kind, I, N, seed=0, scale=0.8, **options)


def _inputs(cell, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    u = 2 * torch.randn(T, B, I, generator=g, dtype=dtype)
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[0, 0] = starts[5, 1] = starts[9, 2] = starts[10, 2] = True
    s = cell.initial_state(B, dtype=dtype)
    s = CellState(*[None if v is None else 0.5 * torch.rand(v.shape, generator=g, dtype=dtype) for v in s])
    return u, starts, s


def _run(cell, u, starts, s0):
    s = CellState(*[None if v is None else v.clone().requires_grad_() for v in s0])
    xs, fs = cell.forward_sequence(u, s, starts)
    weights = torch.linspace(-1, 1, N, dtype=u.dtype)
    loss = (xs * weights).sum()
    for v in (fs.hebb, fs.elig, fs.c):
        if v is not None:
            loss = loss + 0.3 * (v * v).sum()
    grads = torch.autograd.grad(loss, list(cell.parameters()) + [v for v in s if v is not None])
    return xs, fs, grads


def _close(a, b):
    if a.dtype == torch.float64:
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)
    else:
        # float32: the two sum in different orders (and the kernel fuses multiply-adds), so they differ by
        # rounding that grows with the tensor's largest entries; the float64 cases pin the maths themselves.
        torch.testing.assert_close(a, b, atol=1e-5 * max(1.0, b.abs().max().item()), rtol=1e-4)


OPTION_CASES = [(k, {}) for k in CELL_KINDS]
OPTION_CASES += [(k, {"alpha_mode": m}) for k in ("plastic", "modplast", "modul", "plastic_lstm", "modplast_lstm",
                                                  "modul_lstm") for m in ("connection", "neuron", "scalar")]
OPTION_CASES += [(k, {"modulator_fanout": f}) for k in ("modplast", "modul", "modplast_lstm", "modul_lstm")
                 for f in (True, False)]
OPTION_CASES += [(k, {"clip": 0.3}) for k in ("plastic", "modplast", "modul", "modplast_lstm")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind,options", OPTION_CASES, ids=lambda v: str(v))
def test_fast_matches_reference(kind, options, dtype):
    fast, ref = _pair(kind, **options)
    u, starts, s0 = _inputs(fast)     # float32 draws in both cases: the same episodes, the clip hit alike
    fast, ref, u = fast.to(dtype), ref.to(dtype), u.to(dtype)
    s0 = CellState(*[None if v is None else v.to(dtype) for v in s0])
    xs_f, fs_f, g_f = _run(fast, u, starts, s0)
    xs_r, fs_r, g_r = _run(ref, u, starts, s0)
    _close(xs_f, xs_r)
    for a, b in zip(fs_f, fs_r):
        assert (a is None) == (b is None)
        if a is not None:
            _close(a, b)
    for a, b in zip(g_f, g_r):
        _close(a, b)
    if fast.is_plastic:
        # The clip really acts in these cases (or the comparison would not test it).
        assert (fs_r.hebb.abs() >= fast.options["clip"] - 1e-6).any()


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_step_by_step_equals_sequence(kind):
    fast, _ = _pair(kind)
    u, starts, s0 = _inputs(fast)
    with torch.no_grad():
        xs, final = fast.forward_sequence(u, s0, starts)
        s = s0
        for t in range(T):
            keep = (~starts[t]).float()
            s = CellState(*[None if v is None else v * keep.view(-1, *([1] * (v.dim() - 1))) for v in s])
            x, s = fast(u[t], s)
            _close(x, xs[t])
    for a, b in zip(s, final):
        if a is not None:
            _close(a, b)


@pytest.mark.parametrize("kind", ["plastic", "modplast", "modul", "plastic_lstm", "modplast_lstm", "modul_lstm"])
def test_traces_stay_within_clip(kind):
    fast, _ = _pair(kind)
    with torch.no_grad():
        for p in fast.parameters():
            p.mul_(20)
    u = 50 * torch.randn(40, B, I)
    with torch.no_grad():
        _, final = fast.forward_sequence(u, fast.initial_state(B))
    clip = fast.options["clip"]
    assert final.hebb.abs().max() <= clip
    assert final.hebb.abs().max() == pytest.approx(clip)


def test_episode_start_resets_state_exactly():
    fast, _ = _pair("modul")
    u, _, s0 = _inputs(fast)
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[6] = True
    with torch.no_grad():
        xs, final = fast.forward_sequence(u, s0, starts)
        xs_fresh, final_fresh = fast.forward_sequence(u[6:], fast.initial_state(B))
    _close(xs[6:], xs_fresh)
    _close(final.hebb, final_fresh.hebb)
    _close(final.elig, final_fresh.elig)


def test_modul_current_product_reaches_hebb_only_one_step_later():
    cell = make_cell("modul", 2, 3, implementation="reference")
    fast = make_cell("modul", 2, 3)
    fast.load_state_dict(cell.state_dict())
    s = cell.initial_state(1)
    s = s._replace(x=torch.ones(1, 3))
    u = torch.ones(1, 2)
    for c in (cell, fast):
        with torch.no_grad():
            x, s1 = c(u, s)
        # E(t) was zero, so H(t+1) = clip(0 + M * 0) = 0 although x(t-1) x(t)^T is non-zero.
        assert torch.count_nonzero(s1.hebb) == 0
        assert torch.count_nonzero(s1.elig) > 0
        with torch.no_grad():
            _, s2 = c(u, s1)
        torch.testing.assert_close(s2.hebb, c.modulation(s2.x).view(1, 1, 1) * s1.elig)


def test_state_dict_loads_across_implementations():
    for kind in CELL_KINDS:
        fast = make_cell(kind, 4, 6)
        ref = make_cell(kind, 4, 6, implementation="reference")
        assert list(fast.state_dict()) == list(ref.state_dict())
        ref.load_state_dict(fast.state_dict())
