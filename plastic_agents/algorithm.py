"""The contract between the trainer and a learning algorithm, and what A2C and PPO share.

An algorithm turns a batch of whole episodes (`rollout.EpisodeBatch`) into optimiser steps on the policy, asking the
policy to evaluate the batch (`policy.evaluate(obs, trace)`) and never how it produced its outputs. The trainer
calls only `update(batch, iteration)`, and checkpoints `optimizer`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm of an update was NaN or infinite; the parameters were left unchanged."""


def adam_optimizer(params: list, lr: float, eps: float) -> torch.optim.Adam:
    """Adam, in its fused implementation where this torch has one for these parameters (torch >= 2.4 on the CPU:
    one kernel for all the parameters instead of a dozen ops each), else the default."""
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, eps=eps)


class Algorithm(ABC):
    """Adam on `policy`'s parameters with the settings `config` (which has lr, adam_eps and lr_schedule).

    Args:
        policy: the ActorCritic to train.
        config: the algorithm's settings dataclass.
        total_iterations: length of the run, for the linear learning-rate schedule.
    """

    def __init__(self, policy, config, total_iterations: int):
        self.policy = policy
        self.config = config
        self.total_iterations = max(1, int(total_iterations))
        self.optimizer = adam_optimizer(list(policy.parameters()), config.lr, config.adam_eps)

    def learning_rate(self, iteration: int) -> float:
        """The learning rate of update `iteration` (0-based) under the configured schedule."""
        if self.config.lr_schedule == "linear":
            return self.config.lr * max(0.0, 1.0 - iteration / self.total_iterations)
        return self.config.lr

    @abstractmethod
    def update(self, batch, iteration: int) -> dict[str, float]:
        """Learn from one `EpisodeBatch` (update number `iteration`, 0-based); returns the statistics to log: at
        least loss, policy_loss, value_loss, prob_sq, entropy, grad_norm and lr. Raises NonFiniteLossError, with
        the parameters untouched by the failing step, when a loss or gradient norm is not finite."""
