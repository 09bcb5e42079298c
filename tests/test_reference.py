"""Reference solvers converge when their step is halved; the cache computes once."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from pinn_cli.reference.allen_cahn import solve_allen_cahn
from pinn_cli.reference.burgers import solve_burgers
from pinn_cli.reference.cache import ReferenceCache


def test_etdrk4_is_fourth_order_and_converged_at_the_default_step():
    fine = solve_allen_cahn(n_t=11, dt=1e-3)["u"]
    errs = [np.abs(solve_allen_cahn(n_t=11, dt=dt)["u"] - fine).max()
            for dt in (0.1 / 4, 0.1 / 8, 0.1 / 16)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 3.7), orders                # fourth order: error / 16 per halving
    # the default step (5e-4) against its half, over the whole run: far below PINN errors
    a = solve_allen_cahn(dt=5e-4)["u"]
    b = solve_allen_cahn(dt=2.5e-4)["u"]
    assert a.shape == (201, 512)
    assert np.abs(a - b).max() < 1e-8


def test_allen_cahn_on_a_shorter_interval_is_the_start_of_the_long_solve():
    """t_end = 0.25 with 26 outputs (every 0.01) repeats the first quarter of t_end = 1."""
    long = solve_allen_cahn(modes=128, n_t=101, dt=1e-3)
    short = solve_allen_cahn(modes=128, n_t=26, dt=1e-3, t_end=0.25)
    np.testing.assert_allclose(short["t"], long["t"][:26])
    np.testing.assert_array_equal(short["u"], long["u"][:26])


def test_allen_cahn_rejects_a_step_that_does_not_divide_the_output_interval():
    from pinn_cli.errors import ConfigError
    from pinn_cli.pdes import AllenCahn

    with pytest.raises(ConfigError, match=r"pde.reference.dt=0.0005 .*0.00125"):
        AllenCahn(t_end=0.25)                               # 201 outputs: every 0.00125
    assert AllenCahn(t_end=0.25, reference={"modes": 512, "n_t": 51, "dt": 5e-4}).bounds[0, 1] == 0.25


def test_cole_hopf_quadrature_converges():
    nu = 0.01 / np.pi
    a = solve_burgers(nu, n_x=64, n_t=21, n_quad=2000)["u"]
    b = solve_burgers(nu, n_x=64, n_t=21, n_quad=4000)["u"]
    assert np.abs(a - b).max() < 1e-10
    np.testing.assert_allclose(b[0], -np.sin(np.pi * np.linspace(-1, 1, 64)), atol=1e-15)
    assert np.abs(b[:, [0, -1]]).max() < 1e-10        # u(t, +-1) = 0


def _count_and_compute(log, n):
    with open(log, "a") as f:
        f.write("x\n")
    return {"a": np.arange(n, dtype=float)}


def _job(root, log):
    from functools import partial
    out = ReferenceCache(root).get("thing", {"n": 5}, partial(_count_and_compute, log))
    return out["a"].tolist()


def test_cache_computes_once_even_when_jobs_start_together(tmp_path):
    log = tmp_path / "calls"
    with mp.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_job, [(tmp_path / "c", log)] * 4)
    assert all(r == [0.0, 1.0, 2.0, 3.0, 4.0] for r in results)
    assert log.read_text().count("x") == 1
    cache = ReferenceCache(tmp_path / "c")
    cache.get("thing", {"n": 5}, lambda n: 1 / 0)     # a hit never calls compute
    assert cache.hits == 1
    assert not list((tmp_path / "c").glob("*.tmp"))
