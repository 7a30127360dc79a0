"""Cue-reward association of Backpropamine (SPEC section 3): learn within an episode which of K cues is the
rewarded target, then report on each trial whether it was shown.

At reset, per episode: K distinct cues (random bipolar vectors of ``cue_size`` entries in {-1, +1}; or, with
``cue_kind="one_hot"``, the fixed one-hot vectors e_0 .. e_{K-1}, the paper's easier control) and a target
cue drawn uniformly. Trials run back to back over the ``episode_length`` steps (the last may be cut short).
A trial lasts 5 + U{0..max_extra_blanks} steps: one blank step; the two cues of a uniformly drawn ordered
pair of distinct cues shown one step each, with the extra blank steps placed around them uniformly at
random (every choice of the two cue positions among the middle steps equally likely); one Go step (Go input
1); one blank step. With K = 4 the target is in the pair with probability 1/2 (2/K in general).
Action 1 means "the target was shown in this trial", 0 "it was not". Only the Go step's action is scored:
+correct_reward if right, wrong_reward (default -1) if wrong; the reward appears as an input one step later.
With ``outcome_input=True`` (a departure from the paper, off by default) the observation carries one more
value, the outcome of the trial answered at the previous step: +1 if the target was in its pair, -1 if not, 0 at
every other step, times ``outcome_scale`` (in [0, 1], default 1; 0 keeps the input at zero: the paper's
observation in the same layout, so that a curriculum can take the help away during training). With
``outcome_prob`` below 1 each trial's outcome is shown only with that probability (0 in its place otherwise),
drawn per trial: a curriculum that lowers it leaves the network trials on which computing the outcome itself
pays. The outcome is the previous reward times the previous action's sign (with the default rewards): the
information is the paper's, the network is only spared computing that product (docs/RESULTS.md).

Random numbers (see :mod:`plastic_envs.rng`): counter 0 draws the target, counters 1 .. K the cues, and
trial n (0-based) uses counters 1 + K + 3n (its length), 2 + K + 3n (the pair), 3 + K + 3n (cue positions),
and OUTCOME_COUNTER + n (whether its outcome is shown, drawn only when outcome_prob < 1).
"""

from __future__ import annotations

import itertools
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
from plastic_envs.rendering import NEUTRAL, Canvas, reward_color
from plastic_envs.rng import MAX_UNIFORM_N, hash64, uniform_int

#: Action indices and names.
ABSENT, PRESENT = 0, 1
ACTION_NAMES = ("absent", "present")
NUM_ACTIONS = 2
#: Trial phase codes reported in ``info["phase"]``.
PHASE_BLANK, PHASE_CUE, PHASE_GO = 0, 1, 2
PHASE_NAMES = ("blank", "cue", "go")
CUE_KINDS = ("random_bipolar", "one_hot")
#: A trial's fixed part: first blank, two cues, Go, last blank.
BASE_TRIAL_LENGTH = 5
#: Counter of trial 0's outcome draw (trial n uses OUTCOME_COUNTER + n), far above the schedule's counters.
OUTCOME_COUNTER = 2**40


def cue_obs_layout(cue_size: int = 20, legacy_zero_input: bool = False,
                   outcome_input: bool = False) -> ObsLayout:
    """Observation layout of the cue task: cue_size + 6 values (+1 with the always-zero input, +1 with the
    outcome input, in that order at the end)."""
    s = cue_size
    fields = [
        ("cue", slice(0, s), "the cue shown at this step (all 0 when none)"),
        ("go", slice(s, s + 1), "Go bit: 1 on the step whose answer is scored"),
        ("bias", slice(s + 1, s + 2), "bias, always 1"),
        ("time", slice(s + 2, s + 3), "t / T (t = steps taken so far)"),
        ("prev_reward", slice(s + 3, s + 4), "reward received at the previous step (0 at t = 0)"),
        ("prev_action", slice(s + 4, s + 6),
         "one-hot of the previous action absent/present (all 0 at t = 0)"),
    ]
    if legacy_zero_input:
        fields.append(("legacy_zero", slice(s + 6, s + 7),
                       "always 0 (release compatibility, legacy_zero_input=True)"))
    if outcome_input:
        at = s + 6 + int(legacy_zero_input)
        fields.append(("prev_outcome", slice(at, at + 1),
                       "+1 / -1 if the target was / was not in the pair of the trial answered at the previous "
                       "step, 0 at other steps (outcome_input=True)"))
    return ObsLayout(fields)


#: The default layout (26 values).
CUE_OBS = cue_obs_layout()


