"""Figures of the field-map probe (:mod:`pinn_cli.diagnostics.field_map`), one PNG per group.

At the group's last record: the predicted field, the reference (recorded with the group; older
run files have none) on the same colour scale, and the absolute error, side by side. For a flow
(the group holds ``u`` and ``v``), the fields are the speed sqrt(u^2 + v^2) in colour with
streamlines of (u, v) on top, and the error is that of the headline observable; otherwise every
panel shows the headline observable (the first name in ``/<group>_grid/names``). The first axis
of the grid is drawn across (x of the cavity and of Helmholtz, t of Allen-Cahn and Burgers), each
domain in its own aspect (equal scales on both axes).

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


def _panels(run, group: str, names: list[str]) -> tuple[str, list[tuple]]:
    """(the headline's name, the panels at the group's last record): (value, label, colormap,
    (u, v) of a flow or None) for the prediction, the reference where the file holds it (runs
    written before it was recorded have none) and the headline's absolute error. A flow's
    prediction and reference are its speed sqrt(u^2 + v^2), with its direction."""
    data, head = run.series[group], names[0]
    step = int(data["step"][-1])
    ref = {k: np.asarray(run.static[f"{group}_grid/reference/{k}"], dtype=float)
           for k in names if f"{group}_grid/reference/{k}" in run.static}
    flow = "u" in names and "v" in names

    def field(values: dict, what: str):
        if flow:
            u, v = np.asarray(values["u"], dtype=float), np.asarray(values["v"], dtype=float)
            return np.hypot(u, v), f"{what}: speed |(u, v)|", "viridis", (u, v)
        return np.asarray(values[head], dtype=float), f"{what}: {head}", "viridis", None

    panels = [field({k: data[k][-1] for k in names}, f"network at step {step}")]
    if (flow and {"u", "v"} <= set(ref)) or (not flow and head in ref):
        panels.append(field(ref, "reference"))
    panels.append((data[f"{head}_error"][-1].astype(float), f"|{head} - reference| at step {step}",
                   "magma", None))
    return head, panels


def _figure(n: int, spans: list[float], axis_names: list[str]):
    """A row of n panels; a domain without time (no axis ``t``) in its own aspect."""
    spatial = "t" not in axis_names and min(spans) > 0
    ratio = min(max(spans[1] / spans[0], 0.25), 2.0) if spatial else 0.8
    return plt.subplots(1, n, figsize=(4.6 * n, 0.6 + 3.8 * ratio), squeeze=False)


def mesh_figure(run, group: str, summary: dict, out: Path) -> Path | None:
    """A scattered group at its last record, on the stored triangulation: the prediction, the
    reference and the headline's error (a flow's speed with arrows of its direction)."""
    names, axis_names, tri = _mesh(run, group)
    head, panels = _panels(run, group, names)
    spans = [float(np.ptp(tri.x)), float(np.ptp(tri.y))]
    fig, axs = _figure(len(panels), spans, axis_names)
    shared = _shared_limits(panels)
    for ax, (value, label, cmap, flow) in zip(axs[0], panels):
        im = ax.tripcolor(tri, value, shading="gouraud", cmap=cmap, **shared.get(cmap, {}))
        if flow is not None:
            every = max(1, len(flow[0]) // 400)
            ax.quiver(tri.x[::every], tri.y[::every], flow[0][::every], flow[1][::every],
                      color="white", width=0.003)
        _dress(fig, ax, im, label, axis_names)
    c = summary.get("config", {})
    fig.suptitle(f"/{group}: {c.get('label')} seed {c.get('seed')} ({len(tri.x)} nodes)", fontsize=10)
    return _save(fig, out / _name(group, panels))


def field_figure(run, group: str, summary: dict, out: Path) -> Path | None:
    """The prediction, the reference and the headline's error at the last record (a flow's
    speed with streamlines)."""
    if f"{group}_grid/points" in run.static:
        return mesh_figure(run, group, summary, out)
    names, axis_names, axes = _grid(run, group)
    head, panels = _panels(run, group, names)
    fig, axs = _figure(len(panels), [float(a[-1] - a[0]) for a in axes], axis_names)
    shared = _shared_limits(panels)
    for ax, (value, label, cmap, flow) in zip(axs[0], panels):
        im = ax.pcolormesh(axes[0], axes[1], value.T, cmap=cmap, shading="auto", **shared.get(cmap, {}))
        if flow is not None:
            _streamlines(ax, axes, *flow)
        _dress(fig, ax, im, label, axis_names)
    c = summary.get("config", {})
    fig.suptitle(f"/{group}: {c.get('label')} seed {c.get('seed')}", fontsize=10)
    return _save(fig, out / _name(group, panels))


def _shared_limits(panels) -> dict:
    """One colour scale for the prediction and the reference (the error has its own)."""
    fields = [p[0] for p in panels if p[2] == "viridis"]
    lo, hi = min(float(np.nanmin(f)) for f in fields), max(float(np.nanmax(f)) for f in fields)
    return {"viridis": {"vmin": lo, "vmax": hi}} if hi > lo else {}


def _dress(fig, ax, im, label: str, axis_names: list[str]) -> None:
    fig.colorbar(im, ax=ax)
    ax.set_title(label, fontsize=9)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if "t" not in axis_names:
        ax.set_aspect("equal")


def _name(group: str, panels) -> str:
    name = "velocity.png" if panels[0][3] is not None else f"{group}.png"
    return name if group == "field_map" else f"{group}_{name}"


def field_figures(run, summary: dict, out: Path) -> list[Path]:
    """One figure per field-map group of the run (none without one)."""
    figs = [field_figure(run, g, summary, out) for g in field_map_groups(run)]
    return [f for f in figs if f is not None]

