"""`compare --backend ray`: a two-trial sweep on a local Ray, with the same outputs as the local backend."""

import csv

import pytest

pytest.importorskip("ray.tune", reason="Ray Tune is not installed (pip install 'backpropamine[ray]')")

from train.cli import main  # noqa: E402
from train.run_dir import load_checkpoint  # noqa: E402

ARGS = ["compare", "--env", "BackpropamineCueReward-Easy-v0", "--hidden-size", "8", "--batch-size", "2",
        "--iterations", "2", "--log-every", "1", "--no-tensorboard", "--cells", "rnn,modul", "--seeds", "0",
        "--backend", "ray", "--cpus-per-trial", "1"]


@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_two_trial_sweep_on_local_ray_resumes_partial_trials(tmp_path, capsys, algo):
    out = tmp_path / "sweep"
    algo_args = ["--algo", algo] + (["--num-minibatches", "2"] if algo == "ppo" else [])
    # A trial interrupted after one iteration (what a retried Ray trial finds): the sweep must resume it.
    assert main(["train", "--env", "BackpropamineCueReward-Easy-v0", "--cell", "modul", "--hidden-size", "8",
                 "--batch-size", "2", "--iterations", "1", "--log-every", "1", "--no-tensorboard",
                 "--no-progress", "--seed", "0", "--run-dir", str(out / "modul-seed0"), *algo_args]) == 0
    first_row = (out / "modul-seed0" / "metrics.csv").read_text().splitlines()[1]

    assert main(ARGS + ["--out", str(out), *algo_args]) == 0
    for cell in ("rnn", "modul"):
        assert load_checkpoint(out / f"{cell}-seed0")["iteration"] == 2
    assert (out / "modul-seed0" / "metrics.csv").read_text().splitlines()[1] == first_row
    assert {"curves.csv", "curves.png", "table.md"} <= {p.name for p in out.iterdir()}
    with (out / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted({(r["cell"], r["iteration"]) for r in rows}) == [
        ("modul", "1"), ("modul", "2"), ("rnn", "1"), ("rnn", "2")]
    assert "| rnn | 1 |" in capsys.readouterr().out
