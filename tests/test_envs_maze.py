"""Maze rules (SPEC section 2) checked against a slow per-episode reference written from the spec."""

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding

import plastic_envs
from plastic_envs.maze import MAZE_OBS, MazeEnv, MazeLayout, maze_obs_layout
from plastic_envs.rng import draw_key, hash64, uniform_int

MOVES = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}


def reference_walls(L):
    """Set of wall cells, straight from the spec's words."""
    walls = set()
    for r in range(L):
        for c in range(L):
            border = r in (0, L - 1) or c in (0, L - 1)
            pillar = r % 2 == 0 and c % 2 == 0
            if (border or pillar) and (r, c) != (L // 2, L // 2):
                walls.add((r, c))
    return walls


def draw(key, counter, n):
    return int(uniform_int(hash64(np.array([key], dtype=np.uint64), counter), n)[0])


def reference_episode(seed, actions, L=11, T=200, reward=10.0, wall_penalty=0.0):
    """Observations (list of 16-lists) and rewards of one episode, one Python step at a time."""
    key = draw_key(seeding.np_random(seed)[0])
    walls = reference_walls(L)
    open_sq = [(r, c) for r in range(L) for c in range(L) if (r, c) not in walls]
    centre = (L // 2, L // 2)
    others = [s for s in open_sq if s != centre]
    goal = others[draw(key, 0, len(others))]
    pos = centre

    def observe(t, prev_r, prev_a):
        patch = [1.0 if (pos[0] + dr, pos[1] + dc) in walls else 0.0
                 for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
        onehot = [0.0] * 4
        if prev_a is not None:
            onehot[prev_a] = 1.0
        return patch + [1.0, t / T, prev_r] + onehot

    obs, rewards = [observe(0, 0.0, None)], []
    for t, a in enumerate(actions):
        dr, dc = MOVES[a]
        nxt = (pos[0] + dr, pos[1] + dc)
        r = 0.0
        if nxt in walls:
            r = -wall_penalty
        else:
            pos = nxt
        if pos == goal:
            r += reward
            choices = [s for s in open_sq if s != goal]
            pos = choices[draw(key, t + 1, len(choices))]
        rewards.append(r)
        obs.append(observe(t + 1, r, a))
    return obs, rewards, goal


@pytest.mark.parametrize("L,pillars,n_open", [(11, 16, 65), (13, 24, 97)])
def test_layout_counts(L, pillars, n_open):
    lay = MazeLayout(L)
    assert lay.num_pillars == pillars
    assert lay.num_open == n_open
    assert not lay.walls[L // 2, L // 2]
    assert set(map(tuple, np.argwhere(lay.walls))) == reference_walls(L)


@pytest.mark.parametrize("env_id,L", [("BackpropamineMaze-v0", 11), ("BackpropamineMaze-11x11-v0", 13)])
def test_registered_sizes(env_id, L):
    env = gym.make(env_id)
    assert env.unwrapped.core.layout.size == L
    assert env.unwrapped.core.episode_length == 200
    assert env.observation_space.shape == (16,)
    assert env.action_space.n == 4


@pytest.mark.parametrize("L,wall_penalty", [(11, 0.0), (11, 0.1), (13, 0.5)])
def test_matches_slow_reference(L, wall_penalty):
    """A whole episode of a policy that hits the reward many times (random walk biased by the true goal),
    compared value by value with the reference."""
    env = MazeEnv(maze_size=L, wall_penalty=wall_penalty)
    rng = np.random.default_rng(L)
    obs0, info = env.reset(seed=42)
    # a policy that walks towards the goal half the time so that teleports happen often
    actions, env_obs, env_rewards = [], [obs0], []
    lay = env.core.layout
    for _ in range(200):
        pos, goal = info["agent_position"], info["reward_position"]
        if rng.random() < 0.5:
            a = int(rng.integers(4))
        else:
            d = goal - pos
            a = (1 if d[0] > 0 else 0) if abs(d[0]) >= abs(d[1]) and d[0] != 0 else (3 if d[1] > 0 else 2)
        obs, r, term, trunc, info = env.step(a)
        actions.append(a)
        env_obs.append(obs)
        env_rewards.append(r)
        assert not term
    assert trunc
    ref_obs, ref_rewards, goal = reference_episode(42, actions, L=L, wall_penalty=wall_penalty)
    np.testing.assert_array_equal(np.array(env_obs), np.array(ref_obs, dtype=np.float32))
    assert env_rewards == pytest.approx(ref_rewards)
    assert tuple(info["reward_position"]) == goal
    assert info["hits"] == sum(r > 5 for r in ref_rewards) >= 3
    assert lay.num_open == len(set((r, c) for r in range(L) for c in range(L)) - reference_walls(L))


def test_hit_teleport_and_wall_rule():
    env = MazeEnv(wall_penalty=0.25)
    obs, info = env.reset(seed=0, options={"reward_position": (4, 5)})
    assert tuple(info["agent_position"]) == (5, 5)
    obs, r, _, _, info = env.step(0)  # up onto the reward square
    assert r == 10.0 and info["hits"] == 1
    assert tuple(info["agent_position"]) != (4, 5)
    assert obs[MAZE_OBS.prev_reward][0] == 10.0
    # from the centre, up to (4, 5) then left into the pillar (4, 4): no move, reward -wall_penalty
    obs, info = env.reset(seed=0, options={"reward_position": (1, 1)})
    env.step(0)
    obs, r, _, _, info = env.step(2)
    assert r == -0.25
    np.testing.assert_array_equal(info["agent_position"], (4, 5))
    assert obs[MAZE_OBS.prev_reward][0] == np.float32(-0.25)
    np.testing.assert_array_equal(obs[MAZE_OBS.walls], [0, 0, 0, 1, 0, 1, 0, 0, 0])


def test_teleport_uniform_over_other_squares():
    """After hits on a fixed reward square, the landing squares cover the 64 others about equally."""
    n = 2048
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=n)
    _, info = venv.reset(seed=1, options={"reward_position": (5, 6)})
    lay = venv.unwrapped.core.layout
    landings = []
    for t in range(60):
        # step towards (5, 6) from wherever we are: right when on row 5 left of it, else random
        pos = info["agent_position"]
        actions = np.where((pos[:, 0] == 5) & (pos[:, 1] < 6), 3, np.random.default_rng(t).integers(0, 4, n))
        _, r, _, _, info = venv.step(actions)
        landings.append(lay.index[info["agent_position"][r > 0, 0], info["agent_position"][r > 0, 1]])
    landings = np.concatenate(landings)
    goal = lay.index[5, 6]
    assert len(landings) > 3000
    assert not (landings == goal).any()
    counts = np.bincount(landings, minlength=lay.num_open)
    counts = np.delete(counts, goal)
    expected = len(landings) / (lay.num_open - 1)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 130  # 63 degrees of freedom: p < 1e-5 above this


def test_reward_square_uniform_and_never_centre():
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=6400)
    _, info = venv.reset(seed=3)
    lay = venv.unwrapped.core.layout
    goals = lay.index[info["reward_position"][:, 0], info["reward_position"][:, 1]]
    assert (goals >= 0).all() and not (goals == lay.centre).any()
    counts = np.delete(np.bincount(goals, minlength=lay.num_open), lay.centre)
    assert counts.min() > 50 and counts.max() < 160  # expected 100 each


def test_observation_layout_and_legacy_input():
    assert MAZE_OBS.size == 16
    assert (MAZE_OBS.walls, MAZE_OBS.bias, MAZE_OBS.time) == (slice(0, 9), slice(9, 10), slice(10, 11))
    assert (MAZE_OBS.prev_reward, MAZE_OBS.prev_action) == (slice(11, 12), slice(12, 16))
    legacy = maze_obs_layout(True)
    assert legacy.size == 17 and legacy.legacy_zero == slice(16, 17)
    env = MazeEnv(legacy_zero_input=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17,)
    # t = 0: wall patch of the centre (L=11: open row/col through centre, pillars on the diagonals)
    np.testing.assert_array_equal(obs[:9], [1, 0, 1, 0, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(obs[9:], [1, 0, 0, 0, 0, 0, 0, 0])
    for _ in range(5):
        obs, *_ = env.step(2)
        assert obs[16] == 0.0 and obs[9] == 1.0
        np.testing.assert_array_equal(obs[12:16], [0, 0, 1, 0])


def _oracle_table(lay):
    """best[s, g]: an action on a shortest path from open square s to g (BFS from every goal)."""
    K = lay.num_open
    dist = np.full((K, K), 10**6)
    for g in range(K):
        dist[g, g] = 0
        queue = deque([g])
        while queue:
            s = queue.popleft()
            for a in range(4):
                s2 = lay.next_square[s, a]
                if dist[g, s2] > dist[g, s] + 1:
                    dist[g, s2] = dist[g, s] + 1
                    queue.append(s2)
    return np.array([[np.argmin([dist[g, lay.next_square[s, a]] for a in range(4)]) for g in range(K)]
                     for s in range(K)])


@pytest.mark.parametrize("env_id", ["BackpropamineMaze-v0", "BackpropamineMaze-11x11-v0"])
def test_reference_levels(env_id):
    """The levels plastic_envs.reference_levels reports (the spec's) are what a random policy and a BFS oracle
    that knows the reward square score."""
    levels = plastic_envs.reference_levels(env_id)
    random_level, oracle_level = levels.random, levels.best
    n = 4096
    venv = gym.make_vec(env_id, num_envs=n)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    total = np.zeros(n)
    for _ in range(200):
        _, r, _, trunc, _ = venv.step(rng.integers(0, 4, n))
        total += r
    assert trunc.all()
    assert abs(total.mean() - random_level) < 0.6  # standard error about 0.14

    lay = venv.unwrapped.core.layout
    best = _oracle_table(lay)
    _, info = venv.reset(seed=1)
    total = np.zeros(n)
    for _ in range(200):
        pos = lay.index[info["agent_position"][:, 0], info["agent_position"][:, 1]]
        goal = lay.index[info["reward_position"][:, 0], info["reward_position"][:, 1]]
        _, r, _, _, info = venv.step(best[pos, goal])
        total += r
    assert abs(total.mean() - oracle_level) < 4  # standard error about 0.85


def test_constructor_validation():
    for size in (10, 3, 1, -5):
        with pytest.raises(ValueError, match="maze_size"):
            MazeEnv(maze_size=size)
    with pytest.raises(TypeError, match="maze_size"):
        MazeEnv(maze_size=11.0)
    with pytest.raises(ValueError, match="episode_length"):
        MazeEnv(episode_length=0)
    with pytest.raises(ValueError, match="wall_penalty"):
        MazeEnv(wall_penalty=-1.0)
    with pytest.raises(ValueError, match="reward"):
        MazeEnv(reward=float("nan"))
    with pytest.raises(TypeError, match="legacy_zero_input"):
        MazeEnv(legacy_zero_input="yes")
    with pytest.raises(ValueError, match="max_episode_steps"):
        gym.make_vec("BackpropamineMaze-v0", num_envs=2, max_episode_steps=0)


def test_custom_size_and_length():
    env = gym.make("BackpropamineMaze-v0", maze_size=7, episode_length=15)
    env.reset(seed=0)
    for t in range(15):
        obs, _, term, trunc, _ = env.step(t % 4)
        assert obs[10] == pytest.approx((t + 1) / 15)
        assert trunc == (t == 14) and not term
    assert env.unwrapped.core.layout.num_open == 7 * 7 - 24 - 4 + 0  # 25 interior, 4 pillars, centre kept


def test_reset_options_validation():
    env = MazeEnv()
    env.reset(seed=0)
    for bad in [(0, 0), (2, 2), (5, 5), (11, 3), (-1, 4)]:
        with pytest.raises(ValueError, match="reward_position"):
            env.reset(options={"reward_position": bad})
    with pytest.raises(ValueError, match="reward_position"):
        env.reset(options={"reward_position": (1, 2, 3)})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"goal": (1, 1)})
    venv = gym.make_vec("BackpropamineMaze-v0", num_envs=3)
    _, info = venv.reset(seed=0, options={"reward_position": [(1, 1), (1, 2), (9, 9)]})
    np.testing.assert_array_equal(info["reward_position"], [(1, 1), (1, 2), (9, 9)])
    _, info = venv.reset(seed=0, options={"reward_position": (3, 4)})
    np.testing.assert_array_equal(info["reward_position"], [(3, 4)] * 3)
    assert plastic_envs.MAZE_OBS is MAZE_OBS
