"""`make_cell`: build any kind of cell, fast or reference."""
from __future__ import annotations

from .base import CellBase
from .lstm import LSTMCell
from .options import CELL_KINDS, check_kind
from .plastic import PlasticRNNCell
from .plastic_lstm import PlasticLSTMCell
from .reference import ReferenceCell
from .rnn import RNNCell

IMPLEMENTATIONS = ("fast", "reference")

_FAST = {"rnn": RNNCell, "lstm": LSTMCell, "plastic": PlasticRNNCell, "modplast": PlasticRNNCell,
         "modul": PlasticRNNCell, "plastic_lstm": PlasticLSTMCell, "modplast_lstm": PlasticLSTMCell,
         "modul_lstm": PlasticLSTMCell}
assert set(_FAST) == set(CELL_KINDS)


def make_cell(kind: str, input_size: int, hidden_size: int, *, implementation: str = "fast",
              **options) -> CellBase:
    """A recurrent cell of `kind` (one of CELL_KINDS) mapping (B, input_size) inputs to (B, hidden_size) states.

    implementation: "fast" (production) or "reference" (the slow step-by-step oracle; same parameter names).
    options: clip, alpha_mode, modulator_fanout, eta_init, init_scale where the kind has them (see options.py).
    """
    check_kind(kind)
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {implementation!r}; valid: {', '.join(IMPLEMENTATIONS)}")
    cls = ReferenceCell if implementation == "reference" else _FAST[kind]
    return cls(kind, input_size, hidden_size, **options)
