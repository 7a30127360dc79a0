"""The `backpropamine` command line end to end on tiny budgets: train, resume, evaluate, render, compare, bench."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from plastic_agents.cells.native import load_kernels
from train.cli import main
from train.presets import PRESETS
from train.run_dir import CHECKPOINT_FILE, load_checkpoint, load_run_config

TINY = ["--env", "BackpropamineMaze-v0", "--cell", "modplast", "--hidden-size", "12", "--batch-size", "3",
        "--lr", "3e-3", "--no-progress", "--no-tensorboard"]


def _train(run_dir, *extra):
    return main(["train", *TINY, "--run-dir", str(run_dir), *extra])


def _metrics(run_dir):
    with (Path(run_dir) / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def _comparable(rows):
    drop = {"wall_time", "episodes_per_s"}
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def test_resume_continues_bit_for_bit(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _train(straight, "--iterations", "6", "--log-every", "1", "--checkpoint-every", "2") == 0
    assert _train(split, "--iterations", "3", "--log-every", "1", "--checkpoint-every", "2") == 0
    assert main(["train", "--resume", str(split), "--iterations", "6", "--no-progress"]) == 0
    assert _comparable(_metrics(straight)) == _comparable(_metrics(split))
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["iteration"] == b["iteration"] == 6
    for key in a["policy"]:
        assert torch.equal(a["policy"][key], b["policy"][key]), key


def test_ctrl_c_saves_a_checkpoint_and_resume_matches(tmp_path, monkeypatch, capsys):
    from train.trainer import Trainer

    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert _train(straight, "--iterations", "4", "--log-every", "1", "--checkpoint-every", "100") == 0
    original = Trainer.train_iteration

    def interrupt_at_three(self):
        if self.iteration == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "train_iteration", interrupt_at_three)
    assert _train(interrupted, "--iterations", "4", "--log-every", "1", "--checkpoint-every", "100") == 130
    assert "--resume" in capsys.readouterr().err
    assert load_checkpoint(interrupted)["iteration"] == 3
    monkeypatch.setattr(Trainer, "train_iteration", original)
    assert main(["train", "--resume", str(interrupted), "--no-progress"]) == 0
    assert _comparable(_metrics(straight)) == _comparable(_metrics(interrupted))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    import plastic_agents.a2c as a2c

    original, calls = a2c.a2c_loss, []

    def nan_on_fourth(*args, **kwargs):
        loss, stats = original(*args, **kwargs)
        calls.append(1)
        return (loss * float("nan"), stats) if len(calls) == 4 else (loss, stats)

    monkeypatch.setattr(a2c, "a2c_loss", nan_on_fourth)
    run = tmp_path / "nan"
    assert _train(run, "--iterations", "10", "--checkpoint-every", "2") == 1
    err = capsys.readouterr().err
    assert "nan" in err.lower() and "iteration 2" in err and "Traceback" not in err
    checkpoint = load_checkpoint(run)
    assert checkpoint["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in checkpoint["policy"].values())


def test_config_file_preset_and_flags_resolve_in_order(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('preset = "maze-paper"\ncell = "modul"\nhidden_size = 10\nlr = 0.002\n'
                      'batch_size = 2\niterations = 1\n[cell_options]\nclip = 2.0\n')
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--hidden-size", "9", "--run-dir", str(run),
                 "--no-progress", "--no-tensorboard"]) == 0
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["preset"] == "maze-paper" and saved["cell"] == "modul"    # preset < file
    assert saved["hidden_size"] == 9                                       # file < flag
    assert saved["a2c"]["lr"] == 0.002 and saved["a2c"]["adam_eps"] == 1e-4  # flat A2C keys, preset value kept
    assert saved["cell_options"] == {"clip": 2.0} and "eta_init" not in saved   # one spelling: cell_options
    assert load_checkpoint(run)["hidden_size"] == 9


def test_modulator_init_flag_reaches_the_modulated_cells_only(tmp_path):
    run = tmp_path / "modul"
    assert main(["train", *TINY, "--cell", "modul", "--modulator-init", "zero", "--iterations", "1",
                 "--run-dir", str(run)]) == 0
    policy = load_checkpoint(run)["policy"]
    assert load_run_config(run).cell_options["modulator_init"] == "zero"
    assert float(policy["cell.h2mod.weight"].abs().max()) < 0.01     # zero, moved by one update at most


def test_a_cell_option_the_kind_lacks_is_an_error_not_ignored(tmp_path, capsys):
    plain = tmp_path / "plastic"        # plastic has no modulator: the flag is refused, not dropped
    assert main(["train", *TINY, "--cell", "plastic", "--modulator-init", "zero", "--iterations", "1",
                 "--run-dir", str(plain)]) == 2
    assert "modulator_init" in capsys.readouterr().err and not plain.exists()
    assert main(["train", *TINY, "--cell", "rnn", "--eta-init", "0.1", "--iterations", "1",
                 "--run-dir", str(plain)]) == 2
    assert "eta_init" in capsys.readouterr().err


def test_evaluate_render_and_match_params(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "2", "--match-params", "1500") == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--episodes", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 6 and result["env_id"] == "BackpropamineMaze-v0"
    assert {"reward_mean", "reward_std", "hits_per_episode", "steps_to_first_hit", "fraction_with_hit"} <= set(result)
    assert main(["evaluate", str(run), "--episodes", "3", "--json", "--env", "BackpropamineMaze-11x11-v0"]) == 0
    assert json.loads(capsys.readouterr().out)["env_id"] == "BackpropamineMaze-11x11-v0"
    gif = tmp_path / "episode.gif"
    assert main(["render", str(run), "--out", str(gif)]) == 0
    with Image.open(gif) as image:
        assert image.n_frames == 201 and image.width > image.height


def test_compare_writes_csv_png_and_table(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", *TINY, "--env", "BackpropamineCueReward-Easy-v0", "--iterations", "2", "--log-every", "1",
            "--cells", "rnn,modul", "--seeds", "0,1", "--out", str(out)]
    assert main(args) == 0
    assert {"curves.csv", "curves.png", "table.md"} <= {p.name for p in out.iterdir()}
    table = (out / "table.md").read_text()
    assert "| rnn | 2 |" in table and "| modul | 2 |" in table
    with (out / "curves.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 2 * 2 * 2
    # running it again skips the finished trials instead of training them twice
    before = (out / "rnn-seed0" / CHECKPOINT_FILE).stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "rnn-seed0" / CHECKPOINT_FILE).stat().st_mtime_ns == before


def test_bench_training_json(capsys, monkeypatch):
    import train.bench as bench

    original = bench.run_training_benchmark
    monkeypatch.setattr(bench, "run_training_benchmark",
                        lambda preset, iterations, overrides: original(preset, iterations=3, overrides={
                            **overrides, "batch_size": 2, "hidden_size": 8}))
    assert main(["bench", "--only", "training", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["training"]
    assert list(results) == ["maze-paper", "cue-paper"]      # the maze's and the cue task's sizes
    for preset, result in results.items():
        assert result["preset"] == preset and result["cell"] == ("modplast" if preset == "maze-paper" else "modul")
        assert result["fast"]["episodes_per_s"] > 0 and result["naive"]["episodes_per_s"] > 0
        assert len(result["round_speedups"]) == 3
        assert min(result["round_speedups"]) <= result["speedup"] <= max(result["round_speedups"])
        parts = result["fast"]["parts"]
        assert set(parts) == set(bench.PARTS) and all(v >= 0 for v in parts.values())
        if load_kernels() is not None:      # the plastic kinds act and update on the kernel
            assert parts["acting_kernel"] > 0 and parts["backward_kernel"] > 0


@pytest.mark.parametrize("argv,message", [
    (["train", "--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
    (["train", "--cell", "transformer"], "transformer"),
    (["train", "--preset", "nope"], "unknown preset"),
    (["train", "--batch-size", "0"], "batch_size"),
    (["train", "--lr", "-1"], "lr"),
    (["train", "--cell-option", "spin=3"], "spin"),
    (["train", "--env-kwarg", "maze_size=4"], "maze_size"),
    (["train", "--config", "missing.yaml"], "missing.yaml"),
    (["train", "--resume", "no/such/run"], "no/such/run"),
    (["evaluate", "no/such/run"], "no/such/run"),
    (["render", "no/such/run"], "no/such/run"),
    (["bench", "--only", "gpu"], "gpu"),
    (["train", "--device", "tpu"], "device"),
    (["train", "--modulator-init", "tiny"], "modulator_init must be one of default, zero"),
    (["train", "--device", "cuda:7"], "cuda:7"),
    (["train", "--env", "BackpropamineCueReward-Easy-v0", "--env-kwarg", "outcome_input=true", "--env-schedule",
      "5:outcome_scale=7"], "outcome_scale"),
    (["train", "--env", "BackpropamineCueReward-Easy-v0", "--env-schedule", "5:legacy_zero_input=true"],
     "11 observations and 2 actions, the run starts with 10 and 2"),
])
def test_bad_input_exits_2_with_a_message(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + (["--no-progress"] if argv[0] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_corrupted_run_folder_exits_2(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    (run / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    assert "corrupted" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    assert _train(run, "--iterations", "1") == 2  # refuses to overwrite an existing run
    assert "already holds a run" in capsys.readouterr().err


def _has_trained(run_dir):
    """The run has logged at least one update (its metrics file has a complete data row)."""
    path = run_dir / "metrics.csv"
    return path.exists() and path.read_text().count("\n") >= 2


def test_ctrl_c_stops_a_parallel_compare_with_every_running_trial_checkpointed(tmp_path):
    """SIGINT to `compare --jobs 2` alone: both running trials save a checkpoint and stop, the third never
    starts, and the command exits with 130 and a message instead of a traceback."""
    out = tmp_path / "cmp"
    command = [sys.executable, "-m", "train", "compare", "--env", "BackpropamineCueReward-Easy-v0", "--cells", "rnn",
               "--seeds", "0,1,2", "--hidden-size", "8", "--batch-size", "2", "--iterations", "1000000",
               "--checkpoint-every", "1", "--log-every", "1", "--jobs", "2", "--threads", "1", "--out", str(out),
               "--no-progress", "--no-tensorboard"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not all(_has_trained(out / f"rnn-seed{s}") for s in (0, 1)):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (out / "rnn-seed2").exists()
    for seed in (0, 1):
        assert load_checkpoint(out / f"rnn-seed{seed}")["iteration"] >= 1


CUE_SCHEDULE = ["--env", "BackpropamineCueReward-Easy-v0", "--cell", "modul", "--hidden-size", "8", "--batch-size",
                "3", "--no-progress", "--no-tensorboard", "--log-every", "1", "--env-kwarg", "outcome_input=true",
                "--env-schedule", "2:outcome_scale=0"]


def test_env_schedule_switches_the_env_and_resume_crosses_it_bit_for_bit(tmp_path, monkeypatch):
    from plastic_agents import rollout
    from train import trainer as trainer_module

    seen = []  # (update, the largest |outcome input| in its batch)
    original = rollout.collect_episodes

    def spy(env, *args, **kwargs):
        batch = original(env, *args, **kwargs)
        outcome = batch.obs[..., -1]
        seen.append((len(seen), float(outcome.abs().max())))
        return batch

    monkeypatch.setattr(trainer_module, "collect_episodes", spy)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", *CUE_SCHEDULE, "--iterations", "4", "--run-dir", str(straight)]) == 0
    assert seen == [(0, 1.0), (1, 1.0), (2, 0.0), (3, 0.0)]  # the outcome input is gone from update 3 on
    assert main(["train", *CUE_SCHEDULE, "--iterations", "1", "--run-dir", str(split)]) == 0
    assert main(["train", "--resume", str(split), "--iterations", "4", "--no-progress"]) == 0
    assert _comparable(_metrics(straight)) == _comparable(_metrics(split))
    a, b = load_checkpoint(straight), load_checkpoint(split)
    for key in a["policy"]:
        assert torch.equal(a["policy"][key], b["policy"][key]), key
    assert a["config"]["env_schedule"] == [{"from_iteration": 2, "env_kwargs": {"outcome_scale": 0}}]


@pytest.mark.parametrize("schedule,message", [
    ({"from_iteration": 3}, "list of stages"),
    ([{"from_iteration": 3}], "exactly the keys"),
    ([{"from_iteration": 0, "env_kwargs": {}}], "increasing"),
    ([{"from_iteration": 5, "env_kwargs": {}}, {"from_iteration": 5, "env_kwargs": {}}], "increasing"),
    ([{"from_iteration": 5, "env_kwargs": "outcome_scale=0"}], "must be a mapping"),
])
def test_bad_env_schedule_is_a_config_error(schedule, message):
    from train.config import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match=message):
        TrainConfig(env_schedule=schedule)


def test_env_schedule_flag_needs_an_iteration(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--env-schedule", "outcome_scale=0"])
    assert exit_info.value.code == 2 and "ITERATION:KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_its_run(name, tmp_path):
    """Each preset resolves to a valid configuration whose envs (every env_schedule stage) and policy build."""
    from train.config import build_config
    from train.trainer import Trainer

    config = build_config({}, {"preset": name, "tensorboard": False})
    trainer = Trainer(config, tmp_path / name, progress=False)
    assert trainer.policy.cell.hidden_size == config.hidden_size and trainer.iteration == 0
    trainer.close()


def test_preset_settings_are_independent_copies():
    """Presets share nested mappings (cue-curriculum builds on cue-outcome-modul): changing one resolved copy
    changes neither the preset nor another copy."""
    from train.config import preset_settings

    first = preset_settings("cue-curriculum")
    first["env_kwargs"]["outcome_input"] = False
    first["env_schedule"][0]["env_kwargs"]["outcome_prob"] = 0.1
    assert preset_settings("cue-outcome-modul")["env_kwargs"] == {"outcome_input": True}
    assert preset_settings("cue-curriculum")["env_schedule"][0] == {"from_iteration": 700,
                                                                   "env_kwargs": {"outcome_prob": 0.75}}
