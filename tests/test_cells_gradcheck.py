"""torch.autograd.gradcheck of the fused sequence function in float64, in the piecewise-smooth regime: the
inputs are chosen so that some trace entries are clipped but none sits within 1e-3 of the clip (where the
function is not differentiable)."""
import pytest
import torch

from plastic_agents.cells.fused import plastic_sequence
from plastic_agents.cells.parameters import PlasticParameters

T, B, N = 6, 2, 4


def _case(kind, alpha_mode, fanout, seed):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return (scale * (2 * torch.rand(*shape, generator=g, dtype=torch.float64) - 1)).requires_grad_()

    a_seq = r(T, B, N, scale=1.5)
    alpha_shape = {"connection": (N, N), "neuron": (N,), "scalar": (1,)}[alpha_mode]
    args = dict(a_seq=a_seq, x0=r(B, N), hebb0=r(B, N, N, scale=0.9), w=r(N, N), alpha=r(*alpha_shape))
    args["elig0"] = r(B, N, N) if kind == "modul" else None
    args["eta"] = (torch.full((1,), 0.6, dtype=torch.float64).requires_grad_() if kind == "plastic" else None)
    args["eta_e"] = (torch.full((1,), 0.3, dtype=torch.float64).requires_grad_() if kind == "modul" else None)
    if kind != "plastic":
        args["mod_w"], args["mod_b"] = r(1, N, scale=2.0), r(1)
        if fanout:
            args["fan_a"], args["fan_c"] = r(N, scale=1.2), r(N, scale=0.5)
    return args


def _margin_to_clip(kind, args, keep, clip):
    """Smallest |raw - (+-clip)| over all steps, where raw is the pre-clip trace, using the reference loop."""
    with torch.no_grad():
        x, h = args["x0"].clone(), args["hebb0"].clone()
        e = args["elig0"].clone() if kind == "modul" else None
        alpha = args["alpha"].expand(N, N)
        margin, clipped = float("inf"), 0
        for t in range(T):
            k = keep[t]
            x, h = x * k[:, None], h * k[:, None, None]
            e = e * k[:, None, None] if e is not None else None
            pre = args["a_seq"][t] + x @ args["w"] + torch.einsum("bi,ij,bij->bj", x, alpha, h)
            xn = torch.tanh(pre)
            if kind == "plastic":
                rate = args["eta"].expand(B, N)
            else:
                m = torch.tanh(xn @ args["mod_w"].t() + args["mod_b"]).squeeze(1)
                rate = m[:, None] * args["fan_a"] + args["fan_c"] if args.get("fan_a") is not None \
                    else m[:, None].expand(B, N)
            raw = h + rate[:, None, :] * (e if kind == "modul" else x[:, :, None] * xn[:, None, :])
            margin = min(margin, (raw.abs() - clip).abs().min().item())
            clipped += int((raw.abs() > clip).sum())
            h = raw.clamp(-clip, clip)
            if kind == "modul":
                e = (1 - args["eta_e"]) * e + args["eta_e"] * x[:, :, None] * xn[:, None, :]
            x = xn
        return margin, clipped


@pytest.mark.parametrize("kind,alpha_mode,fanout", [
    ("plastic", "connection", False), ("plastic", "neuron", False), ("modplast", "connection", False),
    ("modplast", "scalar", True), ("modul", "connection", False), ("modul", "neuron", True)])
def test_gradcheck_fused(kind, alpha_mode, fanout):
    clip = 0.8
    keep = torch.ones(T, B, dtype=torch.float64)
    keep[3, 1] = 0.0
    for seed in range(50):
        args = _case(kind, alpha_mode, fanout, seed)
        margin, clipped = _margin_to_clip(kind, args, keep, clip)
        if margin > 1e-3 and clipped > 0:
            break
    else:
        pytest.fail("no seed gave clipped traces away from the clip's kink")
    names = [k for k, v in args.items() if v is not None]

    def f(*tensors):
        kw = dict(zip(names, tensors))
        params = PlasticParameters(**{k: kw[k] for k in PlasticParameters._fields if k in kw})
        xs, _m, h, e = plastic_sequence(kind, clip, alpha_mode, kw["a_seq"], keep, kw["x0"], kw["hebb0"],
                                            kw.get("elig0"), params, segment=4)
        return (xs, h) if e is None else (xs, h, e)

    assert torch.autograd.gradcheck(f, tuple(args[k] for k in names), eps=1e-6, atol=1e-6)
