"""Figures of pinn-analyze (matplotlib, no display needed). Each function writes one PNG and
returns its path; a figure whose data the run lacks is skipped (returns None).

Every time-series panel of a run (SNR, entropy, Adam, and each other group's fields) marks where
the optimizer changes stage (Adam -> L-BFGS, from ``/optimizer/stage``) with a dashed vertical
line labelled with the new stage's name (:func:`stage_boundaries`)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from hydra.utils import get_object  # noqa: E402

from pinn_cli.analysis.field_plots import field_figures  # noqa: E402
from pinn_cli.analysis.figure_file import save as _save  # noqa: E402
from pinn_cli.analysis.summary import smoothed_snr  # noqa: E402
from pinn_cli.phases.offline import PhaseParams, running_median  # noqa: E402

PHASE_COLOURS = ("#dbe9f6", "#fbe3d6", "#dff2dc")   # fitting, diffusion, total diffusion


def _shade(ax, summary: dict, last: float) -> None:
    """Shade the phases that were detected, and only those (x is step + 1)."""
    ph = summary["phases"]
    f = ph.get("fitting_to_diffusion", {}).get("step")
    t = ph.get("total_diffusion", {}).get("step")
    spans = []
    if f is not None:
        spans += [(1, f + 1, 0, "fitting"), (f + 1, (t + 1) if t is not None else last, 1, "diffusion")]
    if t is not None:
        spans.append((t + 1, last, 2, "total diffusion"))
    for a, b, c, name in spans:
        if b > a:
            ax.axvspan(a, b, color=PHASE_COLOURS[c], zorder=0, label=name)


def stage_boundaries(run) -> list[tuple[int, str]]:
    """-> [(step, name of the stage that starts there)] where the optimizer's stage changes, or
    the run's own (``/stages``: a time-marching window, a continuation value).

    Read from every series group with a ``stage`` field: the optimizer probe's (``/optimizer`` or a
    group whose stage names ``/<group>_stage_names`` were written), and ``/stages``. The step is the first record
    of the new stage: the first step taken in it when the records are consecutive there (the probe
    records both sides of a fixed boundary such as ``adam_steps``), else the boundary lies after
    the previous record. A change only at the final record (a run that ended exactly where the
    next stage would begin: no step was taken in it) is not a boundary. Plain optimizers record a
    constant stage: no boundaries."""
    out = []
    for group, data in run.series.items():
        names_key = f"{group}_stage_names"
        if "stage" not in data or not (group == "optimizer" or names_key in run.static):
            continue
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in run.static.get(names_key, [])]
        steps, stage = np.asarray(data["step"]), np.asarray(data["stage"])
        taken = run.attrs.get("steps")
        for i in np.flatnonzero(stage[1:] != stage[:-1]) + 1:
            if taken is not None and steps[i] >= int(taken):
                continue
            k = int(stage[i])
            out.append((int(steps[i]), names[k] if 0 <= k < len(names) else f"stage {k}"))
    return sorted(out)


def _mark_stages(ax, boundaries: list[tuple[int, str]]) -> None:
    """Dashed vertical lines at the stage boundaries inside the panel's x range (x is step + 1),
    each labelled with the new stage's name; the panel's x range is left as it was."""
    if not boundaries:
        return
    lo, hi = ax.get_xlim()
    beside = matplotlib.transforms.offset_copy(ax.get_xaxis_transform(), ax.figure, x=2,
                                               units="points")    # 2 pt right of the line
    for step, name in boundaries:
        x = step + 1
        if lo <= x <= hi:
            ax.axvline(x, color="0.25", lw=0.9, ls="--", zorder=3)
            ax.text(x, 0.97, name, transform=beside, rotation=90, va="top", ha="left",
                    fontsize=7, color="0.25")
    ax.set_xlim(lo, hi)


def snr_figure(run, summary: dict, out: Path, params: PhaseParams | None = None):
    data = smoothed_snr(run, params)
    if data is None:
        return None
    steps, raw, smooth = data
    x = steps + 1
    fig, ax = plt.subplots(figsize=(8, 4.8))
    _shade(ax, summary, x[-1])
    ax.loglog(x, raw, ".", ms=2, color="0.6", label="SNR (raw)")
    ax.loglog(x, smooth, "-", lw=2, color="k", label="SNR (smoothed)")
    snr = run.data("snr")
    per = snr["per_layer"]
    p = params or PhaseParams()
    for l in range(per.shape[1]):
        ok = np.isfinite(per[:, l]) & (per[:, l] > 0)
        s = running_median(np.log10(snr["step"][ok] + 1), np.log10(per[ok, l]), p.window, p.min_records)
        ax.loglog(snr["step"][ok] + 1, 10**s, lw=0.8, alpha=0.8, label=f"layer {l + 1}")
    ax.axhline(1, color="r", lw=0.8, ls="--")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("gradient SNR")
    lines = []
    m = run.data("metrics")
    if m:
        ax2 = ax.twinx()
        # a colour no layer curve takes (they cycle through tab:blue, tab:orange, ...)
        lines = ax2.loglog(m["step"] + 1, m["rel_l2"], color="darkmagenta", lw=1.8, ls="-.",
                           label="rel-L2 (right axis)")
        ax2.set_ylabel("relative L2 error", color="darkmagenta")
    _mark_stages(ax, stage_boundaries(run))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles + lines, labels + [ln.get_label() for ln in lines], fontsize=7,
              loc="lower left", ncol=2)
    ax.set_title(_title(summary))
    return _save(fig, out / "snr.png")


def residual_maps_figure(run, summary: dict, out: Path):
    rm = run.data("residual_map")
    if not rm:
        return None
    axes = [run.static[k] for k in sorted(run.static) if k.startswith("grid/")]
    names = [k.split("/")[1] for k in sorted(run.static) if k.startswith("grid/")]
    ph = summary["phases"]
    ended = run.attrs.get("steps")
    last = "last map" + (f"; run: {int(ended)} steps"
                         if ended is not None and int(ended) > int(rm["step"][-1]) else "")
    wanted = [("fitting end", ph.get("fitting_to_diffusion", {}).get("step")),
              ("total diffusion", ph.get("total_diffusion", {}).get("step")),
              (last, int(rm["step"][-1]))]
    picks = [(label, int(np.argmin(np.abs(rm["step"] - s)))) for label, s in wanted if s is not None]
    # the first axis across, the second up; a domain without time in its own aspect
    spatial = "t" not in names
    span = [float(np.ptp(a)) or 1.0 for a in axes]
    height = 3.6 if not spatial else min(6.0, max(2.0, 3.6 * span[1] / span[0]))
    fig, axs = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), height), squeeze=False)
    for ax, (label, i) in zip(axs[0], picks):
        # NaN outside a domain that is not a box (a hole): left blank
        values = np.ma.masked_invalid(rm["map"][i])                                # (n0, n1)
        low = float(values.min()) if values.count() else 1.0
        im = ax.pcolormesh(axes[0], axes[1], values.T, shading="auto",
                           norm=matplotlib.colors.LogNorm(vmin=max(low, 1e-12)))
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if spatial:
            ax.set_aspect("equal")
        ax.set_title(f"|r| at step {int(rm['step'][i])} ({label})", fontsize=8)
        fig.colorbar(im, ax=ax)
    return _save(fig, out / "residual_maps.png")


def entropy_figure(run, summary: dict, out: Path):
    e = run.data("entropy")
    if not e:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for l in range(e["per_layer"].shape[1]):
        a.semilogx(e["step"] + 1, e["per_layer"][:, l], label=f"layer {l + 1}")
        b.semilogx(e["step"] + 1, e["saturation"][:, l], label=f"layer {l + 1}")
    boundaries = stage_boundaries(run)
    for ax in (a, b):
        _shade(ax, summary, e["step"][-1] + 1)
        _mark_stages(ax, boundaries)
        ax.set_xlabel("step + 1")
    a.set_ylabel("H(T) [bits]")
    b.set_ylabel("saturation")
    b.legend(fontsize=7)
    fig.suptitle(_title(summary))
    return _save(fig, out / "entropy.png")


def adam_figure(run, summary: dict, out: Path):
    s = run.data("snr")
    if "adam" not in s:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    _shade(ax, summary, s["step"][-1] + 1)
    ax.loglog(s["step"] + 1, s["global"], lw=0.8, label="batch SNR")
    ax.loglog(s["step"] + 1, s["adam"], lw=1.2, label="Adam SNR")
    ax.loglog(s["step"] + 1, s["adam_step"], lw=1.2, label="mean effective step / lr")
    ax.axhline(1, color="r", lw=0.8, ls="--")
    _mark_stages(ax, stage_boundaries(run))
    ax.set_xlabel("step + 1")
    ax.legend(fontsize=8)
    ax.set_title(_title(summary))
    return _save(fig, out / "adam.png")


def overlay_figure(runs_and_summaries, out: Path, params: PhaseParams | None = None):
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for run, summary in runs_and_summaries:
        data = smoothed_snr(run, params)
        if data is None:
            continue
        steps, _, smooth = data
        line, = ax.loglog(steps + 1, smooth, lw=1.2, label=_title(summary))
        t = summary["phases"].get("total_diffusion", {}).get("step")
        if t is not None:
            ax.axvline(t + 1, color=line.get_color(), lw=0.8, ls=":")
    ax.axhline(1, color="r", lw=0.8, ls="--")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("gradient SNR (smoothed)")
    ax.legend(fontsize=7)
    return _save(fig, out / "overlay.png")


# the kinds of group drawn by a figure of their own above, the first group of each kind (a second
# group of such a kind, and any other group: series_figure; field maps: field_figures, every one)
KNOWN = ("metrics", "snr", "residual", "residual_map", "entropy")


def probe_figure(run, group: str):
    """The ``figure(data, ax)`` of the probe that wrote ``group`` (its class, read from the run's
    config and imported as pinn-train did: from the working folder too), or None."""
    try:
        node = (yaml.safe_load(run.attrs.get("config", "")) or {}).get("diagnostics", {}).get(group, {})
        cls = get_object(node["_target_"])
    except Exception:                           # noqa: BLE001 - not importable here: generic figure
        return None
    fn = getattr(cls, "figure", None)
    return fn if callable(fn) else None


def series_figure(run, group: str, summary: dict, out: Path):
    """Any other group (a user's own probe, the weights, the terms): the probe's own
    ``figure(data, ax)`` where it has one, else each field against the step, one line per
    component, on log axes where the values are positive; the detected phases shaded as on the
    other panels (legend on the top panel)."""
    data = run.series[group]
    own = probe_figure(run, group)
    if own is not None:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        own(data, ax)
        _shade(ax, summary, data["step"][-1] + 1)
        _mark_stages(ax, stage_boundaries(run))
        ax.set_title(f"/{group}: {_title(summary)}", fontsize=9)
        return _save(fig, out / f"{group}.png")
    fields = [k for k, v in data.items() if k != "step" and v.ndim <= 2 and v.size]
    if not fields:
        return None
    fig, axes = plt.subplots(len(fields), 1, figsize=(8, 2.2 * len(fields)), squeeze=False)
    x = data["step"] + 1
    boundaries = stage_boundaries(run)
    for ax, k in zip(axes[:, 0], fields):
        v = data[k].reshape(len(x), -1)
        positive = np.all(v[np.isfinite(v)] > 0)
        for j in range(v.shape[1]):
            (ax.loglog if positive else ax.semilogx)(x, v[:, j], lw=1, label=f"{j + 1}" if v.shape[1] > 1 else None)
        ax.set_ylabel(k, fontsize=8)
        _shade(ax, summary, x[-1])
        _mark_stages(ax, boundaries)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=6, ncol=6, loc="best")
    axes[-1, 0].set_xlabel("step + 1")
    axes[0, 0].set_title(f"/{group}: {_title(summary)}")
    return _save(fig, out / f"{group}.png")


def run_figures(run, summary: dict, out: Path, params: PhaseParams | None = None) -> list[Path]:
    figs = [snr_figure(run, summary, out, params), residual_maps_figure(run, summary, out),
            entropy_figure(run, summary, out), adam_figure(run, summary, out)]
    drawn = {run.group(kind) for kind in KNOWN}
    figs += [series_figure(run, g, summary, out) for g in run.series
             if run.has(g) and g not in drawn and run.kind(g) != "field_map"]
    figs += field_figures(run, summary, out)
    return [f for f in figs if f is not None]


def _title(summary: dict) -> str:
    c = summary["config"]
    return f"{c.get('label')} seed {c.get('seed')}"


def _band(curves: list[tuple[np.ndarray, np.ndarray]]):
    """Curves (steps, values > 0) of several runs on the first run's steps (log-interpolated):
    -> (steps, median, low, high), or None."""
    curves = [(x, y) for x, y in curves if len(x) and np.all(np.isfinite(y)) and np.all(y > 0)]
    if not curves:
        return None
    grid = curves[0][0]
    logs = np.array([np.interp(grid, x, np.log10(y), left=np.nan, right=np.nan) for x, y in curves])
    with np.errstate(all="ignore"):
        return grid, 10 ** np.nanmedian(logs, 0), 10 ** np.nanmin(logs, 0), 10 ** np.nanmax(logs, 0)


def group_figures(rows: list[dict], by: list[str], out: Path, params=None) -> list[Path]:
    """The grouped report's figures: per group, the median over its runs of the smoothed SNR and
    of the rel-L2 against the step, with a band from the lowest to the highest run."""
    paths = []
    for name, ylabel, curves_of in (
            ("report_snr.png", "gradient SNR (smoothed)",
             lambda run: (lambda s: (s[0], s[2]) if s else (np.array([]), np.array([])))(
                 smoothed_snr(run, params))),
            ("report_error.png", "rel-L2",
             lambda run: (lambda m: (m["step"], m["rel_l2"]) if m else (np.array([]), np.array([])))(
                 run.data("metrics")))):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        drawn = False
        for r in rows:
            band = _band([curves_of(run) for run, _ in r["_runs"]])
            if band is None:
                continue
            x, mid, lo, hi = band
            label = " ".join(f"{r[k]}" for k in by) or "all runs"
            line, = ax.loglog(x + 1, mid, lw=1.2, label=f"{label} (n={r['runs']})")
            ax.fill_between(x + 1, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
            drawn = True
        if not drawn:
            plt.close(fig)
            continue
        if "snr" in name:
            ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_xlabel("step + 1")
        ax.set_ylabel(ylabel)
        ax.set_title(f"median over each group's runs (band: lowest to highest), by {', '.join(by) or '-'}",
                     fontsize=9)
        ax.legend(fontsize=7)
        paths.append(_save(fig, out / name))
    return paths
