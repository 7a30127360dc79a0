"""The contracts of the envs in code: the TaskCore base class, registrations that carry only what differs from
the defaults, the reference levels' one home, and the limits every keyword is checked against."""

import time
import tracemalloc
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest

import plastic_envs
from plastic_envs import ENV_IDS, CueRewardCore, MazeCore, ReferenceLevels, TaskCore
from plastic_envs.base import MAX_EPISODE_LENGTH, MAX_NUM_ENVS
from plastic_envs.cue_reward import MAX_CUE_ENTRIES, MAX_CUE_SIZE, MAX_EXTRA_BLANKS, MAX_NUM_CUES
from plastic_envs.maze import MAX_MAZE_SIZE
from train import tasks

# The full configuration each id had when its registration restated every keyword: gym.make(id) must still
# build exactly this.
CONFIG_BEFORE = {
    "BackpropamineMaze-v0": {"maze_size": 11, "episode_length": 200, "reward": 10.0, "wall_penalty": 0.0,
                             "legacy_zero_input": False},
    "BackpropamineMaze-11x11-v0": {"maze_size": 13, "episode_length": 200, "reward": 10.0, "wall_penalty": 0.0,
                                   "legacy_zero_input": False},
    "BackpropamineCueReward-v0": {"num_cues": 4, "cue_size": 20, "cue_kind": "random_bipolar",
                                  "episode_length": 120, "max_extra_blanks": 3, "correct_reward": 1.0,
                                  "wrong_reward": -1.0, "legacy_zero_input": False, "outcome_input": False,
                                  "outcome_scale": 1.0, "outcome_prob": 1.0},
    "BackpropamineCueReward-Easy-v0": {"num_cues": 4, "cue_size": 4, "cue_kind": "one_hot",
                                       "episode_length": 120, "max_extra_blanks": 3, "correct_reward": 1.0,
                                       "wrong_reward": -1.0, "legacy_zero_input": False, "outcome_input": False,
                                       "outcome_scale": 1.0, "outcome_prob": 1.0},
}


# -- TaskCore ------------------------------------------------------------------------------------------------

def test_both_cores_implement_the_task_core():
    assert issubclass(MazeCore, TaskCore) and issubclass(CueRewardCore, TaskCore)
    with pytest.raises(TypeError, match="abstract"):
        TaskCore(1, 10)
    for core in (MazeCore(num_envs=3), CueRewardCore(num_envs=3)):
        assert set(core.info()) == set(core.info_dtypes)
        assert core.config() == core.defaults()
        assert core.obs.shape == (3, core.obs_layout.size) and core.obs.dtype == np.float32


def test_a_core_missing_a_hook_or_a_class_attribute_is_refused():
    class NoHooks(TaskCore):
        task_family = "x"
        num_actions = 2
        reset_option_names = ()
        info_dtypes: ClassVar[dict] = {}

    with pytest.raises(TypeError, match="abstract"):
        NoHooks(1, 10)
    hooks = {name: (lambda self, *args: None) for name in
             ("_parse_options", "_start_episodes", "_advance", "_write_obs", "_info_values", "render_rgb",
              "render_ansi")}
    attributes = {"task_family": "x", "num_actions": 2, "reset_option_names": ()}
    with pytest.raises(TypeError, match="info_dtypes"):
        type("NoInfoDtypes", (TaskCore,), hooks | attributes)
    assert issubclass(type("Complete", (TaskCore,), hooks | attributes | {"info_dtypes": {}}), TaskCore)