class CueRewardCore:
    """Batched rules of the cue task for ``num_envs`` episodes (protocol in :mod:`plastic_envs.base`).

    Per-row state (shape (num_envs,) unless noted): key uint64; t int64 steps taken; target int64 target cue;
    cues float32 (num_envs, K + 1, cue_size) with row K all zeros (the "no cue" row); trial int64 trial
    number;
    k int64 step within the trial; length int64 trial length; pos1/pos2 int64 trial steps showing cue1/cue2;
    cue1/cue2 int64 the pair; prev_action int64 (-1 at t = 0); prev_reward float64; prev_outcome float32
    (+1 / -1 / 0, see the module docstring; 0 too when that trial's outcome is not shown); correct int64 scored
    answers that were right; go_steps int64 Go steps answered; last_answer int64 (-1 before the first Go).
    """

    def __init__(self, num_envs: int = 1, num_cues: int = 4, cue_size: int = 20,
                 cue_kind: str = "random_bipolar", episode_length: int = 120, max_extra_blanks: int = 3,
                 correct_reward: float = 1.0, wrong_reward: float = -1.0, legacy_zero_input: bool = False,
                 outcome_input: bool = False, outcome_scale: float = 1.0, outcome_prob: float = 1.0):
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.num_cues = K = check_int("num_cues", num_cues, 2)
        self.cue_size = S = check_int("cue_size", cue_size, 1)
        if cue_kind not in CUE_KINDS:
            raise ValueError(f"cue_kind must be one of {CUE_KINDS}, got {cue_kind!r}")
        self.cue_kind = cue_kind
        if cue_kind == "random_bipolar":
            if S > 32:
                raise ValueError(f"cue_size must be <= 32 for random_bipolar cues, got {S}")
            if K > 2**S:
                raise ValueError(f"num_cues={K} is more than the {2**S} distinct bipolar patterns of "
                                 f"cue_size={S}")
        elif K > S:
            raise ValueError(f"one_hot cues need num_cues <= cue_size, got num_cues={K}, cue_size={S}")
        if K * (K - 1) > MAX_UNIFORM_N:
            raise ValueError(f"num_cues={K} is too large (at most 65536)")
        self.episode_length = check_int("episode_length", episode_length, 1)
        self.max_extra_blanks = check_int("max_extra_blanks", max_extra_blanks, 0)
        self.correct_reward = check_float("correct_reward", correct_reward)
        self.wrong_reward = check_float("wrong_reward", wrong_reward)
        for name, flag in (("legacy_zero_input", legacy_zero_input), ("outcome_input", outcome_input)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self.legacy_zero_input = bool(legacy_zero_input)
        self.outcome_input = bool(outcome_input)
        self.outcome_scale = check_float("outcome_scale", outcome_scale, 0.0)
        if self.outcome_scale > 1.0:
            raise ValueError(f"outcome_scale must be in [0, 1], got {outcome_scale!r}")
        self.outcome_prob = check_float("outcome_prob", outcome_prob, 0.0)
        if self.outcome_prob > 1.0:
            raise ValueError(f"outcome_prob must be in [0, 1], got {outcome_prob!r}")
        for name, value in (("outcome_scale", self.outcome_scale), ("outcome_prob", self.outcome_prob)):
            if not self.outcome_input and value != 1.0:
                raise ValueError(f"{name}={value!r} needs outcome_input=True")
        # A trial's outcome is shown when the top 32 bits of its hash word are below this threshold.
        self._outcome_threshold = np.uint64(round(self.outcome_prob * 2**32))
        self.num_actions = NUM_ACTIONS
        self.obs_layout = lay = cue_obs_layout(S, self.legacy_zero_input, self.outcome_input)

        low = np.zeros(lay.size, dtype=np.float32)
        high = np.ones(lay.size, dtype=np.float32)
        low[lay.cue] = -1.0 if cue_kind == "random_bipolar" else 0.0
        low[lay.prev_reward] = min(0.0, self.correct_reward, self.wrong_reward)
        high[lay.prev_reward] = max(0.0, self.correct_reward, self.wrong_reward)
        if self.outcome_input:
            low[lay.prev_outcome] = -1.0
        # Constant entries (bias 1, the legacy 0) keep the bounds [0, 1], and a reward range that is one
        # point v becomes [v, v + 1]: Gymnasium's checker rejects boxes with low == high.
        high[low == high] += 1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

        # Cue positions inside the middle of a trial: for e extra blanks the middle has m = 2 + e steps and
        # C(m, 2) equally likely (first, second) positions; padded table (E + 1, C(2 + E, 2), 2).
        E = self.max_extra_blanks
        combos = [list(itertools.combinations(range(2 + e), 2)) for e in range(E + 1)]
        self._num_placements = np.array([len(c) for c in combos], dtype=np.int64)
        self._placements = np.zeros((E + 1, len(combos[-1]), 2), dtype=np.int64)
        for e, c in enumerate(combos):
            self._placements[e, : len(c)] = c
        self._onehot = np.vstack([np.zeros(NUM_ACTIONS), np.eye(NUM_ACTIONS)]).astype(np.float32)
        self._time_table = (np.arange(self.episode_length + 2) / self.episode_length).astype(np.float32)
        self._rewards = np.array([self.wrong_reward, self.correct_reward], dtype=np.float64)

        n = self.num_envs
        self.key = np.zeros(n, dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        self.target = np.zeros(n, dtype=np.int64)
        self.cues = np.zeros((n, K + 1, S), dtype=np.float32)
        for name in ("trial", "k", "length", "pos1", "pos2", "cue1", "cue2", "correct", "go_steps"):
            setattr(self, name, np.zeros(n, dtype=np.int64))
        self.length[:] = BASE_TRIAL_LENGTH
        self.prev_action = np.full(n, -1, dtype=np.int64)
        self.last_answer = np.full(n, -1, dtype=np.int64)
        self.prev_reward = np.zeros(n, dtype=np.float64)
        self.prev_outcome = np.zeros(n, dtype=np.float32)
        self.obs = np.zeros((n, lay.size), dtype=np.float32)
        self.obs[:, lay.bias] = 1.0
        self._row_base = np.arange(n, dtype=np.int64) * (K + 1)
        self._shown = np.full(n, K, dtype=np.int64)

    # -- random draws --------------------------------------------------------------------------------------

    def _draw_cues(self, keys: np.ndarray) -> np.ndarray:
        """Cues of new episodes with keys ``keys`` (uint64 (m,)): float32 (m, K, cue_size), distinct rows."""
        K, S = self.num_cues, self.cue_size
        if self.cue_kind == "one_hot":
            return np.broadcast_to(np.eye(K, S, dtype=np.float32), (len(keys), K, S))
        chosen = np.zeros((len(keys), K), dtype=np.int64)
        for j in range(K):  # K distinct patterns: draw among the 2**S - j unused ones, skipping used values
            v = uniform_int(hash64(keys, 1 + j), 2**S - j)
            for used in np.sort(chosen[:, :j], axis=1).T:
                v += v >= used
            chosen[:, j] = v
        bits = (chosen[:, :, None] >> np.arange(S, dtype=np.int64)) & 1
        return (2 * bits - 1).astype(np.float32)

    def _draw_trials(self, rows: np.ndarray) -> None:
        """Draw the schedule of trial ``self.trial[rows]`` for rows ``rows`` (int64 (m,)) and set k = 0."""
        K = self.num_cues
        keys = self.key[rows]
        base = 1 + K + 3 * self.trial[rows]
        extra = uniform_int(hash64(keys, base), self.max_extra_blanks + 1)
        pair = uniform_int(hash64(keys, base + 1), K * (K - 1))
        first = pair // (K - 1)
        second = pair % (K - 1)
        second += second >= first
        place = uniform_int(hash64(keys, base + 2), self._num_placements[extra])
        positions = self._placements[extra, place]  # (m, 2) positions within the middle steps
        self.length[rows] = BASE_TRIAL_LENGTH + extra
        self.cue1[rows] = first
        self.cue2[rows] = second
        self.pos1[rows] = 1 + positions[:, 0]
        self.pos2[rows] = 1 + positions[:, 1]
        self.k[rows] = 0

    # -- options, reset, step ------------------------------------------------------------------------------

    def parse_options(self, options: dict | None, num_envs: int) -> dict:
        """Validate reset options. ``target_cue``: an int in [0, num_cues) for every env, or an int array
        (num_envs,). Returns {"target": int64 (num_envs,)} or {}."""
        options = check_option_keys(options, ("target_cue",))
        if "target_cue" not in options:
            return {}
        target = per_env_array("target_cue", options["target_cue"], num_envs, ())
        if ((target < 0) | (target >= self.num_cues)).any():
            raise ValueError(
                f"option 'target_cue' must be in [0, {self.num_cues}), got {options['target_cue']!r}")
        return {"target": target}

    def reset_envs(self, idx: np.ndarray, keys: np.ndarray, fixed: dict | None) -> None:
        """Start new episodes in rows ``idx`` (int64 (m,)) with keys ``keys`` (uint64 (m,))."""
        self.key[idx] = keys
        if fixed and "target" in fixed:
            self.target[idx] = fixed["target"][idx]
        else:
            self.target[idx] = uniform_int(hash64(keys, 0), self.num_cues)
        self.cues[idx, : self.num_cues] = self._draw_cues(keys)
        self.t[idx] = 0
        self.trial[idx] = 0
        self._draw_trials(idx)
        self.prev_action[idx] = -1
        self.last_answer[idx] = -1
        self.prev_reward[idx] = 0.0
        self.prev_outcome[idx] = 0.0
        self.correct[idx] = 0
        self.go_steps[idx] = 0
        self._observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every row by one step with ``actions`` (int64 (num_envs,), already validated).

        Returns fresh arrays (rewards float64 (num_envs,), truncated bool (num_envs,)); refreshes ``obs``.
        """
        go = self.k == self.length - 2
        in_pair = (self.cue1 == self.target) | (self.cue2 == self.target)
        right = actions == in_pair
        rewards = np.where(go, self._rewards[right.view(np.int8)], 0.0)
        if self.outcome_input:
            shown = go
            if self.outcome_prob < 1.0:
                words = hash64(self.key, OUTCOME_COUNTER + self.trial)
                shown = go & ((words >> np.uint64(32)) < self._outcome_threshold)
            self.prev_outcome = np.where(shown, np.where(in_pair, 1.0, -1.0), 0.0).astype(np.float32)
        self.correct += go & right
        self.go_steps += go
        self.last_answer = np.where(go, actions, self.last_answer)
        self.prev_action = actions.copy()
        self.prev_reward = rewards
        self.t += 1
        self.k += 1
        ended = self.k >= self.length
        if ended.any():
            rows = np.flatnonzero(ended)
            self.trial[rows] += 1
            self._draw_trials(rows)
        self._observe()
        return rewards.copy(), self.t >= self.episode_length

    def _observe(self) -> None:
        """Write the observation of every row's current step into ``obs``."""
        lay = self.obs_layout
        k = self.k
        shown = np.where(k == self.pos1, self.cue1, np.where(k == self.pos2, self.cue2, self.num_cues))
        self._shown = shown
        self.obs[:, lay.cue] = self.cues.reshape(-1, self.cue_size)[self._row_base + shown]
        self.obs[:, lay.go.start] = k == self.length - 2
        self.obs[:, lay.time.start] = self._time_table[self.t]
        self.obs[:, lay.prev_reward.start] = self.prev_reward
        self.obs[:, lay.prev_action] = self._onehot[self.prev_action + 1]
        if self.outcome_input:
            self.obs[:, lay.prev_outcome.start] = self.outcome_scale * self.prev_outcome

    # -- infos ---------------------------------------------------------------------------------------------

    def _phase(self) -> np.ndarray:
        phase = np.where(self._shown < self.num_cues, PHASE_CUE, PHASE_BLANK)
        phase[self.k == self.length - 2] = PHASE_GO
        return phase

    def _target_shown(self) -> np.ndarray:
        return (((self.cue1 == self.target) & (self.k >= self.pos1))
                | ((self.cue2 == self.target) & (self.k >= self.pos2)))

    def info(self) -> dict[str, np.ndarray]:
        """Fresh per-row infos (all (num_envs,)): phase int64 (PHASE_BLANK / PHASE_CUE / PHASE_GO of the
        current step); trial_step int64 (step within the trial, 0-based); trial_length int64; target_shown
        bool (the target has been shown so far in the current trial); correct int64 (right answers so far);
        go_steps int64 (Go steps answered so far); target_cue int64."""
        return {"phase": self._phase(), "trial_step": self.k.copy(), "trial_length": self.length.copy(),
                "target_shown": self._target_shown(), "correct": self.correct.copy(),
                "go_steps": self.go_steps.copy(), "target_cue": self.target.copy()}

    def single_info(self, i: int) -> dict[str, Any]:
        """Row i's info with Python scalars (same keys as :meth:`info`)."""
        return {"phase": int(self._phase()[i]), "trial_step": int(self.k[i]),
                "trial_length": int(self.length[i]),
                "target_shown": bool(self._target_shown()[i]), "correct": int(self.correct[i]),
                "go_steps": int(self.go_steps[i]), "target_cue": int(self.target[i])}

    # -- rendering -----------------------------------------------------------------------------------------

    def _status(self, i: int) -> tuple[str, str]:
        answer = "-" if self.last_answer[i] < 0 else ACTION_NAMES[self.last_answer[i]]
        line1 = (f"t {self.t[i]}/{self.episode_length}  trial {self.trial[i]} "
                 f"step {self.k[i]}/{self.length[i]}"
                 f"  {PHASE_NAMES[self._phase()[i]]}")
        line2 = (f"last answer {answer}  last reward {self.prev_reward[i]:+g}  "
                 f"correct {self.correct[i]}/{self.go_steps[i]}")
        return line1, line2

    def render_ansi(self, i: int) -> str:
        """Row i as text: status, the cue shown ('+', '-', '1', '0' per entry, or 'none'), the Go bit, and
        the episode's cues with the target marked by '*'."""
        def pattern(v: np.ndarray) -> str:
            if self.cue_kind == "one_hot":
                return "".join("1" if x > 0 else "0" for x in v)
            return "".join("+" if x > 0 else "-" for x in v)

        line1, line2 = self._status(i)
        shown = self._shown[i]
        cue = "none" if shown == self.num_cues else f"cue {shown} {pattern(self.cues[i, shown])}"
        lines = [line1, f"shown: {cue}  go={int(self.k[i] == self.length[i] - 2)}", line2]
        for c in range(self.num_cues):
            mark = "*" if c == self.target[i] else " "
            lines.append(f" {mark}cue {c}: {pattern(self.cues[i, c])}")
        return "\n".join(lines) + "\n"

    def render_rgb(self, i: int, cell: int = 14) -> np.ndarray:
        """Row i as an image, uint8 (H, W, 3): status text; the cue shown now as a row of squares (white +1,
        black -1 or 0 for one-hot, grey when no cue is shown); a Go lamp (yellow when on); the episode's cues
        with the target framed in green; a bottom strip coloured by the last reward with the last answer."""
        S, K = self.cue_size, self.num_cues
        width = max(S * cell + 100, 330)
        height = 64 + 2 * cell + K * (cell + 6) + 44
        canvas = Canvas(width, height)
        line1, line2 = self._status(i)
        canvas.text(6, 4, line1)

        def squares(y: int, values: np.ndarray | None, x0: int = 70) -> None:
            for b in range(S):
                if values is None:
                    fill = (205, 205, 205)
                else:
                    fill = (250, 250, 250) if values[b] > 0 else (25, 25, 25)
                canvas.rect(x0 + b * cell, y, x0 + (b + 1) * cell - 1, y + cell, fill,
                            outline=(120, 120, 120))

        shown = self._shown[i]
        y = 24
        canvas.text(6, y + 2, "shown" if shown < K else "no cue")
        squares(y, self.cues[i, shown] if shown < K else None)
        go = self.k[i] == self.length[i] - 2
        canvas.rect(6, y + cell + 8, 60, y + 2 * cell + 14, (250, 210, 0) if go else (225, 225, 225),
                    outline=(120, 120, 120))
        canvas.text(22, y + cell + 10, "GO")
        y = 64 + 2 * cell
        for c in range(K):
            yc = y + c * (cell + 6)
            target = c == self.target[i]
            canvas.text(6, yc + 1, f"cue {c}" + (" T" if target else ""))
            if target:
                canvas.rect(66, yc - 3, 70 + S * cell + 3, yc + cell + 3, (60, 180, 75))
            squares(yc, self.cues[i, c])
        reward = float(self.prev_reward[i])
        color = reward_color(reward) if reward != 0 else NEUTRAL
        canvas.rect(0, height - 40, width, height, color)
        canvas.text(6, height - 34, line2, fill=(255, 255, 255))
        return canvas.to_array()


class CueRewardEnv(PlasticEnv):
    """The cue task as a single Gymnasium env.

    Keywords: num_cues (K = 4), cue_size (20), cue_kind ("random_bipolar" or "one_hot"), episode_length
    (T = 120), max_extra_blanks (3: trials last 5 to 8 steps), correct_reward (1.0), wrong_reward (-1.0),
    legacy_zero_input (False; True adds the release's always-zero input at the end), outcome_input (False; True
    adds the previous trial's outcome, a departure: see the module docstring), outcome_scale (1.0) and
    outcome_prob (1.0: the probability that a trial's outcome is shown), render_mode
    ("rgb_array", "ansi" or None). Observation float32 (cue_size + 6,) laid out as :func:`cue_obs_layout`
    (:data:`CUE_OBS` by default); action Discrete(2): 0 absent, 1 present.
    reset options: {"target_cue": k} fixes the target. info: see :meth:`CueRewardCore.info`.
    """

    core_class = CueRewardCore


class CueRewardVectorEnv(PlasticVectorEnv):
    """``num_envs`` cue-task episodes stepped at once (keywords of :class:`CueRewardEnv`, plus
    ``max_episode_steps`` which, if given, must equal ``episode_length``). reset option ``target_cue`` is one
    int for all sub-envs or an int array (num_envs,)."""

    core_class = CueRewardCore
