"""A run folder is safe to open, and a run never loses or mixes its history (issue 18).

Each case drives the real command line: in this process where a monkeypatch can stand for a crash or a signal at a
chosen moment, in a subprocess where real signals, a second process or a kill -9 are involved.
"""

import csv
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from train import run_dir as run_dir_module
from train.cli import main
from train.run_dir import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    RunDirError,
    RunLock,
    load_checkpoint,
    read_metric_rows,
    rewrite_metrics,
)

TINY = ["--env", "BackpropamineMaze-v0", "--cell", "modplast", "--hidden-size", "12", "--batch-size", "3",
        "--lr", "3e-3", "--no-progress", "--no-tensorboard"]
SLOW_RUN = ["--env", "BackpropamineCueReward-Easy-v0", "--cell", "rnn", "--hidden-size", "8", "--batch-size", "2",
            "--iterations", "1000000", "--checkpoint-every", "1", "--log-every", "1", "--threads", "1",
            "--no-progress", "--no-tensorboard"]


def _train(run, *extra):
    return main(["train", *TINY, "--run-dir", str(run), *extra])


def _rows(run):
    with (Path(run) / METRICS_FILE).open() as handle:
        return [{k: v for k, v in row.items() if k not in ("wall_time", "episodes_per_s")}
                for row in csv.DictReader(handle)]


def _policies_equal(a, b):
    pa, pb = load_checkpoint(a)["policy"], load_checkpoint(b)["policy"]
    return pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(word in err for word in words), err
    return err


def _python_train(*args):
    return [sys.executable, "-m", "train", "train", *args]