def test_a_minimal_task_runs_in_both_envs():
    """The contract is enough for a new task: a counter task whose reward is the action, in the single env,
    the native vector env and the Gymnasium checker."""
    from gymnasium.utils.env_checker import check_env

    from plastic_envs.base import PlasticEnv, PlasticVectorEnv, check_option_keys
    from plastic_envs.maze import maze_obs_layout

    assert check_option_keys(None, ()) == {}

    class CountCore(TaskCore):
        task_family = "count"
        num_actions = 2
        reset_option_names = ()
        info_dtypes: ClassVar[dict] = {"total": np.dtype(np.float64)}

        def __init__(self, num_envs=1, episode_length=5):
            super().__init__(num_envs, episode_length)
            self._init_state(maze_obs_layout(), reward_values=(1.0,))
            self.total = np.zeros(self.num_envs)

        def _parse_options(self, options, num_envs):
            return {}

        def _start_episodes(self, idx, keys, fixed):
            self.total[idx] = 0.0

        def _advance(self, actions):
            rewards = actions.astype(np.float64)
            self.total += rewards
            return rewards

        def _write_obs(self, rows):
            pass

        def _info_values(self):
            return {"total": self.total.copy()}

        def render_rgb(self, i):
            return np.zeros((8, 8, 3), dtype=np.uint8)

        def render_ansi(self, i):
            return f"total {self.total[i]}"

    class CountEnv(PlasticEnv):
        core_class = CountCore

    class CountVectorEnv(PlasticVectorEnv):
        core_class = CountCore

    env = CountEnv(episode_length=3)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    for _ in range(2):
        obs, r, _, trunc, info = env.step(1)
    assert r == 1.0 and not trunc and info["total"] == 2.0 and info["total"].dtype == np.float64
    assert obs[env.obs_layout.time][0] == pytest.approx(2 / 3) and obs[env.obs_layout.prev_reward][0] == 1.0
    assert env.step(0)[3]
    venv = CountVectorEnv(num_envs=2, episode_length=3)
    venv.reset(seed=0)
    *_, trunc, info = venv.step(np.array([1, 0]))
    np.testing.assert_array_equal(info["total"], [1.0, 0.0])
    assert env.core.config() == {"episode_length": 3}


# -- registrations -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registrations_carry_only_what_differs_from_the_defaults(env_id):
    spec = gym.spec(env_id)
    env = gym.make(env_id)
    core = env.unwrapped.core
    defaults = type(core).defaults()
    for key, value in spec.kwargs.items():
        assert key in defaults and defaults[key] != value, f"{env_id}: {key}={value!r} restates the default"
    assert core.config() == CONFIG_BEFORE[env_id]
    assert spec.reward_threshold == plastic_envs.reference_levels(env_id).solved


def test_registered_kwargs_are_the_documented_differences():
    kwargs = {env_id: gym.spec(env_id).kwargs for env_id in ENV_IDS}
    assert kwargs == {"BackpropamineMaze-v0": {}, "BackpropamineMaze-11x11-v0": {"maze_size": 13},
                      "BackpropamineCueReward-v0": {},
                      "BackpropamineCueReward-Easy-v0": {"cue_size": 4, "cue_kind": "one_hot"}}


# -- reference levels ------------------------------------------------------------------------------------------

def test_reference_levels_are_the_specs_and_have_one_home():
    levels = {env_id: plastic_envs.reference_levels(env_id) for env_id in ENV_IDS}
    # SPEC.md sections 2 and 3.
    assert levels["BackpropamineMaze-v0"] == ReferenceLevels(7.8, 324.0, "oracle", solved=180.0)
    assert levels["BackpropamineMaze-11x11-v0"] == ReferenceLevels(5.4, 270.0, "oracle")
    assert levels["BackpropamineCueReward-v0"] == ReferenceLevels(0.0, 16.2, "ideal observer", solved=15.0)
    assert levels["BackpropamineCueReward-Easy-v0"].best == 16.2
    assert plastic_envs.reference_levels("plastic_envs:BackpropamineMaze-v0") is levels["BackpropamineMaze-v0"]
    assert plastic_envs.reference_levels("CartPole-v1") is None
    # The training package reads them from here.
    assert tasks.REFERENCE_LEVELS == levels
    assert tasks.ReferenceLevels is ReferenceLevels


def test_task_family_comes_from_the_entry_point():
    assert [plastic_envs.task_family(env_id) for env_id in ENV_IDS] == ["maze", "maze", "cue", "cue"]
    assert plastic_envs.task_family("plastic_envs:BackpropamineCueReward-v0") == "cue"
    assert plastic_envs.task_family("CartPole-v1") == "other"
    assert plastic_envs.task_family("NoSuchEnv-v0") == "other"
    gym.register("ContractTestBigMaze-v0", entry_point="plastic_envs.maze:MazeEnv", kwargs={"maze_size": 15})
    try:
        assert plastic_envs.task_family("ContractTestBigMaze-v0") == "maze"
        assert plastic_envs.reference_levels("ContractTestBigMaze-v0") is None  # levels are per configuration
    finally:
        del gym.registry["ContractTestBigMaze-v0"]
    with pytest.raises(TypeError, match="env_id"):
        plastic_envs.reference_levels(3)


