"""The compiled CPU kernel (plastic_agents/cells/native) against the PyTorch path of fused.py and the line-by-line
reference: outputs, traces and gradients with clipping and resets inside the sequence, float64 gradcheck, the
single-step path, the fallback (BACKPROPAMINE_NATIVE=0, failed build) and a build lock left behind.  The first
test on a machine compiles the kernel (~30 s once; cached under TORCH_EXTENSIONS_DIR or
~/.cache/torch_extensions)."""
import os
import time
import warnings

import pytest
import torch
from cell_cases import fast_and_reference

from plastic_agents import CellState
from plastic_agents.cells import fused, native
from plastic_agents.cells.parameters import PlasticParameters

T, B, I, N = 12, 3, 4, 6  # noqa: E741  (SPEC.md notation: I is the input size)

needs_kernel = pytest.mark.skipif(native.load_kernels() is None, reason="the native kernel did not build here")


class _Spy:
    """Counts the calls of an autograd Function's apply."""

    def __init__(self, monkeypatch, cls):
        self.calls = 0
        original = cls.apply

        def apply(*args):
            self.calls += 1
            return original(*args)

        monkeypatch.setattr(cls, "apply", apply)


def _cells(kind, **options):
    return fast_and_reference(kind, I, N, seed=3, scale=0.9, **options)


def _run(cell, dtype=torch.float32):
    g = torch.Generator().manual_seed(5)
    u = 2 * torch.randn(T, B, I, generator=g, dtype=dtype)
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[4, 0] = starts[7, 2] = starts[8, 2] = True
    s0 = cell.initial_state(B, dtype=dtype)
    s0 = CellState(*[None if v is None else (0.5 * torch.rand(v.shape, generator=g, dtype=dtype)).requires_grad_()
                     for v in s0])
    xs, fs = cell.forward_sequence(u, s0, starts)
    loss = (xs * torch.linspace(-1, 1, N, dtype=dtype)).sum() + 0.3 * (fs.hebb ** 2).sum()
    if fs.elig is not None:
        loss = loss + 0.2 * (fs.elig ** 2).sum()
    inputs = list(cell.parameters()) + [v for v in s0 if v is not None]
    return [xs, fs.hebb] + ([fs.elig] if fs.elig is not None else []) + list(torch.autograd.grad(loss, inputs))


@needs_kernel
@pytest.mark.parametrize("kind,options", [
    ("plastic", {}), ("modplast", {}), ("modul", {}), ("plastic", {"alpha_mode": "neuron"}),
    ("modplast", {"alpha_mode": "scalar", "modulator_fanout": True}), ("modul", {"modulator_fanout": True}),
    ("modul", {"clip": 0.3})])
def test_native_matches_pytorch_path_and_reference(kind, options, monkeypatch):
    fast, ref = _cells(kind, **options)
    fast, ref = fast.double(), ref.double()      # float64: no float32 rounding can flip a clip decision
    spy_native = _Spy(monkeypatch, fused.NativePlasticSequence)
    out_native = _run(fast, torch.float64)
    assert spy_native.calls == 1
    assert float(out_native[1].detach().abs().max()) == pytest.approx(fast.options["clip"])   # the clip is active
    monkeypatch.setenv("BACKPROPAMINE_NATIVE", "0")
    spy_torch = _Spy(monkeypatch, fused.PlasticSequence)
    out_torch = _run(fast, torch.float64)
    assert spy_torch.calls == 1 and spy_native.calls == 1
    out_ref = _run(ref, torch.float64)
    for a, b, c in zip(out_native, out_torch, out_ref):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)
        torch.testing.assert_close(a, c, atol=1e-10, rtol=1e-9)


@needs_kernel
@pytest.mark.parametrize("kind,alpha_mode,fanout", [
    ("plastic", "connection", False), ("modplast", "neuron", True), ("modul", "connection", False),
    ("modul", "scalar", True)])
