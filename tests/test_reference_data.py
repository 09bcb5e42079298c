"""References at scattered points: loaders of every format, the evaluation and regression on them,
interpolation (exact at nodes, differentiable) and coefficient fields from data."""
from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from pinn_cli.fields import Field
from pinn_cli.models import MLP
from pinn_cli.reference.interpolate import GridInterpolant
from pinn_cli.objective.regression import RegressionProblem
from pinn_cli.reference.scattered import ScatteredInterpolant
from pinn_cli.pdes import Helmholtz, Reference
from pinn_cli.pdes.coefficients import CoefficientField
from pinn_cli.problem import grid_points
from pinn_cli.reference.data import load_reference
from pinn_cli.training.evaluate import Evaluator

RNG = np.random.default_rng(0)
XY = RNG.random((300, 2))                                          # scattered "mesh nodes"
U = np.sin(3 * XY[:, 0]) * np.cos(2 * XY[:, 1])
SPEC = {"axes": {"x": "x", "y": "y"}, "values": {"u": "u"}}


def _mat73(path, arrays: dict) -> None:
    """A MATLAB v7.3 file: HDF5 behind MATLAB's 512-byte header, arrays stored column-major
    (h5py sees each transposed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in arrays.items():
            f[k] = np.asarray(v).T
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ") + b"\0" * 8 + b"\0\2" + b"IM"
    with open(path, "r+b") as f:
        f.write(head.ljust(512, b"\0"))


def _write(fmt: str, folder) -> tuple[str, dict]:
    """The same nodes and values in one format; -> (file name, spec)."""
    cols = np.column_stack([XY, U])
    if fmt == "comsol.txt":        # COMSOL's export: % comments, the last naming the columns
        head = "% Model: plate.mph\n% Nodes: 300\n% x y u\n"
        (folder / fmt).write_text(head + "\n".join(" ".join(repr(float(v)) for v in r) for r in cols) + "\n")
        return fmt, dict(SPEC)
    if fmt == "plain.dat":         # no header: columns by number; blank and # lines skipped
        body = "\n".join("\t".join(repr(float(v)) for v in r) for r in cols)
        (folder / fmt).write_text("# x y u\n\n" + body + "\n\n")
        return fmt, {"axes": {"x": 0, "y": 1}, "values": {"u": 2}}
    if fmt == "nodes.csv":
        (folder / fmt).write_text("x,y,u\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in cols))
        return fmt, dict(SPEC)
    if fmt == "nodes.npz":
        np.savez(folder / fmt, x=XY[:, 0], y=XY[:, 1], u=U, table=cols)
        return fmt, dict(SPEC)
    if fmt == "table.npz":
        np.savez(folder / fmt, table=cols)
        return fmt, {"axes": {"x": 0, "y": "table[1]"}, "values": {"u": 2}}
    if fmt == "v5.mat":            # MATLAB column vectors (M, 1)
        scipy.io.savemat(folder / fmt, {"x": XY[:, :1], "y": XY[:, 1:], "u": U[:, None]})
        return fmt, dict(SPEC)
    if fmt == "v73.mat":
        _mat73(folder / fmt, {"nodes": XY, "u": U[:, None]})
        return fmt, {"axes": {"x": "nodes[0]", "y": "nodes[1]"}, "values": {"u": "u"}}
    if fmt == "fields.h5":
        with h5py.File(folder / fmt, "w") as f:
            f["mesh/x"], f["mesh/y"], f["solution/u"] = XY[:, 0], XY[:, 1], U
        return fmt, {"axes": {"x": "mesh/x", "y": "mesh/y"}, "values": {"u": "solution/u"}}
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["comsol.txt", "plain.dat", "nodes.csv", "nodes.npz", "table.npz",
                                 "v5.mat", "v73.mat", "fields.h5"])
def test_every_format_round_trips_the_nodes_and_values(tmp_path, fmt):
    name, spec = _write(fmt, tmp_path)
    ref = load_reference({"file": name, **spec}, ("x", "y"), base=tmp_path)
    assert not ref.is_grid and ref.shape == (300,)
    np.testing.assert_array_equal(ref.points(), XY)
    np.testing.assert_array_equal(ref.flat("u")["u"], U)


def test_axes_follow_the_problems_order_and_snapshots_are_column_blocks(tmp_path):
    """Columns x, y, then u at t = 0, 0.5, 1: the reference holds (t_k, x_i, y_i), time-major."""
    times = [0.0, 0.5, 1.0]
    u = [U * (1 + t) for t in times]
    np.savetxt(tmp_path / "transient.txt", np.column_stack([XY, *u]), header="x y u0 u1 u2",
               comments="% ")
    spec = {"file": "transient.txt", "axes": {"y": "y", "x": "x"},
            "values": {"u": ["u0", "u1", "u2"]}, "times": times}
    ref = load_reference(spec, ("t", "x", "y"), base=tmp_path)
    pts = ref.points()
    assert pts.shape == (900, 3)
    np.testing.assert_array_equal(pts[:300, 0], 0.0)
    np.testing.assert_array_equal(pts[600:, 0], 1.0)
    np.testing.assert_allclose(pts[300:600, 1:], XY, rtol=1e-15)
    np.testing.assert_allclose(ref.flat("u")["u"][300:600], U * 1.5, rtol=1e-15)
    yx = load_reference({**spec, "times": None} | {"values": {"u": "u0"}, "axes": {"x": "x", "y": "y"}},
                        ("y", "x"), base=tmp_path)
    np.testing.assert_allclose(yx.points(), XY[:, ::-1], rtol=1e-15)


def test_a_grid_in_a_mat_file_is_transposed_to_the_axes_order(tmp_path):
    """Burgers-style .mat: x (256, 1), t (1, 101), usol (256, 101) indexed [x, t]; axes (t, x)."""
    x, t = np.linspace(-1, 1, 7), np.linspace(0, 1, 4)
    usol = np.sin(np.pi * x)[:, None] * np.exp(-t)[None, :]                          # (7, 4)
    scipy.io.savemat(tmp_path / "burgers.mat", {"x": x[:, None], "t": t[None, :], "usol": usol})
    ref = load_reference({"file": "burgers.mat", "axes": {"t": "t", "x": "x"},
                          "values": {"u": "usol"}, "grid": True}, ("t", "x"), base=tmp_path)
    assert ref.is_grid and ref.shape == (4, 7)
    np.testing.assert_array_equal(ref.named("u")["u"], usol.T)


def test_bad_data_is_one_line_naming_the_file(tmp_path):
    name, spec = _write("nodes.csv", tmp_path)
    cases = [
        ({"file": "missing.txt", **spec}, FileNotFoundError, "missing.txt: no such file"),
        ({"file": name, **spec, "values": {"u": "T"}}, ValueError, "no column named 'T'.*x, y, u"),
        ({"file": name, **spec, "axes": {"x": "x"}}, ValueError, "no column for axis 'y'"),
        ({"file": name, **spec, "colums": 1}, ValueError, "no key 'colums'"),
        ({"file": name, "axes": {"x": 0, "y": 1}, "values": {"u": 7}}, ValueError, "no column 7"),
    ]
    for spec_, kind, pattern in cases:
        with pytest.raises(kind, match=pattern) as e:
            load_reference(spec_, ("x", "y"), base=tmp_path)
        assert "\n" not in str(e.value)
    (tmp_path / "nan.txt").write_text("x y u\n0 0 1\n1 1 nan\n")
    with pytest.raises(ValueError, match="nan.txt: u holds NaN or inf.*at data row 2,"):
        load_reference({"file": "nan.txt", **spec}, ("x", "y"), base=tmp_path)
    (tmp_path / "ragged.txt").write_text("% x y u\n0 0 1\n1 1\n")
    with pytest.raises(ValueError, match="ragged.txt, line 3: 2 numbers"):
        load_reference({"file": "ragged.txt", **spec}, ("x", "y"), base=tmp_path)
    (tmp_path / "words.txt").write_text("0 0 1\n1 one 2\n")
    with pytest.raises(ValueError, match="words.txt, line 2: not a row of numbers"):
        load_reference({"file": "words.txt", "axes": {"x": 0, "y": 1}, "values": {"u": 2}},
                       ("x", "y"), base=tmp_path)


def test_a_reference_is_a_grid_or_nodes_with_values_of_its_shape():
    with pytest.raises(ValueError, match="exactly one"):
        Reference(axes=[np.arange(3.0)], values=np.zeros(3), nodes=np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"shape \(4,\), expected \(3,\)"):
        Reference(nodes=np.zeros((3, 2)), values=np.zeros(4))
    with pytest.raises(ValueError, match=r"'v' has shape \(3,\), expected \(3, 2\)"):
        Reference(axes=[np.arange(3.0), np.arange(2.0)], values={"u": np.zeros((3, 2)), "v": np.zeros(3)})


# ---- consumers ---------------------------------------------------------------------------------
def _tensor(a):
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)


def test_scattered_and_grid_evaluation_agree_on_the_same_points():
    pde = Helmholtz(a1=1.0, a2=2.0, reference={"n": 41})
    grid = pde.reference(None)
    nodes = Reference(nodes=grid.points(), values=grid.values.ravel())
    torch.manual_seed(0)
    field = Field(MLP(2, 1, depth=2, width=8).double(), pde.axes, "autograd")
    a = Evaluator(pde, field, grid, _tensor).rel_l2()
    b = Evaluator(pde, field, nodes, _tensor).rel_l2()
    assert a.keys() == b.keys() == {"u"} and 0.5 < a["u"].item() and a["u"].item() == b["u"].item()
    shuffled = np.random.default_rng(1).permutation(len(grid.points()))
    c = Evaluator(pde, field, Reference(nodes=grid.points()[shuffled],
                                        values=grid.values.ravel()[shuffled]), _tensor).rel_l2()
    assert c["u"].item() == pytest.approx(a["u"].item(), rel=1e-12)


class ScatteredHelmholtz(Helmholtz):
    """Helmholtz whose reference is the exact u at scattered nodes (what a mesh export gives)."""

    def reference(self, cache):
        xy = np.random.default_rng(5).uniform(-1, 1, (4000, 2))
        corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1.0]])
        xy = np.concatenate([corners, xy])
        return Reference(nodes=xy, values=self.exact(xy[:, 0], xy[:, 1]))


def test_regression_fits_a_scattered_reference_exact_at_its_nodes(tmp_path):
    """The issue's crash (TypeError on a scattered reference) is gone: e = u - I[u] is zero at
    the nodes and within the linear interpolant's error between them."""
    pde = ScatteredHelmholtz(a1=1.0, a2=1.0, n_collocation=2000)
    problem = RegressionProblem(pde, str(tmp_path))
    exact = lambda x: pde.exact(x[:, 0], x[:, 1])                              # noqa: E731
    nodes = torch.as_tensor(pde.reference(None).points())
    assert problem.residual(exact, nodes).abs().max().item() < 1e-12
    x = torch.as_tensor(problem.sample(np.random.default_rng(0))["res"])
    e = problem.residual(exact, x)
    assert e.shape == (2000,) and 1e-5 < e.abs().max().item() < 0.05
    assert problem.domain is None and problem.bounds.tolist() == [[-1, 1], [-1, 1]]


