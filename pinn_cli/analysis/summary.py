"""One run's analysis: phases from the SNR, and what corroborates them, as a plain dict.

The dict is what ``analysis/summary.json`` holds (keys documented in ``docs/analysis.md``). What a
run does not have (diagnostics off, a killed run, a phase not reached) is reported, never guessed.

Around each detected onset, every floating-point series of every group the run has (``/terms``,
``/weights``, a user's own probe's group, ... : none is known by name) is summarised by its median
before and after the onset (:func:`phase_series`).
"""
from __future__ import annotations

import warnings

import numpy as np

from pinn_cli.analysis.identity import run_identity
from pinn_cli.phases.offline import PhaseParams, detect, log_slope, value_at, window_median
from pinn_cli.runfile import Run

SUMMARY_SCHEMA = 3          # 3: phases.<onset>.series; 2: config by choices (run_identity)
# the kinds of group the phase analysis reads (found by kind, whatever the group's name); a run
# without one of them is told so ("missing")
USED = ("metrics", "snr", "residual", "residual_map", "entropy")


def _json_number(x) -> float | None:
    """A float for JSON; None for NaN and infinities (JSON has neither)."""
    return float(x) if np.isfinite(x) else None


def onset_windows(steps: np.ndarray, step: int, params: PhaseParams, lo: float = 0,
                  hi: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """-> (before, after): the indices of the records of one group (``steps`` ascending) that
    describe the level before and after an onset at ``step``.

    before: lo <= s < step and s >= step / r; after: step <= s < hi and s < step * r, with
    r = 1 + ``persist`` (1.5: the windows of ``snr_before`` / ``snr_after``). A window holding
    fewer than ``min_records`` records is widened to the ``min_records`` records nearest the onset
    on its side (fewer where the group has fewer), but never past ``lo`` / ``hi``: the
    neighbouring onsets, so that a window stays within one phase.
    """
    r, n = 1 + params.persist, params.min_records
    k = int(np.searchsorted(steps, step, side="left"))                  # first record >= step
    first = int(np.searchsorted(steps, lo, side="left"))
    end = int(np.searchsorted(steps, hi, side="left"))
    a = min(int(np.searchsorted(steps, step / r, side="left")), max(0, k - n))
    e = max(int(np.searchsorted(steps, step * r, side="left")), min(len(steps), k + n))
    return np.arange(max(a, first), k), np.arange(k, min(e, max(end, k)))


def _median(values: np.ndarray):
    """Median over the records (axis 0) of the finite values, per component for a vector
    field: a float, or a list of floats; None where no value is finite."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return None if v.ndim == 1 else [None] * v.shape[1]
    v = np.where(np.isfinite(v), v, np.nan)
    with warnings.catch_warnings():                    # an all-NaN column: None, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmedian(v, axis=0)
    return _json_number(m) if np.ndim(m) == 0 else [_json_number(x) for x in m]


def phase_series(run: Run, step: int, params: PhaseParams, lo: float = 0,
                 hi: float = np.inf) -> dict:
    """Every floating-point series of every group around one onset:
    ``{group: {"before": {"records", "steps"}, "after": {...}, "fields": {name: {"before", "after"}}}}``.

    The records are those of :func:`onset_windows` (per group: its own cadence); each value is the
    median of the field's finite values over them, per component for a per-layer or per-term
    vector field (a list, one value per component). ``steps`` is [first, last] step of the
    records used, ``records`` their number; a window without records has ``steps`` null and
    every value null. Integer fields (codes such as ``/snr/phase``, counters) and fields with more
    than one axis per record (``/residual_map/map``) are left out; a group without records, or
    with no field left, is absent.
    """
    out = {}
    for group, data in run.series.items():
        steps = np.asarray(data.get("step", ()))
        fields = {k: np.asarray(v) for k, v in data.items() if k != "step"
                  and np.issubdtype(np.asarray(v).dtype, np.floating) and 1 <= np.ndim(v) <= 2}
        if not len(steps) or not fields:
            continue
        order = np.argsort(steps, kind="stable")
        steps = steps[order]
        windows = dict(zip(("before", "after"), onset_windows(steps, step, params, lo, hi)))
        entry = {side: {"records": len(i), "steps": [int(steps[i[0]]), int(steps[i[-1]])]
                        if len(i) else None} for side, i in windows.items()}
        entry["fields"] = {k: {side: _median(v[order][i]) for side, i in windows.items()}
                           for k, v in fields.items()}
        out[group] = entry
    return out


def _onset(run: Run, step, phases, kind: str, params: PhaseParams | None = None,
           lo: float = 0, hi: float = np.inf) -> dict:
    """What the run shows around one onset (or that it was not reached); ``lo``, ``hi``: the
    neighbouring onsets (:func:`onset_windows`)."""
    if step is None:
        return {"reached": False, "step": None}
    m, r, e = (run.data(kind) for kind in ("metrics", "residual", "entropy"))
    raw_s, raw_v = phases.steps, phases.snr
    out = {"reached": True, "step": int(step),
           "snr_before": window_median(raw_s, raw_v, step / 1.5, step),
           "snr_after": window_median(raw_s, raw_v, step, step * 1.5),
           "rel_l2": value_at(m.get("step"), m.get("rel_l2"), step) if m else None,
           "homogeneity": value_at(r.get("step"), r.get("homogeneity"), step) if r else None,
           "saturation": value_at(e.get("step"), e.get("saturation"), step) if e else None,
           "entropy": value_at(e.get("step"), e.get("per_layer"), step) if e else None}
    if kind == "total_diffusion" and m:
        out["error_slope_before"] = log_slope(m["step"], m["rel_l2"], step / 2, step)
        out["error_slope_after"] = log_slope(m["step"], m["rel_l2"], step, step * 2)
    out["series"] = phase_series(run, step, params or PhaseParams(), lo, hi)
    return out


def analyze_run(run: Run, params: PhaseParams | None = None) -> dict:
    """-> the summary dict of one run."""
    params = params or PhaseParams()
    missing = [kind for kind in USED if run.group(kind) is None]
    m = run.data("metrics")
    final = {"rel_l2": run.attrs.get("final_rel_l2"), "loss": run.attrs.get("final_loss")}
    if final["rel_l2"] is None and m and len(m["step"]):    # killed or running: last record
        final = {"rel_l2": float(m["rel_l2"][-1]), "loss": float(m["loss"][-1])}
    final.update(best_rel_l2=None, best_step=None)
    if m and len(m["step"]) and np.isfinite(m["rel_l2"]).any():   # the lowest recorded error
        k = int(np.nanargmin(m["rel_l2"]))
        final.update(best_rel_l2=float(m["rel_l2"][k]), best_step=int(m["step"][k]))
    summary = {"schema": SUMMARY_SCHEMA, "run": str(run.path), "status": run.attrs.get("status"),
               "config": run_identity(run.attrs, run.path.parent), "final": final,
               "last_step": int(max((d["step"][-1] for d in run.series.values() if len(d["step"])),
                                    default=0)),
               "missing": missing, "params": params.asdict(), "phases": {}}
    if "snr" in missing:
        summary["phases"] = {"fitting_to_diffusion": {"reached": None, "step": None},
                             "total_diffusion": {"reached": None, "step": None},
                             "note": "no SNR records: run with diagnostics=paper or full"}
        return summary
    snr = run.data("snr")
    ph = detect(snr["step"], snr["global"], params)
    summary["phases"] = {
        "started_in_fitting": ph.started_in_fitting,
        "fitting_to_diffusion": _onset(run, ph.fitting_end, ph, "fitting_to_diffusion", params,
                                       hi=np.inf if ph.total_diffusion is None else ph.total_diffusion),
        "total_diffusion": _onset(run, ph.total_diffusion, ph, "total_diffusion", params,
                                  lo=ph.fitting_end or 0),
        "snr_records": int(len(ph.steps)),
        "snr_nan_or_nonpositive": int(len(snr["step"]) - len(ph.steps)),
    }
    return summary


def smoothed_snr(run: Run, params: PhaseParams | None = None):
    """(steps, raw, smoothed) of the global SNR, for figures; None without SNR records."""
    snr = run.data("snr")
    if not snr:
        return None
    ph = detect(snr["step"], snr["global"], params)
    return ph.steps, ph.snr, ph.smooth
