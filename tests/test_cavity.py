"""The lid-driven cavity problem (pinn_cli/pdes/cavity.py), the field-map probe and its figure."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinn_cli.cli.analyze import main as analyze
from pinn_cli.training.build import build
from pinn_cli.training.validate import validate
from pinn_cli.analysis.field_plots import _panels
from pinn_cli.diagnostics.field_map import FieldMapProbe, grid_axes, subsample
from pinn_cli.diagnostics.recorder import Diagnostics
from pinn_cli.errors import ConfigError
from pinn_cli.fields.field import Field
from pinn_cli.pdes import Helmholtz, LidDrivenCavity
from pinn_cli.problem import Problem, grid_points
from pinn_cli.reference.cache import ReferenceCache
from pinn_cli.runfile import read_run
from pinn_cli.training.evaluate import Evaluator
from pinn_cli.training.trainer import run

D = torch.float64


class Closed(torch.nn.Module):
    """A closed-form (psi, p) as a network: forward(xy) -> (N, 2)."""

    def __init__(self, psi, p):
        super().__init__()
        self.psi, self.p = psi, p

    def forward(self, xy):
        x, y = xy[:, 0], xy[:, 1]
        return torch.stack([self.psi(x, y), self.p(x, y)], dim=1)


def field(psi, p=lambda x, y: 0 * x):
    return Field(Closed(psi, p), ("x", "y"), "autograd", outputs=("psi", "p"))


def points(n=200, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).uniform(0, 1, (n, 2)), dtype=D)


def test_kovasznay_flow_is_an_exact_solution():
    """Kovasznay's flow solves steady Navier-Stokes exactly: the residual is round-off."""
    re = 40.0
    lam = re / 2 - math.sqrt(re**2 / 4 + 4 * math.pi**2)
    psi = lambda x, y: y - torch.exp(lam * x) * torch.sin(2 * math.pi * y) / (2 * math.pi)
    p = lambda x, y: (1 - torch.exp(2 * lam * x)) / 2
    r = LidDrivenCavity(re=re).residual(field(psi, p), points())
    assert r.shape == (200, 2)
    assert r.abs().max().item() < 1e-12


def test_residual_equals_the_momentum_equations_in_primitive_variables():
    """psi = sin(a x) sin(b y), p = x^2 y + cos y: the residual is u.grad(u) + grad p - lap(u)/Re
    written out by hand from u = b sin(a x) cos(b y), v = -a cos(a x) sin(b y)."""
    a, b, re = 1.3, 2.1, 7.0
    psi = lambda x, y: torch.sin(a * x) * torch.sin(b * y)
    p = lambda x, y: x**2 * y + torch.cos(y)
    xy = points()
    r = LidDrivenCavity(re=re).residual(field(psi, p), xy)
    x, y = xy[:, 0], xy[:, 1]
    sx, cx, sy, cy = torch.sin(a * x), torch.cos(a * x), torch.sin(b * y), torch.cos(b * y)
    u, v = b * sx * cy, -a * cx * sy
    u_x, u_y, v_x, v_y = a * b * cx * cy, -b**2 * sx * sy, a**2 * sx * sy, -a * b * cx * cy
    k2 = a**2 + b**2                                   # lap u = -k2 u, lap v = -k2 v
    r1 = u * u_x + v * u_y + 2 * x * y + k2 * u / re
    r2 = u * v_x + v * v_y + (x**2 - torch.sin(y)) + k2 * v / re
    torch.testing.assert_close(r, torch.stack([r1, r2], 1), rtol=0, atol=1e-10)


class ClosedUVP(torch.nn.Module):
    """A closed-form (u, v, p) as a network: forward(xy) -> (N, 3)."""

    def __init__(self, *fns):
        super().__init__()
        self.fns = fns

    def forward(self, xy):
        return torch.stack([f(xy[:, 0], xy[:, 1]) for f in self.fns], dim=1)


