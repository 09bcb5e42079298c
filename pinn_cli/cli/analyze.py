"""``pinn-analyze PATH...``: phases, errors and figures for runs and sweeps.

Each PATH is a run folder, a ``run.h5``, or any folder above runs (a sweep): every ``run.h5``
below it is analysed. Per run: ``analysis/summary.json`` and PNG figures in the run folder (or
under ``--out`` when the runs' folders cannot be written, e.g. an archive), and a row of the
table on the terminal. With several runs: ``comparison.csv``, ``comparison.json`` (mean onsets
and errors per configuration, and ratios of every option against the default),
``phase_series.csv`` (every run's series before and after each onset, one row per value) and
``overlay.png`` in ``--out`` (default: ``SWEEP/analysis`` for one sweep folder, else
``./analysis``). A file that cannot be read gets one line on stderr; the other runs are still
analysed, and the exit code is 1. ``--watch`` follows runs that are still training (a sweep's
pending jobs too, counted from its ``multirun.yaml``) and refreshes the table until they end;
``--tensorboard DIR`` also exports each run as TensorBoard event files.
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path

import yaml

from rich import box
from rich.table import Table

from pinn_cli.analysis import report
from pinn_cli.cli import argument_parser, make_console, version_line
from pinn_cli.analysis.compare import (PHASE_SERIES_COLUMNS, comparison_rows, group_table,
                                       phase_series_rows, ratio_text, ratios)
from pinn_cli.analysis.report import config_value, group_rows, pick, varying_keys
from pinn_cli.analysis.liveness import STALE
from pinn_cli.analysis.outputs import OutputRefused, run_outputs, writing
from pinn_cli.cli.watch import watch
from pinn_cli.run_folder import RunFolder
from pinn_cli.phases.offline import PhaseParams
from pinn_cli.analysis.summary import analyze_run
from pinn_cli.errors import PinnError
from pinn_cli.runfile import RunFileError, read_run


RUN_FIGURES_UP_TO = 20       # more runs than this: each run's figures only with --figures all
COMPARISON_OUTPUTS = ("comparison.csv", "comparison.json", "phase_series.csv", "overlay.png",
                      "report.md", "report.csv", "report_snr.png", "report_error.png")


def _num(v) -> str:
    """Compact numbers for an 80-column table: 0.0661 -> 6.6e-02, 91700 -> 91.7k."""
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v / 1000:.3g}k" if v >= 10000 else str(v)
    return f"{v:.1e}" if isinstance(v, float) else str(v)


def _onset(d: dict) -> str:
    return "no SNR" if d.get("reached") is None else (_num(d["step"]) if d.get("reached") else "-")


def _table(summaries: list[dict], full: bool = False) -> Table:
    """The runs' table; on a terminal it fits 80 columns, ``full`` (output to a file or a pipe)
    cuts and wraps nothing."""
    title = ("pinn-analyze: F->D fitting to diffusion, ->TD total diffusion (steps; -: not "
             "reached), err rel-L2 (best: the lowest recorded); details in analysis/summary.json")
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
              pad_edge=False, min_width=len(title) if full else None)
    run_col = {} if full else {"overflow": "ellipsis", "max_width": 14}
    for col, kw in (("run", run_col), ("status", {}),
                    ("config", {"overflow": "fold", "ratio": 1, "min_width": 16}),
                    ("seed", {"justify": "right"}),
                    ("F->D", {"justify": "right"}), ("->TD", {"justify": "right"}),
                    ("err@TD", {"justify": "right"}), ("final err", {"justify": "right"}),
                    ("best err", {"justify": "right"})):
        t.add_column(col, no_wrap=col != "config", **kw)
    for s in summaries:
        ph, c = s["phases"], s["config"]
        td = ph.get("total_diffusion", {})
        t.add_row(Path(s["run"]).parent.name or s["run"], str(s["status"]), c["label"],
                  _num(c.get("seed")), _onset(ph.get("fitting_to_diffusion", {})), _onset(td),
                  _num(td.get("rel_l2")), _num(s["final"].get("rel_l2")),
                  _num(s["final"].get("best_rel_l2")))
    return t


def _params(args) -> PhaseParams:
    checks = (("window", args.window > 0), ("min-records", args.min_records >= 1),
              ("persist", args.persist > 0), ("hold", 0 < args.hold <= 1))
    for name, ok in checks:
        value = getattr(args, name.replace("-", "_"))
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            allowed = {"min-records": "an integer >= 1",
                       "hold": "a share of the records in (0, 1]"}.get(name, "a finite number > 0")
            raise SystemExit(_error(f"--{name}={value} is not allowed: expected {allowed}", 2))
    return PhaseParams(args.window, args.min_records, args.persist, args.hold)


def _error(msg: str, code: int) -> int:
    print(f"pinn-analyze: error: {msg}", file=sys.stderr)
    return code


def _writable(folder: Path) -> bool:
    target = folder if folder.exists() else folder.parent
    return os.access(target, os.W_OK)


def main(argv: list[str] | None = None) -> int:
    ap = argument_parser("pinn-analyze", __doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version=version_line("pinn-analyze"))
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, help="folder for the comparison (and for each run's "
                    "analysis when its own folder is read-only)")
    ap.add_argument("--no-figures", action="store_true", help="tables and JSON only (fast)")
    ap.add_argument("--figures", choices=("auto", "all"), default="auto",
                    help=f"auto: each run's own figures when at most {RUN_FIGURES_UP_TO} runs are "
                    "analysed (the comparison's always); all: for every run")
    d = PhaseParams()
    ap.add_argument("--window", type=float, default=d.window, help="median half-width, decades")
    ap.add_argument("--min-records", type=int, default=d.min_records)
    ap.add_argument("--persist", type=float, default=d.persist)
    ap.add_argument("--hold", type=float, default=d.hold)
    ap.add_argument("--watch", type=float, nargs="?", const=30.0, metavar="SECONDS",
                    help="follow running jobs: refresh the table every SECONDS (30) until they end")
    ap.add_argument("--stale", type=float, default=STALE, metavar="SECONDS",
                    help="--watch: a run whose process cannot be asked is taken as stopped after "
                    "this long without a change (600)")
    ap.add_argument("--by", type=lambda t: [k for k in t.split(",") if k], metavar="KEYS",
                    help="group the report by these config keys (model,optimizer,weighting, "
                    "arm/<study>, optimizer.lr, ...); default: every key that differs")
    ap.add_argument("--metric", action="append", default=[], metavar="PATH",
                    help="also report this summary.json number (dotted path, e.g. "
                    "phases.total_diffusion.homogeneity); repeatable")
    ap.add_argument("--status", action="store_true",
                    help="list each job of a sweep (done / running / stopped / failed / not "
                    "started) and exit")
    ap.add_argument("--tensorboard", type=Path, metavar="DIR",
                    help="also export each run to TensorBoard event files under DIR/<run>")
    args = ap.parse_args(argv)
    params = _params(args)
    if args.status:
        from pinn_cli.cli.status import status
        return status(args.paths)
    from pinn_cli import plugins
    plugins.add([os.getcwd()])              # a user's own probe (its figure) imports from here
    if args.watch is not None:
        if not args.watch > 0:
            return _error(f"--watch={args.watch} is not allowed: expected a number of seconds > 0", 2)
        if not args.stale > 0:
            return _error(f"--stale={args.stale} is not allowed: expected a number of seconds > 0", 2)
        watch(args.paths, params, args.watch, args.stale, _table)
    failures, done = 0, []
    missing = [p for p in args.paths if not RunFolder.run_files_under(p)]
    if missing:
        what = "no such file or folder" if not missing[0].exists() else "no run.h5 found in it"
        return _error(f"{missing[0]}: {what}", 2)
    n_runs = sum(len(RunFolder.run_files_under(p)) for p in args.paths)
    run_figures_too = not args.no_figures and (args.figures == "all" or n_runs <= RUN_FIGURES_UP_TO)
    if not args.no_figures and not run_figures_too:
        print(f"pinn-analyze: {n_runs} runs: each run's own figures are left out (--figures all "
              "draws them, ~1 s per run); the comparison's are drawn", file=sys.stderr)
    for path in args.paths:
        for f in RunFolder.run_files_under(path):
            try:
                run = read_run(f)
                summary = analyze_run(run, params)
                with writing(_analysis_dir(f, args.out), run_outputs(run)) as out:
                    if run_figures_too:
                        from pinn_cli.analysis.plots import run_figures
                        summary["figures"] = [str(p) for p in run_figures(run, summary, out, params)]
                    (out / "summary.json").write_text(json.dumps(summary, indent=2))
            except RunFileError as e:
                failures += _error(str(e), 1)
                continue
            except OutputRefused as e:
                return _error(str(e), 2)
            except OSError as e:
                return _error(f"cannot write the analysis of {f} ({e.strerror or e}); "
                              "use --out FOLDER to write it elsewhere", 1)
            done.append((run, summary))
            if args.tensorboard:
                from pinn_cli.analysis.tensorboard import export
                try:
                    export(run, args.tensorboard / f.parent.name)
                except PinnError as e:
                    return _error(str(e), 1)
                except OSError as e:
                    return _error(f"--tensorboard={args.tensorboard}: cannot write there "
                                  f"({e.strerror or e})", 1)
    console = make_console()
    if done:
        console.print(_table([s for _, s in done], not console.is_terminal))
    if len(done) > 1:
        out = args.out or _default_out(args)
        try:
            _compare(done, out, params, not args.no_figures, console, args.by, args.metric)
        except (OutputRefused, PinnError) as e:
            return _error(str(e), 2)
        except OSError as e:
            return _error(f"cannot write the comparison to {out} ({e.strerror or e}); "
                          "use --out FOLDER", 1)
    return 1 if failures else 0


def _analysis_dir(run_file: Path, out: Path | None) -> Path:
    """The run's own analysis/ folder, or, when that cannot be written and --out is given,
    OUT/<run folder name>/."""
    own = RunFolder(run_file.parent).analysis
    if _writable(own) or out is None:
        return own
    return out / run_file.parent.name


def _default_out(args) -> Path:
    """Where a comparison goes without --out: a sweep folder's analysis/, else that of the deepest
    folder holding every run given (never the working folder, which may be the user's own)."""
    if len(args.paths) == 1 and args.paths[0].is_dir():
        return args.paths[0] / "analysis"
    folders = [(p if p.is_dir() else p.parent).resolve() for p in args.paths]
    return Path(os.path.commonpath(folders)) / "analysis"


def _check_by(done, by) -> None:
    """Refuse a --by key that no run has (PinnError, one line naming the keys that exist)."""
    configs = [(s, yaml.safe_load(r.attrs.get("config", "")) or {}) for r, s in done]
    known: list[str] = []
    for s, c in configs:
        known += [k for k in s["config"]["choices"] if k not in known]
        for k, v in c.items():
            names = [f"{k}.{x}" for x in v if x != "_target_"] if isinstance(v, dict) else [k]
            known += [n for n in names if n not in known]
    for key in by:
        if all(config_value(s, c, key) is None for s, c in configs):
            raise PinnError(f"--by {key} is not allowed: no run has this key; keys: "
                            f"{', '.join(known)}")


def _check_metrics(done, metrics) -> None:
    """Refuse a --metric path where no run's summary holds a number (PinnError, one line naming
    a few that do)."""
    def numbers(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from numbers(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield path
    for path in metrics:
        if all(not isinstance(pick(s, path), (int, float)) or isinstance(pick(s, path), bool)
               for _, s in done):
            known = list(dict.fromkeys(p for _, s in done for p in numbers(s)
                                       if p.startswith(("final.", "phases.")) and ".series." not in p))
            raise PinnError(f"--metric {path} is not allowed: no run's summary holds a number there; "
                            f"numbers: {', '.join(known[:12])}, ...")


def _compare(done, out: Path, params, figures: bool, console, by, metrics) -> None:
    if by is not None:
        _check_by(done, by)
    _check_metrics(done, metrics)
    with writing(out, COMPARISON_OUTPUTS):
        _write_comparison(done, out, params, figures, console, by, metrics)
    console.print(f"comparison and report (report.md, report.csv) written to {out}", highlight=False)


def _write_comparison(done, out: Path, params, figures: bool, console, by, metrics) -> None:
    summaries = [s for _, s in done]
    rows = comparison_rows(summaries)
    with open(out / "comparison.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(out / "phase_series.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=PHASE_SERIES_COLUMNS)
        w.writeheader()
        w.writerows(phase_series_rows(summaries))
    groups = group_table(summaries)
    rel = ratios(groups)
    (out / "comparison.json").write_text(json.dumps({"runs": rows, "groups": groups, "ratios": rel},
                                                    indent=2, default=str))
    if by is None:
        by = varying_keys([(s, yaml.safe_load(r.attrs.get("config", "")) or {}) for r, s in done])
    grouped = group_rows(done, by, metrics)
    report.write(grouped, by, metrics, out)
    console.print(_report_table(grouped, by, metrics, not console.is_terminal))
    for r in rel:
        console.print(ratio_text(r), highlight=False)
    if figures:
        from pinn_cli.analysis.plots import group_figures, overlay_figure
        overlay_figure(done, out, params)
        group_figures(grouped, by, out, params)


def _report_table(rows, by, metrics, full: bool = False) -> Table:
    title = (f"by {', '.join(by) or '-'}: mean ± std over each group's runs; onsets over the runs "
             "that reach them (reached/runs)")
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
              pad_edge=False, min_width=len(title) if full else None)
    for col in [*by, "runs", "final err", "best err", "F->D", "->TD", "ms/step", *metrics]:
        t.add_column(col, overflow="fold")
    pm = lambda r, k, f=".2g": "-" if r[f"{k}_mean"] is None else f"{r[f'{k}_mean']:{f}}±{r[f'{k}_std']:.1g}"
    for r in rows:
        t.add_row(*[str(r[k]) for k in by], str(r["runs"]), pm(r, "final_rel_l2"),
                  pm(r, "best_rel_l2"),
                  *[f"{pm(r, o, '.0f')} {r[f'{o}_reached']}" for o in ("fitting_to_diffusion", "total_diffusion")],
                  pm(r, "ms_per_step", ".1f"), *[pm(r, m) for m in metrics])
    return t


def cli() -> None:
    sys.exit(main())
