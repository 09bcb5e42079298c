"""Burgers reference by the Cole-Hopf transformation.

    u_t + u u_x = nu u_xx,   x in [-1, 1],   u(0, x) = -sin(pi x),   u(t, +-1) = 0

With u = -2 nu (log phi)_x the equation becomes the heat equation for phi, whose solution is a
Gaussian convolution of phi_0(y) = exp(-cos(pi y) / (2 pi nu)). Then

    u(t, x) = - int sin(pi (x - s)) f(x - s) G(s) ds / int f(x - s) G(s) ds,
    f(y) = exp(-cos(pi y) / (2 pi nu)),   G(s) = exp(-s^2 / (4 nu t)).

Both integrals are computed with the trapezoid rule on s in [-W, W], W = 10 sqrt(4 nu t)
(G(W) = e^-100), after subtracting the largest exponent (log-sum-exp) so nothing overflows.
"""
from __future__ import annotations

import numpy as np


def burgers_cole_hopf(t: np.ndarray, x: np.ndarray, nu: float, n_quad: int = 4000) -> np.ndarray:
    """u on the grid t x x, shape (len(t), len(x)); rows with t = 0 are the initial condition."""
    u = np.empty((len(t), len(x)))
    for i, ti in enumerate(t):
        if ti == 0:
            u[i] = -np.sin(np.pi * x)
            continue
        width = 10 * np.sqrt(4 * nu * ti)
        s = np.linspace(-width, width, n_quad)                            # (Q,)
        y = x[:, None] - s[None, :]                                       # (X, Q)
        expo = -np.cos(np.pi * y) / (2 * np.pi * nu) - s**2 / (4 * nu * ti)
        w = np.exp(expo - expo.max(axis=1, keepdims=True))                # (X, Q), max 1
        w[:, [0, -1]] *= 0.5                                              # trapezoid end weights
        u[i] = -(np.sin(np.pi * y) * w).sum(axis=1) / w.sum(axis=1)
    return u


def solve_burgers(nu: float, n_x: int = 256, n_t: int = 101, t_end: float = 1.0,
                  n_quad: int = 4000) -> dict[str, np.ndarray]:
    """``{"t": (n_t,), "x": (n_x,), "u": (n_t, n_x)}`` on equispaced grids of [0, t_end] x [-1, 1]."""
    t = np.linspace(0.0, t_end, n_t)
    x = np.linspace(-1.0, 1.0, n_x)
    return {"t": t, "x": x, "u": burgers_cole_hopf(t, x, nu, n_quad)}
