"""Kuramoto-Sivashinsky (fourth order): an exact travelling wave has zero residual on both derivative
engines; the conditions vanish for a periodic field with the initial data; the ETDRK4 reference is
fourth order, converged at its default step and conserves the mean; the fast SNR holds at order 4."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.fields.field import Field
from pinn_cli.pdes import KuramotoSivashinsky
from pinn_cli.reference.kuramoto_sivashinsky import initial_condition, solve_kuramoto_sivashinsky
from pinn_cli.training.trainer import Trainer


class TravellingWave(torch.nn.Module):
    """An exact solution of u_t + alpha u u_x + beta u_xx + gamma u_xxxx = 0 (Kuramoto and
    Tsuzuki's wave of the unit equation, v = c + (15/19) sqrt(11/19) (-9 T + 11 T^3),
    T = tanh(k (xi - c tau)), k = sqrt(11/19) / 2), scaled to the coefficients:
    u(t, x) = (beta X / alpha) v(beta X^2 t, X x), X = sqrt(beta / gamma)."""

    def __init__(self, pde, c=0.7, shift=3.0):
        super().__init__()
        self.coefs = (pde.alpha, pde.beta, pde.gamma)            # fixed when built
        self.c, self.shift = c, shift

    def forward(self, tx):
        alpha, beta, gamma = self.coefs
        big_x = math.sqrt(beta / gamma)
        tau, xi = beta * big_x**2 * tx[:, 0], big_x * (tx[:, 1] - self.shift)
        th = torch.tanh(0.5 * math.sqrt(11 / 19) * (xi - self.c * tau))
        v = self.c + 15 / 19 * math.sqrt(11 / 19) * (-9 * th + 11 * th**3)
        return (beta * big_x / alpha * v)[:, None]


@pytest.mark.parametrize("engine", ["autograd", "streams"])
def test_an_exact_travelling_wave_has_zero_residual(engine):
    pde = KuramotoSivashinsky(n_collocation=500)
    x = torch.as_tensor(pde.sample(np.random.default_rng(0))["res"], dtype=torch.float64)
    field = Field(TravellingWave(pde), pde.axes, engine)
    r = pde.residual(field, x)
    d = field.derivatives(x, ("u_t", "u_xxxx"))
    scale = pde.gamma * d.u_xxxx.abs().max()                    # the terms are O(1) and larger
    assert scale > 1e-2 and d.u_t.abs().max() > 1e-2
    assert r.abs().max() / scale < 1e-10
    assert field.streamed


def test_other_coefficients_and_a_wrong_coefficient_give_a_residual():
    pde = KuramotoSivashinsky(alpha=1.0, beta=1.0, gamma=1.0, length=10.0, n_collocation=300)
    x = torch.as_tensor(pde.sample(np.random.default_rng(1))["res"], dtype=torch.float64)
    field = Field(TravellingWave(pde, shift=5.0), pde.axes, "streams")
    assert pde.residual(field, x).abs().max() < 1e-12
    pde.gamma = 1.1                                             # the test can fail
    assert pde.residual(field, x).abs().max() > 1e-3


class PeriodicWithInitialData(torch.nn.Module):
    """u = u_0(x) + t sin(3 theta) cos(theta)^2, theta = 2 pi x / L: periodic, u(0) = u_0."""

    def __init__(self, pde):
        super().__init__()
        self.pde = pde

    def forward(self, tx):
        theta = 2 * math.pi * tx[:, 1] / self.pde.length
        u0 = torch.cos(theta) * (1 + torch.sin(theta))
        return (u0 + tx[:, 0] * torch.sin(3 * theta) * torch.cos(theta) ** 2)[:, None]


def _points(pde):
    return {k: torch.as_tensor(v, dtype=torch.float64)
            for k, v in pde.sample(np.random.default_rng(2)).items()}


def test_conditions_vanish_for_a_periodic_field_with_the_initial_data():
    pde = KuramotoSivashinsky(n_initial=64, n_boundary=32)
    pts = _points(pde)
    assert pts["bc"].shape == (32, 2) and (pts["bc"][:, 1] == 0).all()     # (t, 0); x = L added
    cond = pde.conditions(Field(PeriodicWithInitialData(pde), pde.axes, "streams"), pts)
    assert cond["ic"].abs().max() < 1e-12
    assert cond["bc"].shape == (32, 4) and cond["bc"].abs().max() < 1e-9
    shifted = KuramotoSivashinsky(n_initial=64, n_boundary=32, length=2 * math.pi * 1.1)
    pts = _points(shifted)
    bad = shifted.conditions(Field(PeriodicWithInitialData(pde), pde.axes, "streams"), pts)
    assert bad["bc"].abs().max() > 1e-2                        # a wrong period is seen


def test_etdrk4_is_fourth_order_and_converged_at_the_default_step():
    t_end = 0.05
    sols = [solve_kuramoto_sivashinsky(modes=128, t_end=t_end, n_t=6, dt=t_end / n)["u"]
            for n in (40, 80, 160, 320)]
    diffs = np.array([np.abs(a - b).max() for a, b in zip(sols[:-1], sols[1:])])
    orders = np.log2(diffs[:-1] / diffs[1:])
    assert np.all(orders > 3.6), orders                # fourth order: the change / 16 per halving
    a = solve_kuramoto_sivashinsky()["u"]
    b = solve_kuramoto_sivashinsky(dt=5e-5)["u"]
    assert a.shape == (101, 256)
    assert np.abs(a - b).max() < 1e-7 * np.abs(a).max()


def test_reference_starts_at_the_initial_data_and_conserves_the_mean():
    sol = solve_kuramoto_sivashinsky(modes=128, t_end=0.1, n_t=11, dt=2e-4)
    np.testing.assert_allclose(sol["u"][0], initial_condition(sol["x"], 2 * math.pi), atol=1e-14)
    means = sol["u"].mean(axis=1)                       # every term is an x-derivative
    assert np.abs(means - means[0]).max() < 1e-12
    assert np.abs(sol["u"][-1] - sol["u"][0]).max() > 0.1      # and the solution does move


def test_the_pde_refuses_a_step_that_does_not_divide_the_output_interval():
    from pinn_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="pde.reference.dt"):
        KuramotoSivashinsky(reference={"dt": 3e-4})


def test_fast_snr_at_fourth_order_equals_the_naive_loop(make_cfg, tmp_path):
    tr = Trainer(make_cfg("pde=kuramoto_sivashinsky", "pde.n_collocation=64", "pde.n_initial=16",
                          "pde.n_boundary=8", "pde.reference.modes=32", "pde.reference.n_t=11",
                          "pde.reference.dt=5e-4", "model.depth=2", "model.width=8",
                          "dtype=float64", "diagnostics.snr.batches=4", small=False), tmp_path)
    fast = tr.loss.backward(0, update=True, capture=4).batch_moments
    assert tr.loss.fast_capture
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(4))
    for f, n in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        assert ((f - n).norm() / n.norm()).item() < 1e-8
