"""The Fourier MLP, modified MLP and PirateNet on the Model contract: shapes, smooth derivatives,
exact periodicity, PirateNet's linear start, random weight factorization, and their configs."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pinn_cli.schema import check_node
from pinn_cli.errors import ConfigError
from pinn_cli.models.fourier_mlp import FourierMLP
from pinn_cli.models.layers import Dense, Embedding, xavier_normal
from pinn_cli.models.modified_mlp import ModifiedMLP
from pinn_cli.models.pirate import PirateNet

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"
PERIODIC = {"periodic_axes": [0], "periods": [2.0]}

# name -> (constructor, small settings, expected number of weight matrices)
MODELS = {
    "fourier": (FourierMLP, dict(depth=3, width=12, embedding=dict(features=8)), 4),
    "fourier_rwf_periodic": (FourierMLP, dict(depth=2, width=12, embedding=dict(features=8, **PERIODIC),
                                              rwf=dict(enabled=True)), 3),
    "modified": (ModifiedMLP, dict(depth=3, width=12), 6),
    "modified_fourier_rwf": (ModifiedMLP, dict(depth=2, width=12, embedding=dict(features=6, **PERIODIC),
                                               rwf=dict(enabled=True)), 5),
    "pirate": (PirateNet, dict(blocks=2, width=12, embedding=dict(features=5)), 9),
    "pirate_rwf_periodic": (PirateNet, dict(blocks=1, width=12, embedding=dict(features=5, **PERIODIC),
                                            rwf=dict(enabled=True)), 6),
}


def build(name: str, d: int = 2, m: int = 1, dtype=torch.float64, **embedding):
    cls, kw, _ = MODELS[name]
    torch.manual_seed(0)
    kw = {**kw, "embedding": {**kw.get("embedding", {}), **embedding}}
    return cls(d, m, **kw).to(dtype)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 2])
def test_shapes_weights_and_hidden(name, d, m):
    model = build(name, d, m, torch.float32)
    x = torch.rand(7, d)
    assert model(x).shape == (7, m)
    assert model.supports_streams is True                 # derivative streams of any order
    weights = model.weight_matrices()
    params = {id(p) for p in model.parameters()}
    assert len(weights) == MODELS[name][2]
    assert all(isinstance(w, torch.nn.Parameter) and w.ndim == 2 and id(w) in params for w in weights)
    assert len({id(w) for w in weights}) == len(weights)
    hidden = model.hidden(x)
    assert len(hidden) == len(weights) - 1               # the entropy probe's layer count
    assert all(h.ndim == 2 and h.shape[0] == 7 for h in hidden)
    assert [h.shape[1] for h in hidden] == [w.shape[0] for w in weights[:-1]]
    assert weights[-1].shape[0] == m


def test_fourier_matrix_is_a_fixed_buffer_and_alpha_is_not_a_weight():
    model = build("pirate")
    B = model.embed.B
    assert not B.requires_grad and all(B is not p for p in model.parameters())
    assert B.dtype == torch.float64 and B.shape == (2, 5)
    assert all(w is not model.alpha for w in model.weight_matrices())
    assert torch.equal(model.alpha, torch.zeros(2))


def derivatives(model, x):
    """u (N, m), du (N, m, d), d2u (N, m, d, d) by nested autograd."""
    x = x.clone().requires_grad_(True)
    u = model(x)
    du, d2u = [], []
    for k in range(u.shape[1]):
        g = torch.autograd.grad(u[:, k].sum(), x, create_graph=True)[0]               # (N, d)
        du.append(g)
        d2u.append(torch.stack([torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0]
                                for i in range(x.shape[1])], 1))                     # (N, d, d)
    return u.detach(), torch.stack(du, 1).detach(), torch.stack(d2u, 1)


def finite_differences(model, x, h1=1e-4, h2=1e-3):
    """Central differences of the values: first (N, m, d) step h1, second (N, m, d, d) step h2."""
    d = x.shape[1]
    e = torch.eye(d, dtype=x.dtype)
    with torch.no_grad():
        first = torch.stack([(model(x + h1 * e[i]) - model(x - h1 * e[i])) / (2 * h1)
                             for i in range(d)], 2)
        second = torch.empty(*first.shape, d, dtype=x.dtype)
        for i in range(d):
            for j in range(d):
                pp, pm = model(x + h2 * (e[i] + e[j])), model(x + h2 * (e[i] - e[j]))
                mp, mm = model(x - h2 * (e[i] - e[j])), model(x - h2 * (e[i] + e[j]))
                second[:, :, i, j] = (pp - pm - mp + mm) / (4 * h2 * h2)
    return first, second


@pytest.mark.parametrize("name", MODELS)
def test_autograd_derivatives_match_finite_differences(name):
    """Nested autograd against central differences (steps h1 = 1e-4, h2 = 1e-3, and their halves).

    The plain differences' errors are truncation, O(h^2): halving the step divides them by ~4.
    Richardson's (4 D(h/2) - D(h)) / 3 removes that term; what is left (O(h^4), rounding ~1e-12 /
    h^2) is within 1e-8 (first) and 3e-4 (second) of the largest derivative of each order: the
    Fourier features make fourth derivatives large (2 pi sigma |B| up to ~20 per axis).
    """
    model = build(name, d=2, m=2)
    if name.startswith("pirate"):
        with torch.no_grad():
            model.alpha.fill_(0.5)                      # so that the blocks take part
    x = torch.rand(6, 2, dtype=torch.float64) * 2 - 1
    _, du, d2u = derivatives(model, x)
    a1, a2 = finite_differences(model, x, 1e-4, 1e-3)
    b1, b2 = finite_differences(model, x, 5e-5, 5e-4)
    assert torch.allclose(d2u, d2u.transpose(2, 3), atol=1e-12)
    assert 3 < (d2u - a2).abs().max() / (d2u - b2).abs().max() < 5            # O(h^2) convergence
    assert ((4 * b1 - a1) / 3 - du).abs().max() <= 1e-8 * du.abs().max()
    assert ((4 * b2 - a2) / 3 - d2u).abs().max() <= 3e-4 * d2u.abs().max()
    assert d2u.abs().max() > 1e-3                       # the second derivatives are not trivial


@pytest.mark.parametrize("name", ["fourier", "modified_fourier_rwf", "pirate"])
@pytest.mark.parametrize("period", [2.0, 0.3])
def test_periodic_embedding_is_exact(name, period):
    """Allen-Cahn's (t, x) input with x periodic: u(t, x) == u(t, x + k P) to 1e-12."""
    model = build(name, d=2, m=2, periodic_axes=[1], periods=[period])
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    shift = torch.tensor([0.0, period], dtype=torch.float64)
    with torch.no_grad():
        u = model(x)
        for k in (1, -1, 3):
            assert (model(x + k * shift) - u).abs().max() <= 1e-12
        t_shift = torch.tensor([period, 0.0], dtype=torch.float64)
        assert (model(x + t_shift) - u).abs().max() > 1e-6      # t is not periodic


