"""The compiled CPU kernel of the plastic RNN sequence (`plastic`, `modplast`, `modul`) and its autograd function.

`plastic_kernels.cpp` is compiled on first use with torch.utils.cpp_extension.load (JIT, -O3, OpenMP over the
batch through at::parallel_for; build directory: TORCH_EXTENSIONS_DIR or ~/.cache/torch_extensions).  If the
build fails (no compiler, no ninja) a warning is issued once and `load_kernels()` returns None, so callers fall
back to the PyTorch path of fused.py.  BACKPROPAMINE_NATIVE=0 in the environment disables the kernel.

Same semantics as fused.PlasticSequence: clip gradient inclusive at the bounds (as torch.clamp), resets through
the keep mask, traces checkpointed every `segment` steps and recomputed in backward.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable

import torch

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plastic_kernels.cpp")
_LOCK = threading.Lock()
_STATE = {"module": None, "tried": False}


def native_enabled() -> bool:
    """False when the environment variable BACKPROPAMINE_NATIVE is "0" (forces the PyTorch path)."""
    return os.environ.get("BACKPROPAMINE_NATIVE", "1").strip() != "0"


def _ensure_ninja_on_path() -> None:
    """cpp_extension.load runs `ninja`; the pip package puts it next to the interpreter or in ninja.BIN_DIR."""
    if shutil.which("ninja"):
        return
    candidates = [os.path.dirname(os.path.abspath(os.sys.executable))]
    try:
        import ninja
        candidates.insert(0, ninja.BIN_DIR)
    except (ImportError, AttributeError):
        pass
    for d in candidates:
        if os.path.exists(os.path.join(d, "ninja")):
            os.environ["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
            return


def _cpu_flags() -> tuple:
    """(extension name, extra compiler flags): AVX-512 or AVX2/FMA code when this CPU has them, each under its own
    name so that a build cache shared with an older CPU never loads it there.  AVX-512 (512-bit vectors) is taken
    where the CPU has it: wider vectors do more of the passes' arithmetic per instruction."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        flags = set()
    avx2 = ["-mavx2", "-mfma"]
    if {"avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags:
        return "backpropamine_plastic_kernels_avx512", avx2 + [
            "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mprefer-vector-width=512"]
    if {"avx2", "fma"} <= flags:
        return "backpropamine_plastic_kernels_avx2", avx2
    return "backpropamine_plastic_kernels", []


#: The compiler flags of every build of the kernel; load_kernels adds the CPU's vector flags (_cpu_flags).
#: FMA contraction and reassociation are allowed: the expressions the backward must recompute bit for bit (the
#: traces and their clip masks) are written with explicit fused multiply-adds (mul_add in the source), which
#: neither changes.  Reassociation lets the compiler end each vectorised sum with a shuffle tree in registers instead
#: of adding the lanes one by one through memory (sums differ from the sequential order in the last bits); no signed
#: zeros is what it needs for that, no trapping math lets it vectorise the selects (the kernels use no FP traps).
KERNEL_CFLAGS = ("-O3", "-fopenmp", "-ffp-contract=fast", "-fassociative-math", "-fno-signed-zeros",
                 "-fno-trapping-math")


def kernel_cflags() -> list[str]:
    """Every compiler flag load_kernels builds the kernel with on this machine (for other code built to match it,
    such as docs/results/performance/floor/streams.cpp)."""
    return list(KERNEL_CFLAGS) + _cpu_flags()[1]


#: A build lock older than this is taken as left by an interrupted build (far longer than a build takes).
STALE_LOCK_SECONDS = 600


def clear_stale_build_lock(build_dir: str, max_age: float = STALE_LOCK_SECONDS) -> bool:
    """Remove `build_dir`/lock when it is older than `max_age` seconds, with a warning; True if removed.

    cpp_extension.load holds that file while it compiles and waits, without end, for it to go away; a build that was
    killed (Ctrl-C during the first run's compile) leaves it behind, and every later run would hang there."""
    lock = os.path.join(build_dir, "lock")
    try:
        age = time.time() - os.path.getmtime(lock)
    except OSError:
        return False
    if age <= max_age:
        return False
    try:
        os.remove(lock)
    except OSError:
        return False
    warnings.warn(f"backpropamine: removed the build lock {lock}, left {age:.0f} s ago by an interrupted build of "
                  "the native kernel", RuntimeWarning, stacklevel=2)
    return True


#: The kinds whose fast cells run on the kernel (on the CPU).
KERNEL_KINDS = ("plastic", "modplast", "modul")


def _build_directory(name: str):
    """cpp_extension's build directory for `name`, or None where torch lacks its (private) helper."""
    try:
        from torch.utils.cpp_extension import _get_build_directory
    except ImportError:
        return None
    return _get_build_directory(name, verbose=False)


def module_is_built(build_dir, name: str) -> bool:
    """True when `build_dir` holds the compiled module `name`, built from this source file and newer than it, i.e.
    when loading it will not compile.  (ninja rebuilds when the build command changes: another checkout's source
    path is seen here, a change of compiler flags alone is not.)"""
    if build_dir is None:
        return False
    try:
        if os.path.getmtime(os.path.join(build_dir, name + ".so")) < os.path.getmtime(_SOURCE):
            return False
        with open(os.path.join(build_dir, "build.ninja")) as f:
            return _SOURCE in f.read()
    except OSError:
        return False


def build_message(build_dir) -> str:
    """The one line printed before the kernel is compiled."""
    where = f" (cached in {build_dir})" if build_dir else ""
    return f"backpropamine: compiling the C++ kernel of the plastic cells, once per machine{where}"


def load_kernels():
    """The compiled extension module (forward, backward), or None when disabled or when the build failed.

    When the module has to be compiled, one line saying so goes to stderr first (the first call of a process on a
    machine without a build waits for the compiler)."""
    if not native_enabled():
        return None
    with _LOCK:
        if not _STATE["tried"]:
            _STATE["tried"] = True
            try:
                from torch.utils.cpp_extension import load
                _ensure_ninja_on_path()
                name, arch = _cpu_flags()
                build_dir = _build_directory(name)
                if build_dir is not None:  # without cpp_extension's helper, no lock check
                    clear_stale_build_lock(build_dir)
                if not module_is_built(build_dir, name):
                    print(build_message(build_dir), file=sys.stderr, flush=True)
                _STATE["module"] = load(name=name, sources=[_SOURCE], extra_cflags=list(KERNEL_CFLAGS) + arch,
                                        extra_ldflags=["-fopenmp"],
                                        verbose=False)
            except Exception as exc:  # any build failure: fall back to the PyTorch path, never crash
                warnings.warn(f"backpropamine: the native plastic kernel could not be built ({exc!s:.300}); "
                              "using the PyTorch path", RuntimeWarning, stacklevel=2)
        return _STATE["module"]


class _TimedStepper:
    """A kernel Stepper whose `step` reports its duration (see timed_kernels)."""

    def __init__(self, stepper, record):
        self._stepper, self._record = stepper, record

    def step(self, *args):
        start = time.perf_counter()
        self._stepper.step(*args)
        self._record("step", time.perf_counter() - start)


class _TimedKernels:
    """The kernel module with its calls timed (see timed_kernels); every other attribute is the module's."""

    def __init__(self, module, record):
        self._module, self._record = module, record

    def __getattr__(self, name):
        return getattr(self._module, name)

    def _timed(self, name, *args):
        start = time.perf_counter()
        result = getattr(self._module, name)(*args)
        self._record(name, time.perf_counter() - start)
        return result

    def forward(self, *args):
        return self._timed("forward", *args)

    def backward(self, *args):
        return self._timed("backward", *args)

    def stepper(self, *args):
        return _TimedStepper(self._module.stepper(*args), self._record)


@contextlib.contextmanager
def timed_kernels(record: Callable[[str, float], None]):
    """Within the block, `load_kernels()` returns the kernel with each call of its fused forward, its backward and
    its acting step reported to `record(name, seconds)`, name one of "forward", "backward", "step" (the training
    bench's per-part breakdown). Cells and recordings made inside the block keep reporting after it. A no-op when
    the kernel is not available."""
    module = load_kernels()
    if module is None:
        yield
        return
    with _LOCK:
        _STATE["module"] = _TimedKernels(module, record)
    try:
        yield
    finally:
        with _LOCK:
            _STATE["module"] = module


def prepare_kernels(cell) -> None:
    """Load (compiling on first use) the kernel now when `cell` will run on it: a fast cell of a kernel kind whose
    parameters are on the CPU.  Called before a progress bar starts, so that its time estimate does not include
    the compile."""
    if getattr(cell, "implementation", None) != "fast" or getattr(cell, "kind", None) not in KERNEL_KINDS:
        return
    if any(p.device.type != "cpu" for p in cell.parameters()):
        return
    load_kernels()


def supports(tensors) -> bool:
    """True when every given tensor (None entries skipped) is a CPU float32/float64 tensor of one dtype."""
    dtypes = set()
    for t in tensors:
        if t is None:
            continue
        if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
            return False
        dtypes.add(t.dtype)
    return len(dtypes) == 1


def scalar_value(t) -> float:
    """The value of a one-element tensor as a Python float (the kernel takes scalars by value); 0.0 for None."""
    return 0.0 if t is None else float(t.detach().reshape(-1)[0])


class NativePlasticSequence(torch.autograd.Function):
    """(a_seq, keep, x0, H0, E0, w, A, eta, eta_e, mod_w, mod_b, fan_a, fan_c) -> (x_seq, M_seq, H_T, E_T).

    As fused.PlasticSequence except that alpha is already expanded to A (N, N) (the caller expands the
    "neuron" (N,) and "scalar" (1,) modes, so autograd sums their gradient).  a_seq (T, B, N); keep (T, B) 0/1 or
    None; x0 (B, N); H0, E0 (B, N, N) (E0 None unless `modul`); w (N, N); eta, eta_e (1,) or None; mod_w (1, N),
    mod_b (1,) or None; fan_a, fan_c (N,) or None.  Outputs x_seq (T, B, N), M_seq (T, B) (empty for `plastic`,
    not differentiable), H_T (B, N, N), E_T (B, N, N) or None.
    """

    @staticmethod
    def forward(ctx, cfg, a_seq, keep, x0, hebb0, elig0, w, amat, eta, eta_e, mod_w, mod_b, fan_a, fan_c):
        ext = cfg.kernels
        empty = a_seq.new_empty(0)
        c = torch.Tensor.contiguous
        keep_t = c(keep) if keep is not None else empty
        mod_w_t = c(mod_w.reshape(-1)) if mod_w is not None else empty
        fa = c(fan_a) if fan_a is not None else empty
        fc = c(fan_c) if fan_c is not None else empty
        xs, ps, ms, h_out, e_out, h_ck, e_ck = ext.forward(
            cfg.mode, cfg.clip, cfg.segment, cfg.save, c(a_seq), keep_t, c(x0), c(hebb0),
            c(elig0) if elig0 is not None else empty, c(w), c(amat), scalar_value(eta), scalar_value(eta_e), mod_w_t,
            scalar_value(mod_b), fa, fc)
        ctx.cfg = cfg
        ctx.set_materialize_grads(False)    # an unused output's gradient arrives as None, not as zeros (B, N, N)
        if cfg.save:
            ctx.save_for_backward(xs, ps, ms, keep_t, h_ck, e_ck, c(w), c(amat), eta, eta_e, mod_w_t, mod_b, fa, fc)
        ctx.mark_non_differentiable(ms)
        return xs, ms, h_out, (e_out if elig0 is not None else None)

    @staticmethod
    def backward(ctx, g_xs, _g_ms, g_hebb, g_elig):
        # (needs_input_grad follows forward's inputs: cfg, a_seq, keep, x0, hebb0, elig0, ...)
        return (None, *native_grads(ctx, g_xs, g_hebb, g_elig,
                                    initial_traces=ctx.needs_input_grad[4] or ctx.needs_input_grad[5]))


def native_grads(ctx, g_xs, g_hebb, g_elig, initial_traces: bool = True):
    """The kernel's backward from a context that saved (xs, ps, ms, keep, h_ck, e_ck, w, A, eta, eta_e, mod_w,
    mod_b, fan_a, fan_c) and holds `cfg`: gradients of (a_seq, keep, x0, H0, E0, w, A, eta, eta_e, mod_w (1, N),
    mod_b, fan_a, fan_c), None where there is none.  g_hebb, g_elig: gradients of the final traces or None.
    initial_traces False: the gradients of H0 and E0 are not wanted (None; with no final-trace gradients either,
    the kernel then allocates no (B, N, N) gradient matrices)."""
    cfg = ctx.cfg
    xs, ps, ms, keep_t, h_ck, e_ck, w, amat, eta, eta_e, mod_w_t, mod_b, fa, fc = ctx.saved_tensors
    t_len, batch, n = xs.shape
    modul = e_ck.numel() > 0
    g_xs = g_xs.contiguous() if g_xs is not None else torch.zeros_like(xs)
    empty = xs.new_empty(0)
    traced = initial_traces or g_hebb is not None or g_elig is not None

    def incoming(g):
        if not traced:
            return empty
        return g.clone(memory_format=torch.contiguous_format) if g is not None else xs.new_zeros(batch, n, n)

    g_h = incoming(g_hebb)
    g_e = incoming(g_elig) if modul else empty
    d_pre, d_x0, d_h0, d_e0, d_a, d_mw, d_fa, d_fc, d_sc = cfg.kernels.backward(
        cfg.mode, cfg.clip, cfg.segment, xs, ps, ms, keep_t, h_ck, e_ck, g_xs, g_h, g_e, w, amat,
        scalar_value(eta), scalar_value(eta_e), mod_w_t, scalar_value(mod_b), fa, fc)
    d_w = ps.reshape(-1, n).t() @ d_pre.reshape(-1, n)
    sc = d_sc.sum(0)
    d_eta = sc[0:1] if eta is not None else None
    d_eta_e = sc[1:2] if eta_e is not None else None
    modulated = mod_b is not None
    d_mod_w = d_mw.sum(0).view(1, n) if modulated else None
    d_mod_b = sc[2:3] if modulated else None
    fan = fa.numel() > 0
    return (d_pre, None, d_x0, d_h0 if traced else None, d_e0 if modul and traced else None, d_w, d_a.sum(0),
            d_eta, d_eta_e,
            d_mod_w, d_mod_b, d_fa.sum(0) if fan else None, d_fc.sum(0) if fan else None)
