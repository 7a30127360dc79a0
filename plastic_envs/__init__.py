"""The Backpropamine tasks as Gymnasium environments (see README, section Environments).

``import plastic_envs`` registers ``BackpropamineMaze-v0``, ``BackpropamineMaze-11x11-v0``,
``BackpropamineCueReward-v0`` and ``BackpropamineCueReward-Easy-v0``; ``gym.make("plastic_envs:ID")`` works
without importing first, and ``gym.make_vec(ID, num_envs=n)`` returns the native batched vector env.
"""

from plastic_envs.base import EpisodeOverError, ObsLayout
from plastic_envs.cue_reward import (
    CUE_OBS,
    CueRewardCore,
    CueRewardEnv,
    CueRewardVectorEnv,
    cue_obs_layout,
)
from plastic_envs.maze import MAZE_OBS, MazeCore, MazeEnv, MazeLayout, MazeVectorEnv, maze_obs_layout
from plastic_envs.registration import ENV_IDS, register_envs

register_envs()

__all__ = [
    "CUE_OBS", "ENV_IDS", "MAZE_OBS", "CueRewardCore", "CueRewardEnv", "CueRewardVectorEnv",
    "EpisodeOverError", "MazeCore", "MazeEnv", "MazeLayout", "MazeVectorEnv", "ObsLayout",
    "cue_obs_layout", "maze_obs_layout", "register_envs",
]
