"""Registration of the package's environments with Gymnasium (run by ``import plastic_envs``), and what each
registered task's numbers mean: its reference levels.

Each registration lists only the keywords that differ from the constructor's defaults (Gymnasium's own
``envs/__init__.py`` style), so the defaults live in one place, the constructors. Episodes have a fixed
length that the envs truncate themselves, so the specs carry no ``max_episode_steps`` (no TimeLimit
wrapper); change the length with ``episode_length=``, or cut it with ``max_episode_steps=`` at make time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator


@dataclass(frozen=True)
class ReferenceLevels:
    """Reward per episode of a task's reference agents (SPEC.md sections 2 and 3).

    random: a uniform random policy. best: the best possible agent known (``best_name``: an oracle that
    knows the maze's reward square from step 0, or the cue task's ideal Bayesian observer); None when
    unknown. solved: the level a trained agent reached in the spec's runs, the spec's ``reward_threshold``;
    None when the spec reports no trained agent on this configuration.
    """

    random: float
    best: float | None
    best_name: str
    solved: float | None = None


@dataclass(frozen=True)
class Registration:
    """One registered id: entry points, the keywords that differ from the constructor's defaults, levels."""

    entry_point: str
    vector_entry_point: str
    levels: ReferenceLevels
    kwargs: dict[str, Any] = field(default_factory=dict)


_MAZE = ("plastic_envs.maze:MazeEnv", "plastic_envs.maze:MazeVectorEnv")
_CUE = ("plastic_envs.cue_reward:CueRewardEnv", "plastic_envs.cue_reward:CueRewardVectorEnv")

#: id -> its registration. The levels are the spec's (tests/test_envs_maze.py::test_reference_levels and
#: tests/test_envs_cue_reward.py::test_ideal_observer_reaches_the_spec_level reproduce them). ``solved``:
#: the maze's 180 is a level the spec's public re-run of ``modplast`` passed on its way to 193; the cue
#: task's 15 the low end of the release's trained ``modul`` networks (15 to 18).
REGISTRATIONS: dict[str, Registration] = {
    "BackpropamineMaze-v0": Registration(*_MAZE, ReferenceLevels(7.8, 324.0, "oracle", solved=180.0)),
    "BackpropamineMaze-11x11-v0": Registration(*_MAZE, ReferenceLevels(5.4, 270.0, "oracle"),
                                               {"maze_size": 13}),
    "BackpropamineCueReward-v0": Registration(*_CUE, ReferenceLevels(0.0, 16.2, "ideal observer",
                                                                     solved=15.0)),
    # The ideal observer tells cues apart by their vectors, so the easy cues do not change its level.
    "BackpropamineCueReward-Easy-v0": Registration(*_CUE, ReferenceLevels(0.0, 16.2, "ideal observer"),
                                                   {"cue_size": 4, "cue_kind": "one_hot"}),
}

#: Every id this package registers.
ENV_IDS: tuple[str, ...] = tuple(REGISTRATIONS)


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with Gymnasium (ids already registered are left alone)."""
    for env_id, reg in REGISTRATIONS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=reg.entry_point, vector_entry_point=reg.vector_entry_point,
                     kwargs=dict(reg.kwargs), max_episode_steps=None, reward_threshold=reg.levels.solved)


def _registered_name(env_id: str) -> str:
    """``env_id`` without Gymnasium's ``module:`` prefix (the module is not imported)."""
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
    return env_id.split(":")[-1]


def reference_levels(env_id: str) -> ReferenceLevels | None:
    """The reference levels of a registered id of this package (``module:`` prefix allowed), else None."""
    reg = REGISTRATIONS.get(_registered_name(env_id))
    return None if reg is None else reg.levels


def task_family(env_id: str) -> str:
    """The task behind a registered id, read from its entry point's core: "maze", "cue", or "other" for ids
    that are not registered or whose env is not one of this package's."""
    name = _registered_name(env_id)
    if name not in gym.registry:
        return "other"
    entry = gym.registry[name].entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    core_class = getattr(creator, "core_class", None)
    return getattr(core_class, "task_family", "other")
