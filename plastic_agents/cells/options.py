"""The kinds of cell, their options, and the paper's defaults for each option."""
from __future__ import annotations

CELL_KINDS = ("rnn", "lstm", "plastic", "modplast", "modul", "plastic_lstm", "modplast_lstm", "modul_lstm")

PLASTIC_KINDS = frozenset({"plastic", "modplast", "modul", "plastic_lstm", "modplast_lstm", "modul_lstm"})
MODULATED_KINDS = frozenset({"modplast", "modul", "modplast_lstm", "modul_lstm"})
RETROACTIVE_KINDS = frozenset({"modul", "modul_lstm"})
LSTM_KINDS = frozenset({"lstm", "plastic_lstm", "modplast_lstm", "modul_lstm"})
ALPHA_MODES = ("connection", "neuron", "scalar")
MODULATOR_INITS = ("default", "zero")

# Defaults per kind.  `eta_init` is the initial plasticity rate eta (plastic kinds) or the eligibility rate
# eta_e (retroactive kinds); `init_scale` scales the 0.01 * U(0, 1) initialisation of w (RNN kinds) and alpha;
# `modulator_init` is "default" (PyTorch's nn.Linear initialisation of the modulator layer, the paper's) or "zero"
# (its weights and bias start at 0, so M(t) = 0 and the traces 0 at first, however the network starts).
_DEFAULTS = {
    "rnn": {"init_scale": 0.01},
    "lstm": {},
    "plastic": {"clip": 1.0, "alpha_mode": "connection", "eta_init": 0.01, "init_scale": 0.01},
    "modplast": {"clip": 1.0, "alpha_mode": "connection", "modulator_fanout": False, "modulator_init": "default",
                 "init_scale": 0.01},
    "modul": {"clip": 1.0, "alpha_mode": "connection", "modulator_fanout": False, "modulator_init": "default",
              "eta_init": 0.01, "init_scale": 0.01},
    "plastic_lstm": {"clip": 2.0, "alpha_mode": "neuron", "eta_init": 0.01, "init_scale": 0.01},
    "modplast_lstm": {"clip": 2.0, "alpha_mode": "neuron", "modulator_fanout": True, "modulator_init": "default",
                      "init_scale": 0.01},
    "modul_lstm": {"clip": 2.0, "alpha_mode": "neuron", "modulator_fanout": True, "modulator_init": "default",
                   "eta_init": 0.01, "init_scale": 0.01},
}


def check_kind(kind) -> str:
    """Return `kind` if it names a cell, else raise a ValueError listing the valid kinds."""
    if not isinstance(kind, str) or kind not in CELL_KINDS:
        raise ValueError(f"unknown cell kind {kind!r}; valid kinds: {', '.join(CELL_KINDS)}")
    return kind


def check_size(name: str, value) -> int:
    """Return `value` if it is a positive int, else raise a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def resolve_options(kind: str, options: dict) -> dict:
    """Check `options` against those valid for `kind` and fill in the paper's defaults.

    Raises ValueError for an unknown option (naming the valid ones) or a bad value.
    """
    check_kind(kind)
    defaults = _DEFAULTS[kind]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "none"
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for cell kind {kind!r}; "
                         f"valid options: {valid}")
    resolved = dict(defaults)
    resolved.update(options)
    for name in ("clip", "init_scale", "eta_init"):
        if name in resolved:
            value = resolved[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"option {name} must be a number, got {value!r}")
            resolved[name] = float(value)
    if "clip" in resolved and not resolved["clip"] > 0:
        raise ValueError(f"option clip must be > 0, got {resolved['clip']!r}")
    if "init_scale" in resolved and resolved["init_scale"] < 0:
        raise ValueError(f"option init_scale must be >= 0, got {resolved['init_scale']!r}")
    if "alpha_mode" in resolved and resolved["alpha_mode"] not in ALPHA_MODES:
        raise ValueError(f"option alpha_mode must be one of {', '.join(ALPHA_MODES)}, "
                         f"got {resolved['alpha_mode']!r}")
    if "modulator_init" in resolved and resolved["modulator_init"] not in MODULATOR_INITS:
        raise ValueError(f"option modulator_init must be one of {', '.join(MODULATOR_INITS)}, "
                         f"got {resolved['modulator_init']!r}")
    if "modulator_fanout" in resolved and not isinstance(resolved["modulator_fanout"], bool):
        raise ValueError(f"option modulator_fanout must be a bool, got {resolved['modulator_fanout']!r}")
    return resolved
