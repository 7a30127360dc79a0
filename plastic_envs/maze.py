"""The grid maze of Backpropamine (SPEC section 2): find an invisible reward square, get teleported, find
it again. The rules are in :class:`MazeEnv`'s docstring; :class:`MazeCore` runs them for a batch of episodes.

Random numbers (see :mod:`plastic_envs.rng`): counter 0 draws the reward square, counter 1 + t the
teleport after a hit at step t (t = 0 for the first step).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from plastic_envs.base import (
    MAX_ABS_REWARD,
    ObsLayout,
    PlasticEnv,
    PlasticVectorEnv,
    TaskCore,
    check_bool,
    check_float,
    check_int,
    per_env_array,
)
from plastic_envs.rendering import AGENT, FLOOR, GOAL, WALL, Canvas, reward_color
from plastic_envs.rng import hash64, uniform_int

#: Largest maze side L (border included): the lookup tables grow as L**2 and a frame has L**2 squares.
MAX_MAZE_SIZE = 255
#: Action indices and names.
UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
ACTION_NAMES = ("up", "down", "left", "right")
#: (row, col) displacement of each action.
ACTION_DELTAS = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)], dtype=np.int64)
NUM_ACTIONS = 4


def maze_obs_layout(legacy_zero_input: bool = False) -> ObsLayout:
    """Observation layout of the maze (16 values, 17 with the release's always-zero input at the end)."""
    fields = [
        ("walls", slice(0, 9),
         "3x3 wall patch around the agent, row-major (1 = wall; index 4, the agent's square, is 0)"),
        ("bias", slice(9, 10), "bias, always 1"),
        ("time", slice(10, 11), "t / T (t = steps taken so far)"),
        ("prev_reward", slice(11, 12), "reward received at the previous step (0 at t = 0)"),
        ("prev_action", slice(12, 16), "one-hot of the previous action up/down/left/right (all 0 at t = 0)"),
    ]
    if legacy_zero_input:
        fields.append(("legacy_zero", slice(16, 17),
                       "always 0 (release compatibility, legacy_zero_input=True)"))
    return ObsLayout(fields)


#: The default layout (16 values).
MAZE_OBS = maze_obs_layout()


class MazeLayout:
    """The fixed maze of size L and the lookup tables the core steps with.

    Attributes (K = number of open squares, squares are numbered 0..K-1 in row-major order):
      size: L; walls: bool (L, L), True = wall or pillar; open_rc: int64 (K, 2) row/col of each open square;
      index: int64 (L, L), open-square number or -1; centre: the centre's open-square number;
      next_square: int64 (K, 4) square reached by each action; bump: bool (K, 4) True where the action hits a
      wall (then next_square is the same square); patch: float32 (K, 9) the 3x3 wall patch, row-major.
    """

    def __init__(self, size: int):
        size = check_int("maze_size", size, maximum=MAX_MAZE_SIZE)
        if size < 5 or size % 2 == 0:
            raise ValueError(f"maze_size must be an odd integer >= 5 (border included), got {size}")
        self.size = size
        rows, cols = np.indices((size, size))
        border = (rows == 0) | (cols == 0) | (rows == size - 1) | (cols == size - 1)
        pillars = (rows % 2 == 0) & (cols % 2 == 0) & ~border
        walls = border | pillars
        walls[size // 2, size // 2] = False
        self.walls = walls
        self.open_rc = np.argwhere(~walls).astype(np.int64)
        self.index = np.full((size, size), -1, dtype=np.int64)
        self.index[self.open_rc[:, 0], self.open_rc[:, 1]] = np.arange(len(self.open_rc))
        self.centre = int(self.index[size // 2, size // 2])
        self.num_open = len(self.open_rc)
        self.num_pillars = int(pillars.sum() - pillars[size // 2, size // 2])
        target = self.open_rc[:, None, :] + ACTION_DELTAS[None, :, :]  # (K, 4, 2)
        target_idx = self.index[target[..., 0], target[..., 1]]
        self.bump = target_idx < 0
        self.next_square = np.where(self.bump, np.arange(self.num_open)[:, None], target_idx)
        offsets = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)], dtype=np.int64)
        around = self.open_rc[:, None, :] + offsets[None, :, :]  # (K, 9, 2)
        self.patch = walls[around[..., 0], around[..., 1]].astype(np.float32)


class MazeCore(TaskCore):
    """Batched rules of the maze for ``num_envs`` episodes (the contract is :class:`plastic_envs.base.TaskCore`).

    State arrays (shape (num_envs,)), besides the shared ones: pos int64 agent square (open-square number);
    goal int64 reward square; hits int64 rewards collected this episode.
    """

    task_family = "maze"
    num_actions = NUM_ACTIONS
    reset_option_names = ("reward_position",)
    info_dtypes: ClassVar[dict[str, np.dtype]] = {
        "agent_position": np.dtype(np.int64), "reward_position": np.dtype(np.int64), "hits": np.dtype(np.int64)}

    def __init__(self, num_envs: int = 1, maze_size: int = 11, episode_length: int = 200,
                 reward: float = 10.0, wall_penalty: float = 0.0, legacy_zero_input: bool = False):
        super().__init__(num_envs, episode_length)
        self.layout = MazeLayout(maze_size)
        self.maze_size = self.layout.size
        self.reward = check_float("reward", reward, max_abs=MAX_ABS_REWARD)
        self.wall_penalty = check_float("wall_penalty", wall_penalty, 0.0, max_abs=MAX_ABS_REWARD)
        self.legacy_zero_input = check_bool("legacy_zero_input", legacy_zero_input)
        lay = maze_obs_layout(self.legacy_zero_input)
        self._init_state(lay, reward_values=(-self.wall_penalty, self.reward))

        K = self.layout.num_open
        size = lay.size
        # Observation without time and reward, per (square, previous action + 1): (K * 5, obs size).
        table = np.zeros((K, NUM_ACTIONS + 1, size), dtype=np.float32)
        table[:, :, lay.walls] = self.layout.patch[:, None, :]
        table[:, :, lay.bias] = 1.0
        for a in range(NUM_ACTIONS):
            table[:, a + 1, lay.prev_action.start + a] = 1.0
        self._obs_table = table.reshape(K * (NUM_ACTIONS + 1), size)
        # Row of _obs_table at square p after action a (a = -1 at t = 0): _obs_row_base[p] + a.
        self._obs_row_base = np.arange(K, dtype=np.int64) * (NUM_ACTIONS + 1) + 1
        self._next_flat = self.layout.next_square.reshape(-1)
        self._step_reward = (np.where(self.layout.bump, -self.wall_penalty, 0.0) + 0.0).reshape(-1)  # no -0.0

        n = self.num_envs
        self.pos = np.full(n, self.layout.centre, dtype=np.int64)
        self.goal = np.zeros(n, dtype=np.int64)
        self.hits = np.zeros(n, dtype=np.int64)
        self._obs_row = np.zeros(n, dtype=np.int64)

    # -- the task's hooks ----------------------------------------------------------------------------------

    def _parse_options(self, options: dict, num_envs: int) -> dict:
        """``reward_position``: (row, col) for every env, or an (num_envs, 2) array; it must be an open
        square other than the centre. Returns {"goal": int64 (num_envs,)}."""
        rc = per_env_array("reward_position", options["reward_position"], num_envs, (2,))
        L = self.layout.size
        inside = (rc >= 0).all(axis=1) & (rc < L).all(axis=1)
        goal = np.full(num_envs, -1, dtype=np.int64)
        goal[inside] = self.layout.index[rc[inside, 0], rc[inside, 1]]
        bad = (goal < 0) | (goal == self.layout.centre)
        if bad.any():
            r, c = rc[np.flatnonzero(bad)[0]]
            raise ValueError(
                f"option 'reward_position' must be an open square of the {L}x{L} maze other than the centre "
                f"({L // 2}, {L // 2}); got ({r}, {c})"
            )
        return {"goal": goal}

    def _start_episodes(self, idx: np.ndarray, keys: np.ndarray, fixed: dict) -> None:
        if "goal" in fixed:
            self.goal[idx] = fixed["goal"][idx]
        else:
            u = uniform_int(hash64(keys, 0), self.layout.num_open - 1)
            self.goal[idx] = u + (u >= self.layout.centre)
        self.pos[idx] = self.layout.centre
        self.hits[idx] = 0

    def _advance(self, actions: np.ndarray) -> np.ndarray:
        sa = self.pos * NUM_ACTIONS + actions
        pos = self._next_flat[sa]
        rewards = self._step_reward[sa]
        hit = pos == self.goal
        if np.count_nonzero(hit):     # cheaper than hit.any() on a few dozen rows
            h = np.flatnonzero(hit)
            rewards[h] += self.reward
            self.hits[h] += 1
            u = uniform_int(hash64(self.key[h], self.t[h] + 1), self.layout.num_open - 1)
            pos[h] = u + (u >= self.goal[h])
        self.pos = pos
        return rewards

    def _write_obs(self, rows: np.ndarray | None) -> None:
        if rows is None:
            np.add(self._obs_row_base[self.pos], self.prev_action, out=self._obs_row)
            self._obs_table.take(self._obs_row, 0, self.obs)
        else:
            self._obs_row[rows] = self._obs_row_base[self.pos[rows]] + self.prev_action[rows]
            self.obs[rows] = self._obs_table[self._obs_row[rows]]

    def _info_values(self) -> dict[str, np.ndarray]:
        """agent_position (n, 2) (row, col); reward_position (n, 2); hits (n,) rewards collected so far this
        episode."""
        rc = self.layout.open_rc      # take: faster than fancy indexing for a few dozen rows
        return {"agent_position": rc.take(self.pos, 0), "reward_position": rc.take(self.goal, 0),
                "hits": self.hits.copy()}

    # -- rendering -----------------------------------------------------------------------------------------

    def render_ansi(self, i: int) -> str:
        """Row i as text: '#' wall, 'A' agent, 'R' reward square, '.' open; then a status line."""
        lay = self.layout
        chars = np.where(lay.walls, "#", ".").astype("<U1")
        gr, gc = lay.open_rc[self.goal[i]]
        ar, ac = lay.open_rc[self.pos[i]]
        chars[gr, gc] = "R"
        chars[ar, ac] = "A"
        lines = ["".join(row) for row in chars]
        last = "-" if self.prev_action[i] < 0 else ACTION_NAMES[self.prev_action[i]]
        lines.append(f"t={self.t[i]}/{self.episode_length} last action={last} "
                     f"last reward={self.prev_reward[i]:g} hits={self.hits[i]}")
        return "\n".join(lines) + "\n"

    def render_rgb(self, i: int, cell: int = 24) -> np.ndarray:
        """Row i as an image, uint8 (L * cell + 40, L * cell, 3): walls dark, reward square green, agent a
        blue disc (on a green flash the step it hit), and a bottom strip coloured by the last reward (green
        positive, red negative, grey zero) with t, last reward and hits written in it."""
        lay = self.layout
        L = lay.size
        canvas = Canvas(L * cell, L * cell + 40)
        for r in range(L):
            for c in range(L):
                canvas.rect(c * cell, r * cell, (c + 1) * cell, (r + 1) * cell,
                            WALL if lay.walls[r, c] else FLOOR, outline=(200, 200, 195))
        gr, gc = lay.open_rc[self.goal[i]]
        canvas.rect(gc * cell + 2, gr * cell + 2, (gc + 1) * cell - 2, (gr + 1) * cell - 2, GOAL)
        ar, ac = lay.open_rc[self.pos[i]]
        canvas.disc(ac * cell + 4, ar * cell + 4, (ac + 1) * cell - 4, (ar + 1) * cell - 4, AGENT)
        reward = float(self.prev_reward[i])
        canvas.rect(0, L * cell, L * cell, L * cell + 40, reward_color(reward))
        canvas.text(4, L * cell + 4, f"t {self.t[i]}/{self.episode_length}  hits {self.hits[i]}",
                    fill=(255, 255, 255))
        canvas.text(4, L * cell + 20, f"last reward {reward:+g}", fill=(255, 255, 255))
        return canvas.to_array()


class MazeEnv(PlasticEnv):
    """The maze as a single Gymnasium env.

    ## Description
    An L x L grid (L odd, the border included) with walls on the border and a pillar on every interior
    square whose row and column are both even; the centre is always open. The agent starts every episode at
    the centre and looks for a reward square it cannot see: after a move onto it the agent gets the reward
    and is teleported to a uniformly random open square other than the reward square, and can then go back
    to it. L = 11 is the paper's 9 x 9 maze (65 open squares), L = 13 the release's 11 x 11 one.

    ## Action Space
    ``Discrete(4)``: 0 up (row - 1), 1 down (row + 1), 2 left (col - 1), 3 right (col + 1). A move into a
    wall or pillar leaves the agent in place.

    ## Observation Space
    ``Box(float32, (16,))`` laid out as :data:`MAZE_OBS` (``maze_obs_layout()``): the 3 x 3 wall patch
    around the agent (row-major, 1 = wall), a bias of 1, t / episode_length, the reward of the previous
    step, and a one-hot of the previous action (all zeros at t = 0). ``legacy_zero_input=True`` appends
    the release's always-zero input (17 values).

    ## Rewards
    ``reward`` (+10) on the step that reaches the reward square; ``-wall_penalty`` (0) on a move into a
    wall; 0 otherwise. The agent learns it hit the square only from the reward input of the next step.

    ## Starting State
    The agent at the centre; the reward square uniform among the open squares other than the centre (or
    fixed by the reset option ``reward_position``).

    ## Episode End
    Never terminated; truncated after ``episode_length`` steps. ``gym.make(..., max_episode_steps=K)``
    and ``gym.make_vec(..., max_episode_steps=K)`` (in every vectorisation mode) truncate after
    min(K, episode_length) steps; the time input still counts t / episode_length.

    ## Arguments
    - ``maze_size`` (11): L, odd, from 5 to ``MAX_MAZE_SIZE`` (255).
    - ``episode_length`` (200): from 1 to ``MAX_EPISODE_LENGTH`` (1,000,000).
    - ``reward`` (10.0) and ``wall_penalty`` (0.0, >= 0): finite, within +-``MAX_ABS_REWARD`` (1e6).
    - ``legacy_zero_input`` (False): the release's extra always-zero input.
    - ``render_mode``: "human" (a pygame window, the extra ``backpropamine[human]``), "rgb_array", "ansi"
      or None.
    A value past a limit raises a one-line ValueError naming the keyword before anything is allocated.

    ## Reset Options
    ``{"reward_position": (row, col)}``: an open square other than the centre.

    ## Info
    ``agent_position`` int64 (2,) and ``reward_position`` int64 (2,) as (row, col); ``hits`` int64, rewards
    collected so far this episode (dtypes declared once in ``MazeCore.info_dtypes``; the vector env's
    infos are the same dtypes batched).

    ## Rendering
    ``rgb_array``: the maze with the reward square in green, the agent as a blue disc and a strip coloured
    by the last reward; ``ansi``: the same as text ('#' wall, 'A' agent, 'R' reward square).

    ## Vector Env
    :class:`MazeVectorEnv` (``gym.make_vec(id, n)``) steps n episodes in one NumPy core.

    ## Reference Levels
    ``plastic_envs.reference_levels(env_id)``: a uniform random policy and an oracle that knows the reward
    square (SPEC section 2).
    """

    core_class = MazeCore


class MazeVectorEnv(PlasticVectorEnv):
    """``num_envs`` mazes stepped at once: the keywords and rules of :class:`MazeEnv`, plus
    ``max_episode_steps`` (see :class:`plastic_envs.base.PlasticVectorEnv`). The reset option
    ``reward_position`` is one (row, col) for all sub-envs or an int array (num_envs, 2). Infos are arrays of
    leading size num_envs with ``_key`` masks. Render modes: "rgb_array" and "ansi" (one per sub-env)."""

    core_class = MazeCore
