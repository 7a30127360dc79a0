"""The `backpropamine` command line (also `python -m train`).

    backpropamine train    --preset maze-fast --run-dir runs/maze [--cell modul ...] | --resume runs/maze
    backpropamine evaluate runs/maze [--episodes 300] [--json]
    backpropamine render   runs/maze [--out episode.gif]
    backpropamine compare  --preset cue-fast --cells modplast,modul,plastic,rnn,lstm --seeds 0,1,2 --out runs/cmp
    backpropamine bench    [--json] [--only env,cells,training]
    backpropamine demo     [--run-dir runs/demo]
    backpropamine presets

Bad input (unknown ids, kinds, presets, bad values, missing or corrupted run folders) prints one line and exits
with status 2; a run stopped by a non-finite loss exits with 1; Ctrl-C saves a checkpoint and exits with 130.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import yaml

from train.config import ConfigError, build_config, check_device, read_config_file
from train.run_dir import RunDirError

# (flag, setting, type, help) of every TrainConfig / A2CConfig value settable from the command line.
CONFIG_FLAGS = [
    ("--env", "env_id", str, "registered Gymnasium id"),
    ("--cell", "cell", str, "cell kind: rnn, lstm, plastic, modplast, modul, plastic_lstm, modplast_lstm, modul_lstm"),
    ("--hidden-size", "hidden_size", int, "number of recurrent neurons N"),
    ("--match-params", "match_params", int, "pick the hidden size whose parameter count is closest to this"),
    ("--eta-init", "eta_init", float, "cell option eta_init: initial eta / etaE (kinds without one refuse it)"),
    ("--modulator-init", "modulator_init", str, "default or zero: the modulator layer's initialisation (modulated "
                                                "kinds)"),
    ("--implementation", "implementation", str, "fast (default) or reference (naive cell, graph while acting)"),
    ("--iterations", "iterations", int, "number of updates (each runs batch-size whole episodes)"),
    ("--batch-size", "batch_size", int, "parallel episodes per update (B)"),
    ("--seed", "seed", int, "seed of parameters, action sampling and training episodes"),
    ("--device", "device", str, "cpu or cuda[:K]"),
    ("--threads", "threads", int, "torch intra-op threads (0: torch's default)"),
    ("--max-steps", "max_steps", int, "cap on the episode length"),
    ("--log-every", "log_every", int, "iterations between metric rows"),
    ("--checkpoint-every", "checkpoint_every", int, "iterations between checkpoints"),
    ("--gamma", "gamma", float, "discount"),
    ("--value-coef", "value_coef", float, "weight of the squared value error"),
    ("--prob-sq-coef", "prob_sq_coef", float, "c: weight of the squared-probability penalty"),
    ("--entropy-coef", "entropy_coef", float, "weight of a true entropy bonus"),
    ("--lr", "lr", float, "Adam learning rate"),
    ("--adam-eps", "adam_eps", float, "Adam epsilon"),
    ("--max-grad-norm", "max_grad_norm", float, "gradient-norm clip (0: none)"),
    ("--advantage", "advantage", str, "mc (paper) or gae"),
    ("--gae-lambda", "gae_lambda", float, "lambda of GAE"),
    ("--baseline", "baseline", str, "per_episode (default) or element0 (the release's bug)"),
    ("--lr-schedule", "lr_schedule", str, "constant or linear"),
    ("--skip-first-updates", "skip_first_updates", int, "A2C: skip the optimiser step for this many iterations"),
    ("--algo", "algo", str, "a2c (default, the paper's) or ppo"),
    ("--n-epochs", "n_epochs", int, "PPO: passes over each batch"),
    ("--num-minibatches", "num_minibatches", int, "PPO: minibatches of whole episodes per pass"),
    ("--clip-range", "clip_range", float, "PPO: clip of the probability ratio (0: none)"),
    ("--clip-range-vf", "clip_range_vf", float, "PPO: clip of the value change (default: unclipped value loss)"),
    ("--target-kl", "target_kl", float, "PPO: stop an update once a minibatch's approximate KL passes 1.5x this"),
]
BOOL_FLAGS = [
    ("normalize_advantage", "standardise advantages over the batch"),
    ("bootstrap_truncated", "bootstrap the return of truncated episodes with V"),
    ("tensorboard", "write TensorBoard event files"),
]


class CLIError(ValueError):
    """A command-line mistake; printed as one line, exit status 2."""


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        return key.strip(), value


def _stage_key_value(text: str) -> tuple[int, str, object]:
    iteration, colon, pair = text.partition(":")
    if not colon or not iteration.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected ITERATION:KEY=VALUE, got {text!r}")
    return (int(iteration), *_key_value(pair))


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration (defaults < --preset < --config file < these flags)")
    group.add_argument("--preset", help="named settings: see `backpropamine presets`")
    group.add_argument("--config", help="YAML or TOML file of settings")
    for flag, dest, kind, text in CONFIG_FLAGS:
        group.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    for dest, text in BOOL_FLAGS:
        group.add_argument(f"--{dest.replace('_', '-')}", dest=dest, action=argparse.BooleanOptionalAction,
                           default=None, help=text)
    group.add_argument("--cell-option", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                       help="cell option, e.g. clip=2.0, alpha_mode=neuron, modulator_fanout=true (repeatable)")
    group.add_argument("--env-kwarg", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                       help="environment keyword, e.g. wall_penalty=0.1 (repeatable)")
    group.add_argument("--env-schedule", action="append", type=_stage_key_value, default=[],
                       metavar="ITERATION:KEY=VALUE",
                       help="curriculum: from ITERATION on, set this environment keyword, e.g. "
                            "600:outcome_scale=0 (repeatable; replaces the preset's or file's env_schedule)")


def _flag_settings(args: argparse.Namespace) -> dict:
    """The settings given as flags on the command line (not the file's or the preset's)."""
    cli = {dest: getattr(args, dest) for _, dest, _, _ in CONFIG_FLAGS if getattr(args, dest) is not None}
    cli.update({dest: getattr(args, dest) for dest, _ in BOOL_FLAGS if getattr(args, dest) is not None})
    for name, pairs in (("cell_options", args.cell_option), ("env_kwargs", args.env_kwarg)):
        if pairs:
            cli[name] = dict(pairs)
    if args.env_schedule:
        stages: dict[int, dict] = {}
        for iteration, key, value in args.env_schedule:
            stages.setdefault(iteration, {})[key] = value
        cli["env_schedule"] = [{"from_iteration": i, "env_kwargs": stages[i]} for i in sorted(stages)]
    return cli


def config_from_args(args: argparse.Namespace, **overrides):
    """The TrainConfig the flags, the preset and the config file describe (`overrides` beat the flags); the lines
    build_config has to say (a preset's cell options left out) go to stderr."""
    file_settings = read_config_file(args.config) if args.config else {}
    cli = {**_flag_settings(args), **overrides}
    if args.preset:
        cli["preset"] = args.preset
    notes: list[str] = []
    config = build_config(file_settings, cli, notes)
    for note in notes:
        print(note, file=sys.stderr)
    return config


def _resume_changes(args: argparse.Namespace) -> dict:
    """The settings `train --resume` was asked to change; CLIError for those that cannot change on resume."""
    from train.trainer import RESUMABLE_SETTINGS

    given = _flag_settings(args)
    refused = [f"--{name.replace('_', '-')}" for name in given if name not in RESUMABLE_SETTINGS]
    refused += [flag for flag, value in (("--preset", args.preset), ("--config", args.config),
                                         ("--run-dir", args.run_dir)) if value]
    if refused:
        allowed = ", ".join(f"--{name.replace('_', '-')}" for name in RESUMABLE_SETTINGS)
        raise CLIError(f"{', '.join(refused)} cannot change when resuming (the run's history would mix two "
                       f"settings; start a new run instead); on resume only {allowed} may be given")
    return {name: value for name, value in given.items() if name in RESUMABLE_SETTINGS}


# -- subcommands ---------------------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from train.run_dir import import_trusted
    from train.trainer import Trainer

    import_trusted(args.trusted_modules)
    progress = not args.no_progress
    if args.resume:
        trainer = Trainer(None, args.resume, resume=True, progress=progress, changes=_resume_changes(args),
                          trusted_modules=tuple(args.trusted_modules))
    else:
        config = config_from_args(args)
        trainer = Trainer(config, args.run_dir or _default_run_dir(config), progress=progress)
    for note in trainer.notes:
        print(note, file=sys.stderr)
    print(f"run folder: {trainer.run_dir}  ({trainer.config.cell}, N={trainer.policy.cell.hidden_size}, "
          f"{trainer.policy.num_parameters():,} parameters, {trainer.config.env_id})", flush=True)
    row = trainer.run()
    if row:
        print(f"done: iteration {trainer.iteration}, reward {row['reward_mean']:.2f}, "
              f"{row['episodes_per_s']:.1f} episodes/s")
    return 0


def _default_run_dir(config) -> Path:
    return Path("runs") / f"{config.env_id.split(':')[-1]}-{config.cell}-seed{config.seed}"


def cmd_evaluate(args) -> int:
    from train.evaluate import evaluate_run
    from train.run_dir import import_trusted

    import_trusted(args.trusted_modules)
    result = evaluate_run(args.run, episodes=args.episodes, batch_size=args.batch_size, env_id=args.env,
                          seed=args.seed, deterministic=args.deterministic, device=args.device,
                          trusted_modules=tuple(args.trusted_modules))
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
    return 0


def cmd_render(args) -> int:
    from train.render import render_run
    from train.run_dir import import_trusted

    import_trusted(args.trusted_modules)
    path = render_run(args.run, args.out, seed=args.seed, env_id=args.env, fps=args.fps,
                      deterministic=args.deterministic, trusted_modules=tuple(args.trusted_modules))
    print(f"wrote {path}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def cmd_compare(args) -> int:
    from train import compare
    from train.run_dir import import_trusted

    import_trusted(args.trusted_modules)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    if not cells:
        raise CLIError("--cells names no cell kind")
    seeds = args.seeds if args.seeds is not None else list(range(args.num_seeds))
    out_dir = Path(args.out)
    trials = compare.plan_trials({cell: config_from_args(args, cell=cell) for cell in cells}, seeds, out_dir)
    base = compare.check_existing_trials(trials)
    if args.backend == "ray":
        from train.sweep_ray import run_ray

        run_ray(trials, address=args.ray_address, max_failures=args.max_failures,
                cpus_per_trial=args.cpus_per_trial)
    else:
        compare.run_local(trials, jobs=args.jobs, progress=not args.no_progress)
    paths = compare.summarise(trials, out_dir, base.env_id)
    print(Path(paths["table"]).read_text())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_bench(args) -> int:
    parts = [p.strip() for p in args.only.split(",")]
    unknown = set(parts) - {"env", "cells", "training"}
    if unknown:
        raise CLIError(f"--only: unknown part(s) {sorted(unknown)}; choose from env, cells, training")
    check_device(args.device)
    results = {}
    if "env" in parts:
        from plastic_envs.bench import run_benchmark as env_benchmark

        results["env"] = (env_benchmark(seconds=0.3, sync_sizes=(64,), native_sizes=(1, 64, 4096))
                          if args.quick else env_benchmark())
    if "cells" in parts:
        from plastic_agents.bench import run_benchmark as cell_benchmark

        results["cells"] = (cell_benchmark(kinds=("rnn", "modplast", "modul"), repeats=1, device=args.device)
                            if args.quick else cell_benchmark(device=args.device))
    if "training" in parts:
        from train.bench import run_training_benchmarks

        results["training"] = run_training_benchmarks(iterations=2 if args.quick else 10,
                                                      overrides={"device": args.device})
    if args.json:
        print(json.dumps(results, indent=1, default=str))
    else:
        _print_bench(results)
    return 0


def _print_bench(results: dict) -> None:
    if "env" in results:
        from plastic_envs.bench import format_report

        print("Environment steps per second:")
        print(format_report(results["env"]))
    if "cells" in results:
        from plastic_agents.bench import print_report

        print("\nCells, forward+backward over one batch of episodes (reference = naive B x N x N autograd):")
        print_report(results["cells"])
    if "training" in results:
        from train.bench import format_training_report

        print("\n" + format_training_report(results["training"]))


def cmd_demo(args) -> int:
    from train import compare
    from train.render import render_run
    from train.run_dir import CONFIG_FILE

    run_dir = Path(args.run_dir)
    config = build_config({}, {"preset": "demo", **({"iterations": args.iterations} if args.iterations else {})})
    trial = compare.Trial(config.cell, config.seed, config.to_dict(), str(run_dir))
    if (run_dir / CONFIG_FILE).exists():
        print(f"continuing the demo run in {run_dir}")
    print(f"training {config.cell} on {config.env_id} for {config.iterations} iterations of "
          f"{config.batch_size} episodes (preset 'demo')", flush=True)
    compare.run_trial(trial, progress=not args.no_progress)
    paths = compare.summarise([trial], run_dir, config.env_id, title=f"demo: {config.cell} on {config.env_id}")
    gif = render_run(run_dir, run_dir / "episode.gif")
    print(f"learning curve: {paths['png']}\nepisode GIF:    {gif}")
    return 0


def cmd_presets(args) -> int:
    from train.presets import PRESETS

    for name, (description, settings) in PRESETS.items():
        print(f"{name:>14}: {description}")
        if args.verbose:
            print(" " * 16 + ", ".join(f"{k}={v}" for k, v in settings.items()))
    return 0


def _add_import_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import", dest="trusted_modules", action="append", default=[], metavar="MODULE",
                        help="import this module first (to register its envs) and trust env ids of the form "
                             "MODULE:Env read from a run folder (repeatable); a folder's own settings never import "
                             "code")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backpropamine", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train an agent (or resume a run)")
    add_config_flags(p)
    p.add_argument("--run-dir", help="run folder (default runs/<env>-<cell>-seed<S>)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder (--iterations may extend it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_import_flag(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="reward and task metrics of a run over held-out episodes")
    p.add_argument("run")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--env", help="evaluate on another env with the same spaces")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true", help="greedy actions")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:K] (the policy's device)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _add_import_flag(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("render", help="animated GIF of an episode with the modulator beside it")
    p.add_argument("run")
    p.add_argument("--out", help="GIF path (default <run>/episode.gif)")
    p.add_argument("--env")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--deterministic", action="store_true")
    _add_import_flag(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("compare", help="cells x seeds on one task: CSV, PNG and markdown table")
    add_config_flags(p)
    p.add_argument("--cells", required=True, help="comma-separated cell kinds")
    p.add_argument("--seeds", type=_int_list, help="comma-separated seeds")
    p.add_argument("--num-seeds", type=int, default=3, help="seeds 0..K-1 when --seeds is not given")
    p.add_argument("--out", required=True, help="folder of the trials and the summary")
    p.add_argument("--jobs", type=int, default=1, help="local processes running trials at once")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--max-failures", type=int, default=2, help="Ray: retries of a failed trial")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray: CPUs reserved per trial")
    p.add_argument("--no-progress", action="store_true")
    _add_import_flag(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bench", help="environment, cell and end-to-end training benchmarks")
    p.add_argument("--only", default="env,cells,training", help="comma-separated parts: env, cells, training")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a rough figure in seconds)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:K] for the cell and training parts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", help="a short training run on BackpropamineMaze-v0, then a GIF and a learning curve")
    p.add_argument("--run-dir", default="runs/demo")
    p.add_argument("--iterations", type=int, help="override the demo's number of iterations")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("presets", help="list the presets")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    from train.compare import SweepInterrupted
    from train.trainer import RunInterrupted, TrainingStopped

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, RunDirError, CLIError) as err:
        print(f"backpropamine {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:      # a run folder that is a file, a read-only parent, a full disk, a name too long
        where = f" {err.filename}" if err.filename else ""
        print(f"backpropamine {args.command}: error:{where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except TrainingStopped as err:
        print(f"backpropamine {args.command}: {err}", file=sys.stderr)
        return 1
    except RunInterrupted as err:
        saved = (f"the checkpoint on disk is at iteration {err.saved_iteration}" if err.saved_iteration is not None
                 else "no checkpoint could be saved")
        run = getattr(args, "resume", None) or getattr(args, "run_dir", None) or "RUN"
        print(f"\ninterrupted by {err.signal_name}: {saved}; continue with `backpropamine train --resume {run}`"
              if args.command == "train" else f"\ninterrupted by {err.signal_name}: {saved}", file=sys.stderr)
        return err.exit_code
    except SweepInterrupted as err:
        print(f"\ninterrupted by {err.signal_name}: {err}; run the same command again to resume", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
