"""Cue-reward task (SPEC section 3) checked against a slow reference written from the spec."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

import plastic_envs
from plastic_envs.cue_reward import (
    CUE_OBS,
    PHASE_BLANK,
    PHASE_CUE,
    PHASE_GO,
    CueRewardCore,
    CueRewardEnv,
    cue_obs_layout,
)
from plastic_envs.rng import draw_key, hash64, uniform_int


def draw(key, counter, n):
    return int(uniform_int(hash64(np.array([key], dtype=np.uint64), counter), n)[0])


def reference_episode(seed, actions, K=4, S=20, T=120, E=3):
    """Observations and rewards of one episode built trial by trial in plain Python from the spec."""
    key = draw_key(seeding.np_random(seed)[0])
    target = draw(key, 0, K)
    used = []
    for j in range(K):  # K distinct S-bit patterns, the j-th uniform among the unused ones
        v = draw(key, 1 + j, 2**S - j)
        for u in sorted(used):
            if v >= u:
                v += 1
        used.append(v)
    cues = [[1.0 if (v >> b) & 1 else -1.0 for b in range(S)] for v in used]
    # the schedule: one list entry per step: (cue index or None, go, target in this trial)
    steps = []
    trial = 0
    while len(steps) < T + 1:
        base = 1 + K + 3 * trial
        extra = draw(key, base, E + 1)
        pairs = [(a, b) for a in range(K) for b in range(K) if a != b]
        first, second = pairs[draw(key, base + 1, len(pairs))]
        placements = list(itertools.combinations(range(2 + extra), 2))
        p1, p2 = placements[draw(key, base + 2, len(placements))]
        middle = [None] * (2 + extra)
        middle[p1], middle[p2] = first, second
        present = target in (first, second)
        steps += [(None, False, present)] + [(c, False, present) for c in middle]
        steps += [(None, True, present), (None, False, present)]
        trial += 1

    def observe(t, prev_r, prev_a):
        cue, go, _ = steps[t]
        onehot = [0.0, 0.0]
        if prev_a is not None:
            onehot[prev_a] = 1.0
        return (cues[cue] if cue is not None else [0.0] * S) + [float(go), 1.0, t / T, prev_r] + onehot

    obs, rewards = [observe(0, 0.0, None)], []
    for t, a in enumerate(actions):
        _, go, present = steps[t]
        r = (1.0 if a == int(present) else -1.0) if go else 0.0
        rewards.append(r)
        obs.append(observe(t + 1, r, a))
    return obs, rewards, target, cues


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_matches_slow_reference(seed):
    env = CueRewardEnv()
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 2, 120).tolist()
    env_obs, env_rewards = [obs], []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        env_obs.append(obs)
        env_rewards.append(r)
    assert trunc and not term
    ref_obs, ref_rewards, target, cues = reference_episode(seed, actions)
    np.testing.assert_array_equal(np.array(env_obs), np.array(ref_obs, dtype=np.float32))
    assert env_rewards == ref_rewards
    assert info["target_cue"] == target
    assert info["correct"] == sum(r > 0 for r in ref_rewards)
    assert info["go_steps"] == sum(r != 0 for r in ref_rewards)


def test_trial_structure_and_scoring():
    """Walk many episodes with the vector env and check every trial from observations and infos only."""
    n = 64
    venv = gym.make_vec("BackpropamineCueReward-v0", num_envs=n)
    obs, info = venv.reset(seed=5)
    cues = venv.unwrapped.core.cues[:, :4].copy()
    rng = np.random.default_rng(0)
    lengths, in_pair = [], []
    trial_obs = [[obs[i]] for i in range(n)]
    trial_info = [[{k: info[k][i] for k in ("phase", "trial_step", "trial_length", "target_shown",
                                             "target_cue")}] for i in range(n)]
    for t in range(119):
        actions = rng.integers(0, 2, n)
        prev_go = obs[:, CUE_OBS.go.start] == 1
        obs, r, term, trunc, info = venv.step(actions)
        assert not term.any() and not trunc.any()
        # only the Go step is scored, and its reward shows as the next input
        assert ((r != 0) == prev_go).all()
        np.testing.assert_array_equal(obs[:, CUE_OBS.prev_reward.start], r.astype(np.float32))
        for i in range(n):
            if info["trial_step"][i] == 0:  # the previous trial of env i is complete: check it
                o = np.array(trial_obs[i])
                inf = trial_info[i]
                L = inf[0]["trial_length"]
                assert len(o) == L and 5 <= L <= 8
                shown = [s for s in range(L) if np.abs(o[s, CUE_OBS.cue]).sum() > 0]
                assert len(shown) == 2 and 0 < shown[0] < shown[1] < L - 2
                ids = [int(np.flatnonzero((cues[i] == o[s, CUE_OBS.cue]).all(axis=1))[0]) for s in shown]
                assert ids[0] != ids[1]
                assert o[:, CUE_OBS.go.start].tolist() == [0.0] * (L - 2) + [1.0, 0.0]
                assert [x["phase"] for x in inf] == [PHASE_CUE if s in shown else PHASE_GO if s == L - 2
                                                     else PHASE_BLANK for s in range(L)]
                present = inf[0]["target_cue"] in ids
                assert inf[-1]["target_shown"] == present
                lengths.append(L)
                in_pair.append(present)
                trial_obs[i], trial_info[i] = [], []
            trial_obs[i].append(obs[i])
            trial_info[i].append({k: info[k][i] for k in ("phase", "trial_step", "trial_length",
                                                          "target_shown", "target_cue")})
    assert set(lengths) == {5, 6, 7, 8}
    assert len(in_pair) > 1000
    assert abs(np.mean(in_pair) - 0.5) < 0.05


def test_go_answer_scoring_with_target_known():
    """An agent that knows the target and answers correctly gets +1 on every Go step; the opposite -1."""
    for flip, sign in ((False, 1.0), (True, -1.0)):
        env = CueRewardEnv()
        obs, info = env.reset(seed=2, options={"target_cue": 1})
        cues = env.core.cues[0]
        seen = False
        total, gos = 0.0, 0
        for _ in range(120):
            if info["trial_step"] == 0:
                seen = False
            seen |= bool((obs[CUE_OBS.cue] == cues[1]).all())
            go = obs[CUE_OBS.go.start] == 1
            answer = int(seen) ^ int(flip)
            obs, r, _, trunc, info = env.step(answer)
            if go:
                assert r == sign
                gos += 1
            else:
                assert r == 0.0
            total += r
        assert trunc and gos >= 14 and total == sign * gos
        assert info["correct"] == (gos if not flip else 0) and info["go_steps"] == gos


def test_observation_layout():
    assert CUE_OBS.size == 26
    assert (CUE_OBS.cue, CUE_OBS.go, CUE_OBS.bias) == (slice(0, 20), slice(20, 21), slice(21, 22))
    assert (CUE_OBS.time, CUE_OBS.prev_reward, CUE_OBS.prev_action) == (slice(22, 23), slice(23, 24),
                                                                          slice(24, 26))
    assert cue_obs_layout(20, True).size == 27
    env = CueRewardEnv(legacy_zero_input=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (27,) and obs[26] == 0 and obs[21] == 1 and obs[22:26].sum() == 0
    obs, *_ = env.step(1)
    np.testing.assert_array_equal(obs[24:26], [0, 1])
    assert obs[22] == pytest.approx(1 / 120) and obs[26] == 0


@pytest.mark.parametrize("legacy", [False, True])
def test_outcome_input_is_the_reward_signed_by_the_action(legacy):
    """outcome_input adds one value after the others: the previous reward times +1 ("present") or -1 ("absent"),
    i.e. whether the target was in the pair just answered; everything else is the plain observation."""
    lay = cue_obs_layout(20, legacy, True)
    assert lay.size == 27 + legacy and lay.prev_outcome == slice(26 + legacy, 27 + legacy)
    rng = np.random.default_rng(3)
    plain = CueRewardEnv(legacy_zero_input=legacy)
    env = CueRewardEnv(legacy_zero_input=legacy, outcome_input=True)
    scaled = CueRewardEnv(outcome_input=True, correct_reward=2.0, wrong_reward=0.0)
    for e in (plain, env, scaled):
        e.reset(seed=11)
    answered = 0
    for _ in range(120):
        a = int(rng.integers(0, 2))
        p_obs, r, *_ = plain.step(a)
        obs, *_ = env.step(a)
        s_obs, *_ = scaled.step(a)
        np.testing.assert_array_equal(obs[:-1], p_obs)
        assert obs[-1] == r * (1 if a == 1 else -1) == s_obs[-1]
        assert obs in env.observation_space
        answered += r != 0
    assert answered >= 14
    with pytest.raises(TypeError, match="outcome_input"):
        CueRewardEnv(outcome_input=1)
    for bad in (-0.5, 1.5):
        with pytest.raises(ValueError, match="outcome_scale"):
            CueRewardEnv(outcome_input=True, outcome_scale=bad)
    with pytest.raises(ValueError, match="needs outcome_input=True"):
        CueRewardEnv(outcome_scale=0.0)
    half = CueRewardEnv(legacy_zero_input=legacy, outcome_input=True, outcome_scale=0.5)
    half.reset(seed=11)
    env.reset(seed=11)
    for a in rng.integers(0, 2, 40):
        obs, *_ = env.step(int(a))
        half_obs, *_ = half.step(int(a))
        np.testing.assert_array_equal(half_obs[:-1], obs[:-1])
        assert half_obs[-1] == 0.5 * obs[-1]
        assert half_obs in half.observation_space
    check_env(CueRewardEnv(outcome_input=True), skip_render_check=True)


def test_outcome_prob_shows_each_trials_outcome_with_that_probability():
    """outcome_prob p: a trial's outcome input is the full outcome with probability p and 0 otherwise, drawn per
    trial from the episode's key (the native vector env and sync single envs agree); p = 0 is the paper's
    information in the outcome layout; nothing else in the observation changes."""
    n, steps = 64, 120
    full = gym.make_vec("BackpropamineCueReward-v0", num_envs=n, outcome_input=True)
    envs = {p: gym.make_vec("BackpropamineCueReward-v0", num_envs=n, outcome_input=True, outcome_prob=p)
            for p in (0.0, 0.3)}
    sync = gym.make_vec("BackpropamineCueReward-v0", num_envs=n, vectorization_mode="sync", outcome_input=True,
                        outcome_prob=0.3)
    obs_full, _ = full.reset(seed=5)
    for env in (*envs.values(), sync):
        np.testing.assert_array_equal(env.reset(seed=5)[0], obs_full)
    rng = np.random.default_rng(0)
    answered = shown = 0
    for _ in range(steps - 1):
        actions = rng.integers(0, 2, n)
        obs_full, *_ = full.step(actions)
        obs = {p: env.step(actions)[0] for p, env in envs.items()}
        np.testing.assert_array_equal(sync.step(actions)[0], obs[0.3])
        for o in obs.values():
            np.testing.assert_array_equal(o[:, :-1], obs_full[:, :-1])
        assert not obs[0.0][:, -1].any()
        outcome = obs_full[:, -1] != 0      # the step after a Go step
        seen = obs[0.3][:, -1] != 0
        np.testing.assert_array_equal(obs[0.3][seen, -1], obs_full[seen, -1])   # shown: the full outcome
        assert not (seen & ~outcome).any()
        answered += outcome.sum()
        shown += seen.sum()
    assert answered > 1000
    assert abs(shown / answered - 0.3) < 4 * np.sqrt(0.3 * 0.7 / answered), (shown, answered)
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="outcome_prob"):
            CueRewardEnv(outcome_input=True, outcome_prob=bad)
    with pytest.raises(ValueError, match="outcome_prob=0.5 needs outcome_input=True"):
        CueRewardEnv(outcome_prob=0.5)


def test_easy_variant_uses_fixed_one_hot_cues():
    env = gym.make("BackpropamineCueReward-Easy-v0")
    assert env.observation_space.shape == (10,)
    env.reset(seed=0)
    np.testing.assert_array_equal(env.unwrapped.core.cues[0, :4], np.eye(4))
    seen = set()
    for _ in range(120):
        obs, *_ = env.step(0)
        if obs[:4].any():
            assert sorted(obs[:4].tolist()) == [0, 0, 0, 1]
            seen.add(int(np.argmax(obs[:4])))
    assert seen == {0, 1, 2, 3}


def test_cues_are_distinct_even_when_collisions_are_likely():
    core = CueRewardCore(num_envs=500, num_cues=4, cue_size=2)
    keys = np.arange(500, dtype=np.uint64) * np.uint64(7919)
    core.reset_envs(np.arange(500), keys, None)
    patterns = core.cues[:, :4]
    for i in range(500):
        assert len({tuple(p) for p in patterns[i]}) == 4
    big = CueRewardCore(num_envs=2000)
    big.reset_envs(np.arange(2000), np.arange(2000, dtype=np.uint64), None)
    frac_plus = (big.cues[:, :4] > 0).mean()
    assert abs(frac_plus - 0.5) < 0.01
    assert abs(np.bincount(big.target, minlength=4) / 2000 - 0.25).max() < 0.04


def test_constructor_and_option_validation():
    with pytest.raises(ValueError, match="distinct"):
        CueRewardEnv(num_cues=5, cue_size=2)
    with pytest.raises(ValueError, match="num_cues"):
        CueRewardEnv(num_cues=1)
    with pytest.raises(ValueError, match="cue_kind"):
        CueRewardEnv(cue_kind="gaussian")
    with pytest.raises(ValueError, match="one_hot"):
        CueRewardEnv(cue_kind="one_hot", num_cues=5, cue_size=4)
    with pytest.raises(ValueError, match="episode_length"):
        CueRewardEnv(episode_length=-3)
    with pytest.raises(ValueError, match="max_extra_blanks"):
        CueRewardEnv(max_extra_blanks=-1)
    env = CueRewardEnv()
    for bad in (4, -1):
        with pytest.raises(ValueError, match="target_cue"):
            env.reset(options={"target_cue": bad})
    with pytest.raises(ValueError, match="target_cue"):
        env.reset(options={"target_cue": "two"})
    venv = gym.make_vec("BackpropamineCueReward-v0", num_envs=3)
    _, info = venv.reset(seed=0, options={"target_cue": [0, 2, 3]})
    np.testing.assert_array_equal(info["target_cue"], [0, 2, 3])
    with pytest.raises(ValueError, match="target_cue"):
        venv.reset(options={"target_cue": [0, 2]})


def _ideal_observer_rewards(env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Per-episode reward of the ideal observer, acting from the observations and rewards alone.

    It tells the cues apart by their vectors, keeps the set of cues that can still be the target (a cue first seen
    after a trial that held the target cannot be it), and at Go answers "present" when at least half of the
    remaining candidates (seen, or not yet seen) are in the trial's pair.
    """
    env = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point")
    lay = env.unwrapped.core.obs_layout
    obs, _ = env.reset(seed=seed)
    rows = np.arange(episodes)
    seen = np.zeros((episodes, 4, obs[:, lay.cue].shape[1]), dtype=np.float32)
    n_seen = np.zeros(episodes, dtype=np.int64)
    candidate = np.zeros((episodes, 4), dtype=bool)     # seen cue k can still be the target
    unseen_possible = np.ones(episodes, dtype=bool)     # the target may be a cue not seen yet
    pair = np.full((episodes, 2), -1)
    n_shown = np.zeros(episodes, dtype=np.int64)
    total = np.zeros(episodes)
    for _ in range(env.unwrapped.core.episode_length):
        cue = obs[:, lay.cue]
        shown = np.abs(cue).sum(1) > 0
        match = (seen == cue[:, None, :]).all(-1) & (np.arange(4) < n_seen[:, None])
        slot = np.where(match.any(1), match.argmax(1), n_seen)
        new = shown & ~match.any(1)
        seen[rows[new], slot[new]] = cue[new]
        candidate[rows[new], slot[new]] = unseen_possible[new]
        n_seen += new
        pair[rows[shown], np.minimum(n_shown[shown], 1)] = slot[shown]
        n_shown += shown
        go = obs[:, lay.go.start] == 1
        count_in = (candidate[rows, np.maximum(pair[:, 0], 0)].astype(int)
                    + candidate[rows, np.maximum(pair[:, 1], 0)].astype(int))
        count_all = candidate.sum(1) + unseen_possible * (4 - n_seen)
        answer = (2 * count_in >= count_all).astype(np.int64)
        obs, reward, _, _, _ = env.step(np.where(go, answer, 0))
        total += reward
        # After a Go step: the reward says whether the target was in the pair.
        target_in = go & ((answer == 1) == (reward > 0))
        target_out = go & ~target_in
        in_mask = np.zeros((episodes, 4), dtype=bool)
        in_mask[rows[go], pair[go, 0]] = True
        in_mask[rows[go], pair[go, 1]] = True
        candidate[target_in] &= in_mask[target_in]
        unseen_possible[target_in] = False
        candidate[target_out] &= ~in_mask[target_out]
        pair[go] = -1
        n_shown[go] = 0
    env.close()
    return total


@pytest.mark.parametrize("env_id", ["BackpropamineCueReward-v0", "BackpropamineCueReward-Easy-v0"])
def test_ideal_observer_reaches_the_spec_level(env_id):
    """The spec's ideal Bayesian observer scores 16.2 per 120-step episode: the task is solvable from what the
    agent sees, and our trial structure has the spec's statistics."""
    rewards = _ideal_observer_rewards(env_id, episodes=4000, seed=3)
    levels = plastic_envs.reference_levels(env_id)
    assert levels.best_name == "ideal observer"
    assert abs(rewards.mean() - levels.best) < 0.3, rewards.mean()
