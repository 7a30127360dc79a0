"""Recurrent cells with plastic, neuromodulated recurrent weights (SPEC.md section 1)."""
from .base import CellBase
from .options import ALPHA_MODES, CELL_KINDS
from .registry import IMPLEMENTATIONS, make_cell
from .state import CellState

__all__ = ["ALPHA_MODES", "CELL_KINDS", "CellBase", "CellState", "IMPLEMENTATIONS", "make_cell"]
