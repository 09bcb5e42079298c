"""The lid-driven cavity reference: Ghia's benchmark, second-order grid convergence, the discrete
constraints (divergence, walls, lid), and a pressure that balances the momentum equation."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from pinn_cli.reference.cavity import centerlines, ghia_centerlines, ghia_deviation, solve_cavity


@lru_cache(maxsize=None)
def _solve(re: float, n: int) -> dict:
    return solve_cavity(re=re, n=n)


def _on_coarse_nodes(sol: dict, n_coarse: int) -> np.ndarray:
    """Both centrelines at the nodes of the n_coarse grid (a subset of sol's nodes)."""
    stride = (len(sol["x"]) - 1) // n_coarse
    uc, vc = centerlines(sol)
    return np.concatenate([uc[::stride], vc[::stride]])


def test_re100_matches_ghia():
    # Measured max deviations at n = 64: 0.0023 (u), 0.0059 (v). The bound is not tighter because
    # Ghia's table itself is off by up to ~0.009 at Re = 100: this solver's n = 64 -> 128
    # Richardson limit of min v on y = 0.5 is -0.2538 (the value of later high-accuracy studies),
    # against Ghia's -0.2453 near x = 0.80. The grid test below is the sharp check.
    du, dv = ghia_deviation(_solve(100.0, 64), 100)
    assert du < 0.015 and dv < 0.015, (du, dv)


def test_centerlines_converge_at_second_order():
    coarse = [_on_coarse_nodes(_solve(100.0, n), 16) for n in (16, 32, 64)]
    d1 = np.abs(coarse[1] - coarse[0]).max()               # measured 0.043
    d2 = np.abs(coarse[2] - coarse[1]).max()               # measured 0.012
    assert d2 < 0.02, d2                                    # converged to well below Ghia's scale
    assert 3.0 < d1 / d2 < 5.5, (d1, d2)                    # second order: 4 per halving of h


def test_discrete_constraints_hold():
    sol = _solve(100.0, 32)
    u, v, psi, h = sol["u"], sol["v"], sol["psi"], sol["x"][1]
    for name in ("u", "v", "p", "psi", "omega"):
        assert sol[name].shape == (33, 33) and np.all(np.isfinite(sol[name])), name
    div = (u[2:, 1:-1] - u[:-2, 1:-1] + v[1:-1, 2:] - v[1:-1, :-2]) / (2 * h)
    assert np.abs(div).max() < 1e-10 * np.abs(u).max() / h  # round-off of the differences
    walls = np.concatenate([u[0], u[-1], u[:, 0], v[0], v[-1], v[:, 0], v[:, -1]])
    assert np.all(walls == 0)                               # no slip, corners included
    np.testing.assert_array_equal(u[1:-1, -1], 1.0)         # lid, strictly between the corners
    assert u[0, -1] == 0 and u[-1, -1] == 0                 # lid corners belong to the side walls
    assert np.all(np.concatenate([psi[0], psi[-1], psi[:, 0], psi[:, -1]]) == 0)
    assert abs(sol["p"].mean()) < 1e-12                     # the stated pressure constant
    assert psi.min() < -0.09 and sol["residual"] < 1e-8     # a clockwise primary vortex, solved
    assert sol["x"][0] == 0 and sol["x"][-1] == 1 and sol["y"][16] == 0.5


def _momentum_residual(sol: dict, re: float) -> float:
    """Max |u.grad u + grad p - lap u / Re| (both components) at interior nodes farther than 0.2
    from the lid corners, where p is singular; centred differences throughout."""
    u, v, p, x = sol["u"], sol["v"], sol["p"], sol["x"]
    h, c = x[1] - x[0], (slice(1, -1), slice(1, -1))

    def d(f, ax):
        return (np.roll(f, -1, ax) - np.roll(f, 1, ax))[c] / (2 * h)

    def lap(f):
        return (f[2:, 1:-1] + f[:-2, 1:-1] + f[1:-1, 2:] + f[1:-1, :-2] - 4 * f[c]) / h**2

    rx = u[c] * d(u, 0) + v[c] * d(u, 1) + d(p, 0) - lap(u) / re
    ry = u[c] * d(v, 0) + v[c] * d(v, 1) + d(p, 1) - lap(v) / re
    xi, yi = np.meshgrid(x[1:-1], x[1:-1], indexing="ij")
    far = (np.hypot(xi, yi - 1) > 0.2) & (np.hypot(xi - 1, yi - 1) > 0.2)
    return float(max(np.abs(rx[far]).max(), np.abs(ry[far]).max()))


def test_pressure_balances_the_momentum_equation():
    # max |grad p| away from the lid corners is about 1.5 at Re = 100; the momentum residual is a
    # discretisation error, so it must fall well below that and shrink under refinement
    # (measured 0.71 at n = 32, 0.20 at n = 64, 0.045 at n = 128).
    r32, r64 = (_momentum_residual(_solve(100.0, n), 100.0) for n in (32, 64))
    assert r64 < 0.3 and r32 / r64 > 2.0, (r32, r64)


def test_ghia_table_and_argument_checks():
    for re in (100, 1000):
        ref = ghia_centerlines(re)
        assert all(len(ref[k]) == 17 for k in ("x", "y", "u", "v"))
        assert ref["u"][0] == 1 and ref["u"][-1] == 0 and ref["v"][0] == ref["v"][-1] == 0
        assert np.all(np.diff(ref["y"]) < 0) and np.all(np.diff(ref["x"]) < 0)
    with pytest.raises(ValueError):
        ghia_centerlines(400)
    with pytest.raises(ValueError):
        solve_cavity(100, 2)


@pytest.mark.slow
def test_re1000_matches_ghia():
    # Measured at n = 128: 0.014 (u), 0.008 (v); central differences at Re = 1000 still carry
    # grid error at this size (0.06 at n = 64), and Ghia's own Re = 1000 values are off by ~0.01.
    sol = _solve(1000.0, 128)
    du, dv = ghia_deviation(sol, 1000)
    assert du < 0.03 and dv < 0.03, (du, dv)
    assert sol["psi"].min() < -0.11                         # primary vortex strength ~ -0.118


def test_solver_runs_through_the_reference_cache(tmp_path):
    from pinn_cli.reference.cache import ReferenceCache

    cache = ReferenceCache(tmp_path)
    params = {"re": 100, "n": 16, "tol": 1e-10}                 # plain JSON numbers
    first = cache.get("cavity", params, solve_cavity)
    again = cache.get("cavity", params, solve_cavity)
    assert cache.hits == 1 and set(again) == set(first)
    for name in first:
        np.testing.assert_array_equal(again[name], first[name])