def test_scattered_interpolation_is_exact_at_nodes_and_for_affine_data_and_differentiable():
    nodes = RNG.random((200, 2))
    f = lambda p: 2.0 * p[:, 0] - 3.0 * p[:, 1] + 0.5                          # noqa: E731
    wild = RNG.standard_normal(200)
    interp = ScatteredInterpolant(nodes, {"f": f(nodes), "w": wild})
    at = interp(torch.as_tensor(nodes))
    np.testing.assert_allclose(at["w"].numpy(), wild, rtol=0, atol=1e-12)     # any data, at nodes
    x = torch.as_tensor(nodes[:50] * 0.5 + 0.25, dtype=torch.float64)          # inside the hull
    np.testing.assert_allclose(interp(x)["f"].numpy(), f(x.numpy()), atol=1e-12)
    k = CoefficientField.at_nodes(nodes, f(nodes))
    y = x.clone().requires_grad_(True)
    g = torch.autograd.grad(k(y).sum(), y)[0]
    np.testing.assert_allclose(g.numpy(), np.tile([2.0, -3.0], (50, 1)), atol=1e-10)
    np.testing.assert_allclose(k.gradient(x).numpy(), g.numpy(), atol=0)
    near = CoefficientField.at_nodes(nodes, wild, method="nearest")
    probe = torch.as_tensor(nodes[:5] + 1e-6)
    np.testing.assert_array_equal(near(probe).numpy(), wild[:5])
    assert (near.gradient(probe) == 0).all()


