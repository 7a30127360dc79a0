"""Registration of the package's environments with Gymnasium (run by ``import plastic_envs``)."""

from __future__ import annotations

import gymnasium as gym

#: id -> (single entry point, vector entry point, spec kwargs). Kwargs are JSON-friendly.
ENV_SPECS: dict[str, tuple[str, str, dict]] = {
    "BackpropamineMaze-v0": (
        "plastic_envs.maze:MazeEnv", "plastic_envs.maze:MazeVectorEnv",
        {"maze_size": 11, "episode_length": 200, "reward": 10.0, "wall_penalty": 0.0,
         "legacy_zero_input": False},
    ),
    "BackpropamineMaze-11x11-v0": (
        "plastic_envs.maze:MazeEnv", "plastic_envs.maze:MazeVectorEnv",
        {"maze_size": 13, "episode_length": 200, "reward": 10.0, "wall_penalty": 0.0,
         "legacy_zero_input": False},
    ),
    "BackpropamineCueReward-v0": (
        "plastic_envs.cue_reward:CueRewardEnv", "plastic_envs.cue_reward:CueRewardVectorEnv",
        {"num_cues": 4, "cue_size": 20, "cue_kind": "random_bipolar", "episode_length": 120,
         "max_extra_blanks": 3, "correct_reward": 1.0, "wrong_reward": -1.0, "legacy_zero_input": False,
         "outcome_input": False, "outcome_scale": 1.0},
    ),
    "BackpropamineCueReward-Easy-v0": (
        "plastic_envs.cue_reward:CueRewardEnv", "plastic_envs.cue_reward:CueRewardVectorEnv",
        {"num_cues": 4, "cue_size": 4, "cue_kind": "one_hot", "episode_length": 120,
         "max_extra_blanks": 3, "correct_reward": 1.0, "wrong_reward": -1.0, "legacy_zero_input": False,
         "outcome_input": False, "outcome_scale": 1.0},
    ),
}

#: Every id this package registers.
ENV_IDS: tuple[str, ...] = tuple(ENV_SPECS)


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with Gymnasium (ids already registered are left alone).

    Episodes have a fixed length and the envs truncate them themselves, so the specs carry no
    ``max_episode_steps`` (no TimeLimit wrapper); change the length with ``episode_length=``.
    """
    for env_id, (entry, vector_entry, kwargs) in ENV_SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry, vector_entry_point=vector_entry,
                     kwargs=dict(kwargs), max_episode_steps=None)
