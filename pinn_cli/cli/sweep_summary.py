"""A sweep's summary: once the launcher returns, one table of its jobs' outcomes.

``pinn-train -m`` writes it in the launching process when the launcher returns (basic, joblib
and SLURM alike; also when the sweep is interrupted): ``summary.csv`` and ``summary.json`` in the
sweep folder, per job its folder, status, steps, final and best error. A job that stopped before
writing a run file has status ``bad input`` or ``failed`` with its reason (from its
``error.txt``), or ``no run file``; an unreadable file is listed as such.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from pinn_cli.run_folder import RunFolder
from pinn_cli.runfile import RunFileError, read_attrs

log = logging.getLogger("pinn_cli")
FIELDS = ("job", "status", "steps", "final_rel_l2", "best_rel_l2", "best_step", "final_loss",
          "wall_time", "error")


def summarize(sweep_dir) -> list[dict]:
    """One row per job folder (a folder holding .hydra/) under ``sweep_dir``."""
    rows, root = [], Path(sweep_dir)
    for job in RunFolder.jobs_under(root):
        row = {k: None for k in FIELDS} | {"job": str(job.path.relative_to(root))}
        try:
            attrs = read_attrs(job.run_file)
            row.update({k: attrs.get(k) for k in FIELDS if k != "job"})
        except RunFileError as e:
            row["status"] = "no run file" if "no such file" in str(e) else f"unreadable: {e}"
            if job.error_file.is_file():
                row["error"] = job.error_file.read_text().strip()
                row["status"] = "bad input" if row["error"].startswith("bad input") else "failed"
        rows.append(row)
    return rows


def write_summary(sweep_dir) -> list[dict]:
    rows = summarize(sweep_dir)
    sweep_dir = Path(sweep_dir)
    with open(sweep_dir / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    (sweep_dir / "summary.json").write_text(json.dumps(rows, indent=2, default=str))
    return rows


def report(sweep_dir) -> list[dict]:
    """Write the summary and log one line of it; -> the rows."""
    rows = write_summary(sweep_dir)
    bad = [r for r in rows if r["status"] != "done"]
    log.info("sweep of %d jobs: %d done, %d not (%s); summary in %s/summary.csv", len(rows),
             len(rows) - len(bad), len(bad), ", ".join(f"{r['job']}: {r['status']}" for r in bad)
             or "-", sweep_dir)
    return rows
