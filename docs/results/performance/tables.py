"""Print the markdown tables of docs/PERFORMANCE.md from the JSON reports run.sh writes beside this file.

    python docs/results/performance/tables.py [FOLDER]
"""

import json
import sys
from pathlib import Path

HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent


def load(name: str):
    path = HERE / name
    return json.loads(path.read_text()) if path.exists() and path.stat().st_size else None


def env_table(report: dict) -> list[str]:
    rates = {(r["env_id"], r["mode"], r["num_envs"]): r["steps_per_second"] for r in report["results"]}
    order = ("single", "sync", "native")
    columns = sorted({(mode, n) for _, mode, n in rates}, key=lambda c: (order.index(c[0]), c[1]))
    head = ["env"] + [mode if mode == "single" else f"{mode} {n}" for mode, n in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for env_id in dict.fromkeys(e for e, _, _ in rates):
        cells = [f"{rates[(env_id, m, n)]:,.0f}" if (env_id, m, n) in rates else "" for m, n in columns]
        lines.append(f"| `{env_id}` | " + " | ".join(cells) + " |")
    return lines


def cells_table(report: dict) -> list[str]:
    lines = ["| size | kind | naive s | fast s | speed-up | naive MiB | fast MiB | kernel |", "|" + "---|" * 8]
    for size, table in report.items():
        c = table["config"]
        label = f"{size} (B={c['batch']}, N={c['hidden']}, T={c['steps']})"
        for kind, r in table.items():
            if kind == "config":
                continue
            lines.append(f"| {label} | `{kind}` | {r['reference']['time_s']:.3f} | {r['fast']['time_s']:.3f} | "
                         f"{r['speedup']:.1f}x | {r['reference']['peak_mem_bytes'] / 2**20:,.0f} | "
                         f"{r['fast']['peak_mem_bytes'] / 2**20:,.0f} | {'yes' if r['fast'].get('native') else 'no'} |")
            label = size
    return lines


def training_table(reports: dict) -> list[str]:
    lines = ["| preset | threads | fast s/iteration | naive s/iteration | fast episodes/s | naive episodes/s | "
             "speed-up (median) | per round |", "|" + "---|" * 8]
    for threads, report in reports.items():
        for preset, t in report["training"].items():
            rounds = sorted(t["round_speedups"])
            lines.append(f"| `{preset}` | {threads} | {t['fast']['seconds_per_iteration']:.3f} | "
                         f"{t['naive']['seconds_per_iteration']:.3f} | {t['fast']['episodes_per_s']:.0f} | "
                         f"{t['naive']['episodes_per_s']:.0f} | {t['speedup']:.1f}x | "
                         f"{rounds[0]:.1f}x-{rounds[-1]:.1f}x |")
    return lines


PART_NAMES = ("acting_kernel", "env_step", "acting_other", "backward_kernel", "update_other")


def parts_table(reports: dict) -> list[str]:
    """The fast iteration's parts (median seconds each) per preset and thread count."""
    lines = ["| preset | threads | " + " | ".join(PART_NAMES) + " | iteration |", "|" + "---|" * 8]
    for threads, report in reports.items():
        for preset, t in report["training"].items():
            parts = t["fast"]["parts"]
            lines.append(f"| `{preset}` | {threads} | " + " | ".join(f"{parts[p]:.4f}" for p in PART_NAMES)
                         + f" | {t['fast']['seconds_per_iteration']:.4f} |")
    return lines


def side_by_side_table(folder: Path) -> list[str]:
    """Before and after a speed change (side_by_side.sh): median seconds per iteration and per part."""
    lines = ["| preset | threads | checkout | " + " | ".join(PART_NAMES) + " | iteration | speed-up |",
             "|" + "---|" * 10]
    for path in sorted(folder.glob("*.json")):
        r = json.loads(path.read_text())
        for name in ("base", "new"):
            m = r[name]
            speedup = f"{r['speedup']:.2f}x" if name == "new" else ""
            env = " ".join(r.get("environment", {}).get(name, []))
            label = f"{name} ({env})" if env else name
            preset = f"`{r['preset']}`" + (f" with `{r['cell']}`" if r.get("cell") else "")
            lines.append(f"| {preset} | {r['threads']} | {label} | "
                         + " | ".join(f"{m[p]:.4f}" for p in PART_NAMES) + f" | {m['total']:.4f} | {speedup} |")
    return lines


# cue-paper's sizes: B = 30 rows, T = 120 steps, checkpoints every ceil(sqrt(T)) = 11 steps; each of two threads
# runs 15 rows' 120 steps in each kernel.
CUE_ROW_STEPS_PER_THREAD, CUE_SEGMENT = 30 * 120 // 2, 11


def floor_table(streams: dict, side: dict) -> list[str]:
    """The cue-size kernels' bandwidth floor (floor/streams.json: one thread's microseconds per pass of each access
    pattern, both threads streaming) beside the measured parts of the same session's side-by-side run
    (side-by-side/cue-paper-2t.json), seconds per iteration on two threads.

    acting: the step's pass (w, alpha, H, E read, H and E written) each step, and a checkpoint copy of H and E (two
    read, two written: the recompute pattern) every CUE_SEGMENT steps. backward: the sweep each step and the
    recompute on all but the segment's first step. Idealised: only the traces and their gradients move, each once per
    step (w, alpha and d_alpha free): H and E read and written by the acting step, the gradient traces read and
    written by the backward, and each step's traces written by the recompute and read by the sweep, three
    two-read-two-write passes per row and step."""
    us = {name: p["us_per_pass"] * 1e-6 for name, p in streams.items()}
    n, seg = CUE_ROW_STEPS_PER_THREAD, CUE_SEGMENT
    acting = n * (us["acting"] + us["recompute"] / seg)
    backward = n * (us["sweep"] + (seg - 1) / seg * us["recompute"])
    least = n * 3 * us["recompute"]
    base, new = side["base"], side["new"]
    rest = ("env_step", "acting_other", "update_other")
    lines = ["| part | floor | new | base |", "|---|---|---|---|",
             f"| acting kernel | {acting:.4f} | {new['acting_kernel']:.4f} | {base['acting_kernel']:.4f} |",
             f"| backward kernel | {backward:.4f} | {new['backward_kernel']:.4f} | {base['backward_kernel']:.4f} |",
             f"| both kernels | {acting + backward:.4f} | {new['acting_kernel'] + new['backward_kernel']:.4f} | "
             f"{base['acting_kernel'] + base['backward_kernel']:.4f} |",
             f"| both kernels, idealised | {least:.4f} | | |",
             f"| env step and the rest | | {sum(new[k] for k in rest):.4f} | {sum(base[k] for k in rest):.4f} |",
             f"| iteration | | {new['total']:.4f} | {base['total']:.4f} |",
             f"| iteration for 2.5x (base / 2.5) | | {base['total'] / 2.5:.4f} | |"]
    return lines


def sb3_table(report: dict) -> list[str]:
    rate = {(r["mode"], r["route"], r["n_envs"]): r["steps_per_second"] for r in report["results"]}
    ratio = {(r["mode"], r["n_envs"]): r["ratio"] for r in report["ratios"]}
    lines = ["| n_envs | PPO adapter | PPO make_vec_env | ratio | raw adapter | raw make_vec_env | ratio |",
             "|" + "---|" * 7]
    for n in sorted({n for _, _, n in rate}):
        row = []
        for mode in ("ppo", "raw"):
            row += [f"{rate[(mode, 'adapter', n)]:,.0f}", f"{rate[(mode, 'make_vec_env', n)]:,.0f}",
                    f"{ratio[(mode, n)]:.2f}x"]
        lines.append(f"| {n} | " + " | ".join(row) + " |")
    return lines


def main() -> None:
    sections = [("env.json", env_table), ("cells.json", cells_table), ("sb3.json", sb3_table)]
    for name, table in sections:
        report = load(name)
        if report is not None:
            print(f"{name}:\n" + "\n".join(table(report)) + "\n")
    training = {label: load(name) for label, name in (("2", "training.json"), ("1", "training-1thread.json"))}
    training = {k: v for k, v in training.items() if v is not None}
    if training:
        print("training:\n" + "\n".join(training_table(training)) + "\n")
        print("training parts:\n" + "\n".join(parts_table(training)) + "\n")
    if (HERE / "side-by-side").is_dir():
        print("side by side:\n" + "\n".join(side_by_side_table(HERE / "side-by-side")) + "\n")
    streams, side = load("floor/streams.json"), load("side-by-side/cue-paper-2t.json")
    if streams is not None and side is not None:
        print("floor:\n" + "\n".join(floor_table(streams, side)))


if __name__ == "__main__":
    main()
