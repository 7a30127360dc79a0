"""The one action sampler: training rollouts, evaluation, `ActorCritic.predict` and `render` all draw through it.

Actions are drawn from softmax(logits) by the Gumbel-max trick, argmax(logits + g) with g = -log(-log U), U uniform,
which is an exact sample of the categorical distribution: with the noise drawn ahead, a step's draw is a NumPy
add and argmax (or part of the kernel's own step) instead of a softmax and a multinomial. The noise is drawn from a
torch generator in float64 (so U = 0 has probability 2^-53), one (num_envs, num_actions) step after another and
`block` steps per call; torch's CPU generator hands out its uniforms in order whatever the shape of the call, so
the actions depend only on the generator's state and on the number of steps taken, not on the block size: a
rollout (block 64) and a loop of `predict` calls (block 1) on the same observations and the same seeded generator
draw the same actions, and a run resumed from a checkpointed generator draws the same actions as the run it
continues.
"""

from __future__ import annotations

import numpy as np
import torch

#: Steps of noise a rollout draws per call to the generator.
NOISE_BLOCK = 64


class ActionSampler:
    """Actions for `num_envs` rows of `num_actions` logits: a Gumbel-max sample, or the argmax when deterministic.

    Args:
        num_envs: B, the rows of each step.
        num_actions: A, the logits of each row.
        generator: the CPU torch.Generator the noise comes from; None: torch's global generator
            (`torch.default_generator`, seeded by `torch.manual_seed`). Unused when deterministic.
        deterministic: take argmax(logits) (the most probable action) and draw nothing.
        block: steps of noise drawn per call to the generator (a block's unused steps are dropped with the sampler).
    """

    def __init__(self, num_envs: int, num_actions: int, *, generator: torch.Generator | None = None,
                 deterministic: bool = False, block: int = NOISE_BLOCK):
        self.generator = torch.default_generator if generator is None else generator
        self.deterministic = deterministic
        self.shape, self.block = (block, num_envs, num_actions), block
        self.noise_block = torch.empty(0, dtype=torch.float64)     # (block, num_envs, num_actions), drawn when needed
        self.noise_np = self.noise_block.numpy()
        self.used = block
        self.perturbed = np.empty((num_envs, num_actions))          # logits + noise of the current step

    def next_noise(self) -> tuple[torch.Tensor, int]:
        """(block, k): the Gumbel noise of the next step is block[k], (num_envs, num_actions) float64, for a caller
        that adds it to its logits and takes the argmax itself (the plastic cells' recording step does)."""
        if self.used == self.block:
            u = torch.rand(self.shape, generator=self.generator, dtype=torch.float64)
            self.noise_block = -torch.log(-torch.log(u))
            self.noise_np = self.noise_block.numpy()
            self.used = 0
        self.used += 1
        return self.noise_block, self.used - 1

    def noise(self) -> tuple:
        """The arguments a drawing kernel takes for the next step: () when deterministic (its argmax), else the
        (block, k) of `next_noise`."""
        return () if self.deterministic else self.next_noise()

    def sample(self, logits: np.ndarray) -> np.ndarray:
        """logits (num_envs, num_actions) float array -> actions (num_envs,) int64."""
        if self.deterministic:
            return logits.argmax(axis=1)
        _, k = self.next_noise()
        return np.add(logits, self.noise_np[k], out=self.perturbed).argmax(axis=1)