def test_the_velocity_pressure_form_has_kovasznay_as_exact_solution_and_checks_continuity():
    """formulation=velocity_pressure: outputs (u, v, p), residuals (momentum x, y, continuity).
    Kovasznay's (u, v, p) gives round-off; a velocity field that is not divergence-free shows its
    divergence, by hand, in the third column."""
    re = 40.0
    lam = re / 2 - math.sqrt(re**2 / 4 + 4 * math.pi**2)
    u = lambda x, y: 1 - torch.exp(lam * x) * torch.cos(2 * math.pi * y)
    v = lambda x, y: lam / (2 * math.pi) * torch.exp(lam * x) * torch.sin(2 * math.pi * y)
    p = lambda x, y: (1 - torch.exp(2 * lam * x)) / 2
    pde = LidDrivenCavity(re=re, formulation="velocity_pressure")
    assert pde.outputs == ("u", "v", "p") and LidDrivenCavity.outputs == ("psi", "p")
    net = Field(ClosedUVP(u, v, p), ("x", "y"), "autograd", outputs=pde.outputs)
    r = pde.residual(net, points())
    assert r.shape == (200, 3) and r.abs().max().item() < 1e-12
    xy = points()
    bad = Field(ClosedUVP(lambda x, y: x * x, lambda x, y: 0 * y, p), ("x", "y"), "autograd",
                outputs=pde.outputs)
    torch.testing.assert_close(pde.residual(bad, xy)[:, 2], 2 * xy[:, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(pde.velocity(net, xy)[:, 1], v(xy[:, 0], xy[:, 1]))


def test_walls_put_the_lid_corners_on_the_side_walls():
    pde = LidDrivenCavity(n_boundary=9)
    pts, vel = pde.walls()
    assert pts.shape == vel.shape == (36, 2)
    lid = pts[:, 1] == 1.0
    corners = lid & ((pts[:, 0] == 0.0) | (pts[:, 0] == 1.0))
    assert corners.sum() == 2 and np.all(vel[corners] == 0)          # the two lid corners: u = 0
    assert np.all(vel[lid & ~corners] == [1.0, 0.0]) and (lid & ~corners).sum() == 9
    assert np.all(vel[~lid] == 0)
    torch.testing.assert_close(pde.wall_velocity(torch.as_tensor(pts)), torch.as_tensor(vel))
    assert set(pde.sample(np.random.default_rng(0))) == {"res", "bc"}


def test_boundary_terms_vanish_for_a_field_with_the_wall_velocities():
    """psi = g(x) y^2 (y - 1) with g = 1 inside (0, 1) and 0 at x = 0, 1: u = psi_y is 1 on the
    lid between the corners and 0 on every other wall point, corners included; v = -psi_x = 0."""
    g = lambda x: ((x > 0) & (x < 1)).to(x.dtype)
    pde = LidDrivenCavity(n_boundary=33)
    bc = {"bc": torch.as_tensor(pde.walls()[0], dtype=D)}
    out = pde.conditions(field(lambda x, y: g(x) * y**2 * (y - 1)), bc)["bc"]
    assert out.shape == (4 * 33, 2) and out.abs().max().item() < 1e-14
    # a lid that includes its corners (u = 1 there) is wrong at exactly those two points
    with_corners = lambda x, y: torch.maximum(g(x), (y == 1).to(y.dtype)) * y**2 * (y - 1)
    off = pde.conditions(field(with_corners), bc)["bc"].abs().sum(1)
    assert (off > 0).sum().item() == 2 and off.max().item() == 1.0


class Lookup(torch.nn.Module):
    """The reference as a network: psi = -v_ref(node) x + u_ref(node) y with the nearest node
    looked up (no gradient through the lookup), so psi_y = u_ref and -psi_x = v_ref at the nodes."""

    def __init__(self, sol):
        super().__init__()
        self.n = len(sol["x"]) - 1
        self.u, self.v = (torch.as_tensor(sol[k], dtype=D) for k in ("u", "v"))

    def forward(self, xy):
        i, j = (torch.round(xy[:, k].detach() * self.n).long() for k in (0, 1))
        psi = -self.v[i, j] * xy[:, 0] + self.u[i, j] * xy[:, 1]
        return torch.stack([psi, torch.zeros_like(psi)], dim=1)


def test_observables_match_the_reference_when_the_network_is_the_reference(tmp_path):
    pde = LidDrivenCavity(re=100.0, reference={"n": 16})
    cache = ReferenceCache(tmp_path)
    ref = pde.reference(cache)
    assert list(ref.named("psi")) == ["speed", "u", "v"]
    sol = pde.solve_reference(cache)
    np.testing.assert_allclose(ref.values["speed"], np.hypot(sol["u"], sol["v"]))
    assert ref.values["u"][8, -1] == 1.0 and ref.values["u"][0, -1] == 0.0
    net = Field(Lookup(sol), pde.axes, "autograd", outputs=pde.outputs)
    ev = Evaluator(pde, net, ref, lambda a: torch.as_tensor(a, dtype=D), chunk=100)
    errs = ev.rel_l2()
    assert list(errs) == ["speed", "u", "v"]
    assert all(e.item() < 1e-14 for e in errs.values())


def test_field_map_grid_helpers():
    assert list(subsample(5, 65)) == [0, 1, 2, 3, 4]
    assert list(subsample(257, 65)) == list(range(0, 257, 4))
    idx = subsample(201, 64)
    assert len(idx) == 64 and idx[0] == 0 and idx[-1] == 200
    axes = [np.linspace(0, 1, 3), np.linspace(-1, 1, 5)]
    for got, want in zip(grid_axes(grid_points(axes)), axes):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        grid_axes(np.random.default_rng(0).uniform(size=(6, 2)))


def test_field_map_refuses_other_dimensions():
    probe = FieldMapProbe(every=10)
    probe.group = "field_map"
    probe.check(Problem.of(Helmholtz()))
    probe.check(Problem.of(LidDrivenCavity()))
    three_d = Problem(axes=("t", "x", "y"), outputs=("u",), terms={"res": 8}, bounds=((0, 1),) * 3)
    with pytest.raises(ConfigError, match="diagnostics.field_map"):
        probe.check(three_d)
    with pytest.raises(ConfigError, match="grid"):
        bad = FieldMapProbe(grid=[1, 8], every=10)
        bad.group = "field_map"
        bad.check(Problem.of(Helmholtz()))


@pytest.mark.parametrize("preset", ["paper_cavity", "paper_cavity_rba", "cpu_cavity_adam",
                                    "cpu_cavity_adam_rba", "cpu_cavity", "cpu_cavity_re1000"])
def test_presets_compose_validate_and_build(make_cfg, preset):
    cfg = make_cfg(f"+experiment={preset}", small=False)
    validate(cfg)
    parts = build(cfg, torch.device("meta"), torch.float32)
    assert isinstance(parts.pde, LidDrivenCavity)
    assert "field_map" in {p.group for p in parts.diagnostics.probes}
    if preset.startswith("paper"):
        assert parts.pde.re == 1000.0 and parts.pde.n_collocation == 25600
        assert (cfg.model.depth, cfg.model.width, cfg.iterations) == (6, 128, 300000)
        assert (cfg.optimizer.lr, cfg.optimizer.decay_rate, cfg.optimizer.decay_every) == (1e-3, 0.9, 5000)
    elif preset.startswith("cpu_cavity_adam"):
        assert parts.pde.re == 100.0
        assert parts.pde.n_collocation == 256 * cfg.diagnostics.snr.batches
    else:                                           # the quasi-Newton presets
        assert parts.pde.formulation == "velocity_pressure" and cfg.dtype == "float64"
        assert parts.pde.outputs == ("u", "v", "p") and cfg.optimizer["update"] == "ssbroyden"
        assert parts.pde.re == (100.0 if preset == "cpu_cavity" else 1000.0)


@pytest.mark.slow
def test_short_cavity_run_records_the_field_map_and_analyze_draws_the_velocity(make_cfg, ref_cache,
                                                                              tmp_path):
    cfg = make_cfg("+experiment=cpu_cavity_adam", "diagnostics=full", "iterations=20", "eval_every=5",
                   "model.depth=2", "model.width=16", "pde.n_collocation=512", "pde.n_boundary=16",
                   "pde.reference.n=16", "diagnostics.snr.batches=2", "diagnostics.field_map.every=10",
                   "diagnostics.residual_map.grid=[12,12]", "threads=1", small=False)
    summary = run(cfg, tmp_path)
    assert summary["status"] == "done"
    r = read_run(tmp_path / "run.h5")
    assert len(r.series["snr"]["step"]) == 20 and r.series["residual_map"]["map"].shape[1:] == (12, 12)
    fm = r.series["field_map"]
    np.testing.assert_array_equal(fm["step"], [0, 10, 20])
    for k in ("speed", "u", "v"):
        assert fm[k].shape == fm[f"{k}_error"].shape == (3, 17, 17)
        assert np.all(fm[f"{k}_error"] >= 0)
    assert [n.decode() for n in r.static["field_map_grid/names"]] == ["speed", "u", "v"]
    np.testing.assert_allclose(np.hypot(fm["u"], fm["v"]), fm["speed"], rtol=1e-5, atol=1e-6)
    # 17 x 17 is the whole reference grid: the final map's error is the run's final rel-L2
    ref = LidDrivenCavity(re=100.0, reference={"n": 16}).reference(ReferenceCache(ref_cache))
    rel = np.linalg.norm(fm["speed_error"][-1]) / np.linalg.norm(ref.values["speed"])
    assert rel == pytest.approx(r.attrs["final_rel_l2"], rel=1e-4)
    assert analyze([str(tmp_path)]) == 0
    assert (tmp_path / "analysis" / "velocity.png").stat().st_size > 1000


def test_field_map_works_for_helmholtz_and_draws_the_headline_observable(make_cfg, tmp_path):
    """The default diagnostics record the field map of a 2-D problem; the file holds the reference
    on the sub-grid, |prediction - reference| is the recorded error, and the figure's panels are
    the prediction, the reference and the error."""
    cfg = make_cfg("iterations=3", "eval_every=1", "pde.reference.n=21",
                   "diagnostics.field_map.grid=[8,8]", "diagnostics.field_map.every=1")
    run(cfg, tmp_path)
    r = read_run(tmp_path / "run.h5")
    fm = r.series["field_map"]
    assert fm["u"].shape == (4, 8, 8) and fm["u_error"].shape == (4, 8, 8)
    np.testing.assert_allclose(r.static["field_map_grid/x"][[0, -1]], [-1, 1])
    ref = r.static["field_map_grid/reference/u"]
    np.testing.assert_allclose(np.abs(fm["u"] - ref), fm["u_error"], atol=1e-6)
    head, panels = _panels(r, "field_map", ["u"])
    assert [p[1].split(":")[0] for p in panels] == ["network at step 3", "reference", "|u - reference| at step 3"]
    np.testing.assert_array_equal(panels[1][0], ref)
    assert analyze([str(tmp_path)]) == 0
    assert (tmp_path / "analysis" / "field_map.png").exists()


def test_the_default_field_map_steps_aside_where_it_cannot_draw():
    """Optional (the shipped diagnostics): left out of a 3-D problem, quietly; asked for
    explicitly, it is refused there (test above)."""
    three_d = Problem(axes=("t", "x", "y"), outputs=("u",), terms={"res": 8}, bounds=((0, 1),) * 3)
    diags = Diagnostics(field_map=FieldMapProbe(every=10, optional=True), plain=FieldMapProbe(every=10))
    diags.leave_out_what_does_not_apply(three_d)
    assert [p.group for p in diags.probes] == ["plain"]
    diags.leave_out_what_does_not_apply(Problem.of(Helmholtz()))
    assert [p.group for p in diags.probes] == ["plain"]


def test_the_joint_error_is_over_the_declared_observables():
    """rel_l2 per observable, headline first; joint = sqrt(sum ||e||^2 / sum ||ref||^2) over the
    PDE's joint_observables (the cavity: u and v, not the speed that repeats them)."""
    from pinn_cli.reference.base import Reference

    class Stub:
        outputs = ("u",)
        joint_observables = ("u", "v")

        def observables(self, field, x):
            return {"speed": x[:, 0] * 0 + 1.0, "u": x[:, 0], "v": 2 * x[:, 1]}

    pts = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 0.5]])
    ref = {"speed": np.array([1.0, 2.0, 2.0]), "u": np.array([0.0, 1.5, 2.0]), "v": np.array([2.0, 4.0, 3.0])}
    ev = Evaluator(Stub(), None, Reference(nodes=pts, values=ref), lambda a: torch.as_tensor(a, dtype=D))
    errs = ev.rel_l2()
    assert list(errs) == ["speed", "u", "v"]
    eu, ev_ = np.linalg.norm(pts[:, 0] - ref["u"]), np.linalg.norm(2 * pts[:, 1] - ref["v"])
    assert math.isclose(errs["u"].item(), eu / np.linalg.norm(ref["u"]), rel_tol=1e-12)
    joint = math.sqrt((eu**2 + ev_**2) / (np.sum(ref["u"]**2) + np.sum(ref["v"]**2)))
    assert math.isclose(ev.joint.item(), joint, rel_tol=1e-12)
