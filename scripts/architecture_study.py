"""Architectures and optimizers through the SNR lens (issue 12): every model x optimizer x
weighting on ``cpu_allen_cahn`` (Allen-Cahn, t in [0, 0.25], 2,560 points), over seeds; then the
final errors, the step times and pinn-analyze's phases, as two markdown tables.

    OMP_NUM_THREADS=1 python scripts/architecture_study.py [--iterations 3000] [--seeds 0,1,2]
        [--n-jobs 2] [--models mlp,fourier_mlp,modified_mlp,pirate]
        [--optimizers adam_cpu,adam_lbfgs,soap] [--weightings none,rba] [--no-figures]
        [--out DIR] [pinn-train overrides...]
    python scripts/architecture_study.py --report DIR     (no training: the tables of a folder,
                                                           a partly finished study included)
    OMP_NUM_THREADS=1 python scripts/architecture_study.py --full-interval [--minutes 20]
        [--model fourier_mlp] [--points 5120] [--seed 0] [--out DIR] [pinn-train overrides...]

Every run is ``+experiment=cpu_allen_cahn`` (4 x 64, the ``paper`` diagnostics, SNR over 10
batches of 256 points) with ``iterations=--iterations`` and one thread, in its own folder
``DIR/<model>-<optimizer>-<weighting>-seed<S>/``, trained by its own ``pinn-train`` subprocess
(``--n-jobs`` at once), not by one ``pinn-train -m`` sweep: the models and optimizers need
different keys (a Hydra sweep is a product of values, and ``model.periodic_axes`` does not exist
for the plain MLP). The choices:

* models at the preset's width 64: ``mlp`` (depth 4; it has no periodic embedding), ``fourier_mlp``
  and ``modified_mlp`` (depth 4) with Allen-Cahn's periodic x (``periodic_axes: [1]``,
  ``periods: [2.0]``; fourier_mlp with its 32 frequencies = width / 2, modified_mlp with none, as
  shipped), ``pirate`` with periodic x and 1 residual block (3 dense layers plus the gates U, V:
  about as many dense layers on its path as the 4-layer MLP, as in ``scripts/bench_models.py``;
  its 32 frequencies);
* ``adam_cpu``: the preset's own Adam, lr 1e-3 x0.9 every 1,000 steps;
* ``adam_lbfgs``: the same Adam (lr 1e-3, the same staircase) for the first 2/3 of the iterations
  (``optimizer.adam_steps``), then L-BFGS (strong Wolfe, one L-BFGS iteration per step, history
  50): up to the boundary it runs adam_cpu's Adam, only the L-BFGS finish differs;
* ``soap``: lr 1e-3 with adam_cpu's staircase (``conf/optimizer/soap.yaml`` ships 3e-3, constant:
  the rate it was tried at on smooth Helmholtz), so only the preconditioning differs from adam_cpu;
* ``rba``: the presets' gamma 0.99, eta 0.01 (``cpu_allen_cahn_rba``).

Runs are checkpointed every 500 steps. Ctrl-C stops the running runs (each checkpoints and
closes its file as ``interrupted``) and starts no further one. Invoked again on the same
``--out``, a run whose ``run.h5`` says ``done`` (or ``diverged``) is not trained again, a stopped
one with a checkpoint continues in place, and one stopped before its first checkpoint starts
over. Then
``pinn-analyze DIR`` (figures unless ``--no-figures``; the Adam -> L-BFGS boundary is drawn on
every time-series panel) and the tables, also written to ``DIR/architecture_study.md`` and
``DIR/study.json``:

1. per model x optimizer x weighting: final rel-L2, mean +- population std over seeds (n=), and
   the time per step (run file: wall_time / steps; it includes the diagnostics, evaluations and
   checkpoints, and on adam_lbfgs the L-BFGS steps' several loss evaluations);
2. the phases (``DIR/analysis/comparison.json`` and each run's ``analysis/summary.json``): how many
   seeds show all three phases, the fitting -> diffusion and -> total diffusion onsets (mean +-
   std over the seeds that reach them), and how long total diffusion lasts: it is the last phase,
   so from its onset to the run's last record (steps, and as a share of the run).

``--full-interval``: ONE run on the paper's whole interval t in [0, 1] (``pde.t_end=1.0``, the
reference on 201 times as ``conf/pde/allen_cahn.yaml``: the preset's spacing), within
``--minutes`` of wall time in all: ``--model`` (fourier_mlp, the best of the models at 2,000 steps
on t in [0, 0.25] and half modified_mlp's cost; any of the above) 4 x 64 with periodic x, RBA (0.99, 0.01), Adam
(lr 1e-3) for 2/3 of the steps then L-BFGS, ``--points`` collocation points (5,120: twice the
preset's, half its density over the 4x longer interval) and SNR batches of 256 points.
pinn-train has no time limit of its own, so a timed probe (a 30-step run, 20 of Adam and 10 of
L-BFGS, without the dense early diagnostics) gives each stage's time per step and a run's fixed
cost (start-up, reference, final evaluation), and the iterations are chosen to fill 85 % of what
is left of the budget with the steps and the dense early diagnostics (first 300 steps; the rest
for the diagnostics every 100 steps and the evaluations). Should the run still overrun the
budget, it is interrupted (SIGINT: it stops at the next step, saves a checkpoint and closes its
file as ``interrupted``; its last record counts). Prints the final rel-L2, the wall time and the
phases. Start-up and the probe take ~30-60 s on a busy
2-core machine, so a budget under ~2 minutes leaves little or nothing to train.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pinn_cli.errors import PinnError
from pinn_cli.runfile import read_attrs, read_run

from studylib import BIN, ENV, onsets, pending, spread, train_all

EXPERIMENT = "cpu_allen_cahn"
PERIODIC_X = ["model.periodic_axes=[1]", "model.periods=[2.0]"]
MODELS = {
    "mlp": ["model=mlp", "model.depth=4", "model.width=64"],
    "fourier_mlp": ["model=fourier_mlp", "model.depth=4", "model.width=64", "model.features=32",
                    *PERIODIC_X],
    "modified_mlp": ["model=modified_mlp", "model.depth=4", "model.width=64", *PERIODIC_X],
    "pirate": ["model=pirate", "model.blocks=1", "model.width=64", "model.features=32", *PERIODIC_X],
}
OPTIMIZERS = ("adam_cpu", "adam_lbfgs", "soap")
WEIGHTINGS = {"none": ["weighting=none"],
              "rba": ["weighting=rba", "weighting.gamma=0.99", "weighting.eta=0.01"]}


def optimizer_overrides(name: str, iterations: int) -> list[str]:
    if name == "adam_cpu":
        return ["optimizer=adam_cpu"]
    if name == "adam_lbfgs":      # adam_cpu's rate and staircase (adam_lbfgs.yaml's: x0.9 / 1,000)
        return ["optimizer=adam_lbfgs", "optimizer.lr=1e-3", "optimizer.schedule=staircase",
                "optimizer.decay_rate=0.9", "optimizer.decay_every=1000",
                f"optimizer.adam_steps={round(2 * iterations / 3)}"]
    if name == "soap":
        return ["optimizer=soap", "optimizer.lr=1e-3", "optimizer.schedule=staircase",
                "optimizer.decay_rate=0.9", "optimizer.decay_every=1000"]
    raise SystemExit(f"unknown optimizer {name!r}: choose from {', '.join(OPTIMIZERS)}")


def folder_name(model: str, optimizer: str, weighting: str, seed: int) -> str:
    return f"{model}-{optimizer}-{weighting}-seed{seed}"


def parse_folder(name: str) -> dict | None:
    parts = name.split("-")
    if len(parts) != 4 or not parts[3].startswith("seed") or not parts[3][4:].isdigit():
        return None
    return {"model": parts[0], "optimizer": parts[1], "weighting": parts[2], "seed": int(parts[3][4:])}


# ---- the study ----------------------------------------------------------------------------------
def command(folder: Path, combo: tuple, iterations: int, extra: list[str]) -> list[str]:
    model, optimizer, weighting, seed = combo
    return [str(BIN / "pinn-train"), f"+experiment={EXPERIMENT}", *MODELS[model],
            *optimizer_overrides(optimizer, iterations), *WEIGHTINGS[weighting], f"seed={seed}",
            f"iterations={iterations}", "threads=1", "checkpoint_every=500",
            f"hydra.run.dir={folder}", *extra]


def study(args) -> None:
    out = args.out or Path("outputs/architecture_study") / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    models, optimizers = args.models.split(","), args.optimizers.split(",")
    weightings, seeds = args.weightings.split(","), [int(s) for s in args.seeds.split(",")]
    for name, known in (("model", MODELS), ("optimizer", OPTIMIZERS), ("weighting", WEIGHTINGS)):
        bad = [v for v in {"model": models, "optimizer": optimizers, "weighting": weightings}[name]
               if v not in known]
        if bad:
            raise SystemExit(f"unknown {name} {bad}: choose from {', '.join(known)}")
    combos = [(m, o, w, s) for m in models for o in optimizers for w in weightings for s in seeds]
    todo = pending(out, [folder_name(*c) for c in combos], args.iterations)
    combo_of = {folder_name(*c): c for c in combos}
    print(f"{len(combos)} runs in {out}: {len(combos) - len(todo)} finished already, "
          f"{len(todo)} to train ({args.n_jobs} at a time, {args.iterations} iterations)", flush=True)
    jobs = [(out / n, command(out / n, combo_of[n], args.iterations, args.overrides)) for n in todo]
    train_all(jobs, args.n_jobs, f"python {sys.argv[0]} --report {out}")
    report(out, figures=not args.no_figures)


# ---- the report ---------------------------------------------------------------------------------
def analyze(out: Path, figures: bool) -> None:
    """pinn-analyze over the folder (the comparison in out/analysis); its table goes to a log."""
    cmd = [str(BIN / "pinn-analyze"), str(out), *([] if figures else ["--no-figures"])]
    with open(out / "analyze.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV).returncode
    if rc not in (0, 1):                # 1: a file unreadable (e.g. a run just starting)
        print(f"pinn-analyze exited {rc} (see {out / 'analyze.log'})", flush=True)


def run_facts(folder: Path) -> dict:
    """Status, steps, wall time, ms/step and final rel-L2 from the run file (a stopped or running
    run: its last metrics record)."""
    attrs = read_attrs(folder / "run.h5")
    steps, wall, err = attrs.get("steps"), attrs.get("wall_time"), attrs.get("final_rel_l2")
    if steps is None or wall is None or err is None:
        m = read_run(folder / "run.h5").series.get("metrics", {})
        if m and len(m["step"]):
            steps = steps if steps is not None else int(m["step"][-1])
            wall = wall if wall is not None else float(m["wall_time"][-1])
            err = err if err is not None else float(m["rel_l2"][-1])
    return {"status": attrs.get("status"), "iterations": attrs.get("iterations"),
            "steps": None if steps is None else int(steps),
            "wall_time": None if wall is None else float(wall),
            "ms_per_step": 1e3 * float(wall) / int(steps) if steps and wall is not None else None,
            "final_rel_l2": None if err is None else float(err)}


def phase_rows(out: Path) -> dict[str, dict]:
    """Folder name -> onsets from pinn-analyze: comparison.json's rows (two runs or more), and
    each run's summary.json for what the rows lack (started in fitting, last step)."""
    rows = {}
    comp = out / "analysis" / "comparison.json"
    if comp.is_file():
        for r in json.loads(comp.read_text())["runs"]:
            rows[Path(r["run"]).parent.name] = {"fitting_end": r["fitting_end"],
                                                "total_diffusion": r["total_diffusion"],
                                                "final_rel_l2": r["final_rel_l2"]}
    for f in out.glob("*/analysis/summary.json"):
        s = json.loads(f.read_text())
        ph = s.get("phases", {})
        row = rows.setdefault(f.parent.parent.name, {
            "fitting_end": ph.get("fitting_to_diffusion", {}).get("step"),
            "total_diffusion": ph.get("total_diffusion", {}).get("step"),
            "final_rel_l2": s["final"].get("rel_l2")})
        row.update(last_step=s.get("last_step"), started_in_fitting=ph.get("started_in_fitting"),
                   snr_records=ph.get("snr_records"))
    return rows


