"""Derivative streams of any order (Taylor mode, pinn_cli/fields/jet.py) against nested autograd in
float64 for every shipped model, orders 1-4; the SNR capture against the naive per-batch loop on the
cavity (third order) for every shipped model; the combinatorics they rest on."""
from __future__ import annotations

import math

import pytest
import torch

from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.fields import Field
from pinn_cli.models import MLP
from pinn_cli.fields import field as field_module
from pinn_cli.fields import univariate
from pinn_cli.models.fourier_mlp import FourierMLP
from pinn_cli.models.modified_mlp import ModifiedMLP
from pinn_cli.fields.multiindex import index_set, set_partitions
from pinn_cli.models.pirate import PirateNet
from pinn_cli.training.trainer import Trainer

EMBED = {"features": 4, "sigma": 0.5}
PERIODIC = {"periodic_axes": [1], "periods": [2.0]}
RWF = {"enabled": True}
# name -> (class, settings); every shipped architecture, activation, embedding and RWF
MODELS = {
    "mlp_tanh": (MLP, dict(depth=3, width=10)),
    "mlp_sin": (MLP, dict(depth=3, width=10, activation="sin")),
    "mlp_gelu": (MLP, dict(depth=2, width=10, activation="gelu")),
    "fourier": (FourierMLP, dict(depth=2, width=10, embedding=EMBED)),
    "fourier_sin_rwf_periodic": (FourierMLP, dict(depth=2, width=10, activation="sin", rwf=RWF,
                                                  embedding={**EMBED, **PERIODIC})),
    "modified": (ModifiedMLP, dict(depth=3, width=10)),
    "modified_fourier_rwf_periodic": (ModifiedMLP, dict(depth=2, width=10, rwf=RWF,
                                                        embedding={**EMBED, **PERIODIC})),
    "modified_sin_periodic": (ModifiedMLP, dict(depth=2, width=10, activation="sin", embedding=PERIODIC)),
    "pirate": (PirateNet, dict(blocks=2, width=10, embedding=EMBED)),
    "pirate_rwf_periodic_gelu": (PirateNet, dict(blocks=1, width=10, activation="gelu", rwf=RWF,
                                                 embedding={**EMBED, **PERIODIC})),
}
ORDERS = {
    1: ("u_x", "u_y"),
    2: ("u_xx", "u_xy", "u_yy"),
    3: ("u_xxx", "u_xxy", "u_xyy", "u_yyy"),
    4: ("u_xxxx", "u_xxxy", "u_xxyy", "u_xyyy", "u_yyyy"),
}


def build(name: str, m: int = 1, d: int = 2) -> torch.nn.Module:
    cls, kw = MODELS[name]
    torch.manual_seed(0)
    model = cls(d, m, **kw).double()
    with torch.no_grad():
        for p in model.parameters():            # random biases, scales and PirateNet's alpha
            if p.ndim < 2:
                p.copy_(0.5 * torch.randn_like(p))
    return model


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def _loss(d) -> torch.Tensor:
    return sum((k + 1) * v.square().mean() for k, v in enumerate(d.values()))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("name", MODELS)
def test_streams_equal_nested_autograd(name, order):
    """Every derivative of the order and the parameter gradients of a loss of them, float64,
    random points: streams and nested autograd agree to 1e-10 of the largest value."""
    model = build(name)
    x = torch.rand(12, 2, dtype=torch.float64) * 2 - 1
    names = ORDERS[order]
    out = {}
    for engine in ("streams", "autograd"):
        model.zero_grad()
        field = Field(model, ("x", "y"), engine)
        d = field.derivatives(x, names)
        _loss(d).backward()
        out[engine] = d, [p.grad.clone() for p in model.parameters()]
        assert field.streamed
    (fast, g_fast), (slow, g_slow) = out["streams"], out["autograd"]
    for k in ("u", *names):
        assert _rel(fast[k], slow[k]) < 1e-10, k
    assert slow[names[-1]].abs().max() > 1e-6                   # not trivially zero
    for a, b in zip(g_fast, g_slow):
        assert _rel(a, b) < 1e-10


@pytest.mark.parametrize("name", ["mlp_tanh", "modified_fourier_rwf_periodic", "pirate"])
def test_mixed_requests_three_inputs_two_outputs(name):
    """Scattered partials of several orders, three inputs, two outputs: only their downward
    closure is propagated, and every one equals nested autograd."""
    model = build(name, m=2, d=3)
    x = torch.rand(10, 3, dtype=torch.float64)
    names = ("a_t", "b_xy", "a_txy", "b_yyyy", "a_ttx")
    fast = Field(model, ("t", "x", "y"), "streams", outputs=("a", "b")).derivatives(x, names)
    slow = Field(model, ("t", "x", "y"), "autograd", outputs=("a", "b")).derivatives(x, names)
    for k in ("a", "b", *names):
        assert _rel(fast[k], slow[k]) < 1e-10, k


