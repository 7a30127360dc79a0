"""Benchmark of the cells: reference (naive) against fast, forward + backward over a whole episode.

    python -m plastic_agents.bench [--json] [--kinds modplast modul ...] [--repeats 5] [--sizes maze cue]
                                   [--device cpu|cuda]

Each measurement runs in its own subprocess: time is the minimum of `repeats` forward+backward passes (loss =
sum of x_seq) after one warm-up pass (the minimum, because on a shared machine other processes only ever add
time); peak memory is the growth of the process's maximum resident set size (getrusage ru_maxrss) over its
resident size just before the first pass, so it counts every tensor the pass allocates (saved activations,
traces, backward buffers).  Denormal floats are flushed to zero in both.
The fast plastic kinds run on the compiled CPU kernel (cells/native) unless BACKPROPAMINE_NATIVE=0; it is built
and loaded before the clock and the memory baseline start, so the one-off compile is neither timed nor counted
(column `nat`: whether the fast measurement of a plastic RNN kind ran on the kernel).
Synapse-steps per second = B * N * N * T / time.
On a GPU (--device cuda) each pass ends with a synchronisation before the clock stops, and peak memory is the
GPU's (torch.cuda.max_memory_allocated over the memory allocated before the first pass).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

SIZES = {"maze": dict(batch=30, hidden=100, steps=200, inputs=16),
         "cue": dict(batch=30, hidden=200, steps=120, inputs=26)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure(kind: str, implementation: str, batch: int, hidden: int, steps: int, inputs: int,
            repeats: int = 3, seed: int = 0, device: str = "cpu") -> dict:
    """Time and peak-memory growth of forward+backward of one cell on `device` in this process (call in a fresh
    one)."""
    import torch

    from .cells import make_cell

    # Flush denormals in both implementations alike: vanishing gradients through long episodes otherwise
    # fall into denormal floats, whose CPU arithmetic is far slower and makes timings erratic.
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    cell = make_cell(kind, inputs, hidden, implementation=implementation).to(device)
    u = torch.randn(steps, batch, inputs, device=device)
    gpu = u.device.type == "cuda"
    native = False
    if implementation == "fast" and kind in ("plastic", "modplast", "modul") and not gpu:
        from .cells.native import load_kernels
        native = load_kernels() is not None

    def one_pass():
        x_seq, _ = cell.forward_sequence(u, cell.initial_state(batch))
        x_seq.sum().backward()
        if gpu:
            torch.cuda.synchronize()

    if gpu:
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        one_pass()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        before = _rss_bytes()
        one_pass()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - t0)
    return {"time_s": min(times), "median_time_s": statistics.median(times), "peak_mem_bytes": max(0, peak),
            "native": native}


def _measure_in_subprocess(kind, implementation, size, repeats, device) -> dict:
    spec = dict(SIZES[size], kind=kind, implementation=implementation, repeats=repeats, device=device)
    code = ("import json,sys; from plastic_agents.bench import measure; "
            "print(json.dumps(measure(**json.loads(sys.argv[1]))))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_benchmark(kinds=("rnn", "lstm", "plastic", "modplast", "modul", "plastic_lstm", "modplast_lstm",
                         "modul_lstm"), sizes=("maze", "cue"), repeats: int = 5, device: str = "cpu") -> dict:
    """{size: {kind: {reference: {time_s, peak_mem_bytes}, fast: {...}, speedup, memory_ratio,
    synapse_steps_per_s: {reference, fast}}}} for the requested kinds and sizes, both implementations on
    `device`."""
    from .cells import CELL_KINDS

    for kind in kinds:
        if kind not in CELL_KINDS:
            raise ValueError(f"unknown cell kind {kind!r}; valid kinds: {', '.join(CELL_KINDS)}")
    for size in sizes:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; valid sizes: {', '.join(SIZES)}")
    results = {}
    for size in sizes:
        s = SIZES[size]
        synapse_steps = s["batch"] * s["hidden"] ** 2 * s["steps"]
        results[size] = {"config": dict(s, device=device)}
        for kind in kinds:
            ref = _measure_in_subprocess(kind, "reference", size, repeats, device)
            fast = _measure_in_subprocess(kind, "fast", size, repeats, device)
            results[size][kind] = {
                "reference": ref, "fast": fast,
                "speedup": ref["time_s"] / fast["time_s"],
                "memory_ratio": fast["peak_mem_bytes"] / max(ref["peak_mem_bytes"], 1),
                "synapse_steps_per_s": {"reference": synapse_steps / ref["time_s"],
                                        "fast": synapse_steps / fast["time_s"]}}
    return results


def print_report(results: dict) -> None:
    """Print `run_benchmark`'s results as one table per size."""
    for size, table in results.items():
        c = table["config"]
        print(f"\n{size}: B={c['batch']} N={c['hidden']} T={c['steps']} inputs={c['inputs']} on "
              f"{c.get('device', 'cpu')} (forward+backward)")
        print(f"{'kind':14s} {'ref s':>8s} {'fast s':>8s} {'speedup':>8s} {'ref syn/s':>10s} {'fast syn/s':>10s} "
              f"{'ref MiB':>8s} {'fast MiB':>8s} {'nat':>4s}")
        for kind, r in table.items():
            if kind == "config":
                continue
            print(f"{kind:14s} {r['reference']['time_s']:8.3f} {r['fast']['time_s']:8.3f} {r['speedup']:8.2f} "
                  f"{r['synapse_steps_per_s']['reference']:10.3g} {r['synapse_steps_per_s']['fast']:10.3g} "
                  f"{r['reference']['peak_mem_bytes'] / 2**20:8.1f} {r['fast']['peak_mem_bytes'] / 2**20:8.1f} "
                  f"{'yes' if r['fast'].get('native') else 'no':>4s}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--kinds", nargs="+", default=None, help="cell kinds (default: all)")
    parser.add_argument("--sizes", nargs="+", default=["maze", "cue"], help="maze and/or cue")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed passes per measurement (the minimum is reported)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:K]")
    args = parser.parse_args(argv)
    kwargs = dict(sizes=tuple(args.sizes), repeats=args.repeats, device=args.device)
    if args.kinds:
        kwargs["kinds"] = tuple(args.kinds)
    try:
        results = run_benchmark(**kwargs)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