def report(out: Path, figures: bool = True) -> list[dict]:
    """pinn-analyze over ``out``, then both tables (printed, and in out/architecture_study.md)."""
    if not any(out.glob("*/run.h5")):
        raise SystemExit(f"{out}: no runs (<model>-<optimizer>-<weighting>-seed<S>/run.h5)")
    analyze(out, figures)
    phases = phase_rows(out)
    runs = []
    for f in sorted(out.glob("*/run.h5")):
        combo = parse_folder(f.parent.name)
        if combo is None:
            continue
        try:
            facts = run_facts(f.parent)
        except PinnError as e:
            print(f"  {f.parent.name}: unreadable ({e})")
            continue
        ph = phases.get(f.parent.name, {})
        if facts["final_rel_l2"] is None:
            facts["final_rel_l2"] = ph.get("final_rel_l2")
        runs.append({**combo, **facts, "fitting_end": ph.get("fitting_end"),
                     "total_diffusion": ph.get("total_diffusion"), "last_step": ph.get("last_step"),
                     "started_in_fitting": ph.get("started_in_fitting")})
    (out / "study.json").write_text(json.dumps(runs, indent=1))
    groups: dict[tuple, list[dict]] = {}
    order = {k: i for i, k in enumerate([*MODELS, *OPTIMIZERS, *WEIGHTINGS])}
    for r in runs:
        groups.setdefault((r["model"], r["optimizer"], r["weighting"]), []).append(r)
    keys = sorted(groups, key=lambda k: [order.get(x, 99) for x in k])
    lines = [f"# Architecture x optimizer study ({out})", "",
             f"`+experiment={EXPERIMENT}` (Allen-Cahn, t in [0, 0.25], 2,560 points), seeds "
             f"{sorted({r['seed'] for r in runs})}, iterations "
             f"{sorted({int(r['iterations']) for r in runs if r['iterations'] is not None})}.", "",
             "## Final error and step time", "",
             "| model | optimizer | weighting | final rel-L2 (mean +- std) | ms/step | runs |",
             "|---|---|---|---|---|---|"]
    for k in keys:
        rs = groups[k]
        done = sum(r["status"] == "done" for r in rs)
        state = f"{done}/{len(rs)} done" + "".join(
            f", {r['status']} at {r['steps']}" for r in rs if r["status"] != "done")
        ms = [r["ms_per_step"] for r in rs if r["ms_per_step"] is not None]
        err = spread((r["final_rel_l2"] for r in rs), ".2e")
        lines.append(f"| {' | '.join(k)} | {err} | {statistics.mean(ms):.1f} | {state} |" if ms else
                     f"| {' | '.join(k)} | {err} | - | {state} |")
    lines += ["", "ms/step: the run file's wall_time / steps, one thread, with the `paper` "
              "diagnostics, evaluations and checkpoints included (adam_lbfgs: L-BFGS steps take "
              "several loss evaluations). A run not finished counts with its last record.", "",
              "## Phases (pinn-analyze)", "",
              "| model | optimizer | weighting | all three phases | fitting -> diffusion | "
              "-> total diffusion | total diffusion lasts (steps, share of run) |",
              "|---|---|---|---|---|---|---|"]
    for k in keys:
        rs, n = groups[k], len(groups[k])
        three = sum(r["fitting_end"] is not None and r["total_diffusion"] is not None for r in rs)
        lasts = [(r["last_step"] - r["total_diffusion"], (r["last_step"] - r["total_diffusion"])
                  / max(r["last_step"], 1)) for r in rs
                 if r["total_diffusion"] is not None and r["last_step"] is not None]
        last = "-" if not lasts else (f"{statistics.mean(a for a, _ in lasts):,.0f} "
                                      f"({statistics.mean(b for _, b in lasts):.0%})")
        lines.append(f"| {' | '.join(k)} | {three}/{n} | "
                     f"{onsets((r['fitting_end'] for r in rs), n)} | "
                     f"{onsets((r['total_diffusion'] for r in rs), n)} | {last} |")
    lines += ["", "Onsets: mean +- population std over the seeds that reach them (k/n). Total "
              "diffusion is the last phase the detector knows: it lasts from its onset to the "
              "run's last record. Per run: `study.json`; pinn-analyze's table: `analyze.log`; "
              "figures: `<run>/analysis/` (the Adam -> L-BFGS boundary dashed)."]
    text = "\n".join(lines) + "\n"
    (out / "architecture_study.md").write_text(text)
    print(text, flush=True)
    return runs