def test_pirate_starts_as_a_linear_model_of_its_embedding():
    model = build("pirate", d=2, m=2)
    x = torch.rand(20, 2, dtype=torch.float64)
    with torch.no_grad():
        u = model(x)
        assert torch.equal(u, model.out(model.embed(x)))
        for layer in [model.enc_u, model.enc_v] + [l for b in model.blocks for l in b.layers]:
            layer.matrix.add_(torch.randn_like(layer.matrix))
            layer.bias.add_(1.0)
        assert torch.equal(model(x), u)                 # gates and blocks do not matter at alpha = 0
        model.alpha.fill_(0.1)
        assert (model(x) - u).abs().max() > 1e-6
    model.alpha.data.zero_()
    model(x).sum().backward()
    assert model.alpha.grad.abs().min() > 0             # alpha starts moving at the first step


def test_rwf_factorises_a_xavier_normal_weight():
    torch.manual_seed(1)
    layer = Dense(300, 200, rwf=True, rwf_mu=1.0, rwf_sigma=0.1)
    torch.manual_seed(1)
    w0 = xavier_normal(200, 300)                        # the same first draw as the layer's
    w = layer.weight()
    assert torch.equal(w, layer.s.exp()[:, None] * layer.v)
    assert torch.allclose(w, w0, rtol=1e-6, atol=0)
    assert abs(w0.std().item() / math.sqrt(2 / 500) - 1) < 0.03
    assert abs(layer.s.mean().item() - 1.0) < 0.03 and abs(layer.s.std().item() / 0.1 - 1) < 0.2
    assert layer.matrix is layer.v and not hasattr(layer, "w")
    x = torch.randn(4, 300)
    assert torch.allclose(layer(x), x @ w.T + layer.bias, atol=1e-5)
    plain = Dense(3, 2)
    assert plain.weight() is plain.matrix is plain.w


