"""Autograd derivatives match closed forms; the stream engine matches autograd (every model and
order: tests/test_jets.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinn_cli.fields import Field
from pinn_cli.models import MLP
from pinn_cli.models.base import Model
from pinn_cli.runfile import read_run
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.training.trainer import run


class Closed(torch.nn.Module):
    """u(t, x) = sin(2t) x^3 + exp(x) t^2."""

    def forward(self, tx):
        t, x = tx[:, 0], tx[:, 1]
        return (torch.sin(2 * t) * x**3 + torch.exp(x) * t**2)[:, None]


def test_autograd_derivatives_match_closed_forms():
    torch.manual_seed(0)
    tx = torch.rand(100, 2, dtype=torch.float64) * 2 - 1
    t, x = tx[:, 0], tx[:, 1]
    d = Field(Closed(), ("t", "x"), engine="autograd").derivatives(tx, ("u_t", "u_x", "u_xx", "u_tx"))
    torch.testing.assert_close(d.u_t, 2 * torch.cos(2 * t) * x**3 + 2 * t * torch.exp(x))
    torch.testing.assert_close(d.u_x, 3 * torch.sin(2 * t) * x**2 + torch.exp(x) * t**2)
    torch.testing.assert_close(d.u_xx, 6 * torch.sin(2 * t) * x + torch.exp(x) * t**2)
    torch.testing.assert_close(d.u_tx, 6 * torch.cos(2 * t) * x**2 + 2 * t * torch.exp(x))


@pytest.mark.parametrize("activation", ["tanh", "sin"])
@pytest.mark.parametrize("names", [("u_t", "u_x", "u_xx"), ("u_xx", "u_yy"), ("u_x", "u_xy")])
def test_streams_match_autograd(activation, names):
    torch.manual_seed(1)
    axes = ("t", "x") if "u_t" in names else ("x", "y")
    model = MLP(2, depth=3, width=20, activation=activation).double()
    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    fast = Field(model, axes, "streams").derivatives(x, names)
    slow = Field(model, axes, "autograd").derivatives(x, names)
    for k in ["u", *names]:
        torch.testing.assert_close(fast[k], slow[k], rtol=1e-10, atol=1e-12)


def _residual_and_grads(model, x, engine, compiled=False):
    model.zero_grad()
    field = Field(model, ("t", "x"), engine, compiled)
    d = field.derivatives(x, ("u_t", "u_xx"))
    if compiled and not field.compiled:
        pytest.skip("torch.compile is not usable on this machine (the fallback is tested below)")
    r = d.u_t - 1e-4 * d.u_xx + 5 * d.u**3 - 5 * d.u
    r.square().mean().backward()
    return r.detach().double(), torch.cat([p.grad.flatten() for p in model.parameters()]).double()


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_streams_residual_and_gradients_match_autograd():
    """float64: the fast path gives the residual and the parameter gradients to 1e-6 relative
    (they agree to ~1e-14). float32: both engines stay within 1e-5 of the float64 result (measured:
    streams ~1.4e-6, nested autograd ~1.5e-7 on the gradients: more round-off, same maths)."""
    torch.manual_seed(2)
    model = MLP(2, depth=4, width=32).double()
    x = torch.rand(512, 2, dtype=torch.float64) * 2 - 1
    r_fast, g_fast = _residual_and_grads(model, x, "streams")
    r_slow, g_slow = _residual_and_grads(model, x, "autograd")
    assert _rel(r_fast, r_slow) < 1e-6 and _rel(g_fast, g_slow) < 1e-6
    model32, x32 = model.float(), x.float()
    r32f, g32f = _residual_and_grads(model32, x32, "streams")
    r32s, g32s = _residual_and_grads(model32, x32, "autograd")
    assert _rel(r32f, r_slow) < 1e-5 and _rel(g32f, g_slow) < 1e-5
    assert _rel(r32s, r_slow) < 1e-5 and _rel(g32s, g_slow) < 1e-5


@pytest.mark.slow
def test_compiled_streams_match_autograd():
    """torch.compile'd streams (float64, then float32 against float64) as the test above."""
    torch.manual_seed(3)
    model = MLP(2, depth=3, width=16).double()
    x = torch.rand(256, 2, dtype=torch.float64) * 2 - 1
    r_fast, g_fast = _residual_and_grads(model, x, "streams", compiled=True)
    r_slow, g_slow = _residual_and_grads(model, x, "autograd")
    assert _rel(r_fast, r_slow) < 1e-6 and _rel(g_fast, g_slow) < 1e-6
    r32, g32 = _residual_and_grads(model.float(), x.float(), "streams", compiled=True)
    assert _rel(r32, r_slow) < 1e-5 and _rel(g32, g_slow) < 1e-5