def test_grid_coefficient_is_multilinear_with_the_cell_slope_as_gradient():
    ax = [np.array([0.0, 0.2, 0.5, 1.0]), np.array([0.0, 1.0, 3.0])]
    f = lambda x, y: 1 + 2 * x - y + 4 * x * y                                  # noqa: E731 bilinear
    k = CoefficientField.on_grid(ax, f(*np.meshgrid(*ax, indexing="ij")))
    x = torch.tensor([[0.1, 0.5], [0.7, 2.0], [0.3, 2.9]], dtype=torch.float64, requires_grad=True)
    v = k(x)
    np.testing.assert_allclose(v.detach().numpy(), f(*x.detach().numpy().T), atol=1e-14)
    g = torch.autograd.grad(v.sum(), x)[0].numpy()
    exact = np.column_stack([2 + 4 * x[:, 1].detach().numpy(), -1 + 4 * x[:, 0].detach().numpy()])
    np.testing.assert_allclose(g, exact, atol=1e-12)
    nodes = torch.as_tensor(grid_points(ax))
    np.testing.assert_allclose(k(nodes).detach().numpy(), f(*grid_points(ax).T), atol=1e-14)
    plain = GridInterpolant(ax, {"k": f(*np.meshgrid(*ax, indexing="ij"))})
    assert not plain(x)["k"].requires_grad                     # the regression target: no graph


