"""The A2C loss on tiny batches checked by hand, and its options."""

import math

import pytest
import torch

from plastic_agents.a2c import A2CConfig, a2c_loss, discounted_returns, gae_advantages


def _single_episode():
    """T=2, B=1, two actions with equal probability, rewards (1, 2), values (0.5, 1.0)."""
    logits = torch.zeros(2, 1, 2, requires_grad=True)
    values = torch.tensor([[0.5], [1.0]], requires_grad=True)
    actions = torch.tensor([[0], [1]])
    rewards = torch.tensor([[1.0], [2.0]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    return logits, values, actions, rewards, valid, torch.zeros(1)


def test_loss_matches_hand_computation():
    # gamma 0.5: R = (1 + 0.5 * 2, 2) = (2, 2); A = (1.5, 1.0); log pi = -ln 2 at both steps.
    cfg = A2CConfig(gamma=0.5, value_coef=0.1, prob_sq_coef=0.03, entropy_coef=0.2)
    loss, stats = a2c_loss(*_single_episode(), cfg)
    policy = math.log(2) * (1.5 + 1.0) / 2          # -(1/T) sum log pi * A
    value = ((2 - 0.5) ** 2 + (2 - 1.0) ** 2) / 2   # (1/T) sum (R - V)^2
    prob_sq = (0.5 + 0.5) / 2                        # (1/T) sum_t sum_a pi^2 = 0.5 per step
    entropy = math.log(2)                            # (1/T) sum_t H = ln 2 per step
    assert stats["policy_loss"] == pytest.approx(policy, rel=1e-6)
    assert stats["value_loss"] == pytest.approx(value, rel=1e-6)
    assert stats["prob_sq"] == pytest.approx(prob_sq, rel=1e-6)
    assert stats["entropy"] == pytest.approx(entropy, rel=1e-6)
    expected = policy + 0.1 * value + 0.03 * prob_sq - 0.2 * entropy
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_policy_gradient_uses_detached_advantage():
    logits, values, actions, rewards, valid, boot = _single_episode()
    cfg = A2CConfig(gamma=0.5, value_coef=0.0, prob_sq_coef=0.0)
    loss, _ = a2c_loss(logits, values, actions, rewards, valid, boot, cfg)
    loss.backward()
    assert values.grad is None or torch.all(values.grad == 0)
    # d/dlogit_k of -(1/T) A log pi(a) = -(1/T) A (1[k=a] - pi_k): step 0, a=0, A=1.5 -> (-0.375, 0.375)
    assert torch.allclose(logits.grad[0, 0], torch.tensor([-0.375, 0.375]))
    assert torch.allclose(logits.grad[1, 0], torch.tensor([0.25, -0.25]))


def test_discounted_returns_stop_at_episode_end_and_bootstrap():
    rewards = torch.tensor([[1.0, 1.0], [1.0, 5.0], [1.0, 7.0]])
    valid = torch.tensor([[True, True], [True, False], [True, False]])
    boot = torch.tensor([0.0, 10.0])
    returns = discounted_returns(rewards, valid, boot, gamma=0.5)
    # episode 0: 1 + .5(1 + .5 * 1) = 1.75; episode 1 ends after step 0: 1 + .5 * 10 = 6; invalid steps are 0.
    assert torch.allclose(returns[:, 0], torch.tensor([1.75, 1.5, 1.0]))
    assert torch.allclose(returns[:, 1], torch.tensor([6.0, 0.0, 0.0]))


def _returns_step_by_step(rewards, valid, boot, gamma):
    """The recurrence as written, one step at a time, in float64."""
    out = torch.zeros(rewards.shape, dtype=torch.float64)
    running = boot.double()
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = torch.where(valid[t], rewards[t].double() + gamma * running, boot.double())
        out[t] = running * valid[t]
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("t_len", [1, 2, 7, 200])
def test_discounted_returns_match_the_step_by_step_recurrence(gamma, t_len):
    gen = torch.Generator().manual_seed(t_len)
    rewards = torch.randn(t_len, 5, generator=gen)
    valid = torch.rand(t_len, 5, generator=gen) < 0.8          # any mask, not only episode prefixes
    valid[:, 0] = True
    boot = torch.randn(5, generator=gen)
    got = discounted_returns(rewards, valid, boot, gamma)
    assert got.dtype == rewards.dtype
    torch.testing.assert_close(got.double(), _returns_step_by_step(rewards, valid, boot, gamma),
                               rtol=1e-6, atol=1e-5)


def _gae_step_by_step(rewards, values, valid, boot, gamma, lam):
    """GAE as its recurrence reads, one step at a time, in float64."""
    out = torch.zeros(rewards.shape, dtype=torch.float64)
    next_value, next_adv = boot.double(), torch.zeros(rewards.shape[1], dtype=torch.float64)
    for t in range(rewards.shape[0] - 1, -1, -1):
        adv = rewards[t].double() + gamma * next_value - values[t].double() + gamma * lam * next_adv
        out[t] = torch.where(valid[t], adv, 0.0)
        next_value = torch.where(valid[t], values[t].double(), boot.double())
        next_adv = torch.where(valid[t], adv, 0.0)
    return out


@pytest.mark.parametrize("gamma,lam", [(0.0, 0.95), (0.9, 0.0), (0.9, 0.95), (1.0, 1.0)])
@pytest.mark.parametrize("t_len", [1, 2, 7, 200])
def test_gae_matches_the_step_by_step_recurrence(gamma, lam, t_len):
    gen = torch.Generator().manual_seed(t_len)
    rewards, values = torch.randn(t_len, 5, generator=gen), torch.randn(t_len, 5, generator=gen)
    valid = torch.rand(t_len, 5, generator=gen) < 0.8          # any mask, not only episode prefixes
    boot = torch.randn(5, generator=gen)
    got = gae_advantages(rewards, values, valid, boot, gamma, lam)
    assert got.dtype == rewards.dtype
    torch.testing.assert_close(got.double(), _gae_step_by_step(rewards, values, valid, boot, gamma, lam),
                               rtol=1e-6, atol=1e-5)


def test_invalid_steps_contribute_nothing():
    cfg = A2CConfig(entropy_coef=0.1)
    torch.manual_seed(0)
    logits, values = torch.randn(4, 3, 2), torch.randn(4, 3)
    actions, rewards = torch.randint(0, 2, (4, 3)), torch.randn(4, 3)
    valid = torch.ones(4, 3, dtype=torch.bool)
    valid[2:, 1] = False
    loss_a, _ = a2c_loss(logits, values, actions, rewards, valid, torch.zeros(3), cfg)
    garbage = logits.clone()
    garbage[2:, 1] = 100.0
    rewards2, values2 = rewards.clone(), values.clone()
    rewards2[2:, 1], values2[2:, 1] = -50.0, 33.0
    loss_b, _ = a2c_loss(garbage, values2, actions, rewards2, valid, torch.zeros(3), cfg)
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-6)


def test_gae_with_lambda_one_equals_monte_carlo_advantage():
    torch.manual_seed(1)
    rewards, values = torch.randn(6, 4), torch.randn(6, 4)
    valid = torch.ones(6, 4, dtype=torch.bool)
    valid[4:, 0] = False
    boot = torch.tensor([0.0, 1.0, -2.0, 0.5])
    mc = (discounted_returns(rewards, valid, boot, 0.9) - values) * valid
    gae = gae_advantages(rewards, values, valid, boot, 0.9, 1.0)
    assert torch.allclose(mc, gae, atol=1e-5)


def test_gae_with_lambda_zero_is_one_step_td():
    rewards = torch.tensor([[1.0], [2.0]])
    values = torch.tensor([[0.5], [0.25]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    gae = gae_advantages(rewards, values, valid, torch.tensor([4.0]), 0.5, 0.0)
    assert torch.allclose(gae[:, 0], torch.tensor([1 + 0.5 * 0.25 - 0.5, 2 + 0.5 * 4.0 - 0.25]))


def test_element0_baseline_uses_first_episode_value():
    logits = torch.zeros(1, 2, 2)
    values = torch.tensor([[1.0, 100.0]])
    actions = torch.zeros(1, 2, dtype=torch.long)
    rewards = torch.tensor([[3.0, 3.0]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    cfg = A2CConfig(baseline="element0", value_coef=0.0, prob_sq_coef=0.0)
    _, stats = a2c_loss(logits, values, actions, rewards, valid, torch.zeros(2), cfg)
    assert stats["advantage_mean"] == pytest.approx(2.0)  # both episodes use V of element 0: 3 - 1
    _, stats = a2c_loss(logits, values, actions, rewards, valid, torch.zeros(2), A2CConfig(value_coef=0.0))
    assert stats["advantage_mean"] == pytest.approx((2.0 - 97.0) / 2)


def test_element0_value_loss_regresses_element0_on_every_return_by_hand():
    """T = 1, B = 2, gamma 0: returns 2 and 4, V = (1, 5). The release's value loss is
    ((2 - 1)^2 + (4 - 1)^2) / (B T) = 5, and its gradient reaches V_0 only: dL/dV_0 = 2 ((1 - 2) + (1 - 4)) / 2 = -4."""
    values = torch.tensor([[1.0, 5.0]], requires_grad=True)
    logits = torch.zeros(1, 2, 2)
    cfg = A2CConfig(baseline="element0", gamma=0.0, value_coef=1.0, prob_sq_coef=0.0)
    loss, stats = a2c_loss(logits, values, torch.zeros(1, 2, dtype=torch.long), torch.tensor([[2.0, 4.0]]),
                           torch.ones(1, 2, dtype=torch.bool), torch.zeros(2), cfg)
    assert stats["value_loss"] == pytest.approx(5.0)
    assert stats["advantage_mean"] == pytest.approx((1.0 + 3.0) / 2)
    loss.backward()
    assert values.grad.tolist() == [[-4.0, 0.0]]
    # each episode's own value (the default): ((2 - 1)^2 + (4 - 5)^2) / 2 = 1, both trained
    values.grad = None
    loss, stats = a2c_loss(logits, values, torch.zeros(1, 2, dtype=torch.long), torch.tensor([[2.0, 4.0]]),
                           torch.ones(1, 2, dtype=torch.bool), torch.zeros(2), A2CConfig(gamma=0.0, value_coef=1.0,
                                                                                         prob_sq_coef=0.0))
    assert stats["value_loss"] == pytest.approx(1.0)
    loss.backward()
    assert values.grad.tolist() == [[-1.0, 1.0]]


def test_normalised_advantages_have_zero_mean_unit_std():
    torch.manual_seed(2)
    logits, values = torch.zeros(5, 4, 2), torch.randn(5, 4)
    rewards = torch.randn(5, 4) * 10
    valid = torch.ones(5, 4, dtype=torch.bool)
    _, stats = a2c_loss(logits, values, torch.zeros(5, 4, dtype=torch.long), rewards, valid, torch.zeros(4),
                        A2CConfig(normalize_advantage=True))
    assert abs(stats["advantage_mean"]) < 1e-5


@pytest.mark.parametrize("field,value", [("gamma", 1.5), ("lr", 0.0), ("advantage", "td"),
                                         ("baseline", "batch"), ("max_grad_norm", -1.0)])
def test_bad_settings_are_rejected_with_their_name(field, value):
    with pytest.raises(ValueError, match=field):
        A2CConfig(**{field: value})
