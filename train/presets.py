"""Named starting points for `train --preset`: the paper's settings per task, and our faster ones.

A preset is plain data: a partial configuration (flat keys of TrainConfig or A2CConfig); the config file and
command-line flags override it (train.config.build_config). Its `cell_options` are those of its own `cell`: when a
run picks another cell, the options that kind does not have are left out, with a line saying so. `maze-paper` and
`cue-paper` are the paper's settings; every other preset names its departures from them in its description.
"""

from __future__ import annotations

PAPER_MAZE = {
    "env_id": "BackpropamineMaze-v0",
    "cell": "modplast",
    "hidden_size": 100,
    "batch_size": 30,
    "iterations": 200_000,
    "gamma": 0.9,
    "value_coef": 0.1,
    "prob_sq_coef": 0.03,
    "lr": 1e-4,
    "adam_eps": 1e-4,
    "max_grad_norm": 4.0,
}

PAPER_CUE = {
    "env_id": "BackpropamineCueReward-v0",
    "cell": "modul",
    "hidden_size": 200,
    "cell_options": {"eta_init": 0.1},
    "batch_size": 30,
    "iterations": 200_000,
    "gamma": 0.9,
    "value_coef": 0.1,
    "prob_sq_coef": 0.1,
    "lr": 1e-4,
    "adam_eps": 1e-6,
    "max_grad_norm": 2.0,
}

#: The cue task with modul's reliable departures (preset cue-outcome-modul; cue-curriculum builds on it).
CUE_OUTCOME_MODUL = {**PAPER_CUE, "iterations": 1_000, "lr": 3e-4, "normalize_advantage": True, "gamma": 0.0,
                     "env_kwargs": {"outcome_input": True},
                     "cell_options": {"eta_init": 0.1, "modulator_init": "zero"}}

PRESETS: dict[str, tuple[str, dict]] = {
    "maze-paper": (
        "The paper's maze run: modplast N=100, B=30, Adam lr 1e-4 eps 1e-4, clip 4, c=0.03, gamma 0.9, "
        "200k iterations.",
        PAPER_MAZE,
    ),
    "cue-paper": (
        "The paper's cue-reward run: modul N=200, B=30, Adam lr 1e-4 eps 1e-6, clip 2, c=0.1, gamma 0.9, "
        "200k iterations.",
        PAPER_CUE,
    ),
    "maze-fast": (
        "Maze, paper's network, faster learning: lr 1e-3 and normalised advantages (departures from the paper).",
        {**PAPER_MAZE, "iterations": 5_000, "lr": 1e-3, "normalize_advantage": True},
    ),
    "cue-fast": (
        "Cue task, paper's network, faster learning: lr 1e-3 and normalised advantages (departures from the paper).",
        {**PAPER_CUE, "iterations": 5_000, "lr": 1e-3, "normalize_advantage": True},
    ),
    "cue-easy-fast": (
        "The easy cue task (four fixed one-hot cues), modul N=50, lr 3e-3, normalised advantages, 300 iterations "
        "(a quick setting for trying things; it has not learned the task in our runs, see docs/RESULTS.md).",
        {
            **PAPER_CUE,
            "env_id": "BackpropamineCueReward-Easy-v0",
            "hidden_size": 50,
            "iterations": 300,
            "lr": 3e-3,
            "normalize_advantage": True,
        },
    ),
    "cue-outcome": (
        "Cue task, paper's network, learns in minutes: lr 1e-3, normalised advantages, gamma 0 (an answer earns only "
        "its own reward) and the env's outcome_input (departures from the paper, see docs/RESULTS.md).",
        {**PAPER_CUE, "iterations": 1_000, "lr": 1e-3, "normalize_advantage": True, "gamma": 0.0,
         "env_kwargs": {"outcome_input": True}},
    ),
    "cue-outcome-modul": (
        "cue-outcome with modul's more reliable settings: lr 3e-4 and the modulator layer starting at zero (10 of 12 "
        "seeds pass 12 against 4 of 9; modplast learns faster with cue-outcome's lr 1e-3; see docs/RESULTS.md).",
        CUE_OUTCOME_MODUL,
    ),
    "cue-curriculum": (
        "cue-outcome-modul, then the outcome input taken away: from update 700 each trial's outcome is shown with "
        "probability 0.75, 0.5 from 1,000, 0.25 from 1,300 and 0 from 1,600 on (the paper's information), 2,800 "
        "updates; the trained network answers without it (see docs/RESULTS.md).",
        {**CUE_OUTCOME_MODUL, "iterations": 2_800,
         "env_schedule": [{"from_iteration": start, "env_kwargs": {"outcome_prob": prob}}
                          for start, prob in ((700, 0.75), (1_000, 0.5), (1_300, 0.25), (1_600, 0.0))]},
    ),
    "maze-ppo": (
        "Maze, paper's network, trained with PPO: 4 passes of 3 minibatches of whole episodes per batch, clip 0.2, "
        "Monte-Carlo advantages (GAE lambda 1), normalised per minibatch, lr 3e-4 (departures from the paper, "
        "which uses A2C; see docs/RESULTS.md).",
        {**PAPER_MAZE, "algo": "ppo", "iterations": 2_000, "lr": 3e-4, "gae_lambda": 1.0, "n_epochs": 4,
         "num_minibatches": 3},
    ),
    "cue-ppo": (
        "cue-outcome-modul trained with PPO: 4 passes of 3 minibatches of whole episodes per batch, clip 0.2 "
        "(departures from the paper as cue-outcome-modul's, plus PPO; see docs/RESULTS.md).",
        {**CUE_OUTCOME_MODUL, "algo": "ppo", "gae_lambda": 1.0, "n_epochs": 4, "num_minibatches": 3},
    ),
    "cue-easy-ppo": (
        "The easy cue task (four fixed one-hot cues) with cue-outcome-modul's departures (the outcome input, gamma 0, "
        "lr 3e-4, the modulator layer starting at zero), modul N=50, trained with PPO: 4 passes of 3 minibatches "
        "of whole episodes, clip 0.2 (see docs/RESULTS.md).",
        {**CUE_OUTCOME_MODUL, "env_id": "BackpropamineCueReward-Easy-v0", "hidden_size": 50, "iterations": 600,
         "algo": "ppo", "gae_lambda": 1.0, "n_epochs": 4, "num_minibatches": 3},
    ),
    "maze-release": (
        "The settings of the authors' simplified maze script: modplast N=100 with the modulator fan-out, w and alpha "
        "initialised at 0.001 * U(0, 1), trace clip 2, the 17-input observation (one always-zero input), the "
        "release's element-0 baseline, 100 skipped first updates; lr 1e-4, eps 1e-4, gamma 0.9, c=0.03, value "
        "weight 0.1, gradient clip 4, B=30.",
        {**PAPER_MAZE, "env_kwargs": {"legacy_zero_input": True}, "baseline": "element0", "skip_first_updates": 100,
         "cell_options": {"modulator_fanout": True, "init_scale": 0.001, "clip": 2.0}},
    ),
    "demo": (
        "Under a minute on BackpropamineMaze-v0 for the README's demo: modplast N=48, lr 1e-3, normalised advantages.",
        {**PAPER_MAZE, "hidden_size": 48, "iterations": 400, "lr": 1e-3, "normalize_advantage": True,
         "checkpoint_every": 50},
    ),
}

