"""``pinn-analyze PATH...``: phases, errors and figures for runs and sweeps.

Each PATH is a run folder, a ``run.h5``, or any folder above runs (a sweep): every ``run.h5``
below it is analysed. Per run: ``analysis/summary.json`` and PNG figures in the run folder, and a
row of the table on the terminal. With several runs: ``comparison.csv``, ``comparison.json``
(mean onsets and errors per PDE and weighting, plain/RBA ratios) and ``overlay.png`` in ``--out``
(default: ``SWEEP/analysis`` for one sweep folder, else ``./analysis``). A file that cannot be
read gets one line on stderr; the other runs are still analysed, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pinn_cli.analysis.summary import analyze_run, comparison_rows, group_ratios
from pinn_cli.analysis.phases import PhaseParams
from pinn_cli.runfile import RunFileError, read_run


def find_runs(path: Path) -> list[Path]:
    if path.is_file() or path.suffix == ".h5":
        return [path]
    if (path / "run.h5").exists():
        return [path / "run.h5"]
    return sorted(path.rglob("run.h5"))


def _fmt(v, spec=".3g"):
    return "-" if v is None else (f"{v:{spec}}" if isinstance(v, (int, float)) else str(v))


def _table(summaries: list[dict]) -> Table:
    t = Table(title="pinn-analyze")
    for col in ("run", "status", "pde", "weighting", "seed", "fitting -> diffusion",
                "-> total diffusion", "rel-L2 at onset", "final rel-L2", "missing"):
        t.add_column(col, overflow="fold")
    for s in summaries:
        ph, c = s["phases"], s["config"]
        f, td = ph.get("fitting_to_diffusion", {}), ph.get("total_diffusion", {})
        onset = lambda d: "no SNR" if d.get("reached") is None else (
            str(d["step"]) if d.get("reached") else "not reached")
        t.add_row(str(Path(s["run"]).parent.name or s["run"]), str(s["status"]), _fmt(c.get("pde")),
                  _fmt(c.get("weighting")), _fmt(c.get("seed")), onset(f), onset(td),
                  _fmt(td.get("rel_l2")), _fmt(s["final"].get("rel_l2")), ",".join(s["missing"]) or "-")
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pinn-analyze", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, help="folder for the comparison of several runs")
    ap.add_argument("--no-figures", action="store_true", help="tables and JSON only (fast)")
    d = PhaseParams()
    ap.add_argument("--window", type=float, default=d.window, help="median half-width, decades")
    ap.add_argument("--min-records", type=int, default=d.min_records)
    ap.add_argument("--persist", type=float, default=d.persist)
    ap.add_argument("--hold", type=float, default=d.hold)
    args = ap.parse_args(argv)
    params = PhaseParams(args.window, args.min_records, args.persist, args.hold)
    console, err = Console(), Console(stderr=True)
    failures, done = 0, []
    for path in args.paths:
        files = find_runs(path)
        if not files:
            err.print(f"pinn-analyze: error: {path}: no run.h5 found", markup=False, highlight=False)
            failures += 1
        for f in files:
            try:
                run = read_run(f)
            except RunFileError as e:
                err.print(f"pinn-analyze: error: {e}", markup=False, highlight=False)
                failures += 1
                continue
            summary = analyze_run(run, params)
            out = f.parent / "analysis"
            out.mkdir(exist_ok=True)
            (out / "summary.json").write_text(json.dumps(summary, indent=2))
            if not args.no_figures:
                from pinn_cli.analysis.plots import run_figures
                summary["figures"] = [str(p) for p in run_figures(run, summary, out, params)]
            done.append((run, summary))
    if done:
        console.print(_table([s for _, s in done]))
    if len(done) > 1:
        _compare(done, _out_dir(args), params, not args.no_figures, console)
    return 1 if failures else 0


def _out_dir(args) -> Path:
    if args.out:
        return args.out
    if len(args.paths) == 1 and args.paths[0].is_dir():
        return args.paths[0] / "analysis"
    return Path("analysis")


def _compare(done, out: Path, params, figures: bool, console) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = comparison_rows([s for _, s in done])
    with open(out / "comparison.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    groups = group_ratios(rows)
    (out / "comparison.json").write_text(json.dumps({"runs": rows, "groups": groups}, indent=2))
    t = Table(title="by PDE and weighting (mean +- std over runs)")
    for col in ("pde", "weighting", "runs", "reached", "total diffusion", "final rel-L2"):
        t.add_column(col)
    for g in groups:
        for w, v in g["by_weighting"].items():
            pm = lambda m, s: "-" if m is None else f"{m:.4g} +- {s:.2g}"
            t.add_row(g["pde"], w, str(v["runs"]), str(v["reached"]),
                      pm(v["total_diffusion_mean"], v["total_diffusion_std"]),
                      pm(v["final_rel_l2_mean"], v["final_rel_l2_std"]))
        if "onset_ratio_plain_over_rba" in g or "error_ratio_plain_over_rba" in g:
            console.print(f"{g['pde']}: plain/RBA onset ratio {_fmt(g.get('onset_ratio_plain_over_rba'))}, "
                          f"error ratio {_fmt(g.get('error_ratio_plain_over_rba'))}")
    console.print(t)
    if figures:
        from pinn_cli.analysis.plots import overlay_figure
        overlay_figure(done, out, params)
    console.print(f"comparison written to {out}")


def cli() -> None:
    sys.exit(main())
