"""The Backpropamine tasks as Gymnasium environments (see README, section Environments).

``import plastic_envs`` registers ``BackpropamineMaze-v0``, ``BackpropamineMaze-11x11-v0``,
``BackpropamineCueReward-v0`` and ``BackpropamineCueReward-Easy-v0``; ``gym.make("plastic_envs:ID")`` works
without importing first, and ``gym.make_vec(ID, num_envs=n)`` returns the native batched vector env.
``reference_levels(ID)`` gives a task's random and best reference levels, ``task_family(ID)`` its task.
A new task subclasses :class:`TaskCore` (the contract between a task and the envs).
"""

from plastic_envs.base import EpisodeOverError, ObsLayout, TaskCore
from plastic_envs.cue_reward import (
    CUE_OBS,
    CueRewardCore,
    CueRewardEnv,
    CueRewardVectorEnv,
    cue_obs_layout,
)
from plastic_envs.maze import MAZE_OBS, MazeCore, MazeEnv, MazeLayout, MazeVectorEnv, maze_obs_layout
from plastic_envs.registration import ENV_IDS, ReferenceLevels, reference_levels, register_envs, task_family

register_envs()

__all__ = [
    "CUE_OBS", "ENV_IDS", "MAZE_OBS", "CueRewardCore", "CueRewardEnv", "CueRewardVectorEnv",
    "EpisodeOverError", "MazeCore", "MazeEnv", "MazeLayout", "MazeVectorEnv", "ObsLayout", "ReferenceLevels",
    "TaskCore", "cue_obs_layout", "maze_obs_layout", "reference_levels", "register_envs", "task_family",
]
