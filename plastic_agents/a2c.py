"""Advantage actor-critic as the paper runs it (SPEC.md section 4), with the usual options beside it.

One update = B whole episodes, backpropagation through the whole episode, one Adam step. With the defaults the
loss is exactly the paper's, all divided by T:

    L = [ -mean_b sum_t log pi(a_t) A_t  +  value_coef * mean_b sum_t (R_t - V_t)^2
          + prob_sq_coef * mean_b sum_t sum_a pi(a)^2  -  entropy_coef * mean_b sum_t H(pi_t) ] / T

with R_t = r_t + gamma R_{t+1} (discounted Monte-Carlo, no bootstrap) and A_t = R_t - V_t detached. Steps after
an episode has ended (`valid` False) contribute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from plastic_agents.algorithm import Algorithm, NonFiniteLossError
from plastic_agents.settings import check_setting_types


@dataclass
class A2CConfig:
    """Settings of the A2C loss and optimiser. The defaults are the paper's maze settings."""

    gamma: float = 0.9
    """Discount of the returns."""
    value_coef: float = 0.1
    """Weight of the squared value error."""
    prob_sq_coef: float = 0.03
    """c: weight of the penalty on the sum of squared action probabilities (paper: 0.03 maze, 0.1 cue task)."""
    entropy_coef: float = 0.0
    """Weight of a true entropy bonus (0 in the paper, which uses the squared-probability penalty)."""
    lr: float = 1e-4
    """Adam learning rate."""
    adam_eps: float = 1e-4
    """Adam epsilon (paper: 1e-4 maze, 1e-6 cue task)."""
    max_grad_norm: float = 4.0
    """Gradient-norm clip (paper: 4.0 maze, 2.0 cue task); 0 disables it."""
    advantage: Literal["mc", "gae"] = "mc"
    """'mc': A = R - V with Monte-Carlo returns (paper); 'gae': generalised advantage estimation."""
    gae_lambda: float = 0.95
    """Lambda of GAE (only with advantage='gae')."""
    normalize_advantage: bool = False
    """Standardise the advantages over the valid steps of the batch."""
    bootstrap_truncated: bool = False
    """Add gamma * V(s_T) to the return of episodes that were truncated (the paper does not)."""
    baseline: Literal["per_episode", "element0"] = "per_episode"
    """'element0' reproduces the release's bug of using batch element 0's value for the whole batch: in the
    advantage (R_b - V_0) and in the value loss ((R_b - V_0)^2, so only element 0's value is trained)."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """'linear' decays the learning rate to 0 over the run."""
    skip_first_updates: int = 0
    """Skip the optimiser step for this many first iterations (the release skips 101)."""

    def __post_init__(self):
        check_setting_types(self, "A2C")
        checks = {
            "gamma": 0.0 <= self.gamma <= 1.0,
            "gae_lambda": 0.0 <= self.gae_lambda <= 1.0,
            "lr": self.lr > 0,
            "adam_eps": self.adam_eps > 0,
            "value_coef": self.value_coef >= 0,
            "prob_sq_coef": self.prob_sq_coef >= 0,
            "entropy_coef": self.entropy_coef >= 0,
            "max_grad_norm": self.max_grad_norm >= 0,
            "skip_first_updates": self.skip_first_updates >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"A2C setting {name}={getattr(self, name)!r} is out of range")
        choices = {
            "advantage": ("mc", "gae"),
            "baseline": ("per_episode", "element0"),
            "lr_schedule": ("constant", "linear"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"A2C setting {name}={getattr(self, name)!r}: choose one of {allowed}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _affine_scan(a: np.ndarray, c: np.ndarray, end: np.ndarray) -> np.ndarray:
    """X_t = a_t X_{t+1} + c_t for t = T-1 .. 0 with X_T = end; a, c (T, B) float64 (overwritten), end (B,).

    Solved by doubling: after the pass of stride s, (a_t, c_t) maps X_{t+s} to X_t, so log2(T) passes of whole-array
    NumPy ops instead of T steps of tiny ones."""
    stride = 1
    while stride < a.shape[0]:
        c[:-stride] += a[:-stride] * c[stride:]
        a[:-stride] *= a[stride:]
        stride *= 2
    return c + a * end


def discounted_returns(
    rewards: torch.Tensor, valid: torch.Tensor, bootstrap: torch.Tensor, gamma: float
) -> torch.Tensor:
    """R_t = r_t + gamma R_{t+1} within each episode, seeded with `bootstrap` after its last valid step.

    rewards, valid: (T, B); bootstrap: (B,). Returns (T, B) in the rewards' dtype, zero on invalid steps.
    """
    # R_t = a_t R_{t+1} + c_t with a_t = gamma v_t, c_t = v_t r_t + (1 - v_t) b, and R_T = b.
    r = rewards.detach().cpu().numpy()
    v = valid.cpu().numpy()
    b = bootstrap.detach().cpu().numpy().astype(np.float64)
    returns = _affine_scan(np.where(v, float(gamma), 0.0), np.where(v, r, b), b) * v
    return torch.as_tensor(returns.astype(r.dtype), device=rewards.device)


def gae_advantages(
    rewards: torch.Tensor, values: torch.Tensor, valid: torch.Tensor, bootstrap: torch.Tensor,
    gamma: float, lam: float,
) -> torch.Tensor:
    """Generalised advantage estimates (T, B) from rewards, detached values (T, B) and the bootstrap (B,):
    A_t = delta_t + gamma lam A_{t+1} within each episode, delta_t = r_t + gamma V'_t - V_t, where V'_t is V_{t+1}
    when step t + 1 is valid and the bootstrap after the episode's last step; zero on invalid steps."""
    r = rewards.detach().cpu().numpy()
    vals = values.detach().cpu().numpy().astype(np.float64)
    v = valid.cpu().numpy()
    b = bootstrap.detach().cpu().numpy().astype(np.float64)
    v_next = np.zeros_like(v)
    v_next[:-1] = v[1:]
    next_value = np.where(v_next, np.concatenate([vals[1:], vals[:1]]), b)
    delta = r + float(gamma) * next_value - vals
    # A_t = a_t A_{t+1} + delta_t with a_t = gamma lam v_{t+1}, A_T = 0.
    advantages = _affine_scan(np.where(v_next, float(gamma) * float(lam), 0.0), delta, np.zeros_like(b)) * v
    return torch.as_tensor(advantages.astype(r.dtype), device=rewards.device)