@pytest.mark.parametrize("final_traces", [True, False], ids=["final-traces-used", "x-only"])
def test_gradcheck_native_float64(kind, alpha_mode, fanout, final_traces, monkeypatch):
    """x_only: the loss ignores the final traces, so the kernel gets no incoming trace gradients, yet H0 and E0
    still get theirs (through x)."""
    spy = _Spy(monkeypatch, fused.NativePlasticSequence)
    t, b, n, clip = 5, 2, 4, 0.8
    g = torch.Generator().manual_seed(11)

    def r(*shape, scale=1.0):
        return (scale * (2 * torch.rand(*shape, generator=g, dtype=torch.float64) - 1)).requires_grad_()

    keep = torch.ones(t, b, dtype=torch.float64)
    keep[2, 1] = 0.0
    alpha = r(*{"connection": (n, n), "neuron": (n,), "scalar": (1,)}[alpha_mode])
    args = dict(a_seq=r(t, b, n, scale=1.5), x0=r(b, n), hebb0=r(b, n, n, scale=0.9), w=r(n, n), alpha=alpha)
    if kind == "modul":
        args["elig0"], args["eta_e"] = r(b, n, n, scale=0.5), torch.full((1,), 0.3, dtype=torch.float64,
                                                                           requires_grad=True)
    if kind == "plastic":
        args["eta"] = torch.full((1,), 0.2, dtype=torch.float64, requires_grad=True)
    else:
        args["mod_w"], args["mod_b"] = r(1, n), r(1)
        if fanout:
            args["fan_a"], args["fan_c"] = r(n), r(n, scale=0.3)
    names = list(args)

    def f(*tensors):
        kw = dict(zip(names, tensors))
        params = PlasticParameters(**{k: kw[k] for k in PlasticParameters._fields if k in kw})
        xs, _m, h, e = fused.plastic_sequence(kind, clip, alpha_mode, kw["a_seq"], keep, kw["x0"], kw["hebb0"],
                                              kw.get("elig0"), params, segment=2)
        if not final_traces:
            return xs
        return (xs, h) if e is None else (xs, h, e)

    if final_traces:
        with torch.no_grad():
            h_final = f(*args.values())[1]
        assert float(h_final.abs().max()) == pytest.approx(clip)            # some traces are clipped
    assert torch.autograd.gradcheck(f, tuple(args.values()), atol=1e-6, rtol=1e-5)
    assert spy.calls > 0


@needs_kernel
@pytest.mark.parametrize("kind", ["plastic", "modul"])
def test_backward_gradients_do_not_depend_on_the_thread_count(kind):
    """Each thread adds its rows' d_alpha into its own slot: one thread and two give the same sums."""
    torch.manual_seed(0)
    cell, _ = _cells(kind)
    cell = cell.double()
    u = torch.randn(9, 7, I, dtype=torch.float64)
    threads = torch.get_num_threads()
    grads = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            x, _ = cell.forward_sequence(u, cell.initial_state(7, dtype=torch.float64))
            grads.append(torch.autograd.grad(x.square().sum(), list(cell.parameters())))
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@needs_kernel
@pytest.mark.parametrize("kind", ["modplast", "modul"])
def test_single_step_no_grad_leaves_input_state_and_matches_pytorch(kind, monkeypatch):
    fast, _ref = _cells(kind)
    s = fast.initial_state(B)
    s = CellState(*[None if v is None else 0.5 * torch.rand(v.shape) for v in s])
    before = [None if v is None else v.clone() for v in s]
    u = torch.randn(B, I)
    with torch.no_grad():
        x_n, s_n = fast(u, s)
        monkeypatch.setenv("BACKPROPAMINE_NATIVE", "0")
        x_t, s_t = fast(u, s)
    for v, v0 in zip(s, before):
        if v is not None:
            assert torch.equal(v, v0)
    torch.testing.assert_close(x_n, x_t)
    for a, b in zip(s_n, s_t):
        if a is not None:
            torch.testing.assert_close(a, b)
            assert a.data_ptr() not in (s.hebb.data_ptr(), s.x.data_ptr())


def test_env_switch_forces_pytorch_path(monkeypatch):
    monkeypatch.setenv("BACKPROPAMINE_NATIVE", "0")
    assert native.load_kernels() is None
    spy = _Spy(monkeypatch, fused.PlasticSequence)
    fast, _ = _cells("modplast")
    fast.forward_sequence(torch.randn(T, B, I), fast.initial_state(B))
    assert spy.calls == 1


def test_failed_build_warns_once_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(cpp, "load", broken)
    monkeypatch.setattr(native, "_STATE", {"module": None, "tried": False})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert native.load_kernels() is None
        assert native.load_kernels() is None
    assert len([w for w in caught if "native plastic kernel" in str(w.message)]) == 1
    spy = _Spy(monkeypatch, fused.PlasticSequence)
    fast, ref = _cells("modul")
    u = torch.randn(T, B, I)
    xs, _ = fast.forward_sequence(u, fast.initial_state(B))
    xr, _ = ref.forward_sequence(u, ref.initial_state(B))
    assert spy.calls == 1
    torch.testing.assert_close(xs, xr, atol=1e-5, rtol=1e-4)


def test_stale_build_lock_is_cleared_fresh_one_kept(tmp_path):
    lock = tmp_path / "lock"
    assert not native.clear_stale_build_lock(str(tmp_path))            # no lock
    lock.write_text("")
    assert not native.clear_stale_build_lock(str(tmp_path)) and lock.exists()     # a build running now
    old = time.time() - native.STALE_LOCK_SECONDS - 60
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="interrupted build"):
        assert native.clear_stale_build_lock(str(tmp_path))
    assert not lock.exists()