def test_only_the_requested_partials_and_the_lower_ones_they_need_are_propagated():
    index = index_set(frozenset([(0,), (1, 1)]))                # u_t, u_xx
    assert index.alphas == ((), (0,), (1,), (1, 1))
    index = index_set(frozenset([(0, 1, 1)]))                   # psi_xyy alone
    assert index.alphas == ((), (0,), (1,), (0, 1), (1, 1), (0, 1, 1))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_faa_di_bruno_and_leibniz_tables_count_partitions_and_subsets(k):
    """For a multi-index of order k the chain rule's coefficients add up to the Bell number (the
    set partitions) and the product rule's to 2^k (the subsets), with and without repeats."""
    bell = sum(1 for _ in set_partitions(k))
    assert bell == [1, 1, 2, 5, 15, 52][k]
    for alpha in [(0,) * k, tuple(range(k)), (0,) * (k // 2) + (1,) * (k - k // 2)]:
        index = index_set(frozenset([alpha]))
        s = index.index[alpha]
        chain = dict(index.chain_terms(frozenset()))[s]
        prod = dict(index.product_terms(frozenset(), frozenset()))[s]
        assert sum(c for c, _, _ in chain) == bell
        assert sum(c for c, _, _ in prod) == 2 ** k
        assert sum(c for c, m, _ in chain if m == k) == 1        # s_k z_x1 ... z_xk once


@pytest.mark.parametrize("fn,torch_fn", [("tanh", torch.tanh), ("sin", torch.sin), ("cos", torch.cos),
                                         ("exp", torch.exp), ("sigmoid", torch.sigmoid),
                                         ("gelu", torch.nn.functional.gelu)])
def test_univariate_derivatives_equal_autograd_to_order_six(fn, torch_fn):
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    got = univariate.BY_NAME[fn](z.clone(), 6)
    x = z.clone().requires_grad_(True)
    y = torch_fn(x)
    for m in range(7):
        torch.testing.assert_close(got[m], y.detach(), rtol=1e-12, atol=1e-12)
        y = torch.autograd.grad(y.sum(), x, create_graph=True)[0]


def test_power_derivatives_end_in_zeros():
    z = torch.linspace(0.5, 2, 7, dtype=torch.float64)
    s = univariate.power(3.0)(z, 5)
    torch.testing.assert_close(s[3], torch.full_like(z, 6.0))
    assert s[4] is None and s[5] is None
    torch.testing.assert_close(univariate.power(-1.0)(z, 2)[2], 2 / z**3)


# ---- the SNR capture -------------------------------------------------------------------------
CAVITY = ["pde=lid_driven_cavity", "pde.re=100", "pde.reference.n=16", "pde.n_boundary=8",
          "pde.n_collocation=64", "dtype=float64", "diagnostics.snr.batches=4", "chunk_size=32"]
TRAINER_MODELS = {
    "mlp": ["model=mlp", "model.depth=2", "model.width=8"],
    "mlp_sin": ["model=mlp", "model.depth=2", "model.width=8", "model.activation=sin"],
    "fourier_mlp_rwf": ["model=fourier_mlp", "model.depth=2", "model.width=8",
                        "model.embedding.features=4", "model.rwf.enabled=true"],
    "modified_mlp_periodic": ["model=modified_mlp", "model.depth=2", "model.width=8",
                              "model.embedding.periodic_axes=[0]", "model.embedding.periods=[1.0]"],
    "pirate_rwf": ["model=pirate", "model.blocks=1", "model.width=8", "model.embedding.features=4",
                   "model.rwf.enabled=true"],
}


def _naive_equals_fast(tr, batches=4):
    fast = tr.loss.backward(0, update=True, capture=batches).batch_moments
    assert tr.loss.fast_capture                    # the shares came from the step's backward
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(batches))
    assert fast.count == naive.count == batches
    for f, n in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        assert ((f - n).norm() / n.norm()).item() < 1e-8


@pytest.mark.parametrize("model", TRAINER_MODELS)
def test_fast_snr_equals_the_naive_loop_on_the_cavity(make_cfg, tmp_path, model):
    """Third derivatives, RBA re-weighting, two chunks: the batch moments from the step's own
    backward equal those of one backward per batch (nested autograd) to 1e-8 in float64."""
    tr = Trainer(make_cfg(*CAVITY, *TRAINER_MODELS[model], "weighting=rba",
                          "weighting.init=residual", small=False), tmp_path)
    if model.startswith("pirate"):
        with torch.no_grad():
            tr.model.alpha.fill_(0.5)                   # so that the blocks take part
    _naive_equals_fast(tr)


def test_capture_over_pieces_of_the_points_equals_the_naive_loop(make_cfg, tmp_path, monkeypatch):
    """Pieces of the points (a small row budget): each piece's shares land on its own batches."""
    monkeypatch.setattr(field_module, "ROWS", 100)       # 10 streams: pieces of 16 points
    tr = Trainer(make_cfg(*CAVITY, *TRAINER_MODELS["mlp"], small=False), tmp_path)
    assert field_module._piece(32, 10, 16) == 16
    _naive_equals_fast(tr)


def test_a_field_on_autograd_makes_the_capture_fall_back_to_the_naive_loop(make_cfg, tmp_path):
    tr = Trainer(make_cfg(*CAVITY, *TRAINER_MODELS["mlp"], small=False), tmp_path)
    tr.field.streams_ok = False                           # as after a model the jets cannot follow
    fast = tr.loss.backward(0, update=True, capture=4).batch_moments
    assert not tr.loss.fast_capture
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(4))
    for f, n in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        assert ((f - n).norm() / n.norm()).item() < 1e-10


