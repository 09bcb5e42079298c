"""Allen-Cahn reference: Fourier pseudo-spectral in x, ETDRK4 in t (Cox-Matthews scheme with the
Kassam-Trefethen contour-integral coefficients; :mod:`pinn_cli.reference.etdrk4`).

    u_t = eps u_xx + r u - r u^3,   (r the reaction coefficient, 5 in the paper)   x in [-1, 1) periodic,   u(0, x) = x^2 cos(pi x)

In Fourier space v = F[u]: v_t = L v + N(v) with L = -eps k^2 + r (diagonal, stiff) and
N(v) = -r F[(F^-1 v)^3]. ETDRK4 integrates L exactly and N to fourth order in the step h.
"""
from __future__ import annotations

import numpy as np

from pinn_cli.reference.etdrk4 import integrate


def solve_allen_cahn(eps: float = 1e-4, modes: int = 512, t_end: float = 1.0, n_t: int = 201,
                     dt: float = 1e-4, reaction: float = 5.0) -> dict[str, np.ndarray]:
    """Solve on ``modes`` equispaced points of [-1, 1) and keep ``n_t`` equispaced times in [0, t_end].

    Returns:
        ``{"t": (n_t,), "x": (modes,), "u": (n_t, modes)}``.
    """
    x = -1 + 2 * np.arange(modes) / modes
    k = np.pi * np.fft.rfftfreq(modes, d=1.0 / modes)                    # wavenumbers, period 2
    lin = -eps * k**2 + reaction
    t_save = np.linspace(0.0, t_end, n_t)

    def nonlin(v):
        return -reaction * np.fft.rfft(np.fft.irfft(v, n=modes) ** 3)

    u = integrate(x**2 * np.cos(np.pi * x), lin, nonlin, t_save, dt)
    return {"t": t_save, "x": x, "u": u}
