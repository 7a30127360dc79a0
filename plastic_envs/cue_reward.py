"""Cue-reward association of Backpropamine (SPEC section 3): learn within an episode which of K cues is the
rewarded target, then report on each trial whether it was shown. The rules are in :class:`CueRewardEnv`'s
docstring; :class:`CueRewardCore` runs them for a batch of episodes.

The outcome input (``outcome_input=True``) is a departure from the paper, off by default: the outcome is the
previous reward times the previous action's sign (with the default rewards), so the information is the
paper's and the network is only spared computing that product (docs/RESULTS.md). ``outcome_scale`` (0 keeps
the input at zero: the paper's observation in the same layout) and ``outcome_prob`` (a trial's outcome shown
only with that probability, drawn per trial) let a curriculum take the help away during training.

Random numbers (see :mod:`plastic_envs.rng`): counter 0 draws the target, counters 1 .. K the cues, and
trial n (0-based) uses counters 1 + K + 3n (its length), 2 + K + 3n (the pair), 3 + K + 3n (cue positions),
and OUTCOME_COUNTER + n (whether its outcome is shown, drawn only when outcome_prob < 1).
"""

from __future__ import annotations

import itertools
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
from plastic_envs.rendering import NEUTRAL, Canvas, reward_color
from plastic_envs.rng import hash64, uniform_int

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
#: Most cues (drawing an episode's distinct cues loops over pairs of cues, K**2 / 2 array operations).
MAX_NUM_CUES = 256
#: Longest cue vector (one_hot cues; random_bipolar cues have at most 32 entries).
MAX_CUE_SIZE = 1024
#: Most extra blank steps in a trial (the table of cue placements grows as max_extra_blanks**3).
MAX_EXTRA_BLANKS = 100
#: Most cue entries held at once, num_envs * (num_cues + 1) * cue_size (1 GiB of float32).
MAX_CUE_ENTRIES = 2**28
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
                       ("+1 / -1 if the target was / was not in the pair of the trial answered at the "
                        "previous step, 0 at other steps (outcome_input=True)")))
    return ObsLayout(fields)


#: The default layout (26 values).
CUE_OBS = cue_obs_layout()


