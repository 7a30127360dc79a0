"""PPO on whole episodes: the clipped objective by hand, the minibatches, the reduction to the policy gradient,
exact resume, and a short learning run on the maze."""

import csv
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import plastic_envs  # noqa: F401
from plastic_agents import ActorCritic
from plastic_agents.a2c import A2CConfig, a2c_loss
from plastic_agents.ppo import PPO, PPOConfig, episode_minibatches, explained_variance, ppo_loss
from plastic_agents.rollout import collect_episodes
from train.cli import main
from train.run_dir import load_checkpoint


def test_clipped_objective_and_its_gradient_by_hand():
    """Two steps of one episode, two actions. Step 0: pi(a) 0.6 against 0.4 before (ratio 1.5, A = +1): the
    clipped term 1.2 is the smaller, so no gradient. Step 1: pi(a) 0.2 against 0.4 (ratio 0.5, A = +1): the
    unclipped 0.5 is the smaller, and its gradient is -ratio * A * (onehot(a) - pi) / n for the n = 2 steps."""
    p_new = torch.tensor([[0.6, 0.4], [0.2, 0.8]], dtype=torch.float64)
    logits = p_new.log().unsqueeze(1).clone().requires_grad_(True)          # (T=2, E=1, A=2)
    actions = torch.tensor([[0], [0]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    old_log_probs = torch.full((2, 1), math.log(0.4), dtype=torch.float64)
    advantages = torch.ones(2, 1, dtype=torch.float64)
    values = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    config = PPOConfig(clip_range=0.2, normalize_advantage=False, value_coef=0.0, entropy_coef=0.0)
    loss, parts = ppo_loss(logits, values, actions, valid, old_log_probs, values.detach(), advantages,
                           torch.zeros(2, 1, dtype=torch.float64), config)
    assert loss.item() == pytest.approx(-(1.2 + 0.5) / 2)
    assert parts["clip_fraction"].item() == pytest.approx(1.0)       # both ratios are outside [0.8, 1.2]
    expected_kl = ((1.5 - 1) - math.log(1.5) + (0.5 - 1) - math.log(0.5)) / 2
    assert parts["approx_kl"].item() == pytest.approx(expected_kl)
    loss.backward()
    assert torch.equal(logits.grad[0], torch.zeros(1, 2, dtype=torch.float64))
    onehot = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert torch.allclose(logits.grad[1, 0], -0.5 * 1.0 * (onehot - p_new[1]) / 2)


def test_clipped_value_loss_by_hand():
    """V moved from 1.0 to 2.0 with target 3.0 and clip 0.5: max((2-3)^2, (1.5-3)^2) = 2.25."""
    values = torch.tensor([[2.0]], requires_grad=True)
    logits = torch.zeros(1, 1, 2, requires_grad=True)
    config = PPOConfig(clip_range_vf=0.5, value_coef=1.0, normalize_advantage=False)
    loss, parts = ppo_loss(logits, values, torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool),
                           torch.full((1, 1), math.log(0.5)), torch.tensor([[1.0]]), torch.zeros(1, 1),
                           torch.tensor([[3.0]]), config)
    assert parts["value_loss"].item() == pytest.approx(2.25)
    loss.backward()
    assert values.grad.item() == 0.0      # the clipped branch is the larger: no gradient to V


@pytest.mark.parametrize("batch_size,groups", [(30, 4), (7, 7), (5, 1), (13, 3)])
def test_minibatches_hold_every_episode_once(batch_size, groups):
    rng = np.random.default_rng(0)
    for _ in range(5):
        split = episode_minibatches(batch_size, groups, rng)
        assert len(split) == groups
        assert sorted(np.concatenate(split).tolist()) == list(range(batch_size))
        sizes = [len(g) for g in split]
        assert max(sizes) - min(sizes) <= 1


def test_more_minibatches_than_episodes_is_refused():
    with pytest.raises(ValueError, match="num_minibatches"):
        episode_minibatches(3, 4, np.random.default_rng(0))


def _batch(kind="modplast", hidden=10, batch_size=4, seed=0):
    torch.manual_seed(seed)
    env = gym.make_vec("BackpropamineMaze-v0", num_envs=batch_size, episode_length=12)
    policy = ActorCritic(16, 4, kind, hidden)
    batch = collect_episodes(env, policy, generator=torch.Generator().manual_seed(seed), seed=seed,
                             bootstrap_truncated=True)
    env.close()
    return policy, batch


@pytest.mark.parametrize("kind", ["modplast", "lstm"])
def test_one_epoch_one_minibatch_no_clip_is_the_policy_gradient(kind):
    """With one pass, one minibatch, no clipping and no other terms, PPO's step is the policy-gradient step of the
    same batch: the gradient of -sum(log pi(a) A) with A = R - V (GAE with lambda 1), up to the normalisation
    (PPO averages over valid steps, the A2C loss over B x T)."""
    policy, batch = _batch(kind)
    config = PPOConfig(n_epochs=1, num_minibatches=1, clip_range=0.0, normalize_advantage=False, value_coef=0.0,
                       entropy_coef=0.0, max_grad_norm=0.0, gamma=0.9, gae_lambda=1.0)
    ppo = PPO(policy, config, total_iterations=1)
    ppo.optimizer.step = lambda: None        # keep the gradient, leave the parameters
    ppo.update(batch, 0)
    ppo_grads = [p.grad.clone() for p in policy.parameters()]

    policy.zero_grad()
    logits, values = policy.evaluate(batch.obs)
    a2c = A2CConfig(gamma=0.9, value_coef=0.0, prob_sq_coef=0.0, bootstrap_truncated=True)
    loss, _ = a2c_loss(logits, values, batch.actions, batch.rewards, batch.valid, batch.bootstrap_values, a2c)
    loss.backward()
    t_len, b = batch.rewards.shape
    scale = t_len * b / batch.valid.sum().item()
    for p, g in zip(policy.parameters(), ppo_grads):
        assert torch.allclose(g, p.grad * scale, rtol=1e-4, atol=1e-7)


def test_the_first_pass_replays_the_recording_and_later_ones_recompute():
    """evaluate's three sources agree, so the update's numbers do not depend on which one it used: the whole batch
    evaluated from the rollout's trace equals its recomputation."""
    policy, batch = _batch("modul")
    with torch.no_grad():
        replayed = policy.evaluate(batch.obs, batch.trace)
        recomputed = policy.evaluate(batch.obs)
    for a, b in zip(replayed, recomputed):
        assert torch.allclose(a, b, atol=1e-5)


def test_update_reports_ppo_diagnostics():
    policy, batch = _batch()
    stats = PPO(policy, PPOConfig(num_minibatches=2, n_epochs=3), total_iterations=1).update(batch, 0)
    assert stats["epochs"] == 3 and stats["minibatch_steps"] == 6
    assert 0 <= stats["clip_fraction"] <= 1 and stats["approx_kl"] >= -1e-6
    assert math.isfinite(stats["explained_variance"])


def test_target_kl_stops_the_update_early():
    policy, batch = _batch()
    stats = PPO(policy, PPOConfig(num_minibatches=2, n_epochs=20, lr=0.05, target_kl=1e-4),
                total_iterations=1).update(batch, 0)
    assert stats["epochs"] < 20


def test_explained_variance():
    target = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    valid = torch.ones(2, 2, dtype=torch.bool)
    assert explained_variance(target, target, valid) == pytest.approx(1.0)
    assert explained_variance(torch.zeros(2, 2) + target.mean(), target, valid) == pytest.approx(0.0)


TINY_PPO = ["--algo", "ppo", "--env", "BackpropamineMaze-v0", "--cell", "modplast", "--hidden-size", "12",
            "--batch-size", "4", "--num-minibatches", "2", "--n-epochs", "2", "--no-progress", "--no-tensorboard",
            "--log-every", "1"]


def _rows(run):
    with (run / "metrics.csv").open() as handle:
        return [{k: v for k, v in r.items() if k not in ("wall_time", "episodes_per_s")}
                for r in csv.DictReader(handle)]


def test_ppo_resumes_bit_for_bit_and_evaluates(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", *TINY_PPO, "--iterations", "4", "--run-dir", str(straight)]) == 0
    assert main(["train", *TINY_PPO, "--iterations", "2", "--run-dir", str(split)]) == 0
    assert main(["train", "--resume", str(split), "--iterations", "4", "--no-progress"]) == 0
    assert _rows(straight) == _rows(split)
    assert all(r["approx_kl"] and r["clip_fraction"] and r["explained_variance"] for r in _rows(straight))
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert all(torch.equal(a["policy"][k], b["policy"][k]) for k in a["policy"])
    capsys.readouterr()
    assert main(["evaluate", str(straight), "--episodes", "4"]) == 0
    assert main(["render", str(straight), "--out", str(tmp_path / "x.gif")]) == 0


def test_compare_and_predict_work_with_ppo_runs(tmp_path, capsys):
    from train.trainer import load_policy

    out = tmp_path / "cmp"
    assert main(["compare", *TINY_PPO, "--iterations", "2", "--cells", "rnn,modplast", "--seeds", "0",
                 "--out", str(out)]) == 0
    assert "| rnn | 1 |" in capsys.readouterr().out
    policy, config, _ = load_policy(out / "modplast-seed0")
    assert config.algo == "ppo"
    env = gym.make_vec("BackpropamineMaze-v0", num_envs=2)
    obs, _ = env.reset(seed=0)
    actions, state = policy.predict(obs, generator=torch.Generator().manual_seed(0))
    assert actions.shape == (2,) and env.action_space.contains(actions)
    env.close()


@pytest.mark.parametrize("kind", ["rnn", "modplast"])
def test_ppo_trains_on_cartpole_whose_episodes_end_early(tmp_path, kind):
    """Episodes of different lengths (CartPole terminates): minibatches are cut to their longest episode."""
    run = tmp_path / "cartpole"
    assert main(["train", "--algo", "ppo", "--env", "CartPole-v1", "--cell", kind, "--hidden-size", "8",
                 "--batch-size", "4", "--num-minibatches", "2", "--iterations", "2", "--log-every", "1",
                 "--no-progress", "--no-tensorboard", "--run-dir", str(run)]) == 0
    rows = _rows(run)
    assert len(rows) == 2 and all(math.isfinite(float(r["loss"])) for r in rows)


def test_a2c_only_settings_are_refused_with_ppo(tmp_path, capsys):
    assert main(["train", *TINY_PPO, "--baseline", "element0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "not a setting of PPO" in capsys.readouterr().err


def test_a_preset_runs_with_ppo_leaving_out_its_a2c_only_settings(tmp_path, capsys):
    from train.config import build_config

    notes = []
    config = build_config({}, {"preset": "maze-paper", "algo": "ppo"}, notes)
    assert config.ppo.lr == 1e-4 and config.ppo.gamma == 0.9 and config.ppo.prob_sq_coef == 0.03
    assert config.a2c == A2CConfig()     # the unused section keeps its defaults


@pytest.mark.timeout(300)
def test_ppo_with_a_plastic_cell_learns_the_maze(tmp_path):
    """A minute at most: maze-ppo with N = 32 and lr 1e-3 for 150 updates from a fixed seed ends clearly above the
    random level (7.8): past 25 per episode over its last 30 updates (seeds 0 and 1 gave 41 and 44 here)."""
    run = tmp_path / "run"
    assert main(["train", "--preset", "maze-ppo", "--lr", "1e-3", "--iterations", "150", "--hidden-size", "32",
                 "--threads", "1", "--log-every", "10", "--run-dir", str(run), "--no-progress",
                 "--no-tensorboard"]) == 0
    rewards = [float(r["reward_mean"]) for r in _rows(run)]
    assert np.mean(rewards[-3:]) > 25.0, rewards
