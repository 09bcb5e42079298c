"""``pinn-analyze --watch``: the table of runs that are still training, refreshed until no run
can progress any more (every run ended, or stopped without ending: the rules of
:mod:`pinn_cli.analysis.liveness`), a sweep's not yet started jobs included."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from pinn_cli.cli import make_console

from pinn_cli.analysis.liveness import still_running
from pinn_cli.analysis.summary import analyze_run
from pinn_cli.cli.claim import held
from pinn_cli.run_folder import RunFolder
from pinn_cli.runfile import RunFileError, read_run


def expected_jobs(folder: Path) -> int:
    """The number of jobs of a sweep: the job list pinn-train wrote (``.pinn-sweep.json``, which
    holds a study's sweeper parameters too), else the product of the swept overrides in Hydra's
    ``multirun.yaml``; 1 for a single run or a folder without either."""
    from pinn_cli.cli.sweep import read_state

    jobs = (read_state(folder) or {}).get("jobs")
    if jobs:
        return len(jobs)
    saved = folder / "multirun.yaml"
    if not saved.is_file():
        return 1
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = (yaml.safe_load(saved.read_text()) or {}).get("hydra", {}).get("overrides", {}).get("task", [])
    n = 1
    for o in OverridesParser.create().parse_overrides(task):
        n *= len(list(o.sweep_string_iterator())) if o.is_sweep_override() else 1
    return n


def pending(path: Path, started: int) -> int:
    """Jobs of the sweep at ``path`` not started yet that still will be: none once its launcher
    no longer holds the sweep folder (a launcher without a claim: counted as before)."""
    if not path.is_dir():
        return 0
    missing = max(0, expected_jobs(path) - started)
    if missing and RunFolder(path).lock.exists() and not held(path):
        return 0
    return missing


def survey(paths: list[Path], params, stale: float):
    """-> (summaries, running, pending, stopped runs)."""
    summaries, running, waiting, stopped = [], 0, 0, []
    for path in paths:
        files = RunFolder.run_files_under(path)
        waiting += pending(path, len(files))
        for f in files:
            try:
                s = analyze_run(read_run(f), params)
            except RunFileError:
                if still_running(f, None, stale):
                    running += 1            # being created: look again next time
                else:
                    stopped.append(f"{f} (unreadable)")
                continue
            summaries.append(s)
            if s["status"] == "running":
                if still_running(f, read_run(f).attrs, stale):
                    running += 1
                else:
                    stopped.append(f"{f.parent.name} (at step {s['last_step']})")
    return summaries, running, waiting, stopped


def watch(paths: list[Path], params, every: float, stale: float, table) -> None:
    """Refresh the table of the runs under ``paths`` until none can progress."""
    console = make_console()
    while True:
        summaries, running, waiting, stopped = survey(paths, params, stale)
        if console.is_terminal:
            console.clear()
        if summaries:
            console.print(table(summaries))
        line = f"{len(summaries)} runs, {running + waiting} running or pending"
        if stopped:
            line += f"; stopped without finishing (process gone or silent): {', '.join(stopped)}"
        console.print(line + ("" if running + waiting else "; all ended"), highlight=False)
        if not running + waiting:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            raise SystemExit(130)
