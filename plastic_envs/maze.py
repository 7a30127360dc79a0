"""The grid maze of Backpropamine (SPEC section 2): find an invisible reward square, get teleported, find
it again.

Layout: an L x L grid (L odd), border walls, a pillar on every interior cell whose row and column are both
even, the centre forced open. At reset only the reward square is drawn (uniform among open squares other
than the centre); the agent starts at the centre. Actions 0 up, 1 down, 2 left, 3 right. A move into a wall
leaves the agent in place with reward -wall_penalty; if after the move the agent stands on the reward
square it gets +reward and is teleported to a uniformly random open square other than the reward square.
Episodes last ``episode_length`` steps and end truncated.

Random numbers (see :mod:`plastic_envs.rng`): counter 0 draws the reward square, counter 1 + t the
teleport after a hit at step t (t = 0 for the first step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from plastic_envs.base import (
    ObsLayout,
    PlasticEnv,
    PlasticVectorEnv,
    check_float,
    check_int,
    check_option_keys,
    per_env_array,
)
from plastic_envs.rendering import AGENT, FLOOR, GOAL, WALL, Canvas, reward_color
from plastic_envs.rng import hash64, uniform_int

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
        size = check_int("maze_size", size)
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


class MazeCore:
    """Batched rules of the maze for ``num_envs`` episodes (see :mod:`plastic_envs.base` for the protocol).

    State arrays (shape (num_envs,)): key uint64 episode key; t int64 steps taken; pos int64 agent square
    (open-square number); goal int64 reward square; prev_action int64 (-1 at t = 0); prev_reward float64;
    hits int64 rewards collected this episode.
    """

    def __init__(self, num_envs: int = 1, maze_size: int = 11, episode_length: int = 200,
                 reward: float = 10.0, wall_penalty: float = 0.0, legacy_zero_input: bool = False):
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.layout = MazeLayout(maze_size)
        self.episode_length = check_int("episode_length", episode_length, 1)
        self.reward = check_float("reward", reward)
        self.wall_penalty = check_float("wall_penalty", wall_penalty, 0.0)
        if not isinstance(legacy_zero_input, (bool, np.bool_)):
            raise TypeError(f"legacy_zero_input must be a bool, got {legacy_zero_input!r}")
        self.legacy_zero_input = bool(legacy_zero_input)
        self.num_actions = NUM_ACTIONS
        self.obs_layout = maze_obs_layout(self.legacy_zero_input)
        lay = self.obs_layout
        size = lay.size
        low = np.zeros(size, dtype=np.float32)
        high = np.ones(size, dtype=np.float32)
        low[lay.prev_reward] = min(0.0, -self.wall_penalty, self.reward)
        high[lay.prev_reward] = max(0.0, self.reward)
        # Constant entries (bias 1, the legacy 0) keep the bounds [0, 1], and a reward range that is one
        # point v becomes [v, v + 1]: Gymnasium's checker rejects boxes with low == high.
        high[low == high] += 1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

        K = self.layout.num_open
        # Observation without time and reward, per (square, previous action + 1): (K * 5, obs size).
        table = np.zeros((K, NUM_ACTIONS + 1, size), dtype=np.float32)
        table[:, :, lay.walls] = self.layout.patch[:, None, :]
        table[:, :, lay.bias] = 1.0
        for a in range(NUM_ACTIONS):
            table[:, a + 1, lay.prev_action.start + a] = 1.0
        self._obs_table = table.reshape(K * (NUM_ACTIONS + 1), size)
        # Row of _obs_table after a move to square p with action a: _obs_row_base[p] + a.
        self._obs_row_base = np.arange(K, dtype=np.int64) * (NUM_ACTIONS + 1) + 1
        self._next_flat = self.layout.next_square.reshape(-1)
        self._step_reward = (np.where(self.layout.bump, -self.wall_penalty, 0.0) + 0.0).reshape(-1)  # no -0.0
        # t / T for t = 0 .. T + 1 (T + 1 is reached only by a finished row stepped before its autoreset).
        self._time_table = (np.arange(self.episode_length + 2) / self.episode_length).astype(np.float32)
        self._time_col = lay.time.start
        self._reward_col = lay.prev_reward.start

        n = self.num_envs
        self.key = np.zeros(n, dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        self.pos = np.full(n, self.layout.centre, dtype=np.int64)
        self.goal = np.zeros(n, dtype=np.int64)
        self.prev_action = np.full(n, -1, dtype=np.int64)
        self.prev_reward = np.zeros(n, dtype=np.float64)
        self.hits = np.zeros(n, dtype=np.int64)
        self.obs = np.zeros((n, size), dtype=np.float32)
        self._obs_row = np.zeros(n, dtype=np.int64)

    # -- options, reset, step ------------------------------------------------------------------------------

    def parse_options(self, options: dict | None, num_envs: int) -> dict:
        """Validate reset options. ``reward_position``: (row, col) for every env, or an (num_envs, 2) array;
        it must be an open square other than the centre. Returns {"goal": int64 (num_envs,)} or {}."""
        options = check_option_keys(options, ("reward_position",))
        if "reward_position" not in options:
            return {}
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

    def reset_envs(self, idx: np.ndarray, keys: np.ndarray, fixed: dict | None) -> None:
        """Start new episodes in rows ``idx`` (int64 (m,)) with keys ``keys`` (uint64 (m,))."""
        self.key[idx] = keys
        if fixed and "goal" in fixed:
            self.goal[idx] = fixed["goal"][idx]
        else:
            u = uniform_int(hash64(keys, 0), self.layout.num_open - 1)
            self.goal[idx] = u + (u >= self.layout.centre)
        self.t[idx] = 0
        self.pos[idx] = self.layout.centre
        self.prev_action[idx] = -1
        self.prev_reward[idx] = 0.0
        self.hits[idx] = 0
        self._obs_row[idx] = self.layout.centre * (NUM_ACTIONS + 1)
        self.obs[idx] = self._obs_table[self._obs_row[idx]]
        self.obs[idx, self._time_col] = 0.0
        self.obs[idx, self._reward_col] = 0.0

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every row by one step with ``actions`` (int64 (num_envs,), already validated).

        Returns fresh arrays (rewards float64 (num_envs,), truncated bool (num_envs,)); refreshes ``obs``.
        """
        sa = self.pos * NUM_ACTIONS + actions
        pos = self._next_flat[sa]
        rewards = self._step_reward[sa]
        hit = pos == self.goal
        if np.count_nonzero(hit):     # (a quarter of the time of hit.any() on a few dozen rows)
            h = np.flatnonzero(hit)
            rewards[h] += self.reward
            self.hits[h] += 1
            u = uniform_int(hash64(self.key[h], self.t[h] + 1), self.layout.num_open - 1)
            pos[h] = u + (u >= self.goal[h])
        self.pos = pos
        self.t += 1
        self.prev_action = actions.copy()
        self.prev_reward = rewards
        np.add(self._obs_row_base[pos], actions, out=self._obs_row)
        self._obs_table.take(self._obs_row, 0, self.obs)
        self.obs[:, self._time_col] = self._time_table[self.t]
        self.obs[:, self._reward_col] = rewards
        return rewards.copy(), self.t >= self.episode_length

    # -- infos ---------------------------------------------------------------------------------------------

    def info(self) -> dict[str, np.ndarray]:
        """Fresh per-row infos: agent_position int64 (n, 2) (row, col); reward_position int64 (n, 2);
        hits int64 (n,) rewards collected so far this episode."""
        rc = self.layout.open_rc      # (take: a quarter of the time of rc[self.pos])
        return {"agent_position": rc.take(self.pos, 0), "reward_position": rc.take(self.goal, 0),
                "hits": self.hits.copy()}

    def single_info(self, i: int) -> dict[str, Any]:
        """Row i's info: agent_position and reward_position int64 (2,) arrays, hits int."""
        rc = self.layout.open_rc
        return {"agent_position": rc[self.pos[i]].copy(), "reward_position": rc[self.goal[i]].copy(),
                "hits": int(self.hits[i])}

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

    Keywords: maze_size (odd L >= 5, border included; 11 = the paper's 9x9), episode_length (T = 200),
    reward (10.0), wall_penalty (0.0, subtracted on a move into a wall), legacy_zero_input (False; True adds
    the release's always-zero input at index 16), render_mode ("rgb_array", "ansi" or None).
    Observation float32 (16,) laid out as :data:`MAZE_OBS`; action Discrete(4) (up, down, left, right).
    reset options: {"reward_position": (row, col)} fixes the reward square.
    info: agent_position (2,), reward_position (2,), hits.
    """

    core_class = MazeCore


class MazeVectorEnv(PlasticVectorEnv):
    """``num_envs`` mazes stepped at once (same keywords as :class:`MazeEnv`, plus ``max_episode_steps``
    which, if given, must equal ``episode_length``). reset option ``reward_position`` is one (row, col) for
    all sub-envs or an int array (num_envs, 2). Infos are arrays of leading size num_envs with ``_key``
    masks."""

    core_class = MazeCore