def _wait_for(predicate, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _has_trained(run):
    return len(read_metric_rows(Path(run) / METRICS_FILE)) >= 2 and (Path(run) / CHECKPOINT_FILE).exists()


# -- opening a run folder runs no code -------------------------------------------------------------------------
class _Payload:
    """Unpickling this runs code (makes a folder): what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_checkpoint_holding_code_is_refused_without_running_it(tmp_path, capsys):
    run, marker = tmp_path / "run", tmp_path / "pwned"
    assert _train(run, "--iterations", "1") == 0
    payload = load_checkpoint(run)
    payload["window"] = [_Payload(str(marker))]
    torch.save(payload, run / CHECKPOINT_FILE)
    capsys.readouterr()
    for argv in (["evaluate", str(run), "--episodes", "3"], ["render", str(run), "--out", str(tmp_path / "x.gif")],
                 ["train", "--resume", str(run), "--no-progress"]):
        assert main(argv) == 2
        _one_line_error(capsys, "refusing to load")
        assert not marker.exists()


def test_a_checkpoint_is_plain_data(tmp_path):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "2") == 0
    payload = torch.load(run / CHECKPOINT_FILE, weights_only=True)       # raises if it holds anything else
    run_dir_module.check_plain(payload)
    with pytest.raises(TypeError, match="weights-only"):
        run_dir_module.check_plain({"policy": {}, "sampler": object()})


def test_an_env_id_read_from_a_folder_imports_nothing(tmp_path, capsys, monkeypatch):
    run, marker = tmp_path / "run", tmp_path / "imported"
    assert _train(run, "--iterations", "1") == 0
    (tmp_path / "evil_envs.py").write_text(f"import os\nos.mkdir({str(marker)!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = yaml.safe_load((run / CONFIG_FILE).read_text())
    config["env_id"] = "evil_envs:Maze-v0"
    (run / CONFIG_FILE).write_text(yaml.safe_dump(config))
    capsys.readouterr()
    for argv in (["evaluate", str(run)], ["render", str(run)], ["train", "--resume", str(run), "--no-progress"]):
        assert main(argv) == 2
        _one_line_error(capsys, "evil_envs", "--import")
    assert not marker.exists() and "evil_envs" not in sys.modules
    config["env_id"] = "NotRegistered-v0"
    (run / CONFIG_FILE).write_text(yaml.safe_dump(config))
    assert main(["evaluate", str(run)]) == 2
    _one_line_error(capsys, "not registered")


# -- a run's history is never lost, duplicated or mixed --------------------------------------------------------
def test_a_torn_metrics_row_is_dropped_and_resume_rewrites_atomically(tmp_path, monkeypatch):
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert _train(straight, "--iterations", "4", "--log-every", "1") == 0
    assert _train(run, "--iterations", "2", "--log-every", "1") == 0
    with (run / METRICS_FILE).open("a") as handle:
        handle.write("3,9,0.1,12")         # a row cut short by a kill, no newline
    assert [int(r["iteration"]) for r in read_metric_rows(run / METRICS_FILE)] == [1, 2]

    # a kill in the middle of the resume's rewrite leaves the old file whole, and no temporary file
    before = (run / METRICS_FILE).read_bytes()

    def killed(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_dir_module.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        rewrite_metrics(run / METRICS_FILE, list(_rows(straight)[0]), [])
    monkeypatch.undo()
    assert (run / METRICS_FILE).read_bytes() == before
    assert not list(run.glob(".tmp-*"))

    assert main(["train", "--resume", str(run), "--iterations", "4", "--no-progress"]) == 0
    assert _rows(run) == _rows(straight)
    assert _policies_equal(run, straight)


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holder_frees_the_folder(tmp_path, capsys):
    run = tmp_path / "run"
    process = subprocess.Popen(_python_train(*SLOW_RUN, "--run-dir", str(run)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _has_trained(run), process)
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--no-progress"]) == 2
        _one_line_error(capsys, "in use by", f"pid {process.pid}")
        assert main(["train", *SLOW_RUN, "--run-dir", str(run)]) == 2
        _one_line_error(capsys, f"pid {process.pid}")
        process.kill()          # kill -9: no handler runs, the OS drops the lock
        process.wait(timeout=30)
    finally:
        process.kill()
        process.communicate()
    done = load_checkpoint(run)["iteration"]
    assert main(["train", "--resume", str(run), "--iterations", str(done + 1), "--no-progress"]) == 0
    assert load_checkpoint(run)["iteration"] == done + 1


def test_the_lock_is_held_for_the_whole_run(tmp_path):
    from train.trainer import Trainer

    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    trainer = Trainer(None, run, resume=True, progress=False)
    with pytest.raises(RunDirError, match="in use by pid"):
        RunLock(run).acquire()
    trainer.close()
    RunLock(run).acquire().release()


def test_sigterm_saves_like_ctrl_c_and_a_second_signal_does_not_abort_the_save(tmp_path, monkeypatch, capsys):
    from train import trainer as trainer_module

    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert _train(straight, "--iterations", "6", "--log-every", "1", "--checkpoint-every", "100") == 0
    original_iteration, original_save = trainer_module.Trainer.train_iteration, trainer_module.save_checkpoint

    def signal_at_three(self):
        if self.iteration == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return original_iteration(self)

    def interrupted_save(run_dir, payload):
        if payload["iteration"] == 4:
            os.kill(os.getpid(), signal.SIGINT)     # Ctrl-C while the checkpoint is written
        return original_save(run_dir, payload)

    monkeypatch.setattr(trainer_module.Trainer, "train_iteration", signal_at_three)
    monkeypatch.setattr(trainer_module, "save_checkpoint", interrupted_save)
    assert _train(stopped, "--iterations", "6", "--log-every", "1", "--checkpoint-every", "100") == 128 + 15
    err = _one_line_error(capsys, "SIGTERM", "iteration 4", "--resume")
    assert load_checkpoint(stopped)["iteration"] == 4, err
    monkeypatch.undo()
    assert main(["train", "--resume", str(stopped), "--no-progress"]) == 0
    assert _rows(stopped) == _rows(straight) and _policies_equal(stopped, straight)


def test_sigterm_to_a_training_process(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(_python_train(*SLOW_RUN, "--run-dir", str(run)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _has_trained(run), process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143 and "Traceback" not in err
    on_disk = load_checkpoint(run)["iteration"]
    assert f"iteration {on_disk}" in err
    assert int(read_metric_rows(run / METRICS_FILE)[-1]["iteration"]) <= on_disk


def _processes_mentioning(text):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _compare_command(out):
    return [sys.executable, "-m", "train", "compare", "--env", "BackpropamineCueReward-Easy-v0", "--cells", "rnn",
            "--seeds", "0,1,2", "--hidden-size", "8", "--batch-size", "2", "--iterations", "1000000",
            "--checkpoint-every", "1", "--log-every", "1", "--jobs", "2", "--threads", "1", "--out", str(out),
            "--no-progress", "--no-tensorboard"]


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
def test_a_stopped_compare_leaves_no_orphans_and_every_trial_saved(tmp_path, how):
    out = tmp_path / f"cmp-{how.replace(' ', '')}"
    process = subprocess.Popen(_compare_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: all(_has_trained(out / f"rnn-seed{s}") for s in (0, 1)), process)
        process.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
        _, err = process.communicate(timeout=60)
        deadline = time.monotonic() + 60     # workers of a killed parent get SIGTERM from the OS, save and stop
        while _processes_mentioning(str(out)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(str(out)) == []
    finally:
        process.kill()
        for pid in _processes_mentioning(str(out)):
            os.kill(pid, signal.SIGKILL)
    if how == "SIGTERM":
        assert process.returncode == 143 and "Traceback" not in err
    for seed in (0, 1):
        on_disk = load_checkpoint(out / f"rnn-seed{seed}")["iteration"]
        logged = int(read_metric_rows(out / f"rnn-seed{seed}" / METRICS_FILE)[-1]["iteration"])
        assert logged <= on_disk      # the checkpoint is never behind the metrics
        if how == "SIGTERM":
            assert f"rnn-seed{seed} at iteration {on_disk}" in err
    assert not (out / "rnn-seed2").exists()


def test_a_crash_in_the_first_checkpoint_leaves_a_resumable_folder(tmp_path, monkeypatch, capsys):
    from train import trainer as trainer_module

    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    assert _train(straight, "--iterations", "3", "--log-every", "1") == 0
    original = run_dir_module.atomic_write

    def crash_in_checkpoint(path, data):
        if Path(path).name == CHECKPOINT_FILE:
            (Path(path).parent / ".tmp-checkpoint.pt-x").write_bytes(data[:10])    # what a kill leaves
            raise SystemExit("killed")
        return original(path, data)

    monkeypatch.setattr(run_dir_module, "atomic_write", crash_in_checkpoint)
    with pytest.raises(SystemExit):
        _train(crashed, "--iterations", "3", "--log-every", "1")
    monkeypatch.undo()
    assert not (crashed / CHECKPOINT_FILE).exists() and (crashed / CONFIG_FILE).exists()
    capsys.readouterr()
    assert _train(crashed, "--iterations", "3") == 2      # a fresh train never writes over it
    _one_line_error(capsys, "already holds a run", "--resume")
    assert main(["train", "--resume", str(crashed), "--no-progress"]) == 0
    assert "starting it from iteration 0" in capsys.readouterr().err
    assert not list(crashed.glob(".tmp-*"))
    assert _rows(crashed) == _rows(straight) and _policies_equal(crashed, straight)
    assert trainer_module.RESUMABLE_SETTINGS     # (the module was used)


def test_a_fresh_train_never_overwrites_part_of_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    (run / CONFIG_FILE).unlink()
    before = (run / METRICS_FILE).read_bytes()
    capsys.readouterr()
    assert _train(run, "--iterations", "1") == 2
    _one_line_error(capsys, "already holds a run")
    assert (run / METRICS_FILE).read_bytes() == before
    # the lost config.yaml is restored from the checkpoint on resume
    assert main(["train", "--resume", str(run), "--iterations", "2", "--no-progress"]) == 0
    assert (run / CONFIG_FILE).exists() and load_checkpoint(run)["iteration"] == 2


def test_non_finite_parameters_are_never_checkpointed_nor_evaluated(tmp_path, monkeypatch, capsys):
    from train import trainer as trainer_module

    run = tmp_path / "run"
    original = trainer_module.Trainer._payload

    def nan_after_two(self):
        payload = original(self)
        if self.iteration >= 3:
            payload["policy"]["value_head.bias"] = payload["policy"]["value_head.bias"] * float("nan")
        return payload

    monkeypatch.setattr(trainer_module.Trainer, "_payload", nan_after_two)
    assert _train(run, "--iterations", "6", "--checkpoint-every", "1") == 1
    _one_line_error(capsys, "non-finite", "iteration 2")
    monkeypatch.undo()
    assert load_checkpoint(run)["iteration"] == 2
    payload = load_checkpoint(run)
    payload["policy"]["cell.w"][0, 0] = float("inf")
    torch.save(payload, run / CHECKPOINT_FILE)
    for argv in (["evaluate", str(run), "--episodes", "3"], ["render", str(run)]):
        assert main(argv) == 2
        _one_line_error(capsys, "non-finite")


# -- settings mean what they say -------------------------------------------------------------------------------
@pytest.mark.parametrize("flags", [["--env", "BackpropamineMaze-11x11-v0"], ["--cell", "modul"], ["--lr", "1e-2"],
                                   ["--hidden-size", "16"], ["--preset", "demo"], ["--config", "x.yaml"],
                                   ["--run-dir", "elsewhere"], ["--cell-option", "clip=2"]])
def test_resume_refuses_settings_that_would_mix_two_runs(tmp_path, capsys, flags):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    before = (run / CHECKPOINT_FILE).read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), *flags, "--no-progress"]) == 2
    _one_line_error(capsys, flags[0], "cannot change when resuming")
    assert (run / CHECKPOINT_FILE).read_bytes() == before


def test_resume_applies_the_settings_that_can_change_and_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "2", "--log-every", "1") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--iterations", "4", "--log-every", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "iterations 2 -> 4" in err and "log_every 1 -> 2" in err
    assert [int(r["iteration"]) for r in _rows(run)] == [1, 2, 4]


def test_compare_refuses_to_mix_trials_run_with_other_settings(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", *TINY, "--iterations", "1", "--cells", "rnn", "--seeds", "0", "--out", str(out)]
    assert main(args) == 0
    before = (out / "rnn-seed0" / CHECKPOINT_FILE).read_bytes()
    capsys.readouterr()
    assert main([*args, "--lr", "1e-2"]) == 2
    _one_line_error(capsys, "rnn-seed0", "other settings", "a2c")
    assert (out / "rnn-seed0" / CHECKPOINT_FILE).read_bytes() == before
    assert main([*args[:-4], "--iterations", "2", "--cells", "rnn", "--seeds", "0", "--out", str(out)]) == 0
    assert load_checkpoint(out / "rnn-seed0")["iteration"] == 2     # more iterations: the trial continues


@pytest.mark.parametrize("text,suffix,message", [
    ("lr: 1e-3\n", ".yaml", "lr must be a number, got '1e-3'"),
    ("seed: true\n", ".yaml", "seed must be an integer, got True"),
    ('tensorboard = "false"\n', ".toml", "tensorboard must be true or false"),
    ("batch_size: 2.5\n", ".yaml", "batch_size must be an integer, got 2.5"),
    ("lr: .inf\n", ".yaml", "lr must be finite"),
    ("gamma: .nan\n", ".yaml", "gamma must be finite"),
    ("normalize_advantage: 1\n", ".yaml", "normalize_advantage must be true or false"),
    ("hidden_size: 100000000\n", ".yaml", "hidden_size must be between 1 and 8,192"),
    ("batch_size: 10000000000\n", ".yaml", "batch_size must be between"),
    ("threads: 100000\n", ".yaml", "threads must be between"),
    ("seed: 1000000\n", ".yaml", "seed must be between 0 and 999,999"),
    ("iterations: 1000000000\nbatch_size: 30\n", ".yaml", "past the limit"),
    ("cell: modplast\neta_init: 0.1\n", ".yaml", "cell_options: {eta_init"),
    ("env_kwargs: [1]\n", ".yaml", "env_kwargs must be a mapping"),
])
def test_config_values_of_the_wrong_type_or_size_are_refused_by_name(tmp_path, capsys, text, suffix, message):
    path = tmp_path / f"settings{suffix}"
    path.write_text(text)
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    _one_line_error(capsys, message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kwarg", ["max_extra_blanks=3000", "num_cues=20000", "cue_size=100000000",
                                   "episode_length=10000000000"])
def test_env_keywords_past_sane_limits_are_refused_before_allocating(tmp_path, capsys, kwarg):
    run = tmp_path / "run"
    assert main(["train", "--env", "BackpropamineCueReward-v0", "--env-kwarg", kwarg, "--run-dir", str(run),
                 "--no-progress"]) == 2
    _one_line_error(capsys, kwarg.split("=")[0])
    assert not run.exists()


@pytest.mark.parametrize("argv,message", [
    (["evaluate", "RUN", "--episodes", "10000000000"], "episodes must be between"),
    (["evaluate", "RUN", "--batch-size", "10000000000"], "batch_size must be between"),
    (["evaluate", "RUN", "--seed", "-1"], "seed must be between"),
])
def test_evaluate_bounds(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    capsys.readouterr()
    assert main([a if a != "RUN" else str(run) for a in argv]) == 2
    _one_line_error(capsys, message)


def test_filesystem_errors_are_one_line(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert _train(a_file, "--iterations", "1") == 2
    _one_line_error(capsys, "is a file")
    assert _train(a_file / "run", "--iterations", "1") == 2         # a parent that is a file
    _one_line_error(capsys, "error")
    assert _train(tmp_path / ("n" * 300), "--iterations", "1") == 2
    _one_line_error(capsys, "too long")

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_dir_module, "atomic_write", disk_full)
    assert _train(tmp_path / "full", "--iterations", "1") == 2
    _one_line_error(capsys, "No space left on device")


def test_evaluation_never_reuses_a_training_episode(tmp_path, monkeypatch):
    from train import evaluate as evaluate_module
    from train.config import INT_LIMITS, MAX_EPISODES
    from train.trainer import episode_seed

    # the largest reset seed training can use, and the last sub-env of that batch, stay below evaluation's first
    top_seed, max_batch = INT_LIMITS["seed"][1], INT_LIMITS["batch_size"][1]
    last_iteration = MAX_EPISODES // max_batch - 1
    assert episode_seed(top_seed, last_iteration, max_batch) + max_batch - 1 < evaluate_module.evaluation_seed(0, 0)
    # consecutive training seeds never share an episode either
    assert episode_seed(0, MAX_EPISODES // 3 - 1, 3) + 2 < episode_seed(1, 0, 3)
    # two evaluation seeds never share one
    last = evaluate_module.MAX_EVAL_EPISODES - 1
    assert evaluate_module.evaluation_seed(0, last) < evaluate_module.evaluation_seed(1, 0)

    run = tmp_path / "run"
    assert _train(run, "--iterations", "1") == 0
    seen = []
    original = evaluate_module.collect_episodes
    monkeypatch.setattr(evaluate_module, "collect_episodes",
                        lambda *a, **k: seen.append(k["seed"]) or original(*a, **k))
    assert main(["evaluate", str(run), "--episodes", "5", "--batch-size", "2", "--seed", "7"]) == 0
    assert seen == [evaluate_module.evaluation_seed(7, k) for k in (0, 2, 4)]
