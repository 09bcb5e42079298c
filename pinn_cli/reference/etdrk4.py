"""ETDRK4 time stepping for Fourier pseudo-spectral solvers (Cox-Matthews scheme with the
Kassam-Trefethen contour-integral coefficients): v_t = L v + N(v), L diagonal (stiff) and
integrated exactly, N to fourth order in the step h. Used by the Allen-Cahn and
Kuramoto-Sivashinsky references.
"""
from __future__ import annotations

import numpy as np

from pinn_cli.errors import ConfigError


def output_grid(t_end: float, defaults: dict, given: dict | None) -> dict:
    """A spectral reference's settings (``modes``, ``n_t`` outputs on [0, t_end], step ``dt``):
    ``given`` over ``defaults``; ConfigError unless dt divides the output interval."""
    ref = {**defaults, **(given or {})}
    if ref["n_t"] < 2:
        raise ConfigError("pde.reference.n_t", ref["n_t"], "an integer >= 2")
    steps = t_end / (ref["n_t"] - 1) / ref["dt"]
    if abs(steps - round(steps)) > 1e-9 * steps or round(steps) < 1:
        raise ConfigError("pde.reference.dt", ref["dt"], f"a divisor of the output interval "
                          f"t_end / (n_t - 1) = {t_end / (ref['n_t'] - 1):g}")
    return ref


def etdrk4_coefficients(lin: np.ndarray, h: float, contour_points: int = 64):
    """exp(hL), exp(hL/2) and the ETDRK4 weights Q, f1, f2, f3, each shaped like ``lin``.

    The phi-functions are evaluated as means over a circle of radius 1 around each h*L, which
    avoids the cancellation of the textbook formulas near h*L = 0.
    """
    r = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    lr = h * lin[:, None] + r[None, :]                                   # (K, M)
    q = h * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = h * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = h * np.real(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))
    return np.exp(h * lin), np.exp(h * lin / 2), q, f1, f2, f3


def integrate(u0: np.ndarray, lin: np.ndarray, nonlin, t_save: np.ndarray,
              dt: float) -> np.ndarray:
    """u at every time of ``t_save`` (equispaced from 0), (n_t, modes), from u0 (modes,): ETDRK4
    steps of ``dt`` on v = rfft(u), with v_t = lin v + nonlin(v)."""
    modes = len(u0)
    steps_per_save = int(round(t_save[1] / dt))
    if not np.isclose(steps_per_save * dt, t_save[1]):
        raise ValueError(f"dt={dt} must divide the output interval {t_save[1]}")
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(lin, dt)
    v = np.fft.rfft(u0)
    u = np.empty((len(t_save), modes))
    u[0] = np.fft.irfft(v, n=modes)
    for s in range(1, len(t_save)):
        for _ in range(steps_per_save):
            nv = nonlin(v)
            a = e2 * v + q * nv
            na = nonlin(a)
            b = e2 * v + q * na
            nb = nonlin(b)
            c = e2 * a + q * (2 * nb - nv)
            nc = nonlin(c)
            v = e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3
        u[s] = np.fft.irfft(v, n=modes)
    return u