def test_a_coefficient_from_a_file(tmp_path):
    nodes = RNG.random((100, 2))
    np.savetxt(tmp_path / "k.csv", np.column_stack([nodes, 1 + nodes[:, 0]]), delimiter=",",
               header="x,y,k", comments="")
    k = CoefficientField.from_data({"file": "k.csv", "axes": {"x": "x", "y": "y"},
                                    "values": {"k": "k"}, "method": "nearest"}, ("x", "y"), base=tmp_path)
    np.testing.assert_allclose(k.numpy(nodes), 1 + nodes[:, 0], rtol=1e-15)
    assert math.isclose(float(k.numpy(nodes[:1] + 1e-7)[0]), 1 + nodes[0, 0], rel_tol=1e-15)


def test_comsol_headers_with_units_and_parameters_name_the_columns(tmp_path):
    """COMSOL sets names apart by two or more spaces; a name carries its unit or parameters."""
    from pinn_cli.reference.tables import read_table
    (tmp_path / "a.txt").write_text("% Model: cavity\n% X        Y        u (1)\n0.1  0.2  3\n0.3  0.4  5\n")
    (tmp_path / "b.txt").write_text("% x  y  u @ Re=100\n0.1  0.2  3\n")
    (tmp_path / "c.txt").write_text("% a b c d e\n0.1  0.2  3\n")
    a = read_table(tmp_path / "a.txt")
    assert a.names == ["X", "Y", "u (1)"] and list(a.column("u (1)")) == [3.0, 5.0]
    assert read_table(tmp_path / "b.txt").names == ["x", "y", "u @ Re=100"]
    c = read_table(tmp_path / "c.txt")
    with pytest.raises(ValueError, match=r"its header 'a b c d e' was not used: it does not split into 3 names"):
        c.column("u")


def test_a_file_with_only_a_header_says_so(tmp_path):
    from pinn_cli.reference.tables import read_table
    (tmp_path / "h.csv").write_text("x,y\n")
    with pytest.raises(ValueError, match=r"h.csv: a header \(x, y\) and no rows of numbers"):
        read_table(tmp_path / "h.csv")


