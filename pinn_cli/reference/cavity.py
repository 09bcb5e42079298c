"""Steady lid-driven cavity reference: stream function-vorticity, solved by Newton's method.

    u = psi_y,   v = -psi_x,   omega = v_x - u_y,   (x, y) in [0, 1]^2
    psi_xx + psi_yy = -omega
    u omega_x + v omega_y = (omega_xx + omega_yy) / Re

The top wall y = 1 moves with u = 1; the other walls are at rest (u = v = 0).

Grid: (n+1) x (n+1) nodes x_i = i h, y_j = j h, h = 1/n. Unknowns are psi and omega at the
(n-1)^2 interior nodes; both equations use second-order central differences (5-point Laplacian,
centred first derivatives). On every wall psi = 0, and the wall vorticity comes from Thom's
formula, omega_wall = -2 psi_next / h^2 - 2 U_wall / h, where psi_next is psi one node into the
fluid and U_wall the tangential wall speed (1 on the lid, 0 elsewhere). Wall vorticity is thus a
linear function of the interior psi, substituted into the interior stencils, and the steady
equations are one nonlinear system of 2 (n-1)^2 unknowns. It is solved by Newton's method with a
sparse direct solve per step, started from rest at min(Re, 100) and continued in Re.

Corners: the corner nodes belong to the side walls, so u = v = 0 there and the lid speed is 1
only on the n-1 lid nodes strictly between them; Thom's formula then gives omega = 0 at all four
corners. The interior stencils never read a corner node, so this choice only affects the
returned corner values and the pressure fit.

Velocity: u, v are centred differences of psi at interior nodes and the wall values on walls.
The discrete divergence (centred differences of u and v) is then zero to round-off at every
interior node, because centred differences in x and y commute.

Pressure: with H = p + (u^2 + v^2) / 2 the momentum equation reads
grad H = (v omega - omega_y / Re, -u omega + omega_x / Re). H is the least-squares fit of this
gradient integrated (trapezoid rule) along every grid edge, walls included: its normal equations
are a Neumann pressure Poisson problem. omega's derivatives use second-order differences,
one-sided on the walls. The additive constant: p has zero arithmetic mean over all nodes. p is
singular at the two lid corners (like 1/r), so it does not converge there under refinement.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import CubicSpline
from scipy.sparse.linalg import spsolve, splu


def _operators(n: int):
    """Interior operators on (n-1)^2 nodes (index i*(n-1) + j, i along x) and Thom wall terms.

    Returns Lap, Dx, Dy (sparse) for fields that vanish on the walls, and arrays (each (m*m,)):
    a_lap, a_x, a_y, the coefficients of psi in the wall-vorticity contributions to Lap, Dx, Dy of
    omega, and g_lap, g_y, the lid-speed constants in those contributions.
    """
    m, h = n - 1, 1.0 / n
    one = np.ones(m)
    second = sp.diags([one[1:], -2 * one, one[1:]], [-1, 0, 1]) / h**2          # (m, m)
    first = sp.diags([-one[1:], one[1:]], [-1, 1]) / (2 * h)                      # (m, m)
    eye = sp.identity(m)
    lap = (sp.kron(second, eye) + sp.kron(eye, second)).tocsr()
    dx, dy = sp.kron(first, eye).tocsr(), sp.kron(eye, first).tocsr()
    lo = np.zeros((m, m)); lo[0] = 1                              # nodes next to x = 0, (m, m)
    hi = np.zeros((m, m)); hi[-1] = 1                             # nodes next to x = 1
    walls = lo + hi + lo.T + hi.T                                 # walls next to each node
    a_lap = (-2 / h**4 * walls).ravel()
    a_x = ((lo - hi) / h**3).ravel()
    a_y = ((lo.T - hi.T) / h**3).ravel()
    g_lap = (-2 / h**3 * hi.T).ravel()                            # lid: (-2 U / h) / h^2
    g_y = (-1 / h**2 * hi.T).ravel()                              # lid: (-2 U / h) / (2 h)
    return lap, dx, dy, a_lap, a_x, a_y, g_lap, g_y


def _residual(z, re, ops):
    """Residuals (f1, f2) of both equations and the pieces of the Jacobian, all (m*m,)."""
    lap, dx, dy, a_lap, a_x, a_y, g_lap, g_y = ops
    psi, om = np.split(z, 2)
    u, mv = dy @ psi, dx @ psi                                                    # u and -v
    om_x = dx @ om + a_x * psi
    om_y = dy @ om + a_y * psi + g_y
    f1 = lap @ psi + om
    f2 = (lap @ om + a_lap * psi + g_lap) / re - u * om_x + mv * om_y
    return f1, f2, u, mv, om_x, om_y


def _newton(z, re, ops, tol, max_iter):
    """Newton iterations on z = [psi, omega] (interior) at Reynolds number re.

    Stops when the update is below tol relative to max|psi| and max|omega|; returns
    (z, iterations), or (None, iterations) when an update doubles or max_iter is reached.
    """
    lap, dx, dy, a_lap, a_x, a_y = ops[:6]
    k, d, last = lap.shape[0], sp.diags, np.inf
    for it in range(1, max_iter + 1):
        f1, f2, u, mv, om_x, om_y = _residual(z, re, ops)
        j21 = d(a_lap / re) - d(om_x) @ dy - d(u * a_x) + d(om_y) @ dx + d(mv * a_y)
        j22 = lap / re - d(u) @ dx + d(mv) @ dy
        jac = sp.bmat([[lap, sp.identity(k)], [j21, j22]], format="csc")
        step = splu(jac, permc_spec="COLAMD").solve(-np.concatenate([f1, f2]))
        size = np.abs(step[:k]).max()
        if not np.isfinite(size) or size > 2 * last:              # diverging: give up
            break
        z, last = z + step, size
        if (np.abs(step[:k]).max() <= tol * np.abs(z[:k]).max()
                and np.abs(step[k:]).max() <= tol * np.abs(z[k:]).max()):
            return z, it
    return None, it


def _pressure(u, v, om, re, h):
    """p, (N, N), from the least-squares fit of grad H along all grid edges; zero mean."""
    nn = u.shape[0]
    om_x, om_y = np.gradient(om, h, edge_order=2)                                # (N, N) each
    gx, gy = v * om - om_y / re, -u * om + om_x / re                              # grad H
    idx = np.arange(nn * nn).reshape(nn, nn)
    tail = np.r_[idx[:-1].ravel(), idx[:, :-1].ravel()]           # (E,): x-edges, then y-edges
    head = np.r_[idx[1:].ravel(), idx[:, 1:].ravel()]
    rise = 0.5 * h * np.r_[(gx[:-1] + gx[1:]).ravel(), (gy[:, :-1] + gy[:, 1:]).ravel()]
    e = np.arange(len(tail))
    diff = sp.csr_matrix((np.r_[-np.ones(len(e)), np.ones(len(e))],
                          (np.r_[e, e], np.r_[tail, head])), shape=(len(e), nn * nn))  # (E, N*N)
    normal = (diff.T @ diff).tolil()
    rhs = diff.T @ rise
    normal[0, :] = 0; normal[0, 0] = 1; rhs[0] = 0                # pin H, shift below
    p = spsolve(normal.tocsc(), rhs).reshape(nn, nn) - 0.5 * (u**2 + v**2)
    return p - p.mean()


def _fields(z, n, re):
    """Node fields (n+1, n+1) from the interior unknowns z = [psi, omega]; see the module notes."""
    h, k = 1.0 / n, (n - 1) ** 2
    psi = np.zeros((n + 1, n + 1)); psi[1:-1, 1:-1] = z[:k].reshape(n - 1, n - 1)
    om = np.zeros((n + 1, n + 1)); om[1:-1, 1:-1] = z[k:].reshape(n - 1, n - 1)
    om[0, 1:-1], om[-1, 1:-1] = -2 * psi[1, 1:-1] / h**2, -2 * psi[-2, 1:-1] / h**2  # Thom
    om[1:-1, 0], om[1:-1, -1] = -2 * psi[1:-1, 1] / h**2, -2 * psi[1:-1, -2] / h**2 - 2 / h
    u, v = np.zeros_like(psi), np.zeros_like(psi)                 # walls and corners: 0
    u[1:-1, 1:-1] = (psi[1:-1, 2:] - psi[1:-1, :-2]) / (2 * h)
    v[1:-1, 1:-1] = -(psi[2:, 1:-1] - psi[:-2, 1:-1]) / (2 * h)
    u[1:-1, -1] = 1.0                                             # lid, corners excluded
    return {"u": u, "v": v, "p": _pressure(u, v, om, re, h), "psi": psi, "omega": om}


def solve_cavity(re: float = 100.0, n: int = 64, tol: float = 1e-10, max_iter: int = 15,
                 re_ratio: float = 3.0) -> dict[str, np.ndarray]:
    """Steady cavity flow at ``re`` on (n+1) x (n+1) nodes of [0, 1]^2 (n cells per side).

    Newton is continued in Re from min(re, 100) to re over geometrically spaced levels at most
    ``re_ratio`` apart (intermediate levels solved to 1e-6). A level whose Newton iteration fails
    (an update doubles, or ``max_iter`` steps pass) is retried after a level halfway in log Re.

    Returns:
        ``{"x": (n+1,), "y": (n+1,), "u", "v", "p", "psi", "omega": (n+1, n+1) as [i_x, i_y],
        "iterations": () total Newton steps, "residual": () max abs residual of the equations}``.
    """
    n = int(n)
    if n < 4:
        raise ValueError(f"n={n}: need at least 4 cells per side")
    ops = _operators(n)
    start = min(float(re), 100.0)
    steps = int(np.ceil(np.log(re / start) / np.log(re_ratio) - 1e-9))
    levels = list(start * (re / start) ** np.linspace(0, 1, steps + 1))           # geometric
    levels[-1] = float(re)
    z, total, done = np.zeros(2 * (n - 1) ** 2), 0, 0.0
    while levels:
        trial, it = _newton(z, levels[0], ops, tol if levels[0] == levels[-1] else 1e-6, max_iter)
        total += it
        if trial is not None:
            z, done = trial, levels.pop(0)
        elif done and levels[0] / done > 1.05:                                    # smaller Re step
            levels.insert(0, np.sqrt(done * levels[0]))
        else:
            raise RuntimeError(f"cavity Newton did not converge at Re={levels[0]:.4g}")
    res = float(np.abs(np.concatenate(_residual(z, float(re), ops)[:2])).max())
    x = np.linspace(0.0, 1.0, n + 1)
    return {"x": x, "y": x.copy(), **_fields(z, n, float(re)), "iterations": np.array(total),
            "residual": np.array(res)}


def centerlines(sol: dict) -> tuple[np.ndarray, np.ndarray]:
    """(u(0.5, y) for y in sol["y"], v(x, 0.5) for x in sol["x"]); linear across the line."""
    def across(field, coords, axis):
        i = min(np.searchsorted(coords, 0.5, side="right") - 1, len(coords) - 2)
        w = (0.5 - coords[i]) / (coords[i + 1] - coords[i])
        f = np.moveaxis(field, axis, 0)
        return (1 - w) * f[i] + w * f[i + 1]
    return across(sol["u"], sol["x"], 0), across(sol["v"], sol["y"], 1)


def ghia_deviation(sol: dict, re: float) -> tuple[float, float]:
    """Max |u - Ghia| on x = 0.5 and max |v - Ghia| on y = 0.5 (cubic spline along each line)."""
    ref = ghia_centerlines(re)
    uc, vc = centerlines(sol)
    du = CubicSpline(sol["y"], uc)(ref["y"]) - ref["u"]
    dv = CubicSpline(sol["x"], vc)(ref["x"]) - ref["v"]
    return float(np.abs(du).max()), float(np.abs(dv).max())


_GHIA_Y = [1.0, .9766, .9688, .9609, .9531, .8516, .7344, .6172, .5, .4531, .2813, .1719, .1016,
           .0703, .0625, .0547, 0.0]
_GHIA_X = [1.0, .9688, .9609, .9531, .9453, .9063, .8594, .8047, .5, .2344, .2266, .1563, .0938,
           .0781, .0703, .0625, 0.0]
_GHIA = {
    100: ([1.0, .84123, .78871, .73722, .68717, .23151, .00332, -.13641, -.20581, -.21090,
           -.15662, -.10150, -.06434, -.04775, -.04192, -.03717, 0.0],
          [0.0, -.05906, -.07391, -.08864, -.10313, -.16914, -.22445, -.24533, .05454, .17527,
           .17507, .16077, .12317, .10890, .10091, .09233, 0.0]),
    1000: ([1.0, .65928, .57492, .51117, .46604, .33304, .18719, .05702, -.06080, -.10648,
            -.27805, -.38289, -.29730, -.22220, -.20196, -.18109, 0.0],
           [0.0, -.21388, -.27669, -.33714, -.39188, -.51550, -.42665, -.31966, .02526, .32235,
            .33075, .37095, .32627, .30353, .29012, .27485, 0.0]),
}


def ghia_centerlines(re: float) -> dict[str, np.ndarray]:
    """Ghia, Ghia & Shin (1982), Tables I-II: ``{"y", "u"}`` on x = 0.5 and ``{"x", "v"}`` on
    y = 0.5, 17 points each (as tabulated, from the wall at 1 down to 0); Re = 100 or 1000."""
    if int(re) not in _GHIA or re != int(re):
        raise ValueError(f"Ghia centreline values are stored for Re = 100 and 1000, not {re}")
    u, v = _GHIA[int(re)]
    return {"y": np.array(_GHIA_Y), "u": np.array(u), "x": np.array(_GHIA_X), "v": np.array(v)}
