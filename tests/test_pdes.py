"""Each PDE's residual vanishes on its exact or reference solution."""
from __future__ import annotations

import math

import numpy as np
import torch

from pinn_cli.fields.field import Derivatives, Field
from pinn_cli.pdes import AllenCahn, Burgers, Helmholtz
from pinn_cli.reference.allen_cahn import solve_allen_cahn
from pinn_cli.reference.burgers import burgers_cole_hopf


class Exact(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)[:, None]


def _points(pde, n=2000):
    pts = pde.sample(np.random.default_rng(0))
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in pts.items()}


def test_helmholtz_exact_solution_has_zero_residual():
    pde = Helmholtz(a1=6, a2=6, k=1, n_collocation=2000)
    net = Field(Exact(lambda p: pde.exact(p[:, 0], p[:, 1])), pde.axes, "autograd")
    pts = _points(pde)
    res = {"res": pde.residual(net, pts["res"]), **pde.conditions(net, pts)}
    scale = pde.source(*_points(pde)["res"].T).abs().max()
    assert res["res"].abs().max() / scale < 1e-6
    assert res["bc"].abs().max() < 1e-6


def cole_hopf_torch(tx, nu, n_quad=4000):
    """The Cole-Hopf integrals in torch (float64), differentiable in (t, x)."""
    t, x = tx[:, :1], tx[:, 1:]
    s = torch.linspace(-1, 1, n_quad, dtype=tx.dtype)[None, :] * 10 * torch.sqrt(4 * nu * t)
    y = x - s
    expo = -torch.cos(math.pi * y) / (2 * math.pi * nu) - s**2 / (4 * nu * t)
    w = torch.exp(expo - expo.max(dim=1, keepdim=True).values.detach())
    return -(torch.sin(math.pi * y) * w).sum(1) / w.sum(1)


def test_burgers_cole_hopf_has_zero_residual_and_matches_the_solver():
    pde = Burgers(n_collocation=64)
    rng = np.random.default_rng(1)
    tx = np.stack([rng.uniform(0.1, 1.0, 64), rng.uniform(-1, 1, 64)], axis=1)
    tx = tx[np.abs(tx[:, 1]) > 0.1]          # keep away from the shock at x = 0 for late t
    net = Field(Exact(lambda p: cole_hopf_torch(p, pde.nu)), pde.axes, "autograd")
    d = net.derivatives(torch.as_tensor(tx), ("u_t", "u_x", "u_xx"))
    r = d.u_t + d.u * d.u_x - pde.nu * d.u_xx
    assert (r.abs() / (d.u_t.abs() + d.u.abs() * d.u_x.abs())).max() < 1e-6
    grid = burgers_cole_hopf(np.array([0.5]), tx[:, 1], pde.nu)[0]
    direct = cole_hopf_torch(torch.as_tensor(np.stack([np.full(len(tx), 0.5), tx[:, 1]], 1)), pde.nu)
    np.testing.assert_allclose(grid, direct.numpy(), atol=1e-12)


class GridField:
    """A 'network' that returns the Allen-Cahn reference and its derivatives on its own grid:
    u_xx spectrally, u_t by 4th-order central differences in time."""

    def __init__(self, sol):
        t, x, u = sol["t"], sol["x"], sol["u"]
        k = np.pi * np.fft.rfftfreq(len(x), d=1.0 / len(x))
        u_xx = np.fft.irfft(-(k**2) * np.fft.rfft(u, axis=1), n=len(x), axis=1)
        dt = t[1] - t[0]
        u_t = (-u[4:] + 8 * u[3:-1] - 8 * u[1:-3] + u[:-4]) / (12 * dt)
        sl = slice(2, -2)
        tt, xx = np.meshgrid(t[sl], x, indexing="ij")
        self.points = torch.as_tensor(np.stack([tt.ravel(), xx.ravel()], 1))
        self.d = Derivatives(u=torch.as_tensor(u[sl].ravel()), u_t=torch.as_tensor(u_t.ravel()),
                             u_xx=torch.as_tensor(u_xx[sl].ravel()))

    def derivatives(self, x, names):
        return self.d

    def __call__(self, x):
        return AllenCahn.u0(x[:, 1])


def test_allen_cahn_reference_has_zero_residual():
    pde = AllenCahn()
    sol = solve_allen_cahn(eps=pde.eps, t_end=0.2, n_t=201, dt=1e-4)
    net = GridField(sol)
    pts = {"res": net.points, "ic": torch.zeros(4, 2, dtype=torch.float64)}
    res = {"res": pde.residual(net, pts["res"]), **pde.conditions(net, pts)}
    scale = (5 * net.d.u - 5 * net.d.u**3).abs().max()
    assert res["res"].abs().max() / scale < 1e-6
    assert res["ic"].abs().max() == 0


def test_sampling_is_reproducible_and_inside_the_domain():
    for pde in (AllenCahn(n_collocation=500), Burgers(n_collocation=500), Helmholtz(n_collocation=500)):
        a, b = pde.sample(np.random.default_rng(3)), pde.sample(np.random.default_rng(3))
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
            assert np.all(a[k] >= pde.bounds[:, 0]) and np.all(a[k] <= pde.bounds[:, 1])
        assert a["res"].shape == (500, 2)
        # Latin hypercube: each of the n strata of every coordinate holds exactly one point
        lo, hi = pde.bounds[:, 0], pde.bounds[:, 1]
        strata = np.floor((a["res"] - lo) / (hi - lo) * 500).astype(int)
        for j in range(2):
            assert len(np.unique(strata[:, j])) == 500