def test_rwf_models_train_s_and_v():
    model = build("modified_fourier_rwf", d=2, m=1)
    names = {n for n, _ in model.named_parameters()}
    assert {"enc_u.s", "enc_u.v", "out.s", "out.v"} <= names and "enc_u.w" not in names
    assert all(w is l.v for w, l in zip(model.weight_matrices(),
                                        [model.enc_u, model.enc_v, *model.layers, model.out]))


def test_embedding_widths():
    assert Embedding(2, features=0).out_dim == 2
    assert Embedding(2, features=0, periodic_axes=[1], periods=[2.0]).out_dim == 3
    assert Embedding(3, features=7, periodic_axes=[0, 2], periods=[1.0, 2.0]).B.shape == (5, 7)
    assert Embedding(3, features=7).out_dim == 14


@pytest.mark.parametrize("axes,periods,key", [([2], [2.0], "periodic_axes"),
                                              ([1, 1], [2.0, 2.0], "periodic_axes"),
                                              ([1], [], "periods"), ([1], [-2.0], "periods")])
def test_bad_periodic_settings_are_refused(axes, periods, key):
    with pytest.raises(ConfigError, match=f"model.embedding.{key}"):
        FourierMLP(2, 1, embedding=dict(periodic_axes=axes, periods=periods))


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_model_yaml_checks_and_instantiates(path):
    node = OmegaConf.load(path)
    assert "in_dim" not in node and "out_dim" not in node
    check_node("model", node, supplied=("in_dim", "out_dim"))
    model = instantiate(node, in_dim=2, out_dim=1)
    assert model(torch.rand(3, 2)).shape == (3, 1)


@pytest.mark.parametrize("name", ["fourier_mlp", "modified_mlp", "pirate"])
def test_allen_cahn_periodic_override_checks(name):
    node = OmegaConf.load(CONF / f"{name}.yaml")
    node.embedding.periodic_axes, node.embedding.periods, node.rwf.enabled = [1], [2.0], True
    check_node("model", node, supplied=("in_dim", "out_dim"))
    assert instantiate(node, in_dim=2, out_dim=1).embed.axes == [1]


@pytest.mark.parametrize("key,value,allowed", [("depth", 1, ">= 2"), ("embedding.features", -1, ">= 0"),
                                               ("embedding.periods", [0.0], "> 0"),
                                               ("rwf.enabled", "yes", "true")])
def test_schema_refuses_bad_modified_mlp_values(key, value, allowed):
    node = OmegaConf.load(CONF / "modified_mlp.yaml")
    OmegaConf.update(node, key, value)
    with pytest.raises(ConfigError, match=f"model.{key}.*{allowed}"):
        check_node("model", node, supplied=("in_dim", "out_dim"))