def test_compile_failure_falls_back_to_eager(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: broken)
    torch.manual_seed(4)
    model = MLP(2, depth=2, width=8).double()
    x = torch.rand(32, 2, dtype=torch.float64)
    field = Field(model, ("t", "x"), "streams", compiled=True)
    d = field.derivatives(x, ("u_t", "u_xx"))
    eager = Field(model, ("t", "x"), "streams").derivatives(x, ("u_t", "u_xx"))
    assert not field.compiled
    assert "torch.compile is not usable here (RuntimeError: no C++ compiler found)" in caplog.text
    for k in eager:
        assert torch.equal(d[k], eager[k])


class Softplus(torch.nn.Module):
    """A network the streams cannot follow (softplus has no stream rule)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(2, 8), torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.b(torch.nn.functional.softplus(self.a(x)))


def test_a_model_the_streams_cannot_follow_falls_back_with_one_line(caplog):
    torch.manual_seed(6)
    model = Softplus().double()
    x = torch.rand(16, 2, dtype=torch.float64)
    field = Field(model, ("t", "x"), "streams")
    d = field.derivatives(x, ("u_t", "u_xx"))
    d2 = field.derivatives(x, ("u_t", "u_xx"))                 # decided once
    ref = Field(model, ("t", "x"), "autograd").derivatives(x, ("u_t", "u_xx"))
    for k in ref:
        torch.testing.assert_close(d[k], ref[k], rtol=1e-12, atol=1e-14)
        assert torch.equal(d2[k], d[k])
    lines = [r for r in caplog.records if "derivative streams cannot follow" in r.getMessage()]
    assert len(lines) == 1 and "Softplus" in lines[0].getMessage()
    assert "softplus" in lines[0].getMessage()
    assert not field.streamed and not field.streams_ok


class SoftplusModel(Model):
    """Softplus as a run's model."""

    def __init__(self, in_dim: int, out_dim: int = 1):
        super().__init__(in_dim, out_dim)
        self.a, self.b = torch.nn.Linear(in_dim, 8), torch.nn.Linear(8, out_dim)

    def forward(self, x):
        return self.b(torch.nn.functional.softplus(self.a(x)))

    def weight_matrices(self):
        return [self.a.weight, self.b.weight]


def test_a_resumed_run_keeps_the_fallback_of_the_run_it_continues(make_cfg, tmp_path):
    """Once the streams fell short (here on the first step) the run differentiates by nested
    autograd; a run resumed from its checkpoint does so from its first step too, so it equals
    the uninterrupted run bit for bit."""
    common = ["model._target_=test_derivatives.SoftplusModel", *(f"~model.{k}" for k in (
              "depth", "width", "activation")), "pde.n_collocation=256",
              "engine=streams", "eval_every=3",
              "checkpoint_every=7", "diagnostics.snr.every=2", "diagnostics.snr.batches=8"]
    cfg = lambda n: make_cfg(*common, f"iterations={n}", small=False)        # noqa: E731
    run(cfg(14), tmp_path / "full")
    run(cfg(7), tmp_path / "part")
    run(cfg(14), tmp_path / "part")                                  # in place, from step 7
    a, b = (checkpoint.load(RunFolder(tmp_path / f).last, "cpu") for f in ("full", "part"))
    assert a["engine"] == b["engine"] and a["engine"]["streams_ok"] is False
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    fa, fb = (read_run(tmp_path / f / "run.h5").series for f in ("full", "part"))
    np.testing.assert_array_equal(fa["metrics"]["loss"], fb["metrics"]["loss"])
    np.testing.assert_array_equal(fa["snr"]["global"], fb["snr"]["global"])


def test_gelu_streams_and_a_model_can_opt_out():
    torch.manual_seed(7)
    x = torch.rand(16, 2, dtype=torch.float64)
    model = MLP(2, depth=2, width=8, activation="gelu").double()
    fast = Field(model, ("t", "x"), "streams").derivatives(x, ("u_t", "u_xx", "u_ttx"))
    slow = Field(model, ("t", "x"), "autograd").derivatives(x, ("u_t", "u_xx", "u_ttx"))
    for k in slow:
        torch.testing.assert_close(fast[k], slow[k], rtol=1e-10, atol=1e-12)
    model.supports_streams = False
    assert not Field(model, ("t", "x"), "auto").streams_ok
    with pytest.raises(ValueError):
        Field(model, ("t", "x"), "streams")


class TwoOutputs(torch.nn.Module):
    """Closed forms of two outputs: a(x, y) = sin(x) y^3 + exp(x y),  b(x, y) = x^2 y + cos(2 y)."""

    def forward(self, xy):
        x, y = xy[:, 0], xy[:, 1]
        return torch.stack([torch.sin(x) * y**3 + torch.exp(x * y), x**2 * y + torch.cos(2 * y)], 1)


