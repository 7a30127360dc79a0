"""One rollout loop for every task and cell: B whole episodes from any Gymnasium vector env.

`collect_episodes` resets a vector env with discrete actions and flat observations (our native envs,
`gym.make_vec("CartPole-v1", n)`, a `SyncVectorEnv`, ...), runs one episode in every sub-env, carries the
recurrent state and plastic traces across steps, and returns the batch as tensors laid out time-major.

Acting normally runs under `torch.no_grad()`, so no autograd graph is built step by step. The plastic RNN cells
on the CPU kernel record the rollout as they act (cells/recording.py: traces updated in place, checkpoints kept)
and the update replays it, running only the fused backward; the other cells recompute the whole sequence with
gradients in `ActorCritic.forward_sequence` when the loss is formed. With `keep_graph=True` the graph is built
while acting instead (the naive way, kept for benchmarks and for cells that have no sequence kernel).

Every autoreset mode of Gymnasium 1.x is handled: once a sub-env's episode has ended, its later steps are marked
invalid (`valid[t, b] = False`) and ignored by the loss, whatever the env does with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from plastic_agents.cells.recording import Recording, start_recording
from plastic_agents.policy import ActorCritic

#: Steps a recording is first sized for (it grows when an episode runs longer).
RECORDING_STEPS = 256


class GumbelSampler:
    """Draws actions from softmax(logits) by the Gumbel-max trick: argmax(logits + g), g = -log(-log U) with U
    uniform, which is an exact sample of the categorical distribution.

    The noise for `block` steps of `num_envs` x `num_actions` is drawn from the torch `generator` in one call
    (float64, so U = 0 has probability 2^-53), which makes a step's sampling a NumPy add and argmax instead of a
    softmax and a multinomial per step (on the recording path the kernel's acting step adds the noise and takes
    the argmax itself, see `next_noise`). The draws depend only on the generator's state and on how many steps were
    taken, so a run resumed from a checkpointed generator samples the same actions.
    """

    def __init__(self, generator: torch.Generator, num_envs: int, num_actions: int, block: int = 64):
        self.generator, self.shape, self.block = generator, (block, num_envs, num_actions), block
        self.noise = torch.empty(0, dtype=torch.float64)      # (block, num_envs, num_actions), drawn when needed
        self.noise_np = self.noise.numpy()
        self.used = block
        self.perturbed = np.empty((num_envs, num_actions))     # logits + noise of the current step

    def next_noise(self) -> tuple[torch.Tensor, int]:
        """(block, k): the noise of the next step is block[k], (num_envs, num_actions) float64 (for a caller that
        adds it and takes the argmax itself, as the recording's acting step does)."""
        if self.used == self.block:
            u = torch.rand(self.shape, generator=self.generator, dtype=torch.float64)
            self.noise = -torch.log(-torch.log(u))
            self.noise_np = self.noise.numpy()
            self.used = 0
        self.used += 1
        return self.noise, self.used - 1

    def sample(self, logits: np.ndarray) -> np.ndarray:
        """logits (num_envs, num_actions) float array -> actions (num_envs,) int64."""
        _, k = self.next_noise()
        return np.add(logits, self.noise_np[k], out=self.perturbed).argmax(axis=1)


@dataclass
class EpisodeBatch:
    """B episodes, one per sub-env, time-major. T is the length of the longest episode (or the step cap).

    Attributes:
        obs: (T, B, obs_size) float32, the observation the policy acted on at step t.
        actions: (T, B) int64, the action taken at step t.
        rewards: (T, B) float32, the reward received for that action.
        valid: (T, B) bool, step t belongs to sub-env b's episode (False once it has ended).
        truncated: (B,) bool, the episode ended by truncation or by the step cap, not by termination.
        bootstrap_values: (B,) float32, V of the observation after the last step where the episode was
            truncated and bootstrapping was asked for; 0 elsewhere.
        hidden: (T, B, N) hidden states x(t) seen while acting (no graph), for statistics.
        final_state: the cell state after the last step (traces for statistics).
        logits: (T, B, A) with autograd graph when collected with `keep_graph=True`, else None.
        values: (T, B) with autograd graph when collected with `keep_graph=True`, else None.
        recording: the cell's Recording of the rollout when it made one (see cells/recording.py), else None;
            `ActorCritic.replay` turns it into the differentiable sequence without recomputing the forward.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    valid: torch.Tensor
    truncated: torch.Tensor
    bootstrap_values: torch.Tensor
    hidden: torch.Tensor
    final_state: object
    logits: Optional[torch.Tensor] = None
    values: Optional[torch.Tensor] = None
    recording: Optional[Recording] = None

    @property
    def episode_returns(self) -> torch.Tensor:
        """(B,) undiscounted reward of each episode."""
        return (self.rewards * self.valid).sum(0)

    @property
    def episode_lengths(self) -> torch.Tensor:
        """(B,) number of steps of each episode."""
        return self.valid.sum(0)


def check_vector_env(env: gym.vector.VectorEnv) -> tuple[int, int]:
    """Return (obs_size, num_actions) of a vector env, or raise a ValueError saying why the loop cannot drive it."""
    if not isinstance(env, gym.vector.VectorEnv):
        raise ValueError(
            f"expected a gymnasium.vector.VectorEnv (e.g. from gym.make_vec), got {type(env).__name__}"
        )
    obs_space, act_space = env.single_observation_space, env.single_action_space
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"the rollout loop needs a Discrete action space, this env has {act_space}")
    if int(act_space.start) != 0:
        raise ValueError(f"Discrete action spaces must start at 0, this one starts at {act_space.start}")
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(f"the rollout loop needs a flat Box observation space, this env has {obs_space}")
    return int(obs_space.shape[0]), int(act_space.n)


def _final_observations(env, next_obs: np.ndarray, infos: dict, ended: np.ndarray) -> np.ndarray:
    """The observation after the last step of each episode that just ended (rows where `ended`)."""
    mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode == AutoresetMode.SAME_STEP and "final_obs" in infos:
        final = next_obs.copy()
        for b in np.flatnonzero(ended & infos.get("_final_obs", ended)):
            final[b] = infos["final_obs"][b]
        return final
    return next_obs


def collect_episodes(
    env: gym.vector.VectorEnv,
    policy: ActorCritic,
    *,
    generator: torch.Generator,
    seed: Optional[int] = None,
    max_steps: int = 10_000,
    bootstrap_truncated: bool = False,
    keep_graph: bool = False,
    deterministic: bool = False,
) -> EpisodeBatch:
    """Reset `env` and run one episode in each of its sub-envs with `policy`.

    Args:
        env: a vector env with Discrete actions and flat Box observations.
        policy: the actor-critic; its device is taken from its parameters.
        generator: the torch Generator (on CPU) the actions are sampled from (see GumbelSampler);
            checkpointing its state makes training resume exactly.
        seed: passed to `env.reset(seed=seed)` (None continues the env's own random streams).
        max_steps: a cap on the episode length; episodes still running then count as truncated.
        bootstrap_truncated: compute `bootstrap_values` for truncated episodes.
        keep_graph: build the autograd graph while acting and return `logits` and `values` with it.
        deterministic: take the most probable action instead of sampling.
    """
    check_vector_env(env)
    device = next(policy.parameters()).device
    on_cpu = device.type == "cpu"
    num_envs = env.num_envs
    obs_np, _ = env.reset(seed=seed)
    recording = None if keep_graph else start_recording(policy.cell, num_envs, min(max_steps, RECORDING_STEPS),
                                                        readout=policy.policy_head)
    state = policy.initial_state(num_envs, device=device) if recording is None else None

    running = np.ones(num_envs, dtype=bool)
    lengths = np.zeros(num_envs, dtype=np.int64)     # of the episodes that ended: valid[t, b] = t < lengths[b]
    truncated = np.zeros(num_envs, dtype=bool)
    bootstrap = torch.zeros(num_envs)
    obs_list, act_list, rew_list, hid_list, logit_list, value_list = [], [], [], [], [], []

    sampler = None if deterministic else GumbelSampler(generator, num_envs, policy.num_actions)
    actions_np = None if recording is None else recording.actions.numpy()   # drawn in place by each step
    grad_mode = torch.enable_grad() if keep_graph else torch.no_grad()
    with grad_mode:
        for t in range(max_steps):
            if on_cpu and type(obs_np) is np.ndarray and obs_np.dtype == np.float32:
                obs = torch.from_numpy(obs_np)      # (as as_tensor would, without its argument parsing: 0.7 us, not 2)
            else:
                obs = torch.as_tensor(obs_np, dtype=torch.float32, device=device)
            if recording is None:
                logits, value, x, state = policy.step(obs, state)
                hid_list.append(x.detach())
                logits_np = logits.detach().cpu().numpy()
                actions = logits_np.argmax(1) if sampler is None else sampler.sample(logits_np)
            else:
                recording.step(obs, *(() if sampler is None else sampler.next_noise()))
                actions = actions_np.copy()
            obs_np, reward, terminated, trunc, infos = env.step(actions)

            obs_list.append(obs)
            act_list.append(actions)
            rew_list.append(np.array(reward, dtype=np.float32))     # a copy: an env may reuse its buffer
            if keep_graph:
                logit_list.append(logits)
                value_list.append(value)

            done = np.logical_or(terminated, trunc)
            if not np.count_nonzero(done):      # (a quarter of the time of done.any())
                continue
            ended = running & done
            if not ended.any():
                continue
            lengths[ended] = t + 1
            cut = ended & np.asarray(trunc) & ~np.asarray(terminated)
            truncated |= cut
            if bootstrap_truncated and cut.any():
                state = state if recording is None else recording.state()
                final = _final_observations(env, obs_np, infos, ended)
                with torch.no_grad():
                    _, final_value, _, _ = policy.step(
                        torch.as_tensor(final, dtype=torch.float32, device=device), state
                    )
                rows = torch.as_tensor(cut)
                bootstrap[rows] = final_value.float().cpu()[rows]
            running &= ~ended
            if not running.any():
                break
        else:
            truncated |= running
            if bootstrap_truncated:
                state = state if recording is None else recording.state()
                with torch.no_grad():
                    _, final_value, _, _ = policy.step(
                        torch.as_tensor(obs_np, dtype=torch.float32, device=device), state
                    )
                rows = torch.as_tensor(running)
                bootstrap[rows] = final_value.float().cpu()[rows]

    steps = len(rew_list)
    lengths[running] = steps
    valid = np.arange(steps)[:, None] < lengths[None, :]
    return EpisodeBatch(
        obs=torch.stack(obs_list),
        actions=torch.as_tensor(np.stack(act_list), device=device),
        rewards=torch.as_tensor(np.stack(rew_list) * valid, device=device),
        valid=torch.as_tensor(valid, device=device),
        truncated=torch.as_tensor(truncated, device=device),
        bootstrap_values=bootstrap.to(device),
        hidden=torch.stack(hid_list) if recording is None else recording.x_seq,
        final_state=state if recording is None else recording.state(),
        logits=torch.stack(logit_list) if keep_graph else None,
        values=torch.stack(value_list) if keep_graph else None,
        recording=recording,
    )
