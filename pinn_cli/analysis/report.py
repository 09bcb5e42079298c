"""A study's grouped report: one row per group of runs, the groups named by what differs.

``pinn-analyze <study> --by model,optimizer`` groups the runs by the values of those keys (a
config group's option, e.g. ``weighting`` or ``arm/weightings``, or any key of the resolved
config, e.g. ``optimizer.lr``); without ``--by``, by every group option and override that differs
between the runs (the seed left out). Per group, over its runs:

    runs, seeds                       how many, and which
    final rel-L2, best rel-L2         mean +- population std (n = the runs that have it)
    F->D, ->TD                        onset mean +- std over the runs that reach it, and k/n
    ms/step                           the run file's wall time / steps, mean +- std
    --metric PATH                     any number of summary.json (dotted path), mean +- std

written to ``report.md`` and ``report.csv`` beside the comparison, and drawn as the median over a
group's runs of the smoothed SNR and of the rel-L2 against the step, with a band from the
lowest to the highest run (``report_snr.png``, ``report_error.png``).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import yaml

from pinn_cli.analysis.identity import NOT_IDENTITY
from pinn_cli.schema import SELECTABLE

ONSETS = (("fitting_to_diffusion", "F->D"), ("total_diffusion", "->TD"))


def config_value(summary: dict, config: dict, key: str):
    """A run's value of ``key``: a group's option from its choices, else the resolved config's."""
    choices = summary["config"]["choices"]
    if key.split("/")[0] in SELECTABLE:
        return choices.get(key)
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if not isinstance(node, (dict, list)) else str(node)


def varying_keys(runs: list[tuple]) -> list[str]:
    """The group options and override keys whose values differ between ``runs`` (not the seed,
    nor where or how a run computes)."""
    keys = []
    for s, _ in runs:
        keys += [k for k in s["config"]["choices"] if k not in keys]
        for o in s["config"]["overrides"]:
            k = o.split("=", 1)[0].lstrip("+~")
            if k not in keys and not k.startswith(NOT_IDENTITY) and k.split("/")[0] not in SELECTABLE:
                keys.append(k)
    out, chosen = [], [()] * len(runs)
    for k in keys:
        values = [str(config_value(s, c, k)) for s, c in runs]
        if len(set(values)) < 2:
            continue
        implied = {}                             # the keys so far -> this key's value
        if all(implied.setdefault(c, v) == v for c, v in zip(chosen, values)) and out:
            continue                             # already told by the keys chosen (an arm's model)
        out.append(k)
        chosen = [c + (v,) for c, v in zip(chosen, values)]
    return out


def pick(summary: dict, path: str):
    node = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def spread(values) -> tuple[float | None, float | None, int]:
    """(mean, population std, n) of the finite numbers among ``values``."""
    v = [float(x) for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)
         and math.isfinite(x)]
    return (float(np.mean(v)), float(np.std(v)), len(v)) if v else (None, None, 0)


def ms_per_step(run) -> float | None:
    steps, wall = run.attrs.get("steps"), run.attrs.get("wall_time")
    return 1e3 * wall / steps if steps and wall else None


def group_rows(done: list[tuple], by: list[str], metrics: list[str]) -> list[dict]:
    """One row per group of ``done`` ([(run, summary)]) by the keys ``by``."""
    configs = [yaml.safe_load(run.attrs.get("config", "")) or {} for run, _ in done]
    groups: dict[tuple, list[int]] = {}
    for i, (run, s) in enumerate(done):
        groups.setdefault(tuple(str(config_value(s, configs[i], k)) for k in by), []).append(i)
    rows = []
    for values, idx in groups.items():
        runs = [done[i] for i in idx]
        row = dict(zip(by, values))
        row["runs"] = len(runs)
        row["seeds"] = " ".join(str(s["config"].get("seed")) for _, s in runs)
        for name, path in (("final_rel_l2", "final.rel_l2"), ("best_rel_l2", "final.best_rel_l2")):
            row.update(_cells(name, [pick(s, path) for _, s in runs]))
        for onset, _ in ONSETS:
            steps = [pick(s, f"phases.{onset}.step") for _, s in runs]
            row.update(_cells(onset, steps))
            row[f"{onset}_reached"] = f"{sum(x is not None for x in steps)}/{len(steps)}"
        row.update(_cells("ms_per_step", [ms_per_step(r) for r, _ in runs]))
        for path in metrics:
            row.update(_cells(path, [pick(s, path) for _, s in runs]))
        row["_runs"] = runs
        rows.append(row)
    return rows


def _cells(name: str, values) -> dict:
    mean, std, n = spread(values)
    return {f"{name}_mean": mean, f"{name}_std": std, f"{name}_n": n}


def _pm(row: dict, name: str, fmt: str = ".3g") -> str:
    m, s = row.get(f"{name}_mean"), row.get(f"{name}_std")
    return "-" if m is None else f"{m:{fmt}} ± {s:.2g}"


def markdown(rows: list[dict], by: list[str], metrics: list[str]) -> str:
    """The report as a markdown table (mean ± population std over the group's runs)."""
    head = [*by, "runs", "final rel-L2", "best rel-L2", "F->D", "->TD", "ms/step", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r[k] for k in by] + [str(r["runs"]), _pm(r, "final_rel_l2"), _pm(r, "best_rel_l2")]
        for onset, _ in ONSETS:
            cells.append(f"{_pm(r, onset, '.0f')} ({r[f'{onset}_reached']})")
        cells += [_pm(r, "ms_per_step", ".1f")] + [_pm(r, m) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(rows: list[dict], by: list[str], metrics: list[str], out: Path) -> None:
    (out / "report.md").write_text(
        f"Grouped by {', '.join(by) or '(nothing: one group)'}; mean ± population std over each "
        f"group's runs; onsets over the runs that reach them (reached/runs).\n\n"
        + markdown(rows, by, metrics))
    fields = [k for k in rows[0] if k != "_runs"]
    with open(out / "report.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows({k: v for k, v in r.items() if k != "_runs"} for r in rows)