# ---- one run on the full interval --------------------------------------------------------------
def full_interval_overrides(model: str, points: int, seed: int) -> list[str]:
    return [f"+experiment={EXPERIMENT}", "pde.t_end=1.0", "pde.reference.n_t=201",
            f"pde.n_collocation={points}", f"diagnostics.snr.batches={max(1, points // 256)}",
            *MODELS[model], *WEIGHTINGS["rba"], "optimizer=adam_lbfgs",
            "optimizer.lr=1e-3", "optimizer.schedule=staircase", "optimizer.decay_rate=0.9",
            "optimizer.decay_every=1000", f"seed={seed}", "threads=1"]


PROBE_OFF = ["diagnostics.snr.dense_until=0", "diagnostics.residual.dense_until=0",
             "diagnostics.entropy.dense_until=0", "diagnostics.terms.dense_until=0",
             "diagnostics.residual_map.at=[]"]


def timed_probe(folder: Path, base: list[str], extra: list[str]) -> tuple[float, float, float]:
    """30 steps (20 Adam, 10 L-BFGS) without the dense early diagnostics -> (s per Adam step over
    steps 10-20, s per L-BFGS step over 20-30, the fixed cost of a run in s: start-up, reference,
    final evaluation)."""
    t0 = time.perf_counter()
    with open(folder.parent / f"{folder.name}.log", "w") as log:
        subprocess.run([str(BIN / "pinn-train"), *base, *PROBE_OFF, "iterations=30",
                        "optimizer.adam_steps=20", "eval_every=10", "checkpoint_every=1000",
                        f"hydra.run.dir={folder}", *extra],
                       stdout=log, stderr=subprocess.STDOUT, env=ENV, check=True)
    total = time.perf_counter() - t0
    run = read_run(folder / "run.h5")
    m = run.series["metrics"]
    wall = dict(zip(m["step"].tolist(), m["wall_time"].tolist()))
    adam = (wall[20] - wall[10]) / 10
    lbfgs = (wall[30] - wall[20]) / 10
    return adam, lbfgs, max(0.0, total - float(run.attrs["wall_time"]))