class OddWeights(torch.nn.Module):
    """A model whose second weight matrix is applied as x @ W (not a linear map x @ W.T)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.a, self.b = torch.nn.Parameter(torch.randn(6, 2)), torch.nn.Parameter(torch.randn(6, 1))

    def weight_matrices(self):
        return [self.a, self.b]

    def forward(self, x):
        return torch.tanh(x @ self.a.T) @ self.b




def test_exact_derivatives_of_a_closed_form_through_the_jets():
    """A module written with plain tensor ops (sin, exp, powers, products, indexing) streams too:
    u = sin(2t) x^3 + exp(x) t^2 / (1 + t^2) against its closed-form third derivative."""

    class Closed(torch.nn.Module):
        def forward(self, tx):
            t, x = tx[:, 0], tx[:, 1]
            return (torch.sin(2 * t) * x**3 + torch.exp(x) * t**2 / (1 + t**2))[:, None]

    tx = torch.rand(20, 2, dtype=torch.float64)
    t, x = tx.unbind(1)
    field = Field(Closed(), ("t", "x"), "streams")
    d = field.derivatives(tx, ("u_ttx", "u_xxx"))
    assert field.streamed
    r = t**2 / (1 + t**2)
    r_tt = (2 - 6 * t**2) / (1 + t**2) ** 3
    torch.testing.assert_close(d.u_ttx, -4 * torch.sin(2 * t) * 3 * x**2 + torch.exp(x) * r_tt,
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d.u_xxx, 6 * torch.sin(2 * t) + torch.exp(x) * r, rtol=1e-12, atol=1e-12)
    assert math.isfinite(d.u_ttx.sum().item())


class ScaledByAWeight(torch.nn.Module):
    """A model that multiplies its streams by one of its weight matrices (not a linear map)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.a, self.b = torch.nn.Linear(2, 4), torch.nn.Parameter(torch.randn(1, 4))

    def weight_matrices(self):
        return [self.a.weight, self.b]

    def forward(self, x):
        return (torch.tanh(self.a(x)) * self.b) @ torch.ones(4, 1, dtype=x.dtype)


@pytest.mark.parametrize("module,problem", [(OddWeights, "x @ W"),
                                            (ScaledByAWeight, "other than by a linear map")])
def test_a_weight_matrix_outside_a_linear_map_spoils_the_capture(module, problem):
    """The capture refuses (names why) a weight used other than as a linear map's; the
    derivatives stay those of nested autograd."""
    model = module().double()
    field = Field(model, ("x", "y"), "streams")
    x = torch.rand(8, 2, dtype=torch.float64)
    with field.capture(per_batch=4) as cap:
        d = field.derivatives(x, ("u_xx",))
        d.u_xx.square().sum().backward()
        assert cap.shares() is None and problem in cap.problem
    ref = Field(model, ("x", "y"), "autograd").derivatives(x, ("u_xx",))
    assert _rel(d.u_xx, ref.u_xx) < 1e-12                 # the derivatives are right all the same
