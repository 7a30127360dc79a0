"""Agents of the backpropamine package: plastic recurrent cells and the actor-critic built on them."""
from .cells import CELL_KINDS, CellState, make_cell
from .policy import ActorCritic, match_hidden_size

__all__ = ["CELL_KINDS", "ActorCritic", "CellState", "make_cell", "match_hidden_size"]
