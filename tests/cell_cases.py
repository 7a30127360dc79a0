"""Shared set-up of the cell tests: a fast cell and its reference twin with the same large parameters."""

import torch

from plastic_agents import make_cell


def fast_and_reference(kind: str, input_size: int, hidden_size: int, *, seed: int, scale: float, **options):
    """(fast, reference) cells of `kind` with identical parameters drawn from U(-scale, scale) (eta 0.7, eta_e 0.4),
    large enough that the traces hit the clip within a few steps."""
    torch.manual_seed(seed)
    fast = make_cell(kind, input_size, hidden_size, **options)
    with torch.no_grad():
        for p in fast.parameters():
            p.uniform_(-scale, scale)
        if hasattr(fast, "eta"):
            fast.eta.fill_(0.7)
        if hasattr(fast, "eta_e"):
            fast.eta_e.fill_(0.4)
    ref = make_cell(kind, input_size, hidden_size, implementation="reference", **options)
    ref.load_state_dict(fast.state_dict())
    return fast, ref
