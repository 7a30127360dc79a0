"""Modulated plastic agents learn from a fixed seed within CI's budget, while the untrained agents are at chance.

The maze (BackpropamineMaze-v0, random level 7.8 per episode): `modplast` with N = 32, Adam lr 3e-3 and
normalised advantages (the `maze-fast` preset at a smaller size) passes 20 within about 150 iterations of 30
episodes. The easy cue task (chance 0, ideal observer 16.2): `modul` with N = 32 (the `cue-easy-fast` preset at a
smaller size) with the two departures of the `cue-outcome` preset, gamma 0 and the env's outcome_input, leaves
chance after a plateau whose length is chaotic: it changes with the kernel's summation order and with the host
(the same code and seed learn at different iterations on an Intel and an AMD host). After the kernel's one-sweep
backward, one thread, 1,000 iterations (about 35 s each): on an Intel host seeds 1-7 first passed 8 between
iterations 250 and 550 and seed 0 stayed at chance; on an AMD EPYC host seeds 0-7 passed 8 at 700, 250, -, 450,
750, 350, 550 and 300 (seed 2 at chance), all the others ending at 15.8-16.0. The test uses seed 1, past 8 at 250
on both hosts (a fourfold margin). With the paper's gamma 0.9 or without the outcome input it stays at chance for
thousands of iterations (docs/RESULTS.md).
"""

import csv

import torch

from train.cli import main
from train.evaluate import evaluate_run

ITERATIONS = 150


def test_modplast_learns_the_maze_from_a_fixed_seed(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--preset", "maze-fast", "--hidden-size", "32", "--lr", "3e-3", "--iterations",
                 str(ITERATIONS), "--log-every", "10", "--seed", "0", "--run-dir", str(run),
                 "--no-progress", "--no-tensorboard"]) == 0
    with (run / "metrics.csv").open() as handle:
        rewards = [float(row["reward_mean"]) for row in csv.DictReader(handle)]
    assert len(rewards) == ITERATIONS // 10
    assert rewards[0] < 11, f"the untrained agent should be near the random level 7.8, got {rewards[0]:.2f}"
    trained = evaluate_run(run, episodes=120, seed=1)
    assert trained["reward_mean"] > 15, f"no learning: reward {trained['reward_mean']:.2f} (random 7.8)"
    assert trained["hits_per_episode"] > 1.5


def test_untrained_agent_is_at_chance(tmp_path):
    run = tmp_path / "untrained"
    assert main(["train", "--preset", "maze-fast", "--hidden-size", "32", "--iterations", "1", "--lr", "1e-12",
                 "--seed", "0", "--run-dir", str(run), "--no-progress", "--no-tensorboard"]) == 0
    result = evaluate_run(run, episodes=300, seed=2)
    assert 5.0 < result["reward_mean"] < 11.0, result  # the uniform random policy scores 7.8
    assert torch.isfinite(torch.tensor(result["reward_std"]))


CUE_ITERATIONS = 1000
CUE_SETTINGS = ["--preset", "cue-easy-fast", "--gamma", "0", "--env-kwarg", "outcome_input=true", "--hidden-size",
                "32", "--seed", "1", "--no-progress", "--no-tensorboard"]


def test_modul_learns_the_easy_cue_task_from_a_fixed_seed(tmp_path):
    run = tmp_path / "cue"
    assert main(["train", *CUE_SETTINGS, "--iterations", str(CUE_ITERATIONS), "--log-every", "50",
                 "--run-dir", str(run)]) == 0
    with (run / "metrics.csv").open() as handle:
        rewards = [float(row["reward_mean"]) for row in csv.DictReader(handle)]
    assert abs(rewards[0]) < 2, f"the first iterations should be at chance (0), got {rewards[0]:.2f}"
    trained = evaluate_run(run, episodes=300, seed=1)
    assert trained["reward_mean"] > 8, f"no learning: reward {trained['reward_mean']:.2f} (chance 0, ideal 16.2)"
    assert trained["fraction_correct"] > 0.7


def test_untrained_modul_is_at_chance_on_the_easy_cue_task(tmp_path):
    run = tmp_path / "untrained-cue"
    assert main(["train", *CUE_SETTINGS, "--iterations", "1", "--lr", "1e-12", "--run-dir", str(run)]) == 0
    result = evaluate_run(run, episodes=300, seed=2)
    assert abs(result["reward_mean"]) < 1.5, result  # std of one episode about 4.2: 1.5 is 6 standard errors
    assert 0.45 < result["fraction_correct"] < 0.55, result