def a2c_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    valid: torch.Tensor,
    bootstrap: torch.Tensor,
    config: A2CConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The A2C loss of one batch of episodes and its parts.

    Args:
        logits: (T, B, A) action logits, with graph.
        values: (T, B) value estimates, with graph.
        actions: (T, B) int64 actions taken.
        rewards: (T, B) rewards received.
        valid: (T, B) bool, step belongs to the episode.
        bootstrap: (B,) value added after the last step (zeros for the paper's setting).
        config: the A2C settings.

    Returns:
        loss: scalar tensor to minimise.
        stats: the parts as floats (policy, value, prob_sq, entropy, total) plus the mean advantage.
    """
    T, B = rewards.shape
    mask = valid.to(logits.dtype)
    log_probs = F.log_softmax(logits, -1)
    probs = log_probs.exp()
    taken_log_prob = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    baseline_values = values
    if config.baseline == "element0":
        baseline_values = values[:, :1].expand(T, B)
    detached = baseline_values.detach()
    returns = discounted_returns(rewards, valid, bootstrap, config.gamma)
    if config.advantage == "gae":
        advantages = gae_advantages(rewards, detached, valid, bootstrap, config.gamma, config.gae_lambda)
        value_targets = (advantages + detached) * mask
    else:
        advantages = (returns - detached) * mask
        value_targets = returns
    if config.normalize_advantage:
        n = mask.sum().clamp(min=1)
        mean = advantages.sum() / n
        std = (((advantages - mean) * mask) ** 2).sum().div(n).sqrt()
        advantages = (advantages - mean) / (std + 1e-8) * mask

    def batch_sum(term: torch.Tensor) -> torch.Tensor:
        """sum over valid steps, mean over episodes, divided by T."""
        return (term * mask).sum() / (B * T)

    policy_loss = -batch_sum(taken_log_prob * advantages)
    # element0: the release regresses element 0's value on every episode's return, so only it is trained
    value_loss = batch_sum((value_targets - baseline_values) ** 2)
    prob_sq = batch_sum((probs ** 2).sum(-1))
    entropy = batch_sum(-(probs * log_probs).sum(-1))
    loss = (
        policy_loss
        + config.value_coef * value_loss
        + config.prob_sq_coef * prob_sq
        - config.entropy_coef * entropy
    )
    stats = {
        "loss": loss.item(),
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "prob_sq": prob_sq.item(),
        "entropy": entropy.item(),
        "advantage_mean": (advantages.sum() / mask.sum().clamp(min=1)).item(),
    }
    return loss, stats


class A2C(Algorithm):
    """The optimiser side of A2C: turns a batch of episodes into one Adam step on `policy`.

    Args:
        policy: the ActorCritic to train.
        config: loss and optimiser settings.
        total_iterations: length of the run, for the linear learning-rate schedule.
    """

    def update(self, batch, iteration: int) -> dict[str, float]:
        """One update from an `EpisodeBatch`: the policy evaluates the batch (`policy.evaluate(obs, trace)`, the
        logits and values with graph, however the rollout lets it produce them), then one optimiser step.

        Raises NonFiniteLossError (parameters untouched) when the loss or the gradient norm is not finite.
        """
        logits, values = self.policy.evaluate(batch.obs, batch.trace)
        loss, stats = a2c_loss(
            logits, values, batch.actions, batch.rewards, batch.valid, batch.bootstrap_values, self.config
        )
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"the loss is {loss.item()} at iteration {iteration}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.policy.parameters() if p.grad is not None]
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        if not torch.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLossError(f"the gradient norm is {grad_norm.item()} at iteration {iteration}")
        stats["grad_norm"] = grad_norm.item()
        lr = self.learning_rate(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        stats["lr"] = lr
        if iteration >= self.config.skip_first_updates:
            self.optimizer.step()
        return stats