# -- limits ----------------------------------------------------------------------------------------------------

LIMIT_CASES = [
    ("maze", {"maze_size": MAX_MAZE_SIZE + 2}, "maze_size", MAX_MAZE_SIZE),
    ("maze", {"maze_size": 10**9 + 1}, "maze_size", MAX_MAZE_SIZE),
    ("maze", {"episode_length": MAX_EPISODE_LENGTH + 1}, "episode_length", MAX_EPISODE_LENGTH),
    ("maze", {"episode_length": 10**15}, "episode_length", MAX_EPISODE_LENGTH),
    ("maze", {"reward": 1e30}, "reward", "1e+06"),
    ("maze", {"wall_penalty": 1e7}, "wall_penalty", "1e+06"),
    ("maze", {"num_envs": MAX_NUM_ENVS + 1}, "num_envs", MAX_NUM_ENVS),
    ("cue", {"num_cues": 20000}, "num_cues", MAX_NUM_CUES),
    ("cue", {"num_cues": MAX_NUM_CUES + 1, "cue_size": 32}, "num_cues", MAX_NUM_CUES),
    ("cue", {"max_extra_blanks": 3000}, "max_extra_blanks", MAX_EXTRA_BLANKS),
    ("cue", {"max_extra_blanks": MAX_EXTRA_BLANKS + 1}, "max_extra_blanks", MAX_EXTRA_BLANKS),
    ("cue", {"cue_size": 10**9, "cue_kind": "one_hot"}, "cue_size", MAX_CUE_SIZE),
    ("cue", {"episode_length": 10**12}, "episode_length", MAX_EPISODE_LENGTH),
    ("cue", {"correct_reward": 1e300}, "correct_reward", "1e+06"),
    ("cue", {"wrong_reward": -1e300}, "wrong_reward", "1e+06"),
    ("cue", {"num_envs": 10**10}, "num_envs", MAX_NUM_ENVS),
    ("cue", {"num_envs": MAX_NUM_ENVS, "num_cues": 256, "cue_size": 32}, "num_cues", f"{MAX_CUE_ENTRIES:,}"),
]


@pytest.mark.parametrize("task,kwargs,keyword,limit", LIMIT_CASES)
def test_keywords_past_their_limit_are_refused_before_allocating(task, kwargs, keyword, limit):
    """One line naming the keyword and the limit, within a fraction of a second and a few MB: the check
    comes before any table or state array is built."""
    cls = {"maze": plastic_envs.MazeVectorEnv, "cue": plastic_envs.CueRewardVectorEnv}[task]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError) as err:
            cls(**kwargs)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert "\n" not in message and keyword in message and str(limit) in message, message
    assert elapsed < 1.0 and peak < 16 * 2**20, (elapsed, peak)


def test_keywords_at_their_limit_are_accepted():
    env = plastic_envs.MazeEnv(maze_size=MAX_MAZE_SIZE, episode_length=MAX_EPISODE_LENGTH, reward=1e6)
    env.reset(seed=0)
    assert env.step(0)[0].shape == (16,)
    cue = plastic_envs.CueRewardEnv(num_cues=MAX_NUM_CUES, cue_size=32, max_extra_blanks=MAX_EXTRA_BLANKS)
    obs, _ = cue.reset(seed=0)
    assert obs.shape == (38,) and len(np.unique(cue.core.cues[0, :MAX_NUM_CUES], axis=0)) == MAX_NUM_CUES
    one_hot = plastic_envs.CueRewardEnv(num_cues=4, cue_size=MAX_CUE_SIZE, cue_kind="one_hot")
    assert one_hot.reset(seed=0)[0].shape == (MAX_CUE_SIZE + 6,)


def test_gym_make_refuses_past_limits_too():
    with pytest.raises(ValueError, match="max_extra_blanks"):
        gym.make("BackpropamineCueReward-v0", max_extra_blanks=3000)
    with pytest.raises(ValueError, match="num_cues"):
        gym.make_vec("BackpropamineCueReward-v0", num_envs=2, num_cues=20000)
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec("BackpropamineMaze-v0", num_envs=10**12)
