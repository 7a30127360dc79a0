"""Proximal policy optimisation on whole episodes, for any cell kind (plastic ones included).

A recurrent plastic policy's state at step t depends on the whole episode before it (x, and the Hebbian traces
H and E), so PPO's minibatches here are sets of whole episodes, never slices of time: the rollout collects B
episodes once (`rollout.collect_episodes`), then `n_epochs` passes each split the B episodes into
`num_minibatches` random groups, and each group's sequences are evaluated again with the current parameters
(`policy.evaluate`, through the fused cells) for one clipped-surrogate step. In the first pass with a single
minibatch the parameters are still those that acted, and `evaluate` replays the rollout's recording instead of
recomputing it.

The loss of one minibatch, averaged over its valid steps (CleanRL's ppo.py and SB3's PPO, whose defaults these are
where they fit):

    ratio = pi(a|s) / pi_old(a|s),  A = GAE advantages (normalised per minibatch when asked)
    L_clip = -mean( min(ratio A, clip(ratio, 1 - eps, 1 + eps) A) )
    L_V    = mean( (V - R)^2 ), or with clip_range_vf: mean( max((V - R)^2, (V_old + clip(V - V_old) - R)^2) )
    L      = L_clip + value_coef L_V - entropy_coef H(pi) + prob_sq_coef sum_a pi(a)^2

with R = A + V_old the GAE returns. `target_kl` stops the update (before the step) once the approximate KL
divergence of a minibatch exceeds 1.5 x target_kl, as SB3 does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from plastic_agents.a2c import gae_advantages
from plastic_agents.algorithm import Algorithm, NonFiniteLossError
from plastic_agents.settings import check_setting_types


@dataclass
class PPOConfig:
    """Settings of PPO. Defaults follow SB3's PPO and CleanRL's ppo.py where they fit whole-episode batches."""

    lr: float = 3e-4
    """Adam learning rate."""
    adam_eps: float = 1e-5
    """Adam epsilon (CleanRL's)."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """'linear' anneals the learning rate to 0 over the run (CleanRL's anneal_lr)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """Lambda of the generalised advantage estimates (1: Monte-Carlo returns minus V)."""
    n_epochs: int = 4
    """Passes over the batch per update."""
    num_minibatches: int = 4
    """Minibatches of whole episodes per pass (the batch size must be at least this)."""
    clip_range: float = 0.2
    """Clip of the probability ratio (epsilon); 0 disables clipping (the plain policy-gradient surrogate)."""
    clip_range_vf: float | None = None
    """Clip of the value change around the old value; None: unclipped value loss (SB3's default)."""
    normalize_advantage: bool = True
    """Standardise the advantages within each minibatch."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    prob_sq_coef: float = 0.0
    """Weight of the paper's penalty on the sum of squared action probabilities (0: off)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip; 0 disables it."""
    target_kl: float | None = None
    """Stop the update when a minibatch's approximate KL exceeds 1.5 x target_kl; None: never."""
    bootstrap_truncated: bool = True
    """Bootstrap truncated episodes with V of the observation after their last step."""

    def __post_init__(self):
        check_setting_types(self, "PPO")
        checks = {
            "lr": self.lr > 0,
            "adam_eps": self.adam_eps > 0,
            "gamma": 0.0 <= self.gamma <= 1.0,
            "gae_lambda": 0.0 <= self.gae_lambda <= 1.0,
            "n_epochs": 1 <= self.n_epochs <= 1000,
            "num_minibatches": 1 <= self.num_minibatches <= 65_536,
            "clip_range": self.clip_range >= 0,
            "clip_range_vf": self.clip_range_vf is None or self.clip_range_vf > 0,
            "value_coef": self.value_coef >= 0,
            "entropy_coef": self.entropy_coef >= 0,
            "prob_sq_coef": self.prob_sq_coef >= 0,
            "max_grad_norm": self.max_grad_norm >= 0,
            "target_kl": self.target_kl is None or self.target_kl > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"PPO setting {name}={getattr(self, name)!r} is out of range")
        if self.lr_schedule not in ("constant", "linear"):
            raise ValueError(f"PPO setting lr_schedule={self.lr_schedule!r}: choose one of ('constant', 'linear')")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def episode_minibatches(batch_size: int, num_minibatches: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random split of the episodes 0 .. batch_size - 1 into num_minibatches groups of sizes that differ by at
    most one: every episode in exactly one group."""
    if not 1 <= num_minibatches <= batch_size:
        raise ValueError(f"num_minibatches={num_minibatches} needs 1 <= it <= the batch size {batch_size}")
    return np.array_split(rng.permutation(batch_size), num_minibatches)


def ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    valid: torch.Tensor,
    old_log_probs: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    config: PPOConfig,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO loss of one minibatch of E episodes over T steps, averaged over its valid steps.

    Args:
        logits: (T, E, A) action logits with graph; values: (T, E) with graph.
        actions: (T, E) int64 actions taken; valid: (T, E) bool.
        old_log_probs: (T, E) log pi_old(a_t) of the policy that acted; old_values: (T, E) its values.
        advantages: (T, E) advantage estimates (normalised here when the config asks); returns: (T, E) value
            targets.
        config: the PPO settings.

    Returns the loss and its parts as 0-d tensors (detached): policy_loss, value_loss, entropy, prob_sq,
    approx_kl ((ratio - 1) - log ratio, the estimator of CleanRL and SB3), clip_fraction.
    """
    mask = valid.to(logits.dtype)
    n = mask.sum().clamp(min=1)

    def mean(term: torch.Tensor) -> torch.Tensor:
        return (term * mask).sum() / n

    log_probs = F.log_softmax(logits, -1)
    probs = log_probs.exp()
    new_log_prob = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    log_ratio = (new_log_prob - old_log_probs) * mask
    ratio = log_ratio.exp()
    if config.normalize_advantage:
        centred = advantages - mean(advantages)
        advantages = centred / (mean(centred ** 2).sqrt() + 1e-8)
    surrogate = ratio * advantages
    if config.clip_range > 0:
        clipped = ratio.clamp(1 - config.clip_range, 1 + config.clip_range) * advantages
        surrogate = torch.minimum(surrogate, clipped)
    policy_loss = -mean(surrogate)
    value_error = (values - returns) ** 2
    if config.clip_range_vf is not None:
        clipped_values = old_values + (values - old_values).clamp(-config.clip_range_vf, config.clip_range_vf)
        value_error = torch.maximum(value_error, (clipped_values - returns) ** 2)
    value_loss = mean(value_error)
    entropy = mean(-(probs * log_probs).sum(-1))
    prob_sq = mean((probs ** 2).sum(-1))
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy + config.prob_sq_coef * prob_sq
    with torch.no_grad():
        parts = {
            "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(), "entropy": entropy.detach(),
            "prob_sq": prob_sq.detach(), "approx_kl": mean((ratio - 1) - log_ratio),
            "clip_fraction": mean(((ratio - 1).abs() > config.clip_range).to(mask.dtype))
            if config.clip_range > 0 else torch.zeros(()),
        }
    return loss, parts


def explained_variance(predicted: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target) over the valid steps (nan when the targets do not vary)."""
    y, p = target[valid].double(), predicted[valid].double()
    var = y.var(unbiased=False) if y.numel() else torch.zeros((), dtype=torch.float64)
    return float("nan") if var == 0 else float(1 - (y - p).var(unbiased=False) / var)


class PPO(Algorithm):
    """The optimiser side of PPO: turns a batch of whole episodes into n_epochs x num_minibatches Adam steps.

    Args:
        policy: the ActorCritic to train (anything with `evaluate(obs_seq, trace)` and `parameters()`).
        config: the PPO settings.
        total_iterations: length of the run, for the linear learning-rate schedule.
        seed: with the iteration and the epoch, it draws the split of episodes into minibatches (so the split needs
            no state of its own, and a resumed run draws the same splits).
    """

    def __init__(self, policy, config: PPOConfig, total_iterations: int, seed: int = 0):
        super().__init__(policy, config, total_iterations)
        self.seed = int(seed)

    def update(self, batch, iteration: int) -> dict[str, float]:
        """One PPO update from an `EpisodeBatch`. Returns the means over the minibatch steps taken of the loss
        parts, approx_kl and clip_fraction, with grad_norm, lr, explained_variance and the number of epochs run.

        Raises NonFiniteLossError (the step that would have used it not taken) when a loss or gradient norm is not
        finite.
        """
        cfg = self.config
        batch_size = batch.obs.shape[1]
        with torch.no_grad():
            old_logits, old_values = self.policy.evaluate(batch.obs, batch.trace)
            old_logits, old_values = old_logits.detach(), old_values.detach()
            old_log_probs = F.log_softmax(old_logits, -1).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        advantages = gae_advantages(batch.rewards, old_values, batch.valid, batch.bootstrap_values, cfg.gamma,
                                    cfg.gae_lambda)
        returns = (advantages + old_values) * batch.valid
        lengths = batch.valid.sum(0)
        lr = self.learning_rate(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
        params = [p for p in self.policy.parameters() if p.requires_grad]
        sums: dict[str, float] = {}
        steps, epochs_run, stop = 0, 0, False
        for epoch in range(cfg.n_epochs):
            rng = np.random.default_rng([self.seed, iteration, epoch])
            for group in episode_minibatches(batch_size, cfg.num_minibatches, rng):
                if cfg.num_minibatches == 1 and epoch == 0:
                    idx, t_len = slice(None), batch.obs.shape[0]    # the whole batch: the rollout's own trace
                    logits, values = self.policy.evaluate(batch.obs, batch.trace)
                else:
                    idx = torch.as_tensor(np.sort(group), device=batch.obs.device)
                    t_len = int(lengths[idx].max())     # the steps after the group's longest episode are all invalid
                    logits, values = self.policy.evaluate(batch.obs[:t_len, idx])
                loss, parts = ppo_loss(logits, values, batch.actions[:t_len, idx], batch.valid[:t_len, idx],
                                       old_log_probs[:t_len, idx], old_values[:t_len, idx],
                                       advantages[:t_len, idx], returns[:t_len, idx], cfg)
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(f"the loss is {loss.item()} at iteration {iteration}")
                if cfg.target_kl is not None and parts["approx_kl"].item() > 1.5 * cfg.target_kl:
                    stop = True
                    break
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
                if not torch.isfinite(grad_norm):
                    self.optimizer.zero_grad(set_to_none=True)
                    raise NonFiniteLossError(f"the gradient norm is {grad_norm.item()} at iteration {iteration}")
                self.optimizer.step()
                steps += 1
                for key, value in (("loss", loss.detach()), ("grad_norm", grad_norm), *parts.items()):
                    sums[key] = sums.get(key, 0.0) + float(value)
            if stop:
                break
            epochs_run += 1
        stats = {key: value / max(steps, 1) for key, value in sums.items()}
        if steps == 0:      # the first minibatch already exceeded target_kl (possible only with a tiny target_kl)
            stats = dict.fromkeys(("loss", "grad_norm", "policy_loss", "value_loss", "entropy", "prob_sq",
                                   "approx_kl", "clip_fraction"), float("nan"))
        stats.update(lr=lr, epochs=float(epochs_run), minibatch_steps=float(steps),
                     explained_variance=explained_variance(old_values, returns, batch.valid))
        return stats