def test_load_removes_a_lock_left_by_an_interrupted_build(monkeypatch, tmp_path):
    """cpp_extension.load would wait for a leftover lock without end; load_kernels clears it first."""
    import torch.utils.cpp_extension as cpp
    lock = tmp_path / "lock"
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    module = object()

    def fake_load(*args, **kwargs):
        assert not lock.exists()
        return module

    monkeypatch.setattr(cpp, "load", fake_load)
    monkeypatch.setattr(cpp, "_get_build_directory", lambda name, verbose: str(tmp_path))
    monkeypatch.setattr(native, "_STATE", {"module": None, "tried": False})
    with pytest.warns(RuntimeWarning, match="interrupted build"):
        assert native.load_kernels() is module


def test_supports_only_cpu_floating_tensors_of_one_dtype():
    a32, a64 = torch.zeros(2), torch.zeros(2, dtype=torch.float64)
    assert native.supports([a32, None, a32]) and native.supports([a64])
    assert not native.supports([a32, a64])
    assert not native.supports([torch.zeros(2, dtype=torch.float16)])


@needs_kernel
@pytest.mark.parametrize("kind", ["modplast", "modul"])
def test_kernel_tanh_is_accurate_in_float32(kind):
    """The kernel's own float32 tanh (vectorised, cells/native) against float64 tanh over a dense range of
    pre-activations: at most 2e-7 absolute and 4 ulp; NaN stays NaN, +-inf give +-1."""
    from plastic_agents import make_cell

    n = 64
    cell = make_cell(kind, n, n)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.i2h.weight.copy_(torch.eye(n))       # no recurrent input: x(t) = tanh(u(t))
    pre = torch.linspace(-12, 12, 400_001)
    pre = torch.cat([pre, torch.tensor([1e-30, -3e-8, 1e-4, -0.3465, 0.3466, 20.0, -45.0, 1e30])])
    u = torch.nn.functional.pad(pre, (0, (-pre.numel()) % n)).view(-1, 1, n)
    x, _ = cell.forward_sequence(u, cell.initial_state(1))
    exact = torch.tanh(u.double())
    err = (x.double() - exact).abs()
    ulp = torch.finfo(torch.float32).eps * exact.abs().clamp_min(torch.finfo(torch.float32).tiny)
    assert err.max() <= 2e-7
    assert (err / ulp).max() <= 4
    with torch.no_grad():
        cell.i2h.weight.zero_()
        cell.i2h.bias.copy_(torch.tensor([float("nan"), float("inf"), -float("inf")] + [0.0] * (n - 3)))
    xs, _ = cell.forward_sequence(torch.zeros(1, 1, n), cell.initial_state(1))
    assert torch.isnan(xs[0, 0, 0]) and xs[0, 0, 1] == 1 and xs[0, 0, 2] == -1


@needs_kernel
def test_forward_checkpoints_reuse_only_memory_no_graph_holds():
    """The fused forward takes its checkpoint buffers from a pool: memory whose last holder is gone is handed out
    again, memory a caller (or a live autograd graph) still holds is not, and the results are those of fresh
    memory."""
    ext = native.load_kernels()
    t, b, n = 7, 3, 5
    g = torch.Generator().manual_seed(2)

    def forward(scale):
        r = torch.rand
        return ext.forward(fused.MODES["modul"], 0.8, 2, True, scale * r(t, b, n, generator=g), torch.empty(0),
                           r(b, n, generator=g), r(b, n, n, generator=g), r(b, n, n, generator=g),
                           r(n, n, generator=g), r(n, n, generator=g), 0.0, 0.3, r(n, generator=g), 0.1,
                           torch.empty(0), torch.empty(0))

    def checkpoint_memory(out):
        return {out[5].data_ptr(), out[6].data_ptr()}

    first = forward(1.0)
    held = checkpoint_memory(first)
    second = forward(2.0)                  # `first` still holds its checkpoints
    assert not checkpoint_memory(second) & held
    kept = [x.clone() for x in second]
    del first
    third = forward(3.0)                   # the first call's memory is free again
    assert checkpoint_memory(third) == held
    for a, c in zip(second, kept):         # writing the reused memory left the held results alone
        assert torch.equal(a, c)

    # a cell's gradients with the pool's reused memory equal those of the first, fresh-memory call, also while
    # another graph holds buffers of the same size
    cell, _ = _cells("modul")
    u = torch.randn(9, 5, I, generator=g)

    def grads():
        x, _ = cell.forward_sequence(u, cell.initial_state(5))
        return x, torch.autograd.grad(x.square().sum(), list(cell.parameters()), retain_graph=True)

    live, expected = grads()
    for _ in range(2):
        for a, c in zip(grads()[1], expected):
            assert torch.equal(a, c)
    for a, c in zip(torch.autograd.grad(live.square().sum(), list(cell.parameters())), expected):
        assert torch.equal(a, c)
