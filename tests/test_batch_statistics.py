"""The trace statistics of the training metrics read the cell's own clip: kinds with a clip of 2 (the plastic
LSTMs by default, any kind with the option clip=2.0) count the traces at 2, not at 1."""

import pytest

from train import trainer as trainer_module
from train.config import build_config
from train.trainer import Trainer


@pytest.mark.parametrize("cell,options", [("modplast", {"clip": 2.0}), ("plastic_lstm", {"eta_init": 0.5})])
def test_trace_at_clip_counts_the_traces_at_the_cells_clip(cell, options, tmp_path, monkeypatch):
    batches = []
    original = trainer_module.collect_episodes

    def spy(*args, **kwargs):
        batches.append(original(*args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(trainer_module, "collect_episodes", spy)
    config = build_config({}, {"cell": cell, "cell_options": options, "hidden_size": 8, "batch_size": 4,
                               "max_steps": 60, "iterations": 3, "log_every": 1, "tensorboard": False, "seed": 0})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    assert trainer.policy.cell.clip == 2.0
    for _ in range(3):
        stats = trainer.train_iteration()
        trainer.iteration += 1
    trainer.env.close()
    traces = batches[-1].final_state.hebb.abs()
    at_two = (traces >= 2.0 * (1 - 1e-6)).float().mean().item()
    at_one = (traces >= 1.0 * (1 - 1e-6)).float().mean().item()
    assert stats["trace_at_clip"] == pytest.approx(at_two, abs=1e-12)
    assert stats["trace_abs_mean"] == pytest.approx(traces.mean().item(), rel=1e-6)
    assert at_one > at_two          # some traces lie in [1, 2): a clip read as 1 would count them


def test_kinds_without_traces_have_no_clip():
    from plastic_agents import ActorCritic

    assert ActorCritic(3, 2, "rnn", 4).cell.clip is None and ActorCritic(3, 2, "lstm", 4).cell.clip is None
    assert ActorCritic(3, 2, "modul", 4, clip=0.5).cell.clip == 0.5
    assert ActorCritic(3, 2, "modul_lstm", 4, implementation="reference").cell.clip == 2.0
