"""Comparing runs: one row per run, groups of runs that differ only in seed, and ratios.

Runs are grouped by their signature, the resolved config less seed, device and recording
(:mod:`pinn_cli.analysis.identity`), and shown by their label. For every group option a sweep
varies (model, optimizer, weighting, ...), each group whose option differs from the default
(``train.yaml``: ``weighting=none``, ``optimizer=adam``, ...) is compared with the group whose
resolved config is the same in everything but that group, where it uses the default: the ratios of their mean total-
diffusion onsets and mean final errors, option over default (< 1: the option reaches total
diffusion sooner, or ends with a smaller error; :func:`ratio_text` says it in words). Different PDEs are different problems, not
treatments, and are never put in a ratio.
"""
from __future__ import annotations

import json

import numpy as np

from pinn_cli.analysis.identity import defaults
from pinn_cli.schema import GROUPS

TREATMENTS = tuple(g for g in GROUPS if g not in ("pde", "diagnostics"))


def comparison_rows(summaries: list[dict]) -> list[dict]:
    """One flat row per run for the sweep table and CSV."""
    rows = []
    for s in summaries:
        ph, c = s.get("phases", {}), s["config"]
        f, t = ph.get("fitting_to_diffusion", {}), ph.get("total_diffusion", {})
        rows.append({"run": s["run"], "status": s["status"], "label": c["label"], "seed": c.get("seed"),
                     **{g: c["choices"].get(g) for g in GROUPS},
                     "fitting_end": f.get("step"), "total_diffusion": t.get("step"),
                     "rel_l2_at_total_diffusion": t.get("rel_l2"),
                     "final_rel_l2": s["final"].get("rel_l2")})
    return rows


ONSETS = ("fitting_to_diffusion", "total_diffusion")
PHASE_SERIES_COLUMNS = ("run", "label", "seed", "onset", "step", "group", "field", "component",
                        "before", "after", "records_before", "records_after")


def phase_series_rows(summaries: list[dict]) -> list[dict]:
    """The per-phase summary of every run in long form (``phase_series.csv``): one row per run,
    onset reached, group, field and component (1, 2, ... for a vector field, as in the figures'
    legends; empty for a scalar), with its median before and after the onset. Whatever groups
    and fields the runs have, the columns are PHASE_SERIES_COLUMNS."""
    rows = []
    for s in summaries:
        c = s["config"]
        for onset in ONSETS:
            d = s.get("phases", {}).get(onset) or {}
            for group, entry in (d.get("series") or {}).items():
                n = {side: (entry.get(side) or {}).get("records") for side in ("before", "after")}
                for field, v in entry.get("fields", {}).items():
                    for component, before, after in _components(v.get("before"), v.get("after")):
                        rows.append({"run": s["run"], "label": c["label"], "seed": c.get("seed"),
                                     "onset": onset, "step": d.get("step"), "group": group,
                                     "field": field, "component": component,
                                     "before": before, "after": after,
                                     "records_before": n["before"], "records_after": n["after"]})
    return rows


def _components(before, after) -> list[tuple]:
    """[(component, before, after)]: one ("", b, a) for scalars, (1, b[0], a[0]), ... for vectors."""
    if not isinstance(before, list) and not isinstance(after, list):
        return [("", before, after)]
    width = max(len(x) for x in (before, after) if isinstance(x, list))
    at = lambda x, j: (x[j] if j < len(x) else None) if isinstance(x, list) else x
    return [(j + 1, at(before, j), at(after, j)) for j in range(width)]


def _stats(values) -> tuple[float | None, float | None]:
    v = [x for x in values if x is not None]
    return (float(np.mean(v)), float(np.std(v))) if v else (None, None)


def _key(sig: dict, without: str | None = None) -> str:
    return json.dumps({k: v for k, v in sig.items() if k != without}, sort_keys=True, default=str)


def group_table(summaries: list[dict]) -> list[dict]:
    """Per signature (runs that differ only in seed): counts, mean +- std of onsets and error."""
    by: dict[str, list[dict]] = {}
    for s in summaries:
        by.setdefault(_key(s["config"]["signature"]), []).append(s)
    out = []
    for runs in by.values():
        td = [r["phases"].get("total_diffusion", {}).get("step") for r in runs]
        fe = [r["phases"].get("fitting_to_diffusion", {}).get("step") for r in runs]
        err = [r["final"].get("rel_l2") for r in runs]
        c = runs[0]["config"]
        out.append({"label": c["label"], "choices": c["choices"], "signature": c["signature"],
                    "runs": len(runs),
                    "reached": sum(t is not None for t in td),
                    "fitting_end_mean": _stats(fe)[0],
                    "total_diffusion_mean": _stats(td)[0], "total_diffusion_std": _stats(td)[1],
                    "final_rel_l2_mean": _stats(err)[0], "final_rel_l2_std": _stats(err)[1]})
    return out


def ratios(groups: list[dict]) -> list[dict]:
    """Each non-default option against the default, everything else equal (module docstring)."""
    base, out = defaults(), []
    for g in groups:
        for factor in TREATMENTS:
            option = g["choices"].get(factor)
            if option is None or option == base.get(factor):
                continue
            ref = next((r for r in groups if r["choices"].get(factor) == base[factor]
                        and _key(r["signature"], factor) == _key(g["signature"], factor)), None)
            if ref is None:
                continue
            entry = {"factor": factor, "option": option, "baseline": base[factor],
                     "label": g["label"], "baseline_label": ref["label"]}
            for k in ("total_diffusion_mean", "final_rel_l2_mean"):
                if g[k] and ref[k]:
                    entry[f"{k.removesuffix('_mean')}_ratio"] = g[k] / ref[k]
            out.append(entry)
    return out


def ratio_text(r: dict) -> str:
    """One ratio entry in words: which way round, and what it means."""
    head = f"{r['factor']}={r['option']} against {r['factor']}={r['baseline']} ({r['label']}):"
    parts = []
    if "final_rel_l2_ratio" in r:
        x = r["final_rel_l2_ratio"]
        parts.append(f"final rel-L2 {x:.3g}x the baseline's ({'more' if x < 1 else 'less'} accurate)")
    if "total_diffusion_ratio" in r:
        x = r["total_diffusion_ratio"]
        parts.append(f"total diffusion at {x:.3g}x the baseline's step ({'sooner' if x < 1 else 'later'})")
    return f"{head} {'; '.join(parts) or 'nothing to compare (an onset or error missing)'}"
