"""One rollout loop for every task and cell: B whole episodes from any Gymnasium vector env.

`collect_episodes` resets a vector env with discrete actions and flat observations (our native envs,
`gym.make_vec("CartPole-v1", n)`, a `SyncVectorEnv`, ...), runs one episode in every sub-env, carries the
recurrent state and plastic traces across steps, and returns the batch as tensors laid out time-major.

The loop acts through the policy's rollout handle (`ActorCritic.start_rollout`: actions drawn by the one
ActionSampler, no autograd graph unless `keep_graph=True`) and returns, with the batch, the handle's ActingTrace,
from which `ActorCritic.evaluate` gives the differentiable outputs however the policy produced them (see
policy.py).

Every autoreset mode of Gymnasium 1.x is handled: once a sub-env's episode has ended, its later steps are marked
invalid (`valid[t, b] = False`) and ignored by the loss, whatever the env does with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from plastic_agents.policy import ActingTrace, ActorCritic


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
        trace: the policy's ActingTrace of the rollout: `policy.evaluate(batch.obs, batch.trace)` gives the
            logits (T, B, A) and values (T, B) with autograd graph.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    valid: torch.Tensor
    truncated: torch.Tensor
    bootstrap_values: torch.Tensor
    trace: ActingTrace

    @property
    def hidden(self) -> torch.Tensor:
        """(T, B, N) hidden states x(t) seen while acting (no graph), for statistics."""
        return self.trace.hidden

    @property
    def final_state(self):
        """The trunk's CellState after the last step (its traces, for statistics)."""
        return self.trace.final_state

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
    seed: int | None = None,
    max_steps: int = 10_000,
    bootstrap_truncated: bool = False,
    keep_graph: bool = False,
    deterministic: bool = False,
) -> EpisodeBatch:
    """Reset `env` and run one episode in each of its sub-envs with `policy`.

    Args:
        env: a vector env with Discrete actions and flat Box observations.
        policy: the actor-critic; its device is taken from its parameters.
        generator: the torch Generator (on CPU) the actions are sampled from (see sampling.ActionSampler);
            checkpointing its state makes training resume exactly.
        seed: passed to `env.reset(seed=seed)` (None continues the env's own random streams).
        max_steps: a cap on the episode length; episodes still running then count as truncated.
        bootstrap_truncated: compute `bootstrap_values` for truncated episodes.
        keep_graph: build the autograd graph while acting (the trace then holds it).
        deterministic: take the most probable action instead of sampling.
    """
    check_vector_env(env)
    num_envs = env.num_envs
    obs_np, _ = env.reset(seed=seed)
    rollout = policy.start_rollout(num_envs, generator=generator, deterministic=deterministic,
                                   keep_graph=keep_graph, max_steps=max_steps)
    device = rollout.device
    on_cpu = device.type == "cpu"

    def as_obs(array) -> torch.Tensor:
        if on_cpu and type(array) is np.ndarray and array.dtype == np.float32:
            return torch.from_numpy(array)      # (as as_tensor would, without its argument parsing)
        return torch.as_tensor(array, dtype=torch.float32, device=device)

    running = np.ones(num_envs, dtype=bool)
    lengths = np.zeros(num_envs, dtype=np.int64)     # of the episodes that ended: valid[t, b] = t < lengths[b]
    truncated = np.zeros(num_envs, dtype=bool)
    bootstrap = torch.zeros(num_envs)
    obs_list, act_list, rew_list = [], [], []
    for t in range(max_steps):
        obs = as_obs(obs_np)
        actions = rollout.act(obs)
        obs_np, reward, terminated, trunc, infos = env.step(actions)
        obs_list.append(obs)
        act_list.append(actions)
        rew_list.append(np.array(reward, dtype=np.float32))     # a copy: an env may reuse its buffer

        at_cap = t + 1 == max_steps
        done = np.logical_or(terminated, trunc)
        if not at_cap and not np.count_nonzero(done):      # (a quarter of the time of done.any())
            continue
        # At the cap every running episode ends; one that did not terminate is truncated (by the env or the cap).
        ended = running & (done | at_cap)
        if not ended.any():
            continue
        lengths[ended] = t + 1
        cut = ended & ~np.asarray(terminated)
        truncated |= cut
        if bootstrap_truncated and cut.any():
            final = _final_observations(env, obs_np, infos, ended & done)      # (rows not done: obs_np)
            rows = torch.as_tensor(cut)
            bootstrap[rows] = rollout.value(as_obs(final)).float().cpu()[rows]
        running &= ~ended
        if not running.any():
            break

    steps = len(rew_list)
    valid = np.arange(steps)[:, None] < lengths[None, :]
    return EpisodeBatch(
        obs=torch.stack(obs_list),
        actions=torch.as_tensor(np.stack(act_list), device=device),
        rewards=torch.as_tensor(np.stack(rew_list) * valid, device=device),
        valid=torch.as_tensor(valid, device=device),
        truncated=torch.as_tensor(truncated, device=device),
        bootstrap_values=bootstrap.to(device),
        trace=rollout.finish(),
    )