def iterations_for(seconds: float, adam: float, lbfgs: float) -> int:
    """The iterations N that fit in ``seconds``: 2N/3 Adam and N/3 L-BFGS steps, plus the dense
    early diagnostics (the paper's: an SNR, per-term and residual record every 5 steps up to step
    300, entropy every 10 up to 200), counted as two Adam steps per SNR record (measured: ~0.5 s
    each on 5,120 points, 20 batches, a busy 2-core machine, against ~0.4 s for a step)."""
    per_step = 2 / 3 * adam + 1 / 3 * lbfgs
    n = seconds / (per_step + 2 * adam / 5)                 # all of it in the dense stretch
    if n > 300:
        n = (seconds - 60 * 2 * adam) / per_step
    return max(0, int(n))


def full_interval(args) -> None:
    t_start = time.perf_counter()
    budget = 60 * args.minutes
    out = args.out or Path("outputs/architecture_study") / time.strftime("full-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    base = full_interval_overrides(args.model, args.points, args.seed)
    probe = out / "timing_probe"
    if probe.exists():
        shutil.rmtree(probe)
    adam, lbfgs, overhead = timed_probe(probe, base, args.overrides)
    shutil.rmtree(probe)
    left = budget - (time.perf_counter() - t_start) - overhead
    iterations = iterations_for(0.85 * left, adam, lbfgs)
    print(f"timed probe: Adam {adam * 1e3:.0f} ms/step, L-BFGS {lbfgs * 1e3:.0f} ms/step, start-up "
          f"and final evaluation {overhead:.0f} s; {left:.0f} s left of {budget:.0f} s -> "
          f"{iterations} iterations ({round(2 * iterations / 3)} of Adam)", flush=True)
    if iterations < 10:
        raise SystemExit(f"--minutes {args.minutes} leaves time for {iterations} iterations: "
                         "give it more")
    folder = out / "run"
    if folder.exists():
        raise SystemExit(f"{folder} exists: choose another --out")
    cmd = [str(BIN / "pinn-train"), *base, f"iterations={iterations}",
           f"optimizer.adam_steps={round(2 * iterations / 3)}", "checkpoint_every=1000",
           f"hydra.run.dir={folder}", *args.overrides]
    print("$", " ".join(cmd), flush=True)
    with open(out / "run.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV)
        try:
            proc.wait(timeout=max(1.0, budget - (time.perf_counter() - t_start)))
        except subprocess.TimeoutExpired:
            print("over the budget: interrupting the run (it checkpoints and closes its file)",
                  flush=True)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if not (folder / "run.h5").is_file():
        raise SystemExit(f"the run wrote no run file (see {out / 'run.log'})")
    facts = run_facts(folder)
    subprocess.run([str(BIN / "pinn-analyze"), str(folder)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=ENV)
    ph = {}
    summary = folder / "analysis" / "summary.json"
    if summary.is_file():
        ph = json.loads(summary.read_text()).get("phases", {})
    fd, td = (ph.get(k, {}).get("step") for k in ("fitting_to_diffusion", "total_diffusion"))
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"full interval (t in [0, 1], {args.model} 4 x 64 periodic x, RBA (0.99, 0.01), Adam "
          f"-> L-BFGS at {round(2 * iterations / 3)}, {args.points} points): status "
          f"{facts['status']}, {fmt(facts['steps'], 'd')} of {iterations} steps, final rel-L2 "
          f"{fmt(facts['final_rel_l2'], '.3g')}, training wall time {fmt(facts['wall_time'], '.0f')} s "
          f"({fmt(facts['ms_per_step'], '.0f')} ms/step), {(time.perf_counter() - t_start) / 60:.1f} "
          f"min in all; phases: fitting -> diffusion {fmt(fd, 'd')}, -> total diffusion "
          f"{fmt(td, 'd')} ({folder})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--weightings", default=",".join(WEIGHTINGS))
    ap.add_argument("--out", type=Path, default=None, help="study folder (default: outputs/...)")
    ap.add_argument("--no-figures", action="store_true", help="pinn-analyze without figures")
    ap.add_argument("--report", type=Path, metavar="DIR", help="no training: the tables of DIR")
    ap.add_argument("--full-interval", action="store_true", help="one run on t in [0, 1]")
    ap.add_argument("--minutes", type=float, default=20.0, help="--full-interval's wall-time budget")
    ap.add_argument("--model", choices=list(MODELS), default="fourier_mlp", help="--full-interval's model")
    ap.add_argument("--points", type=int, default=5120, help="--full-interval's collocation points")
    ap.add_argument("--seed", type=int, default=0, help="--full-interval's seed")
    ap.add_argument("overrides", nargs="*", help="further pinn-train overrides")
    args = ap.parse_args()
    if args.report:
        report(args.report, figures=not args.no_figures)
    elif args.full_interval:
        full_interval(args)
    else:
        study(args)


if __name__ == "__main__":
    main()