class CueRewardCore(TaskCore):
    """Batched rules of the cue task for ``num_envs`` episodes (contract: :class:`plastic_envs.base.TaskCore`).

    Per-row state (shape (num_envs,) unless noted), besides the shared ones: target int64 target cue;
    cues float32 (num_envs, K + 1, cue_size) with row K all zeros (the "no cue" row); trial int64 trial
    number; k int64 step within the trial; length int64 trial length; pos1/pos2 int64 trial steps showing
    cue1/cue2; cue1/cue2 int64 the pair; prev_outcome float32 (+1 / -1 / 0, see the module docstring; 0 too
    when that trial's outcome is not shown); correct int64 scored answers that were right; go_steps int64 Go
    steps answered; last_answer int64 (-1 before the first Go).
    """

    task_family = "cue"
    num_actions = NUM_ACTIONS
    reset_option_names = ("target_cue",)
    info_dtypes: ClassVar[dict[str, np.dtype]] = {
        "phase": np.dtype(np.int64), "trial_step": np.dtype(np.int64), "trial_length": np.dtype(np.int64),
        "target_shown": np.dtype(np.bool_), "correct": np.dtype(np.int64), "go_steps": np.dtype(np.int64),
        "target_cue": np.dtype(np.int64)}

    def __init__(self, num_envs: int = 1, num_cues: int = 4, cue_size: int = 20,
                 cue_kind: str = "random_bipolar", episode_length: int = 120, max_extra_blanks: int = 3,
                 correct_reward: float = 1.0, wrong_reward: float = -1.0, legacy_zero_input: bool = False,
                 outcome_input: bool = False, outcome_scale: float = 1.0, outcome_prob: float = 1.0):
        super().__init__(num_envs, episode_length)
        self.num_cues = K = check_int("num_cues", num_cues, 2, MAX_NUM_CUES)
        self.cue_size = S = check_int("cue_size", cue_size, 1, MAX_CUE_SIZE)
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
        entries = self.num_envs * (K + 1) * S
        if entries > MAX_CUE_ENTRIES:
            raise ValueError(f"num_envs * (num_cues + 1) * cue_size = {entries:,} cue entries is above the limit "
                             f"{MAX_CUE_ENTRIES:,} of this env; use fewer envs, cues or a smaller cue_size")
        self.max_extra_blanks = check_int("max_extra_blanks", max_extra_blanks, 0, MAX_EXTRA_BLANKS)
        self.correct_reward = check_float("correct_reward", correct_reward, max_abs=MAX_ABS_REWARD)
        self.wrong_reward = check_float("wrong_reward", wrong_reward, max_abs=MAX_ABS_REWARD)
        self.legacy_zero_input = check_bool("legacy_zero_input", legacy_zero_input)
        self.outcome_input = check_bool("outcome_input", outcome_input)
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
        lay = cue_obs_layout(S, self.legacy_zero_input, self.outcome_input)
        lows = {"cue": -1.0 if cue_kind == "random_bipolar" else 0.0}
        if self.outcome_input:
            lows["prev_outcome"] = -1.0
        self._init_state(lay, reward_values=(self.correct_reward, self.wrong_reward), lows=lows)

        # Cue positions inside the middle of a trial: for e extra blanks the middle has m = 2 + e steps and
        # C(m, 2) equally likely (first, second) positions; padded table (E + 1, C(2 + E, 2), 2).
        E = self.max_extra_blanks
        combos = [list(itertools.combinations(range(2 + e), 2)) for e in range(E + 1)]
        self._num_placements = np.array([len(c) for c in combos], dtype=np.int64)
        self._placements = np.zeros((E + 1, len(combos[-1]), 2), dtype=np.int64)
        for e, c in enumerate(combos):
            self._placements[e, : len(c)] = c
        self._onehot = np.vstack([np.zeros(NUM_ACTIONS), np.eye(NUM_ACTIONS)]).astype(np.float32)
        self._rewards = np.array([self.wrong_reward, self.correct_reward], dtype=np.float64)

        n = self.num_envs
        self.target = np.zeros(n, dtype=np.int64)
        self.cues = np.zeros((n, K + 1, S), dtype=np.float32)
        for name in ("trial", "k", "length", "pos1", "pos2", "cue1", "cue2", "correct", "go_steps"):
            setattr(self, name, np.zeros(n, dtype=np.int64))
        self.length[:] = BASE_TRIAL_LENGTH
        self.last_answer = np.full(n, -1, dtype=np.int64)
        self.prev_outcome = np.zeros(n, dtype=np.float32)
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
        # The trial's three draws (counters base, base + 1, base + 2) hashed in one call: (m, 3) words.
        words = hash64(self.key[rows, None], (1 + K + 3 * self.trial[rows])[:, None] + np.arange(3))
        extra = uniform_int(words[:, 0], self.max_extra_blanks + 1)
        pair = uniform_int(words[:, 1], K * (K - 1))
        first = pair // (K - 1)
        second = pair % (K - 1)
        second += second >= first
        place = uniform_int(words[:, 2], self._num_placements[extra])
        positions = self._placements[extra, place]  # (m, 2) positions within the middle steps
        self.length[rows] = BASE_TRIAL_LENGTH + extra
        self.cue1[rows] = first
        self.cue2[rows] = second
        self.pos1[rows] = 1 + positions[:, 0]
        self.pos2[rows] = 1 + positions[:, 1]
        self.k[rows] = 0

    # -- the task's hooks ----------------------------------------------------------------------------------

    def _parse_options(self, options: dict, num_envs: int) -> dict:
        """``target_cue``: an int in [0, num_cues) for every env, or an int array (num_envs,).
        Returns {"target": int64 (num_envs,)}."""
        target = per_env_array("target_cue", options["target_cue"], num_envs, ())
        if ((target < 0) | (target >= self.num_cues)).any():
            raise ValueError(
                f"option 'target_cue' must be in [0, {self.num_cues}), got {options['target_cue']!r}")
        return {"target": target}

    def _start_episodes(self, idx: np.ndarray, keys: np.ndarray, fixed: dict) -> None:
        if "target" in fixed:
            self.target[idx] = fixed["target"][idx]
        else:
            self.target[idx] = uniform_int(hash64(keys, 0), self.num_cues)
        self.cues[idx, : self.num_cues] = self._draw_cues(keys)
        self.trial[idx] = 0
        self._draw_trials(idx)
        self.last_answer[idx] = -1
        self.prev_outcome[idx] = 0.0
        self.correct[idx] = 0
        self.go_steps[idx] = 0

    def _advance(self, actions: np.ndarray) -> np.ndarray:
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
        self.k += 1
        ended = self.k >= self.length
        if ended.any():
            rows = np.flatnonzero(ended)
            self.trial[rows] += 1
            self._draw_trials(rows)
        return rewards

    def _write_obs(self, rows: np.ndarray | None) -> None:
        # Every row, whatever ``rows`` is: the rows' observations are functions of their own state.
        lay = self.obs_layout
        k = self.k
        shown = np.where(k == self.pos1, self.cue1, np.where(k == self.pos2, self.cue2, self.num_cues))
        self._shown = shown
        self.obs[:, lay.cue] = self.cues.reshape(-1, self.cue_size)[self._row_base + shown]
        self.obs[:, lay.go.start] = k == self.length - 2
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

    def _info_values(self) -> dict[str, np.ndarray]:
        """Per-row infos (all (num_envs,)): phase (PHASE_BLANK / PHASE_CUE / PHASE_GO of the current step);
        trial_step (step within the trial, 0-based); trial_length; target_shown (the target has been shown
        so far in the current trial); correct (right answers so far); go_steps (Go steps answered so far);
        target_cue."""
        return {"phase": self._phase(), "trial_step": self.k.copy(), "trial_length": self.length.copy(),
                "target_shown": self._target_shown(), "correct": self.correct.copy(),
                "go_steps": self.go_steps.copy(), "target_cue": self.target.copy()}

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

    ## Description
    At reset, per episode: K = ``num_cues`` distinct cues (random bipolar vectors of ``cue_size`` entries in
    {-1, +1}; or, with ``cue_kind="one_hot"``, the fixed one-hot vectors e_0 .. e_{K-1}, the paper's easier
    control) and a target cue drawn uniformly. Trials run back to back (the last may be cut short). A trial
    lasts 5 + U{0..max_extra_blanks} steps: one blank step; the two cues of a uniformly drawn ordered pair
    of distinct cues, one step each, with the extra blank steps placed around them uniformly at random; one
    Go step (Go input 1); one blank step. With K = 4 the target is in the pair with probability 1/2 (2/K in
    general).

    ## Action Space
    ``Discrete(2)``: 1 "the target was shown in this trial", 0 "it was not". Only the Go step's action counts.

    ## Observation Space
    ``Box(float32, (cue_size + 6,))`` laid out as :func:`cue_obs_layout` (:data:`CUE_OBS` by default): the
    cue shown (zeros when none), the Go bit, a bias of 1, t / episode_length, the previous reward, and a
    one-hot of the previous action (zeros at t = 0). ``legacy_zero_input=True`` appends the release's
    always-zero input, ``outcome_input=True`` then the previous trial's outcome (see the module docstring).

    ## Rewards
    On the Go step: ``correct_reward`` (+1) if the answer is right, ``wrong_reward`` (-1) if wrong; 0 on
    every other step. The reward appears as an input one step later.

    ## Starting State
    New cues and target (the target can be fixed by the reset option ``target_cue``); t = 0 at the first
    blank step of trial 0.

    ## Episode End
    Never terminated; truncated after ``episode_length`` steps. ``gym.make(..., max_episode_steps=K)``
    and ``gym.make_vec(..., max_episode_steps=K)`` (in every vectorisation mode) truncate after
    min(K, episode_length) steps; the time input still counts t / episode_length.

    ## Arguments
    - ``num_cues`` (4): from 2 to ``MAX_NUM_CUES`` (256), and at most 2**cue_size (random_bipolar) or
      cue_size (one_hot).
    - ``cue_size`` (20): from 1 to 32 (random_bipolar) or ``MAX_CUE_SIZE`` (1024, one_hot).
    - ``cue_kind`` ("random_bipolar"): or "one_hot".
    - ``episode_length`` (120): from 1 to ``MAX_EPISODE_LENGTH`` (1,000,000).
    - ``max_extra_blanks`` (3, trials of 5 to 8 steps): from 0 to ``MAX_EXTRA_BLANKS`` (100).
    - ``correct_reward`` (1.0) and ``wrong_reward`` (-1.0): finite, within +-``MAX_ABS_REWARD`` (1e6).
    - ``legacy_zero_input`` (False), ``outcome_input`` (False); ``outcome_scale`` (1.0) and
      ``outcome_prob`` (1.0), both in [0, 1] and different from 1 only with ``outcome_input=True``.
    - ``render_mode``: "human" (a pygame window, the extra ``backpropamine[human]``), "rgb_array", "ansi"
      or None.
    A value past a limit raises a one-line ValueError naming the keyword before anything is allocated; so
    does a vector env whose cues would hold more than ``MAX_CUE_ENTRIES`` (2**28) values,
    num_envs * (num_cues + 1) * cue_size.

    ## Reset Options
    ``{"target_cue": k}`` with k in [0, num_cues).

    ## Info
    ``phase`` int64 (0 blank, 1 cue, 2 Go: the current step), ``trial_step`` int64 (0-based),
    ``trial_length`` int64, ``target_shown`` bool (the target has been shown so far in this trial),
    ``correct`` int64 and ``go_steps`` int64 (right answers and Go steps so far), ``target_cue`` int64
    (dtypes declared once in ``CueRewardCore.info_dtypes``; the vector env's infos are the same dtypes
    batched).

    ## Rendering
    ``rgb_array``: the cue shown, a Go lamp, the episode's cues with the target framed, and a strip
    coloured by the last reward; ``ansi``: the same as text.

    ## Vector Env
    :class:`CueRewardVectorEnv` (``gym.make_vec(id, n)``) steps n episodes in one NumPy core.

    ## Reference Levels
    ``plastic_envs.reference_levels(env_id)``: chance, and an ideal Bayesian observer (SPEC section 3).
    """

    core_class = CueRewardCore


class CueRewardVectorEnv(PlasticVectorEnv):
    """``num_envs`` cue-task episodes stepped at once: the keywords and rules of :class:`CueRewardEnv`, plus
    ``max_episode_steps`` (see :class:`plastic_envs.base.PlasticVectorEnv`). The reset option ``target_cue``
    is one int for all sub-envs or an int array (num_envs,). Render modes: "rgb_array" and "ansi"."""

    core_class = CueRewardCore
