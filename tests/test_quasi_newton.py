"""The dense quasi-Newton optimizers (bfgs, ssbfgs, ssbroyden) and their strong-Wolfe search:
the search's conditions, the secant equation, BFGS's textbook form, convergence on a quadratic
and on Rosenbrock's function, a bit-identical resume, the refusal of a too-large matrix."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinn_cli.errors import ConfigError
from pinn_cli.optimizers.line_search import strong_wolfe
from pinn_cli.optimizers.quasi_newton import DenseQuasiNewton, QuasiNewton
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import run
from tests.test_optimizers import _resume_matches

UPDATES = ["bfgs", "ssbfgs", "ssbroyden"]


@pytest.mark.parametrize("f, t0", [
    (lambda t: (t - 3.0) ** 2, 1.0),                     # the minimum beyond the first trial
    (lambda t: (t - 0.01) ** 2, 1.0),                    # far before it: zoom in
    (lambda t: -torch.sin(3 * t) + 0.1 * t * t, 0.2),    # not convex
    (lambda t: t ** 4 - 2 * t ** 2 - 0.5 * t, 1e-3),     # a tiny first trial: grow it
])
def test_the_line_search_returns_a_strong_wolfe_step(f, t0):
    def phi(t):
        x = torch.tensor(t, dtype=torch.float64, requires_grad=True)
        v = f(x)
        (g,) = torch.autograd.grad(v, x)
        return v.item(), g.item(), t
    f0, d0, _ = phi(0.0)
    assert d0 < 0
    t, ft, pay, evals = strong_wolfe(phi, f0, d0, t0, c1=1e-4, c2=0.9, max_evals=30)
    _, dt, _ = phi(t)
    assert t > 0 and pay == t and evals <= 30
    assert ft <= f0 + 1e-4 * t * d0                      # sufficient decrease
    assert abs(dt) <= 0.9 * abs(d0)                      # curvature


def test_no_decrease_along_an_ascent_like_direction_is_no_step():
    """A direction along which the function only grows (phi'(0) < 0 but phi jumps up at once):
    the search gives up with t = 0, and the optimizer would not move."""
    def phi(t):
        return (0.0 if t == 0 else 1.0 + t), -1.0, t
    t, f, pay, evals = strong_wolfe(phi, 0.0, -1.0, 1.0, max_evals=10)
    assert t == 0 and pay is None and evals == 10


def _quadratic(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = a @ a.T + n * torch.eye(n, dtype=torch.float64)                            # SPD
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return A, b


def _on_quadratic(update: str, max_iter: int, n: int = 12, seed: int = 0):
    """-> (z, optimizer, closure, A, b): 0.5 z'Az - b'z from z = 0, the optimizer on z."""
    A, b = _quadratic(n, seed)
    z = torch.nn.Parameter(torch.zeros(n, dtype=torch.float64))
    opt = DenseQuasiNewton([z], update=update, max_iter=max_iter)

    def closure():
        opt.zero_grad()
        f = 0.5 * z @ A @ z - b @ z
        f.backward()
        return f
    return z, opt, closure, A, b


@pytest.mark.parametrize("update", UPDATES)
def test_every_update_satisfies_the_secant_equation_and_stays_symmetric(update):
    """The self-scaled Broyden family keeps H+ y = s (v'y = 0), whatever phi and tau."""
    z, opt, closure, A, b = _on_quadratic(update, max_iter=1)
    for k in range(4):
        x0 = z.detach().clone()
        g0 = (A @ x0 - b)
        opt.step(closure)
        st = opt.state[z]
        s, y = z.detach() - x0, A @ z.detach() - b - g0
        if k > 0:                                        # the step's update used (s, y)
            H = st["H"]
            torch.testing.assert_close(H @ y, s, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(H, H.T, rtol=0, atol=1e-12)


def test_bfgs_is_the_textbook_inverse_update():
    """update=bfgs: H+ = (I - rho s y') H (I - rho y s') + rho s s' after the first update."""
    z, opt, closure, A, b = _on_quadratic("bfgs", max_iter=1, n=8, seed=1)
    opt.step(closure)
    opt.step(closure)                          # the first update (H's initial scaling) is done
    H = opt.state[z]["H"].clone()
    x0 = z.detach().clone()
    opt.step(closure)
    s = z.detach() - x0
    y = A @ s
    rho = 1 / float(y @ s)
    I = torch.eye(len(b), dtype=torch.float64)
    expected = (I - rho * torch.outer(s, y)) @ H @ (I - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    torch.testing.assert_close(opt.state[z]["H"], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("update", UPDATES)
def test_every_update_minimises_a_quadratic_and_rosenbrock(update):
    z, opt, quad, A, b = _on_quadratic(update, max_iter=200, n=20)
    opt.step(quad)
    assert (z.detach() - torch.linalg.solve(A, b)).abs().max() < 1e-7
    assert opt.state[z]["n_iter"] <= 40                 # superlinear: ~n iterations, not 1000s

    x = torch.nn.Parameter(torch.full((6,), -1.2, dtype=torch.float64))
    opt = DenseQuasiNewton([x], update=update, max_iter=1000)

    def rosenbrock():
        opt.zero_grad()
        f = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        f.backward()
        return f
    opt.step(rosenbrock)
    assert (x.detach() - 1).abs().max() < 1e-6


def test_a_matrix_too_large_is_refused_in_one_line_with_its_size():
    params = [torch.nn.Parameter(torch.zeros(40_000, dtype=torch.float64))]
    with pytest.raises(ConfigError) as e:
        QuasiNewton(max_memory_gib=2.0).build(params)
    msg = str(e.value)
    assert "\n" not in msg and "11.9 GiB" in msg and "lbfgs" in msg and "max_memory_gib" in msg


def test_a_too_large_model_stops_pinn_train_before_training(make_cfg, tmp_path):
    from pinn_cli.errors import PinnError
    with pytest.raises(PinnError, match="GiB"):
        run(make_cfg("optimizer=ssbroyden", "optimizer.max_memory_gib=1e-5"), tmp_path)
    assert not (tmp_path / "run.h5").exists()


@pytest.mark.parametrize("keys", [["optimizer=ssbroyden", "optimizer.max_iter=3"],
                                  ["optimizer=adam_ssbroyden", "optimizer.adam_steps=4"]])
def test_resume_is_bit_identical_with_the_matrix_in_the_checkpoint(make_cfg, tmp_path, keys):
    ref = _resume_matches(make_cfg, tmp_path, [*keys, "dtype=float64"], 10, 6)
    inner = ref["optimizer"].get("lbfgs", ref["optimizer"])          # the staged one's stage 2
    H = inner["state"][0]["H"]
    assert H.dtype == torch.float64 and H.shape[0] == H.shape[1] > 100


@pytest.mark.outcome
def test_a_pinn_run_learns_and_the_probe_counts_the_iterations(make_cfg, tmp_path):
    """A small Helmholtz problem: SS-Broyden from the start lowers the loss by orders of
    magnitude in 40 steps, and the optimizer probe records its iterations and evaluations.
    Measured: loss ratio 7.3e-5 to 1.4e-4 under ATEN_CPU_CAPABILITY default and avx2, 1 and 2
    threads; asserted < 1e-2."""
    run(make_cfg("optimizer=ssbroyden", "optimizer.max_iter=5", "dtype=float64",
                 "iterations=40", "diagnostics.optimizer.every=1"), tmp_path)
    r = read_run(tmp_path / "run.h5")
    loss = r.series["metrics"]["loss"]
    assert loss[-1] < 1e-2 * loss[0]
    o = r.series["optimizer"]
    assert o["lbfgs_n_iter"][-1] >= 100 and np.all(np.diff(o["lbfgs_func_evals"]) >= 0)
