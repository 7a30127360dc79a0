"""The CUDA path (skipped where no GPU is present): every cell on the GPU against its CPU reference, outputs, final
traces and gradients; and training, resuming, evaluating and predicting with the policy on the GPU."""

import json

import numpy as np
import pytest
import torch
from cell_cases import fast_and_reference

from plastic_agents import CELL_KINDS, CellState

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

T, B, I, N = 14, 3, 5, 7  # noqa: E741  (SPEC.md notation: I is the input size)
CASES = [(k, {}) for k in CELL_KINDS]
CASES += [(k, {"alpha_mode": m}) for k in ("plastic", "modplast", "modul") for m in ("neuron", "scalar")]
CASES += [(k, {"modulator_fanout": True}) for k in ("modplast", "modul", "modplast_lstm")]


def _run(cell, u, starts, s0):
    s = CellState(*[None if v is None else v.clone().requires_grad_() for v in s0])
    xs, fs = cell.forward_sequence(u, s, starts)
    loss = (xs * torch.linspace(-1, 1, N, device=xs.device, dtype=xs.dtype)).sum()
    for v in (fs.hebb, fs.elig, fs.c):
        if v is not None:
            loss = loss + 0.3 * (v * v).sum()
    grads = torch.autograd.grad(loss, list(cell.parameters()) + [v for v in s if v is not None])
    return [xs, *[v for v in fs if v is not None], *grads]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind,options", CASES, ids=lambda v: str(v))
def test_fast_cell_on_gpu_matches_cpu_reference(kind, options, dtype):
    if kind.endswith("_lstm"):
        options = {"clip": 0.5, **options}
    fast, ref = fast_and_reference(kind, I, N, seed=0, scale=0.8, **options)
    fast, ref = fast.to("cuda", dtype), ref.to(dtype=dtype)
    g = torch.Generator().manual_seed(1)
    u = 2 * torch.randn(T, B, I, generator=g, dtype=dtype)
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[0, 0] = starts[5, 1] = starts[9, 2] = True
    s0 = CellState(*[None if v is None else 0.5 * torch.rand(v.shape, generator=g, dtype=dtype)
                     for v in ref.initial_state(B, dtype=dtype)])
    on_gpu = _run(fast, u.cuda(), starts.cuda(), CellState(*[None if v is None else v.cuda() for v in s0]))
    on_cpu = _run(ref, u, starts, s0)
    tol = dict(atol=1e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=1e-10, rtol=1e-9)
    for a, b in zip(on_gpu, on_cpu):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, **tol)


def test_train_resume_evaluate_on_gpu(tmp_path, capsys):
    from train.cli import main
    from train.run_dir import load_checkpoint

    run = tmp_path / "run"
    args = ["train", "--env", "BackpropamineCueReward-v0", "--cell", "modul", "--hidden-size", "16", "--batch-size",
            "4", "--device", "cuda", "--no-progress", "--no-tensorboard", "--log-every", "1", "--run-dir", str(run)]
    assert main([*args, "--iterations", "2", "--checkpoint-every", "1"]) == 0
    assert main(["train", "--resume", str(run), "--iterations", "4", "--no-progress"]) == 0
    checkpoint = load_checkpoint(run)
    assert checkpoint["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in checkpoint["policy"].values())
    capsys.readouterr()
    assert main(["evaluate", str(run), "--episodes", "8", "--json", "--device", "cuda"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["episodes"] == 8 and np.isfinite(report["reward_mean"])


def test_policy_predict_on_gpu_keeps_numpy_interface():
    from plastic_agents.policy import ActorCritic

    policy = ActorCritic(16, 4, "modplast", 12).to("cuda")
    obs = np.zeros((5, 16), dtype=np.float32)
    actions, state = policy.predict(obs, episode_start=np.ones(5, dtype=bool))
    assert isinstance(actions, np.ndarray) and actions.shape == (5,)
    actions, _ = policy.predict(obs, state=state, episode_start=np.zeros(5, dtype=bool), deterministic=True)
    assert actions.shape == (5,) and ((0 <= actions) & (actions < 4)).all()
