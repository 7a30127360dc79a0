"""The learned parameters of each kind of cell, created under the same names for the fast and reference cells.

RNN kinds (N hidden, I inputs):
  i2h    nn.Linear(I, N)        input weights Win and bias bin
  w      (N, N)                 recurrent weights w[i, j], i presynaptic, j postsynaptic; no bias
  alpha  (N, N) / (N,) / (1,)   plasticity coefficients for alpha_mode connection / neuron (per postsynaptic j) / scalar
  eta    (1,)                   Hebbian rate of `plastic`
  eta_e  (1,)                   eligibility rate of `modul`
  h2mod  nn.Linear(N, 1)        modulator M = tanh(h2mod(x)) of the modulated kinds (all zero at first with the
                                option modulator_init="zero")
  fanout nn.Linear(1, N)        optional per-neuron fan-out eta_j = a_j M + c_j (weight a (N, 1), bias c (N,))
LSTM kinds (gate order in i2h's rows: input i, forget f, output o, cell input g):
  i2h    nn.Linear(I, 4N)       input weights and biases of the three gates and of g
  h2h    nn.Linear(N, 4N, bias=False) for `lstm`; nn.Linear(N, 3N, bias=False) (gates only) for plastic LSTMs
  w      (N, N)                 recurrent weights of the plastic cell-input path g (plastic LSTMs only)
  alpha, eta, eta_e, h2mod, fanout as for the RNN kinds (alpha defaults to per neuron).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .options import LSTM_KINDS, MODULATED_KINDS, PLASTIC_KINDS, RETROACTIVE_KINDS


class PlasticParameters(NamedTuple):
    """The learned tensors of a plastic cell's recurrent path, as the sequence functions and the kernel take them.

    w (N, N) recurrent weights; alpha (N, N) / (N,) / (1,) plasticity coefficients (see alpha_shape); eta (1,)
    the Hebbian rate of `plastic` / `plastic_lstm`, else None; eta_e (1,) the eligibility rate of the retroactive
    kinds, else None; mod_w (1, N) and mod_b (1,) the modulator layer h2mod of the modulated kinds, else None;
    fan_a (N,) and fan_c (N,) the fan-out's weight column and bias (eta_j = a_j M + c_j), else None.
    """

    w: torch.Tensor
    alpha: torch.Tensor
    eta: torch.Tensor | None = None
    eta_e: torch.Tensor | None = None
    mod_w: torch.Tensor | None = None
    mod_b: torch.Tensor | None = None
    fan_a: torch.Tensor | None = None
    fan_c: torch.Tensor | None = None

    def with_full_alpha(self) -> PlasticParameters:
        """The same bundle with alpha broadcast to (N, N), the compiled kernel's layout (a view: autograd sums the
        gradient of the per-neuron and scalar modes over the broadcast)."""
        if self.alpha.dim() == 2:
            return self
        n = self.w.shape[0]
        return self._replace(alpha=self.alpha.expand(n, n))


def alpha_shape(alpha_mode: str, hidden_size: int) -> tuple:
    """Shape of alpha for an alpha_mode: (N, N), (N,) or (1,)."""
    return {"connection": (hidden_size, hidden_size), "neuron": (hidden_size,), "scalar": (1,)}[alpha_mode]


def build_parameters(module: nn.Module, kind: str, input_size: int, hidden_size: int, options: dict) -> None:
    """Create the parameters of `kind` on `module` (see the module docstring for names and shapes)."""
    n = hidden_size
    scale = options.get("init_scale", 0.01)
    if kind in LSTM_KINDS:
        module.i2h = nn.Linear(input_size, 4 * n)
        gates = 4 * n if kind == "lstm" else 3 * n
        module.h2h = nn.Linear(n, gates, bias=False)
        if kind != "lstm":
            bound = 1.0 / math.sqrt(n)
            module.w = nn.Parameter(torch.empty(n, n).uniform_(-bound, bound))
    else:
        module.i2h = nn.Linear(input_size, n)
        module.w = nn.Parameter(scale * torch.rand(n, n))
    if kind in PLASTIC_KINDS:
        module.alpha = nn.Parameter(scale * torch.rand(alpha_shape(options["alpha_mode"], n)))
    if kind in ("plastic", "plastic_lstm"):
        module.eta = nn.Parameter(torch.full((1,), options["eta_init"]))
    if kind in RETROACTIVE_KINDS:
        module.eta_e = nn.Parameter(torch.full((1,), options["eta_init"]))
    if kind in MODULATED_KINDS:
        module.h2mod = nn.Linear(n, 1)
        if options["modulator_init"] == "zero":
            with torch.no_grad():
                module.h2mod.weight.zero_()
                module.h2mod.bias.zero_()
        if options["modulator_fanout"]:
            # Starts as the plain modulator (a = 1, c = 0): eta_j(t) = M(t) for every j.
            module.fanout = nn.Linear(1, n)
            with torch.no_grad():
                module.fanout.weight.fill_(1.0)
                module.fanout.bias.zero_()
