"""One run's analysis: phases from the SNR, and what corroborates them, as a plain dict.

The dict is what ``analysis/summary.json`` holds (keys documented in ``docs/analysis.md``). What a
run does not have (diagnostics off, a killed run, a phase not reached) is reported, never guessed.
"""
from __future__ import annotations

from pinn_cli.analysis.identity import run_identity
from pinn_cli.analysis.phases import PhaseParams, detect, log_slope, value_at, window_median
from pinn_cli.runfile import Run

SUMMARY_SCHEMA = 2
# the groups the phase analysis reads; a run without one of them is told so ("missing")
USED = ("metrics", "snr", "residual", "residual_map", "entropy")


def _onset(run: Run, step, phases, kind: str) -> dict:
    """What the run shows around one onset (or that it was not reached)."""
    if step is None:
        return {"reached": False, "step": None}
    m, r, e = (run.series.get(g, {}) for g in ("metrics", "residual", "entropy"))
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
    return out


def analyze_run(run: Run, params: PhaseParams | None = None) -> dict:
    """-> the summary dict of one run."""
    params = params or PhaseParams()
    missing = [g for g in USED if not run.has(g)]
    m = run.series.get("metrics", {})
    final = {"rel_l2": run.attrs.get("final_rel_l2"), "loss": run.attrs.get("final_loss")}
    if final["rel_l2"] is None and m and len(m["step"]):    # killed or running: last record
        final = {"rel_l2": float(m["rel_l2"][-1]), "loss": float(m["loss"][-1])}
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
    snr = run.series["snr"]
    ph = detect(snr["step"], snr["global"], params)
    summary["phases"] = {
        "started_in_fitting": ph.started_in_fitting,
        "fitting_to_diffusion": _onset(run, ph.fitting_end, ph, "fitting_to_diffusion"),
        "total_diffusion": _onset(run, ph.total_diffusion, ph, "total_diffusion"),
        "snr_records": int(len(ph.steps)),
        "snr_nan_or_nonpositive": int(len(snr["step"]) - len(ph.steps)),
    }
    return summary


def smoothed_snr(run: Run, params: PhaseParams | None = None):
    """(steps, raw, smoothed) of the global SNR, for figures; None without SNR records."""
    if not run.has("snr"):
        return None
    ph = detect(run.series["snr"]["step"], run.series["snr"]["global"], params)
    return ph.steps, ph.snr, ph.smooth