class ThreeInputs(torch.nn.Module):
    """f(t, x, y) = t^2 sin(x) exp(y) + x y^3 t,  g(t, x, y) = cos(t x) + y^2."""

    def forward(self, txy):
        t, x, y = txy.unbind(1)
        return torch.stack([t**2 * torch.sin(x) * torch.exp(y) + x * y**3 * t,
                            torch.cos(t * x) + y**2], 1)


def test_two_outputs_derivatives_up_to_third_order_match_closed_forms():
    torch.manual_seed(2)
    xy = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    x, y = xy.unbind(1)
    f = Field(TwoOutputs(), ("x", "y"), "autograd", outputs=("a", "b"))
    d = f.derivatives(xy, ("a_x", "a_yyy", "a_xyy", "a_xxy", "b_xxy", "b_yyy", "b_y", "a_yxy"))
    e = torch.exp(x * y)
    want = {"a": torch.sin(x) * y**3 + e, "b": x**2 * y + torch.cos(2 * y),
            "a_x": torch.cos(x) * y**3 + y * e,
            "a_yyy": 6 * torch.sin(x) + x**3 * e,
            "a_xyy": 6 * torch.cos(x) * y + (2 * x + x**2 * y) * e,
            "a_xxy": -3 * torch.sin(x) * y**2 + (2 * y + x * y**2) * e,
            "b_xxy": torch.full_like(x, 2.0), "b_yyy": 8 * torch.sin(2 * y), "b_y": x**2 - 2 * torch.sin(2 * y)}
    want["a_yxy"] = want["a_xyy"]                                   # mixed partials commute
    for k, v in want.items():
        torch.testing.assert_close(d[k], v, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(f(xy), TwoOutputs()(xy))             # (N, 2) for two outputs


def test_three_inputs_two_outputs_third_order():
    torch.manual_seed(3)
    txy = torch.rand(40, 3, dtype=torch.float64) * 2 - 1
    t, x, y = txy.unbind(1)
    d = Field(ThreeInputs(), ("t", "x", "y"), "autograd", outputs=("f", "g")).derivatives(
        txy, ("f_txy", "f_yyy", "g_ttx", "g_xx"))
    torch.testing.assert_close(d.f_txy, 2 * t * torch.cos(x) * torch.exp(y) + 3 * y**2, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(d.f_yyy, t**2 * torch.sin(x) * torch.exp(y) + 6 * x * t, rtol=1e-10, atol=1e-10)
    # g = cos(t x): g_tt = -x^2 cos(t x); g_ttx = -2 x cos(t x) + x^2 t sin(t x)
    torch.testing.assert_close(d.g_ttx, -2 * x * torch.cos(t * x) + x**2 * t * torch.sin(t * x),
                               rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(d.g_xx, -t**2 * torch.cos(t * x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("names", [("a_x", "a_yy", "b_xy", "b_x"), ("a_xx", "b_yy")])
def test_two_output_streams_match_autograd(names):
    """Both engines where both apply (up to second order): an MLP with two outputs."""
    torch.manual_seed(4)
    model = MLP(2, 2, depth=3, width=16).double()
    xy = torch.rand(30, 2, dtype=torch.float64) * 2 - 1
    fast = Field(model, ("x", "y"), "streams", outputs=("a", "b"))
    slow = Field(model, ("x", "y"), "autograd", outputs=("a", "b"))
    a, b = fast.derivatives(xy, names), slow.derivatives(xy, names)
    for k in ("a", "b", *names):
        torch.testing.assert_close(a[k], b[k], rtol=1e-10, atol=1e-12)
    assert fast.streamed


def test_third_order_streams_under_a_capture():
    """Third derivatives are streamed, also inside a capture, whose shares are then complete."""
    torch.manual_seed(5)
    model = MLP(2, 2, depth=2, width=8).double()
    xy = torch.rand(20, 2, dtype=torch.float64)
    fast = Field(model, ("x", "y"), "autograd", outputs=("a", "b"))      # a capture streams anyway
    with fast.capture(per_batch=5) as cap:
        d = fast.derivatives(xy, ("a_xyy",))
        d.a_xyy.square().sum().backward()
        shares = cap.shares()
    ref = Field(model, ("x", "y"), "autograd", outputs=("a", "b")).derivatives(xy, ("a_xyy",))
    torch.testing.assert_close(d.a_xyy, ref.a_xyy, rtol=1e-12, atol=1e-14)
    assert cap.problem is None and fast.streamed
    assert [s.shape for s in shares] == [(4, *w.shape) for w in model.weight_matrices()]
    for s, w in zip(shares, model.weight_matrices()):                     # they add up to dL/dW
        torch.testing.assert_close(s.sum(0), w.grad, rtol=1e-12, atol=1e-14)