def test_every_documented_yaml_form_reads_as_yaml_hands_it(tmp_path):
    """docs/extending.md's reference forms, each parsed from YAML into OmegaConf containers as
    Hydra gives them to a plugin (a list arrives as a ListConfig): the same reference as plain
    Python gives."""
    from omegaconf import OmegaConf
    times = [0.0, 0.5, 1.0]
    np.savetxt(tmp_path / "transient.csv", np.column_stack([XY, *(U * (1 + t) for t in times)]),
               header="x,y,u0,u1,u2", comments="", delimiter=",")
    np.savetxt(tmp_path / "export.dat", np.column_stack([XY, U, 2 * U]))
    x, t = np.linspace(-1, 1, 7), np.linspace(0, 1, 4)
    scipy.io.savemat(tmp_path / "burgers.mat", {"x": x[:, None], "t": t[None, :],
                                                "usol": np.outer(np.sin(np.pi * x), np.exp(-t))})
    forms = {("t", "x", "y"): "{file: transient.csv, axes: {x: x, y: y}, values: {u: [u0, u1, u2]}, times: [0, 0.5, 1]}",
             ("x", "y"): "{file: export.dat, axes: {x: 0, y: 1}, values: {u: 2, v: 3}}",
             ("t", "x"): "{file: burgers.mat, axes: {t: t, x: x}, values: {u: usol}, grid: true}"}
    for axes, text in forms.items():
        node = OmegaConf.create(f"reference: {text}").reference
        a = load_reference(node, axes, base=tmp_path)
        b = load_reference(OmegaConf.to_container(node), axes, base=tmp_path)
        np.testing.assert_array_equal(a.points(), b.points())
        for k, v in b.flat("u").items():
            np.testing.assert_array_equal(a.flat("u")[k], v)
    assert load_reference(OmegaConf.create(f"r: {forms[('t', 'x', 'y')]}").r, ("t", "x", "y"),
                          base=tmp_path).points().shape == (900, 3)


def test_a_square_grid_needs_its_layout(tmp_path):
    """An array whose two dimensions have one length fits the grid in either order: refused
    without ``layout``, read in the order ``layout`` gives (stored (x, t), as .mat files of
    Burgers' solution are)."""
    x, t = np.linspace(-1, 1, 5), np.linspace(0, 1, 5)
    u_xt = np.outer(np.sin(np.pi * x), np.exp(-t))                      # (x, t)
    scipy.io.savemat(tmp_path / "square.mat", {"x": x[:, None], "t": t[None, :], "usol": u_xt})
    spec = {"file": "square.mat", "axes": {"t": "t", "x": "x"}, "values": {"u": "usol"}, "grid": True}
    with pytest.raises(ValueError, match=r"layout: \[t, x\]"):
        load_reference(spec, ("t", "x"), base=tmp_path)
    ref = load_reference({**spec, "layout": ["x", "t"]}, ("t", "x"), base=tmp_path)
    np.testing.assert_array_equal(ref.values["u"], u_xt.T)                # (t, x)
    assert load_reference({**spec, "layout": ["t", "x"]}, ("t", "x"), base=tmp_path).values["u"][1, 0] == u_xt[1, 0]
    with pytest.raises(ValueError, match="layout"):
        load_reference({**spec, "layout": ["x", "y"]}, ("t", "x"), base=tmp_path)


def test_a_reference_observable_the_pde_does_not_compute_is_refused_before_training():
    """values: {u: T} on a problem whose observable is T: one line naming the key, the value and
    the observables there are (not a KeyError at the first evaluation)."""
    import torch
    from pinn_cli.errors import ConfigError
    from pinn_cli.training.checks import check_observables

    class Plate:
        def observables(self, field, x):
            return {"T": field(x)[:, 0]}

    def field(x):
        return x[:, :1] * 2.0

    from pinn_cli.errors import PinnError
    points, ones = torch.rand(10, 2), torch.ones(10)
    check_observables(Plate(), field, {"T": ones}, points, "Plate")
    with pytest.raises(ConfigError, match=r"pde.reference.values='u' is not allowed: expected an "
                                          r"observable Plate computes \(T\)"):
        check_observables(Plate(), field, {"u": ones}, points, "Plate")
    for values, why in (({"T": 0 * ones}, "is zero everywhere"), ({"T": ones / 0 * 0}, "holds NaN or inf"),
                        ({"T": ones[:0]}, "holds no values")):
        with pytest.raises(PinnError, match=f"pde: Plate failed: ValueError: its reference 'T' {why}"):
            check_observables(Plate(), field, values, points, "Plate")


def test_a_one_axis_grid_reads_as_it_is(tmp_path):
    x = np.linspace(0, 1, 5)
    np.savez(tmp_path / "line.npz", x=x, u=np.sin(x))
    ref = load_reference({"file": "line.npz", "axes": {"x": "x"}, "values": {"u": "u"}, "grid": True},
                         ("x",), base=tmp_path)
    np.testing.assert_array_equal(ref.values["u"], np.sin(x))
