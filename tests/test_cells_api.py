"""The cell API: make_cell, attributes, states, modulation, and clear errors for bad arguments."""
import pytest
import torch

from plastic_agents import CELL_KINDS, CellState, make_cell


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_attributes_and_shapes(kind, implementation):
    cell = make_cell(kind, 5, 6, implementation=implementation)
    assert (cell.input_size, cell.hidden_size, cell.kind) == (5, 6, kind)
    assert cell.is_plastic == (kind not in ("rnn", "lstm"))
    assert cell.is_modulated == kind.startswith(("modplast", "modul"))
    s = cell.initial_state(3)
    assert isinstance(s, CellState) and s.x.shape == (3, 6) and torch.count_nonzero(s.x) == 0
    assert (s.hebb is not None) == cell.is_plastic
    assert (s.elig is not None) == kind.startswith("modul")
    assert (s.c is not None) == kind.endswith("lstm")
    x, s1 = cell(torch.randn(3, 5), s)
    assert x.shape == (3, 6) and s1.x.shape == (3, 6)
    xs, s2 = cell.forward_sequence(torch.randn(4, 3, 5), s)
    assert xs.shape == (4, 3, 6)
    if cell.is_plastic:
        assert s2.hebb.shape == (3, 6, 6)


def test_parameter_names_of_the_spec():
    assert {n for n, _ in make_cell("rnn", 3, 4).named_parameters()} == {"i2h.weight", "i2h.bias", "w"}
    names = {n for n, _ in make_cell("plastic", 3, 4).named_parameters()}
    assert names == {"i2h.weight", "i2h.bias", "w", "alpha", "eta"}
    names = {n for n, _ in make_cell("modul", 3, 4).named_parameters()}
    assert names == {"i2h.weight", "i2h.bias", "w", "alpha", "eta_e", "h2mod.weight", "h2mod.bias"}
    cell = make_cell("modplast", 3, 4)
    assert isinstance(cell.i2h, torch.nn.Linear) and isinstance(cell.h2mod, torch.nn.Linear)
    assert cell.w.shape == (4, 4) and cell.alpha.shape == (4, 4)
    assert 0 <= float(cell.w.detach().min()) and float(cell.w.detach().max()) <= 0.01


def test_options_and_defaults():
    assert make_cell("modul", 3, 4).options["clip"] == 1.0
    assert make_cell("modplast_lstm", 3, 4).options["clip"] == 2.0
    assert make_cell("plastic", 3, 4, alpha_mode="neuron").alpha.shape == (4,)
    assert make_cell("plastic", 3, 4, alpha_mode="scalar").alpha.shape == (1,)
    assert float(make_cell("modul", 3, 4, eta_init=0.1).eta_e.detach()) == pytest.approx(0.1)
    fan = make_cell("modplast", 3, 4, modulator_fanout=True)
    assert fan.fanout.weight.shape == (4, 1) and fan.fanout.bias.shape == (4,)
    assert float(make_cell("rnn", 3, 4, init_scale=0.0).w.detach().abs().max()) == 0.0


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("kind", ["modplast", "modul", "modplast_lstm", "modul_lstm"])
def test_zero_modulator_init_keeps_the_traces_at_zero_until_trained(kind, implementation):
    torch.manual_seed(0)
    assert make_cell(kind, 3, 4).options["modulator_init"] == "default"
    assert float(make_cell(kind, 3, 4).h2mod.weight.detach().abs().max()) > 0
    cell = make_cell(kind, 3, 4, implementation=implementation, modulator_init="zero")
    assert float(cell.h2mod.weight.detach().abs().max()) == 0 and float(cell.h2mod.bias.detach()) == 0
    u = torch.randn(6, 2, 3)
    xs, state = cell.forward_sequence(u, cell.initial_state(2))
    with torch.no_grad():
        assert float(cell.modulation(xs).abs().max()) == 0
    assert float(state.hebb.detach().abs().max()) == 0
    xs.sum().backward()   # the modulator still gets a gradient, through the eligibility traces or x x^T
    assert float(cell.h2mod.weight.grad.abs().max()) > 0


def test_modulation():
    cell = make_cell("modplast", 3, 4, modulator_fanout=True)
    x = torch.randn(5, 2, 4)
    m = cell.modulation(x)
    assert m.shape == (5, 2)
    torch.testing.assert_close(m, torch.tanh(cell.h2mod(x)).squeeze(-1))
    with pytest.raises(ValueError, match="no neuromodulator"):
        make_cell("plastic", 3, 4).modulation(x)
    with pytest.raises(ValueError, match="shape"):
        cell.modulation(torch.randn(2, 5))


@pytest.mark.parametrize("call,match", [
    (lambda: make_cell("gru", 3, 4), "unknown cell kind 'gru'.*valid kinds: rnn, lstm"),
    (lambda: make_cell("rnn", 0, 4), "input_size must be a positive int"),
    (lambda: make_cell("rnn", 3, -2), "hidden_size must be a positive int"),
    (lambda: make_cell("rnn", 3, 4, implementation="cuda"), "unknown implementation"),
    (lambda: make_cell("modplast", 3, 4, eta_init=0.1), "unknown option.*'eta_init'.*valid options"),
    (lambda: make_cell("plastic", 3, 4, modulator_fanout=True), "unknown option.*modulator_fanout"),
    (lambda: make_cell("plastic", 3, 4, alpha_mode="row"), "alpha_mode must be one of"),
    (lambda: make_cell("plastic", 3, 4, clip=0), "clip must be > 0"),
    (lambda: make_cell("modul", 3, 4, modulator_fanout="yes"), "modulator_fanout must be a bool"),
    (lambda: make_cell("modul", 3, 4, modulator_init="small"), "modulator_init must be one of default, zero"),
    (lambda: make_cell("plastic", 3, 4, modulator_init="zero"), "unknown option.*modulator_init"),
])
def test_bad_construction(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_bad_inputs(implementation):
    cell = make_cell("modul", 3, 4, implementation=implementation)
    s = cell.initial_state(2)
    with pytest.raises(ValueError, match="input_size=3"):
        cell(torch.randn(2, 5), s)
    with pytest.raises(ValueError, match=r"\(B, input_size\)"):
        cell(torch.randn(3), s)
    with pytest.raises(ValueError, match="another batch"):
        cell(torch.randn(3, 3), s)
    with pytest.raises(ValueError, match="state.hebb has shape"):
        cell(torch.randn(2, 3), make_cell("modul", 3, 5).initial_state(2)._replace(x=s.x))
    with pytest.raises(ValueError, match="state.c must be None"):
        cell(torch.randn(2, 3), s._replace(c=s.x))
    with pytest.raises(TypeError, match="CellState"):
        cell(torch.randn(2, 3), (s.x, s.hebb))
    with pytest.raises(ValueError, match="episode_starts must be a"):
        cell.forward_sequence(torch.randn(4, 2, 3), s, torch.zeros(4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        cell.forward_sequence(torch.randn(4, 2, 3), s, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="positive int"):
        cell.initial_state(0)
