"""Figures of the field-map probe (:mod:`pinn_cli.diagnostics.field_map`), one PNG per group.

At the group's last record: the predicted field next to its absolute error. For a flow (the
group holds ``u`` and ``v``), the field is the speed sqrt(u^2 + v^2) in colour with streamlines of
(u, v) on top, and the error is that of the headline observable; otherwise both panels show the
headline observable (the first name in ``/<group>_grid/names``). The first axis of the grid is
drawn horizontally (x of the cavity and of Helmholtz, t of Allen-Cahn and Burgers).

A group recorded at scattered nodes (a reference on mesh nodes: ``/<group>_grid/points`` and
``/<group>_grid/triangles``) is drawn on that triangulation (linear in each triangle: none across
a hole, which stays blank), a flow's direction as arrows at the nodes instead of streamlines.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.tri import Triangulation  # noqa: E402
from scipy.interpolate import RegularGridInterpolator  # noqa: E402

from pinn_cli.analysis.figure_file import save as _save  # noqa: E402


def field_map_groups(run) -> list[str]:
    """The groups written by a field-map probe (they carry ``/<group>_grid/names``) with records."""
    return [g for g in run.series if f"{g}_grid/names" in run.static and run.has(g)]


def _grid(run, group: str) -> tuple[list[str], list[str], list[np.ndarray]]:
    """(observable names headline first, axis names in input order, axes) of one group."""
    def text(key):
        return [n.decode() if isinstance(n, bytes) else str(n) for n in run.static[f"{group}_grid/{key}"]]
    axis_names = text("axes")
    return text("names"), axis_names, [np.asarray(run.static[f"{group}_grid/{a}"], dtype=float)
                                       for a in axis_names]


def _streamlines(ax, axes: list[np.ndarray], u: np.ndarray, v: np.ndarray) -> None:
    """Streamlines of (u, v) given on ``axes`` (maps [i_x, i_y]), resampled to an even grid
    (matplotlib's streamplot needs equally spaced points)."""
    even = [np.linspace(a[0], a[-1], len(a)) for a in axes]
    gx, gy = np.meshgrid(*even, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    uu, vv = (RegularGridInterpolator(axes, f)(pts).reshape(gx.shape) for f in (u, v))
    ax.streamplot(even[0], even[1], uu.T, vv.T, color="white", linewidth=0.6, density=1.2,
                  arrowsize=0.6)


def _mesh(run, group: str) -> tuple[list[str], list[str], Triangulation]:
    """(observable names, axis names, triangulation of the nodes) of a scattered group."""
    def text(key):
        return [n.decode() if isinstance(n, bytes) else str(n) for n in run.static[f"{group}_grid/{key}"]]
    pts = np.asarray(run.static[f"{group}_grid/points"], dtype=float)
    tri = np.asarray(run.static[f"{group}_grid/triangles"], dtype=int).reshape(-1, 3)
    return text("names"), text("axes"), Triangulation(pts[:, 0], pts[:, 1], tri if len(tri) else None)


def _last(data: dict, names: list[str]):
    """The last record of a field group: (headline name, is a flow, u, v, the value to draw
    (the speed of a flow, else the headline observable), its label, the headline's error)."""
    head = names[0]
    flow = "u" in names and "v" in names
    u = v = None
    if flow:
        u, v = data["u"][-1].astype(float), data["v"][-1].astype(float)
        value, label = np.hypot(u, v), "speed |(u, v)|"
    else:
        value, label = data[head][-1].astype(float), head
    return head, flow, u, v, value, label, data[f"{head}_error"][-1].astype(float)


def mesh_figure(run, group: str, summary: dict, out: Path) -> Path | None:
    """A scattered group at its last record: the field (speed with arrows for a flow) and the
    error of the headline observable, on the stored triangulation."""
    names, axis_names, tri = _mesh(run, group)
    head, flow, u, v, value, label, error = _last(run.series[group], names)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    im = a.tripcolor(tri, value, shading="gouraud", cmap="viridis")
    if flow:
        every = max(1, len(u) // 400)
        a.quiver(tri.x[::every], tri.y[::every], u[::every], v[::every], color="white", width=0.003)
    fig.colorbar(im, ax=a)
    a.set_title(f"{label} at step {int(run.series[group]['step'][-1])}", fontsize=9)
    im = b.tripcolor(tri, error, shading="gouraud", cmap="magma")
    fig.colorbar(im, ax=b)
    b.set_title(f"|{head} - reference| at step {int(run.series[group]['step'][-1])}", fontsize=9)
    spans = [float(np.ptp(tri.x)), float(np.ptp(tri.y))]
    for ax in (a, b):
        ax.set_xlabel(axis_names[0])
        ax.set_ylabel(axis_names[1])
        ax.set_aspect("equal" if abs(spans[0] - spans[1]) <= 0.5 * max(spans) else "auto")
    c = summary.get("config", {})
    fig.suptitle(f"/{group}: {c.get('label')} seed {c.get('seed')} ({len(tri.x)} nodes)", fontsize=10)
    name = "velocity.png" if flow else f"{group}.png"
    return _save(fig, out / (name if group == "field_map" else f"{group}_{name}"))


def field_figure(run, group: str, summary: dict, out: Path) -> Path | None:
    """The velocity field (or the headline observable) and its error at the last record."""
    if f"{group}_grid/points" in run.static:
        return mesh_figure(run, group, summary, out)
    names, axis_names, axes = _grid(run, group)
    head, flow, u, v, value, label, error = _last(run.series[group], names)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    extent = dict(shading="auto")
    im = a.pcolormesh(axes[0], axes[1], value.T, cmap="viridis", **extent)
    if flow:
        _streamlines(a, axes, u, v)
    fig.colorbar(im, ax=a)
    a.set_title(f"{label} at step {int(run.series[group]['step'][-1])}", fontsize=9)
    im = b.pcolormesh(axes[0], axes[1], error.T, cmap="magma", **extent)
    fig.colorbar(im, ax=b)
    b.set_title(f"|{head} - reference| at step {int(run.series[group]['step'][-1])}", fontsize=9)
    for ax in (a, b):
        ax.set_xlabel(axis_names[0])
        ax.set_ylabel(axis_names[1])
        ax.set_aspect("equal" if _square(axes) else "auto")
    c = summary.get("config", {})
    fig.suptitle(f"/{group}: {c.get('label')} seed {c.get('seed')}", fontsize=10)
    name = "velocity.png" if flow else f"{group}.png"
    return _save(fig, out / (name if group == "field_map" else f"{group}_{name}"))


def _square(axes: list[np.ndarray]) -> bool:
    spans = [float(a[-1] - a[0]) for a in axes]
    return abs(spans[0] - spans[1]) <= 1e-9 * max(spans)


def field_figures(run, summary: dict, out: Path) -> list[Path]:
    """One figure per field-map group of the run (none without one)."""
    figs = [field_figure(run, g, summary, out) for g in field_map_groups(run)]
    return [f for f in figs if f is not None]

