"""The objective group: the pointwise losses rho, their place in the loss (after the weighting,
chunk by chunk, through the fast SNR capture) and the regression of the reference."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from pinn_cli.cli import train
from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.errors import ConfigError
from pinn_cli.fields.field import Field
from pinn_cli.models.mlp import MLP
from pinn_cli.reference.interpolate import GridInterpolant
from pinn_cli.objective.losses import rho
from pinn_cli.objective.regression import RegressionProblem
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.pdes.cavity import LidDrivenCavity
from pinn_cli.pdes.helmholtz import Helmholtz
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import Trainer

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
SMALL = ["pde=helmholtz_smooth", "model.depth=2", "model.width=8", "pde.n_collocation=64",
         "device=cpu", "threads=1"]
ROBUST = ["l1", "huber", "log_cosh"]


# ---- rho against its closed form and its derivative (float64) -------------------------------
def _log_cosh(e: np.ndarray) -> np.ndarray:
    """log(cosh e) in 40-digit arithmetic (float64's log(cosh e) loses digits near 0)."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        return np.array([float(mpmath.log(mpmath.cosh(mpmath.mpf(float(v))))) for v in e])


DELTA = 0.7
CLOSED = {  # rho(e), rho'(e)
    "squared": (lambda e: e**2, lambda e: 2 * e),
    "l1": (np.abs, np.sign),
    "huber": (lambda e: np.where(np.abs(e) <= DELTA, 0.5 * e**2, DELTA * (np.abs(e) - 0.5 * DELTA)),
              lambda e: np.clip(e, -DELTA, DELTA)),
    "log_cosh": (_log_cosh, np.tanh),
}


@pytest.mark.parametrize("name", list(CLOSED))
def test_rho_and_its_gradient_match_the_closed_forms(name):
    e_np = np.concatenate([np.linspace(-6, 6, 1201), [0.0, DELTA, -DELTA, 1.0, -1.0, 1e-9, -3e-5,
                                                      25.0, -400.0, 800.0]])
    e = torch.tensor(e_np, dtype=torch.float64, requires_grad=True)
    value = rho(name, DELTA)(e)
    (grad,) = torch.autograd.grad(value.sum(), e)
    f, df = CLOSED[name]
    np.testing.assert_allclose(value.detach().numpy(), f(e_np), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(grad.numpy(), df(e_np), rtol=1e-13, atol=1e-15)


def test_log_cosh_neither_overflows_nor_loses_small_residuals_in_float32():
    e = torch.tensor([1e-4, 10.0, 100.0, -1e4, 3e38], dtype=torch.float32, requires_grad=True)
    value = rho("log_cosh")(e)
    (grad,) = torch.autograd.grad(value.sum(), e)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    assert value[0].item() == pytest.approx(0.5e-8, rel=1e-6)          # e^2 / 2, not 0
    assert value[3].item() == pytest.approx(1e4 - math.log(2.0), rel=1e-6)


def test_huber_is_continuous_with_a_continuous_slope_at_delta():
    e = torch.tensor([DELTA * (1 - 1e-12), DELTA * (1 + 1e-12)], dtype=torch.float64, requires_grad=True)
    value = rho("huber", DELTA)(e)
    (grad,) = torch.autograd.grad(value.sum(), e)
    assert abs(value[0] - value[1]).item() < 1e-11 and abs(grad[0] - grad[1]).item() < 1e-11
    assert value[0].item() == pytest.approx(0.5 * DELTA**2)


# ---- the loss: squared unchanged, robust losses chunked and captured ------------------------
def test_the_squared_loss_is_bit_identical_to_a_hand_written_sum_of_squares(make_cfg, tmp_path):
    """objective=pinn (the default) forms L = sum_k w_k sum_i e_ik^2 / N_k exactly as before."""
    tr = Trainer(make_cfg("chunk_size=0", "engine=autograd", "pde.loss_weights.bc=3.0"), tmp_path)
    assert tr.cfg.objective.loss == "squared"
    obj, pde, field, pts = tr.loss, tr.pde, tr.field, tr.loss.points
    out = obj.backward(0)
    grads = [p.grad.clone() for p in tr.model.parameters()]
    obj.zero_grad()
    r = pde.residual(field, pts["res"])                                             # (N,)
    hand_res = 1.0 * (r.square().sum() / len(r))
    hand_res.backward()
    c = pde.conditions(field, pts)["bc"]                                            # (N_bc,)
    hand_bc = 3.0 * (c.square().sum() / len(c))
    hand_bc.backward()
    assert torch.equal(out.loss, (hand_res + hand_bc).detach())
    for g, p in zip(grads, tr.model.parameters()):
        assert torch.equal(g, p.grad)


def _robust_trainer(make_cfg, folder, loss, chunk, weighting):
    return Trainer(make_cfg("dtype=float64", f"objective.loss={loss}", "objective.delta=0.2",
                            f"chunk_size={chunk}", *weighting, "diagnostics.snr.batches=8"), folder)


@pytest.mark.parametrize("weighting", [["weighting=none"], ["weighting=rba", "weighting.init=residual"]],
                         ids=["none", "rba"])
@pytest.mark.parametrize("loss", ROBUST)
def test_a_backward_per_chunk_equals_one_backward(make_cfg, tmp_path, loss, weighting):
    out = []
    for chunk in (0, 32, 64):
        tr = _robust_trainer(make_cfg, tmp_path / str(chunk), loss, chunk, weighting)
        res = tr.loss.backward(0, update=True, capture=8)
        out.append((res, [p.grad.clone() for p in tr.model.parameters()]))
    assert len(tr.loss.chunks()) == 4
    if loss == "huber":                  # both of Huber's branches are in the loss
        w = tr.weighting.apply(res.residuals)
        a = torch.cat([w["res"].abs(), w["bc"].abs()])
        assert (a <= 0.2).any() and (a > 0.2).any()
    for res, grads in out[1:]:
        torch.testing.assert_close(res.loss, out[0][0].loss, rtol=1e-12, atol=0)
        for a, b in zip(grads, out[0][1]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
        m, ref = res.batch_moments, out[0][0].batch_moments
        assert m.count == ref.count == 8
        for a, b in zip([*m.mean, *m.var], [*ref.mean, *ref.var]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


CAVITY = ["pde=lid_driven_cavity", "pde.re=100", "pde.reference.n=16", "pde.n_boundary=16"]


@pytest.mark.parametrize("objective,pde", [("pinn", []), ("regression", []), ("regression", CAVITY)],
                         ids=["pinn", "regression", "regression-cavity"])
def test_fast_snr_batch_gradients_equal_the_naive_path_for_huber(make_cfg, tmp_path, objective, pde):
    """The cavity's regression fits speed, u and v, through psi's first derivatives."""
    tr = Trainer(make_cfg(*pde, "dtype=float64", f"objective={objective}", "objective.loss=huber",
                          "objective.delta=0.2", "chunk_size=64", "weighting=rba",
                          "weighting.init=residual", "diagnostics.snr.batches=8"), tmp_path)
    fast = tr.loss.backward(0, update=True, capture=8).batch_moments
    assert tr.loss.fast_capture                      # the shares came from the step's backward
    assert len(tr.loss.chunks()) > 1                 # merged over chunks
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(8))
    assert fast.count == 8
    for a, b in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)


# ---- regression: the reference as the target ------------------------------------------------
class _Exact:
    """A field that returns the exact Helmholtz solution."""

    def __init__(self, pde):
        self.pde = pde

    def __call__(self, x):
        return self.pde.exact(x[:, 0], x[:, 1])


def test_the_regression_residual_of_the_exact_solution_is_the_interpolation_error(tmp_path):
    """e = u(x) - I[u](x): zero at the grid nodes, and at most (1/8) sum_j h_j^2 max|u_jj|."""
    pde = Helmholtz(a1=6.0, a2=6.0, n_collocation=4000, reference={"n": 201})
    problem = RegressionProblem(pde, str(tmp_path))
    assert problem.sample(np.random.default_rng(0)).keys() == {"res"}
    x = torch.as_tensor(problem.sample(np.random.default_rng(0))["res"])           # (N, 2)
    np.testing.assert_array_equal(x.numpy(), pde.sample(np.random.default_rng(0))["res"])
    e = problem.residual(_Exact(pde), x)                                            # (N,)
    h = 2.0 / 200
    bound = 2 * h**2 * (6 * math.pi) ** 2 / 8                                       # 8.9e-3
    assert e.shape == (4000,) and 1e-4 < e.abs().max().item() <= bound
    nodes = torch.as_tensor(problem.reference().points())                          # (M, 2)
    assert problem.residual(_Exact(pde), nodes).abs().max().item() < 1e-12
    rows = slice(1000, 1500)                                                        # a chunk's own values
    assert torch.equal(problem.residual(_Exact(pde), x[rows]), e[rows])
    assert problem.conditions(_Exact(pde), {"res": x}) == {}
    assert problem.loss_weights == {"res": 1.0}


def test_interpolation_is_multilinear_on_uneven_axes_and_clamped_outside():
    ax = [np.array([0.0, 0.1, 0.5, 1.0]), np.array([-1.0, 0.0, 2.0])]
    gx, gy = np.meshgrid(*ax, indexing="ij")
    f = lambda x, y: 2 * x - 3 * y + 0.5 * x * y + 1                               # noqa: E731 bilinear
    interp = GridInterpolant(ax, {"f": f(gx, gy)})
    x = torch.tensor([[0.05, -0.5], [0.3, 1.7], [1.0, 2.0], [0.7, 0.1]], dtype=torch.float64)
    torch.testing.assert_close(interp(x)["f"], f(x[:, 0], x[:, 1]), rtol=1e-14, atol=1e-14)
    outside = torch.tensor([[-1.0, 5.0]], dtype=torch.float64)
    assert interp(outside)["f"].item() == pytest.approx(f(0.0, 2.0))


class _TwoFields(PDE):
    """A toy problem whose reference holds two named observables of one output."""

    axes = ("x", "y")

    def __init__(self):
        self.bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
        self.n_collocation, self.loss_weights = 64, {"res": 2.0, "bc": 1.0}

    def sample(self, rng):
        return {"res": self.latin_hypercube(64, rng), "bc": np.zeros((4, 2))}

    def residual(self, net, x):
        raise AssertionError("regression never asks for the physics")

    def conditions(self, net, points):
        raise AssertionError("regression never asks for the conditions")

    def reference(self, cache):
        ax = np.linspace(0.0, 1.0, 11)
        gx, gy = np.meshgrid(ax, ax, indexing="ij")
        return Reference(axes=[ax, ax], values={"a": gx + gy, "b": gx - 2 * gy})

    def observables(self, net, x):
        u = net(x)
        return {"b": u - 3 * x[:, 1], "a": u}


def test_regression_fits_every_observable_the_reference_holds(tmp_path):
    problem = RegressionProblem(_TwoFields(), str(tmp_path))
    x = torch.rand(50, 2, dtype=torch.float64)
    exact = lambda x: x[:, 0] + x[:, 1]                        # noqa: E731 (a = u, b = u - 3 y)
    e = problem.residual(exact, x)                                                 # (N, 2): a, b
    assert e.shape == (50, 2) and e.abs().max().item() < 1e-13
    assert problem.loss_weights == {"res": 2.0}


def test_the_cavity_observables_carry_the_graph_when_grad_is_on():
    pde = LidDrivenCavity(re=100.0, reference={"n": 16})
    field = Field(MLP(2, 2, depth=2, width=8), pde.axes, "autograd", outputs=pde.outputs)
    x = torch.rand(10, 2)
    assert all(v.requires_grad for v in pde.observables(field, x).values())
    with torch.no_grad():
        assert not any(v.requires_grad for v in pde.observables(field, x).values())


def test_a_pde_without_a_reference_is_one_config_error(tmp_path):
    class NoReference(_TwoFields):
        def reference(self, cache):
            raise NotImplementedError

    with pytest.raises(ConfigError) as err:
        RegressionProblem(NoReference(), str(tmp_path)).residual(lambda x: x[:, 0], torch.zeros(3, 2))
    assert "objective='regression'" in str(err.value) and "NoReference has none" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.slow
@pytest.mark.outcome
def test_a_regression_run_completes_and_records_the_snr(tmp_path, ref_cache):
    run_dir = tmp_path / "r"
    p = subprocess.run(TRAIN + SMALL + ["objective=regression", "iterations=50", "eval_every=10",
                                        f"hydra.run.dir={run_dir}", f"reference_cache={ref_cache}",
                                        "diagnostics.snr.batches=8"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = read_run(run_dir / "run.h5")
    assert r.attrs["status"] == "done" and r.attrs["steps"] == 50
    assert '"objective": "regression"' in r.attrs["choices"]
    m = r.series["metrics"]
    assert "loss_res" in m and "loss_bc" not in m
    assert m["loss"][-1] < m["loss"][0]
    snr = r.series["snr"]
    assert len(snr["step"]) >= 10 and np.all(np.isfinite(snr["global"]))


# ---- bad values: one line, exit 2, before training ------------------------------------------
@pytest.mark.parametrize("args,key,allowed", [
    (["objective.loss=cubic"], "objective.loss='cubic'", "one of squared, l1, huber, log_cosh"),
    (["objective.delta=-1"], "objective.delta=-1", "> 0"),
    (["objective=regression", "objective.delta=0"], "objective.delta=0", "> 0"),
    (["objective=physics"], "objective=physics", "pinn, regression"),
])
def test_bad_objective_values_are_one_line_before_training(monkeypatch, capsys, tmp_path, args, key, allowed):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["pinn-train", *args])
    with pytest.raises(SystemExit) as exc:
        train.main()
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("pinn-train: error:") and key in err and allowed in err, err
    assert not list(tmp_path.rglob("run.h5"))


def test_the_plugins_are_told_of_the_trained_problem_not_the_pde(make_cfg):
    """Under objective=regression the problem handed to the weighting, the probes and the
    sampler is the regression's (one "res" term, no boundary points), so RBA sizes its
    multipliers to the points it is given."""
    from pinn_cli.training.build import build
    cfg = make_cfg("objective=regression", "weighting=rba")
    parts = build(cfg, torch.device("cpu"), torch.float32)
    assert parts.problem.terms == parts.pde.point_counts() == {"res": 256}
    assert isinstance(parts.pde, RegressionProblem)
