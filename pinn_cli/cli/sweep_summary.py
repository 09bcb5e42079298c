"""A sweep's summary: once every job of a multirun has finished, one table of their outcomes.

Registered as a Hydra callback in ``conf/train.yaml``; it runs in the launching process after
the launcher returns (basic, joblib and SLURM alike) and writes ``summary.csv`` and
``summary.json`` into the sweep folder: per job its folder, status and final error. A job that
failed before writing a run file, or whose file is unreadable, is listed as such.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pinn_cli.runfile import RunFileError, read_attrs

log = logging.getLogger("pinn_cli")
FIELDS = ("job", "status", "steps", "final_rel_l2", "final_loss", "wall_time")


def summarize(sweep_dir) -> list[dict]:
    """One row per job folder (a folder holding .hydra/) under ``sweep_dir``."""
    rows, root = [], Path(sweep_dir)
    for hydra_dir in sorted(root.rglob(".hydra")):
        job = hydra_dir.parent
        row = {k: None for k in FIELDS} | {"job": str(job.relative_to(root))}
        try:
            attrs = read_attrs(job / "run.h5")
            row.update({k: attrs.get(k) for k in FIELDS if k != "job"})
        except RunFileError as e:
            row["status"] = "no run file" if "no such file" in str(e) else f"unreadable: {e}"
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


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        rows = write_summary(config.hydra.sweep.dir)
        bad = [r for r in rows if r["status"] != "done"]
        log.info("sweep of %d jobs: %d done, %d not (%s); summary in %s/summary.csv", len(rows),
                 len(rows) - len(bad), len(bad), ", ".join(f"{r['job']}: {r['status']}" for r in bad)
                 or "-", config.hydra.sweep.dir)
