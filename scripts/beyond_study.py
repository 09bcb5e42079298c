"""Beyond PINNs: the SNR phases of a plain regression, of robust losses and of deeper networks,
on ``+experiment=cpu_allen_cahn`` (Allen-Cahn on t in [0, 0.25], 4 x 64 tanh, 2,560 points, SNR
over 10 batches of 256 points, the ``paper`` diagnostics, Adam lr 1e-3 x0.9 every 1,000).

    OMP_NUM_THREADS=1 python scripts/beyond_study.py study [--parts regression,losses,depth]
        [--iterations 3000] [--seeds S,...] [--n-jobs 2] [--out DIR]
        [--losses squared,l1,huber,log_cosh] [--weightings none,rba] [--depths 2,4,6,8]
        [key=value ...]
    python scripts/beyond_study.py report DIR      (no training: every table of a folder, a
                                                   partly finished or still running study included)

The full study (16 runs, see below), then its tables again at any time:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/beyond_study.py study --out outputs/beyond_study
    .venv/bin/python scripts/beyond_study.py report outputs/beyond_study

Every run is one ``pinn-train`` subprocess (one thread, ``--n-jobs`` at once) of

    pinn-train +experiment=cpu_allen_cahn objective=<O> objective.loss=<L> weighting=<W>
        [weighting.gamma=0.99 weighting.eta=0.01]  model.depth=<D> seed=<S> iterations=<N>
        threads=1 checkpoint_every=500 hydra.run.dir=DIR/<O>-<L>-<W>-d<D>-seed<S> [key=value ...]

(RBA with ``cpu_allen_cahn_rba``'s gamma 0.99, eta 0.01; Huber with its default delta 1; the
width stays the preset's 64). Trailing ``key=value`` overrides go to every run (e.g.
``model.width=8`` for a smoke test); the keys the study sets itself are refused there. A run is
defined by its settings only, so a run that several parts need is trained once: the
pinn/squared/none/depth-4 run of seed 0 is one folder, ``pinn-squared-none-d4-seed0``, read by all
three parts. The parts:

1. ``regression`` (seeds 0,1,2 by default): ``objective=pinn`` against ``objective=regression``
   (the reference at the same collocation points, no physics; docs/method.md, "Objectives and
   losses"), squared loss, no weighting, depth 4.
2. ``losses`` (seed 0 by default): ``objective.loss`` in squared, l1, huber, log_cosh x
   ``weighting`` in none, rba; PINN, depth 4.
3. ``depth`` (seed 0 by default): ``model.depth`` in 2, 4, 6, 8 at width 64; PINN, squared, none.

``--seeds`` replaces every part's default seeds. Defaults: 6 + 8 + 4 = 18 runs, 16 distinct.

Cost (estimated, not measured on a full study): in units of one 3,000-step depth-4 PINN run, the
16 runs are about 15 (by 40-step timings on this 2-core machine: regression ~0.4x, depth 2 ~0.6x,
6 ~1.4x, 8 ~1.8x, RBA and the other losses ~1x). One such run is ~2-3 min on an idle core
(docs/RESULTS.md: 34 ms/step for this preset, plus the dense diagnostics of the first 300 steps),
so ~35-45 CPU-minutes, ~20-25 min with ``--n-jobs 2``; on a machine shared with other jobs, much
more (a 3,000-step run of this preset took 18 min while 4-5 processes shared the 2 cores).
At 3,000 steps not every PINN run reaches total diffusion (docs/RESULTS.md: plain onsets at
1,100-7,800 steps over 10,000); ``--iterations 10000`` is the preset's own length.

What is measured, per run, from its ``run.h5`` (``pinn_cli.runfile.read_run``):

* onsets: fitting -> diffusion and -> total diffusion, pinn-analyze's own
  (``pinn_cli.analysis.summary.analyze_run``, default ``PhaseParams``);
* SNR level: the median of ``/snr/global`` (finite values) over the first third and over the
  last third of its records (by record, not by step: with the dense early cadence, every 5 steps
  up to 300, the first third is mostly the fitting phase);
* residual homogeneity ``/residual/homogeneity`` (phi_r of |r| in 10 x 10 cells; for the
  regression |o_theta - o_ref|): its first record, the record nearest the total-diffusion onset
  (when there is one) and its last record;
* the final rel-L2 (``final_rel_l2``; a run not finished: its last ``/metrics/rel_l2``);
* time per step: the run file's ``wall_time / steps`` (one thread; diagnostics, evaluations and
  checkpoints included; on a busy machine it includes the wait for a core);
* per hidden layer (layer 1 next to the input, layer D next to the output): the entropy H(T) in
  bits ``/entropy/per_layer`` and the saturation ``/entropy/saturation`` ((records, depth) each;
  ``EntropyProbe``, 30 bins per neuron on average, all collocation points) at the first record,
  at the record nearest the total-diffusion onset (the fitting -> diffusion onset when total
  diffusion is not reached, marked FD; neither: no onset) and at the last record.

Tables (markdown, printed and written to ``DIR/beyond_study.md``; every run's numbers in
``DIR/study.json``): per part, mean +- population std over seeds (n = the runs that have the
value, k/n for onsets: the seeds that reach it); the depth part's table has a row per layer with
the change of entropy from the first record to the onset, and tests the paper's claim that the
entropy compression at total diffusion spares the deepest layers: compression c_l = H_start -
H_onset per layer (bits, mean over the seeds that reach total diffusion); the data agree when
both (a) the deepest layer compresses least (within 0.05 bits of the smallest compression, and
more than 0.05 bits below the largest) and (b) the deeper half of the layers compresses less on
average than the shallower half (by more than 0.05 bits); partly when one of the two holds;
cannot tell when total diffusion is not reached or no layer compresses by more than 0.05 bits.
H cannot exceed log2(N) = 11.32 bits at N = 2,560 points (every point its own activation
pattern); layers within 0.1 bits of that ceiling are listed, since a compression hardly shows
there.

Runs and folders: a run whose ``run.h5`` says ``done`` (or ``diverged``: it would diverge again)
is not trained again, provided it was made with the same overrides (a folder made with others,
e.g. another width, is refused: use another ``--out``); a run that finished with another
iteration count is kept as it is, with a note. A stopped run with a checkpoint (every 500 steps)
continues in place with the same command; one stopped before its first checkpoint starts over.
Ctrl-C stops the running runs (each checkpoints and closes its file as ``interrupted``) and
starts no further one. Each run's console output goes to ``DIR/<run>.log``; the study's plan
(parts, seeds, grids, iterations, overrides, and per part the runs asked for by every study
command on the folder) to ``DIR/beyond_study.json``, which ``report`` reads to show the runs
still missing (without it: the default plan's runs).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from pinn_cli.errors import PinnError
from pinn_cli.runfile import read_attrs, read_run

import studylib
from studylib import BIN, pending, train_all

EXPERIMENT = "cpu_allen_cahn"
PARTS = ("regression", "losses", "depth")
DEFAULT_SEEDS = {"regression": [0, 1, 2], "losses": [0], "depth": [0]}
OBJECTIVES = ("pinn", "regression")
LOSSES = ("squared", "l1", "huber", "log_cosh")
WEIGHTINGS = {"none": ["weighting=none"],
              "rba": ["weighting=rba", "weighting.gamma=0.99", "weighting.eta=0.01"]}
DEPTHS = (2, 4, 6, 8)
BASE = {"objective": "pinn", "loss": "squared", "weighting": "none", "depth": 4}
PLAN_FILE = "beyond_study.json"
# keys the study sets itself: not accepted as extra overrides
RESERVED = ("objective", "objective.loss", "weighting", "weighting.gamma", "weighting.eta",
            "model.depth", "seed", "iterations", "threads", "checkpoint_every", "hydra.run.dir",
            "+experiment", "experiment")
# overrides that may differ between the command that made a run and a later one on the same run
RUN_LENGTH = ("iterations=", "threads=", "checkpoint_every=")
TOL = 0.05          # bits: an entropy change smaller than this counts as none
CEILING = 0.1       # bits: a layer this close to log2(N) has (nearly) every point its own pattern


# ---- runs and folders ---------------------------------------------------------------------------
def folder_name(r: dict) -> str:
    return f"{r['objective']}-{r['loss']}-{r['weighting']}-d{r['depth']}-seed{r['seed']}"


def parse_folder(name: str) -> dict | None:
    parts = name.split("-")
    if (len(parts) != 5 or parts[0] not in OBJECTIVES or parts[1] not in LOSSES
            or parts[2] not in WEIGHTINGS or not parts[3][1:].isdigit() or not parts[3].startswith("d")
            or not parts[4].startswith("seed") or not parts[4][4:].isdigit()):
        return None
    return {"objective": parts[0], "loss": parts[1], "weighting": parts[2],
            "depth": int(parts[3][1:]), "seed": int(parts[4][4:])}


def settings(r: dict) -> list[str]:
    """The pinn-train overrides that define a run (its folder's settings)."""
    return [f"+experiment={EXPERIMENT}", f"objective={r['objective']}", f"objective.loss={r['loss']}",
            *WEIGHTINGS[r["weighting"]], f"model.depth={r['depth']}", f"seed={r['seed']}"]


def in_part(part: str, r: dict) -> bool:
    """Whether a run belongs to a part (whatever the grid or seeds asked for)."""
    if part == "regression":
        return all(r[k] == BASE[k] for k in ("loss", "weighting", "depth"))
    if part == "losses":
        return r["objective"] == "pinn" and r["depth"] == BASE["depth"]
    return all(r[k] == BASE[k] for k in ("objective", "loss", "weighting"))


def plan_runs(plan: dict) -> dict[str, list[dict]]:
    """Part -> the runs it asks for."""
    out = {}
    for part in plan["parts"]:
        seeds = plan["seeds"][part]
        if part == "regression":
            grid = [{**BASE, "objective": o} for o in OBJECTIVES]
        elif part == "losses":
            grid = [{**BASE, "loss": lo, "weighting": w} for lo in plan["losses"] for w in plan["weightings"]]
        else:
            grid = [{**BASE, "depth": d} for d in plan["depths"]]
        out[part] = [{**g, "seed": s} for g in grid for s in seeds]
    return out


def default_plan() -> dict:
    return {"parts": list(PARTS), "seeds": dict(DEFAULT_SEEDS), "losses": list(LOSSES),
            "weightings": list(WEIGHTINGS), "depths": list(DEPTHS), "iterations": 3000, "extra": []}


def write_plan(out: Path, plan: dict) -> None:
    """DIR/beyond_study.json: this study's settings, and per part the runs asked for by this and
    every earlier study command on the folder (what ``report`` shows as missing)."""
    path = out / PLAN_FILE
    try:
        wanted = json.loads(path.read_text()).get("wanted", {}) if path.is_file() else {}
    except (ValueError, AttributeError):
        wanted = {}
    for part, rs in plan_runs(plan).items():
        names = wanted.setdefault(part, [])
        names += [n for n in map(folder_name, rs) if n not in names]
    path.write_text(json.dumps({**plan, "wanted": wanted}, indent=1))


def wanted_runs(out: Path) -> dict[str, list[str]]:
    """Part -> the run folders asked for (the plan file's, else the default plan's)."""
    path = out / PLAN_FILE
    try:
        return json.loads(path.read_text())["wanted"]
    except (OSError, ValueError, KeyError, TypeError):
        return {part: list(map(folder_name, rs)) for part, rs in plan_runs(default_plan()).items()}


def differing_overrides(folder: Path, expected: list[str]) -> tuple[list, list] | None:
    """(in the run only, expected only) when the run in ``folder`` was made with other overrides
    than ``expected`` (the run length aside); None when they agree or cannot be read."""
    try:
        stored = json.loads(read_attrs(folder / "run.h5").get("overrides") or "[]")
    except (PinnError, OSError, ValueError):
        return None
    keep = lambda xs: {x for x in xs if not x.startswith(RUN_LENGTH)}
    have, want = keep(stored), keep(expected)
    return None if have == want else (sorted(have - want), sorted(want - have))


# ---- the study ----------------------------------------------------------------------------------
def command(folder: Path, r: dict, iterations: int, extra: list[str]) -> list[str]:
    return [str(BIN / "pinn-train"), *settings(r), f"iterations={iterations}", "threads=1",
            "checkpoint_every=500", f"hydra.run.dir={folder}", *extra]


def study(args) -> None:
    out = args.out or Path("outputs/beyond_study") / time.strftime("%Y%m%d-%H%M%S")
    parts = [p for p in args.parts.split(",") if p]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise SystemExit(f"unknown part(s) {bad}: choose from {', '.join(PARTS)}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    losses, weightings = args.losses.split(","), args.weightings.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    for name, vals, known in (("loss", losses, LOSSES), ("weighting", weightings, WEIGHTINGS)):
        if [v for v in vals if v not in known]:
            raise SystemExit(f"unknown {name} in {vals}: choose from {', '.join(known)}")
    if any(d < 1 for d in depths):
        raise SystemExit(f"--depths {args.depths}: depths are positive integers")
    for o in args.overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if "=" not in o or key in RESERVED or o.split("=", 1)[0] in RESERVED:
            raise SystemExit(f"override {o!r}: give key=value, and none of the keys the study sets "
                             f"itself ({', '.join(RESERVED)}; use the options instead)")
    plan = {"parts": parts, "seeds": {p: seeds or DEFAULT_SEEDS[p] for p in PARTS},
            "losses": losses, "weightings": weightings, "depths": depths,
            "iterations": args.iterations, "extra": list(args.overrides)}
    runs = {folder_name(r): r for rs in plan_runs(plan).values() for r in rs}   # distinct, in order
    out.mkdir(parents=True, exist_ok=True)
    refused = []
    for name, r in runs.items():
        expected = settings(r) + [f"iterations={args.iterations}", "threads=1",
                                  "checkpoint_every=500", *args.overrides]
        diff = differing_overrides(out / name, expected) if (out / name / "run.h5").exists() else None
        if diff:
            refused.append(f"  {name}: made with {diff[0]}, this study asks for {diff[1]}")
    if refused:
        raise SystemExit(f"{out} holds runs made with other overrides; use another --out:\n"
                         + "\n".join(refused))
    write_plan(out, plan)
    todo = pending(out, list(runs), args.iterations)
    print(f"{len(runs)} distinct runs in {out} (parts {','.join(parts)}): {len(runs) - len(todo)} "
          f"finished already, {len(todo)} to train ({args.n_jobs} at a time, {args.iterations} "
          f"iterations, overrides {args.overrides or 'none'})", flush=True)
    train_all([(out / n, command(out / n, runs[n], args.iterations, args.overrides)) for n in todo],
              args.n_jobs, f"python {sys.argv[0]} report {out}")
    report(out)


# ---- what a run shows ---------------------------------------------------------------------------
def third_medians(values) -> tuple[float | None, float | None]:
    """Median of the finite values over the first and the last third of the records."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return None, None
    k = max(1, len(v) // 3)
    med = lambda a: float(np.median(a[np.isfinite(a)])) if np.isfinite(a).any() else None
    return med(v[:k]), med(v[-k:])


def nearest(steps, values, step):
    """(the record's step, its value) of the record nearest ``step``; (None, None) if absent."""
    if step is None or steps is None or len(steps) == 0:
        return None, None
    i = int(np.argmin(np.abs(np.asarray(steps) - step)))
    v = np.asarray(values)[i]
    return int(steps[i]), (v.tolist() if np.ndim(v) else float(v))


def describe(folder: Path) -> dict:
    """Everything the tables need from one run file."""
    from pinn_cli.analysis.summary import analyze_run

    run = read_run(folder / "run.h5")
    s = analyze_run(run)
    attrs = run.attrs
    m = run.series.get("metrics", {})
    steps, wall = attrs.get("steps"), attrs.get("wall_time")
    if (steps is None or wall is None) and m and len(m["step"]):       # running or killed
        steps, wall = int(m["step"][-1]), float(m["wall_time"][-1])
    fd, td = (s["phases"].get(k, {}).get("step") for k in ("fitting_to_diffusion", "total_diffusion"))
    d = {"status": attrs.get("status"), "iterations": attrs.get("iterations"),
         "steps": None if steps is None else int(steps), "last_step": s["last_step"],
         "ms_per_step": 1e3 * float(wall) / int(steps) if steps and wall is not None else None,
         "final_rel_l2": s["final"]["rel_l2"], "fitting_end": fd, "total_diffusion": td,
         "overrides": json.loads(attrs.get("overrides") or "[]")}
    try:
        cfg = yaml.safe_load(attrs.get("config") or "")
        d["n_points"] = int(cfg["pde"]["n_collocation"])
        d["network"] = f"{cfg['model']['depth']} x {cfg['model']['width']} {cfg['model'].get('activation', '')}"
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        d["n_points"], d["network"] = None, None
    snr = run.series.get("snr", {})
    d["snr_first_third"], d["snr_last_third"] = third_medians(snr.get("global", []))
    d["snr_records"] = len(snr.get("step", []))
    r = run.series.get("residual", {})
    if r and len(r["step"]):
        h = r["homogeneity"]
        d.update(homog_first=float(h[0]), homog_last=float(h[-1]),
                 homog_td=nearest(r["step"], h, td)[1])
    else:
        d.update(homog_first=None, homog_last=None, homog_td=None)
    e = run.series.get("entropy", {})
    onset, kind = (td, "TD") if td is not None else ((fd, "FD") if fd is not None else (None, None))
    d["entropy_onset_kind"], d["entropy_onset"] = kind, onset
    if e and len(e["step"]):
        at, h_on = nearest(e["step"], e["per_layer"], onset)
        d.update(entropy_steps=[int(e["step"][0]), at, int(e["step"][-1])],
                 h_start=e["per_layer"][0].tolist(), h_onset=h_on, h_end=e["per_layer"][-1].tolist(),
                 sat_start=e["saturation"][0].tolist(),
                 sat_onset=nearest(e["step"], e["saturation"], onset)[1],
                 sat_end=e["saturation"][-1].tolist())
    return d


# ---- the report ---------------------------------------------------------------------------------
def spread(values, spec: str = ".3g") -> str:
    """The finite values' mean +- std (n=); one value alone."""
    return studylib.spread([x for x in values if x is not None and np.isfinite(x)], spec,
                           bare_one=True)


def onsets(values, n: int) -> str:
    return studylib.onsets(values, n, bare_one=True)


def state(rs: list[dict]) -> str:
    """'2/3 done, running at 1,200, missing seed 2' for a group of runs (present or not)."""
    done = sum(r.get("status") == "done" for r in rs)
    bits = [f"{done}/{len(rs)} done"]
    for r in rs:
        if "missing" in r:
            bits.append(f"seed {r['seed']} {r['missing']}")
        elif r.get("status") != "done":
            bits.append(f"seed {r['seed']} {r.get('status')} at {r.get('steps') or r.get('last_step')}")
    return ", ".join(bits)


def mean_layers(rs: list[dict], key: str) -> list[float] | None:
    """The per-layer mean over the runs that have ``key``."""
    v = [r[key] for r in rs if r.get(key) is not None]
    return np.mean(np.asarray(v, dtype=float), axis=0).tolist() if v else None


def verdict(comp: list[float]) -> tuple[str, str]:
    """(verdict, why) for compressions c_l = H_start - H_onset (bits), layer 1 .. D."""
    c = np.asarray(comp)
    L = len(c)
    if c.max() <= TOL:
        return "cannot tell", f"no layer compresses by more than {TOL} bits"
    deepest_least = c[-1] <= c.min() + TOL and c[-1] < c.max() - TOL
    half = L // 2
    shallow, deep = c[:L - half].mean(), c[L - half:].mean()
    deep_less = deep < shallow - TOL
    rank = int((c < c[-1]).sum()) + 1
    why = (f"deepest layer {c[-1]:+.2f} bits (rank {rank} of {L}, 1 = least), deeper half "
           f"{deep:+.2f} vs shallower half {shallow:+.2f}")
    if deepest_least and deep_less:
        return "agrees", why
    return ("partly", why) if deepest_least or deep_less else ("disagrees", why)


def report(out: Path) -> list[dict]:
    """Every table of the study folder ``out`` (printed, and in out/beyond_study.md)."""
    if not out.is_dir():
        raise SystemExit(f"{out}: no such folder")
    wanted = wanted_runs(out)
    found: dict[str, dict] = {}
    for f in sorted(out.glob("*/run.h5")):
        r = parse_folder(f.parent.name)
        if r is None:
            continue
        try:
            found[f.parent.name] = {**r, "folder": f.parent.name, **describe(f.parent)}
        except PinnError as e:
            found[f.parent.name] = {**r, "folder": f.parent.name, "missing": f"unreadable ({e})"}
    # each part: the runs asked for (missing ones marked), and any others of the part found here
    part_runs: dict[str, list[dict]] = {}
    for part in PARTS:
        names = [n for n in wanted.get(part, []) if parse_folder(n)]
        names += [n for n, r in found.items() if in_part(part, r) and n not in names]
        if names:
            part_runs[part] = [found.get(n) or {**parse_folder(n), "folder": n,
                                                "missing": "missing"} for n in names]
    (out / "study.json").write_text(json.dumps(list(found.values()), indent=1, default=float))
    extra = sorted({o for r in found.values() for o in r.get("overrides", [])
                    if o.split("=", 1)[0].lstrip("+~") not in RESERVED})
    iters = sorted({int(r["iterations"]) for r in found.values() if r.get("iterations") is not None})
    nets = sorted({r["network"] for r in found.values() if r.get("network")})
    lines = [f"# Beyond PINNs ({out})", "",
             f"`+experiment={EXPERIMENT}` (Allen-Cahn, t in [0, 0.25], 2,560 points, SNR over 10 "
             f"batches), networks {nets or '-'}, iterations {iters or '-'}, further overrides "
             f"{extra or 'none'}; "
             f"{len(found)} run folders. Mean +- population std over seeds (n = runs with the value; "
             f"onsets: k/n seeds reach it). A run not finished counts with its last record.", ""]
    if "regression" in part_runs:
        lines += regression_table(part_runs["regression"])
    if "losses" in part_runs:
        lines += losses_table(part_runs["losses"])
    if "depth" in part_runs:
        lines += depth_tables(part_runs["depth"])
    lines += ["## Every run", "", "| run | status | steps | F->D | ->TD | final rel-L2 | ms/step |",
              "|---|---|---|---|---|---|---|"]
    every = {r["folder"]: r for rs in part_runs.values() for r in rs}
    for n in sorted(every):
        r = every[n]
        if "missing" in r:
            lines.append(f"| {n} | {r['missing']} | | | | | |")
            continue
        lines.append(f"| {n} | {r['status']} | {r['steps'] if r['steps'] is not None else r['last_step']}"
                     f" | {fmt_int(r['fitting_end'])} | {fmt_int(r['total_diffusion'])} | "
                     f"{fmt(r['final_rel_l2'])} | {fmt(r['ms_per_step'], '.1f')} |")
    lines += ["", "ms/step: wall_time / steps of the run file, one thread, the `paper` diagnostics, "
              "evaluations and checkpoints included (on a busy machine: waits for a core too)."]
    text = "\n".join(lines) + "\n"
    (out / "beyond_study.md").write_text(text)
    print(text, flush=True)
    return list(found.values())


def fmt(v, spec=".3g") -> str:
    return "-" if v is None else format(v, spec)


def fmt_int(v) -> str:
    return "-" if v is None else f"{v:,}"


def groups(rs: list[dict], keys: tuple[str, ...]) -> dict[tuple, list[dict]]:
    g: dict[tuple, list[dict]] = {}
    for r in rs:
        g.setdefault(tuple(r[k] for k in keys), []).append(r)
    return g


def regression_table(rs: list[dict]) -> list[str]:
    lines = ["## 1. PINN against plain regression (squared loss, no weighting, depth 4)", "",
             "| objective | F->D | ->TD | SNR first third | SNR last third | homogeneity first | "
             "homogeneity at TD | homogeneity final | final rel-L2 | ms/step | runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (obj,), g in sorted(groups(rs, ("objective",)).items(), key=lambda kv: OBJECTIVES.index(kv[0][0])):
        have = [r for r in g if "missing" not in r]
        col = lambda k: [r.get(k) for r in have]
        lines.append(f"| {obj} | {onsets(col('fitting_end'), len(have))} | "
                     f"{onsets(col('total_diffusion'), len(have))} | {spread(col('snr_first_third'))} | "
                     f"{spread(col('snr_last_third'))} | {spread(col('homog_first'))} | "
                     f"{spread(col('homog_td'))} | {spread(col('homog_last'))} | "
                     f"{spread(col('final_rel_l2'))} | {spread(col('ms_per_step'), '.1f')} | {state(g)} |")
    lines += ["", "SNR: median of `/snr/global` over the first / last third of the records. "
              "Homogeneity: `/residual/homogeneity` (phi_r of |r|, 10 x 10 cells; regression: of the "
              "misfit) at its first record, at the record nearest the total-diffusion onset (runs "
              "that reach it), at its last.", ""]
    return lines


def losses_table(rs: list[dict]) -> list[str]:
    lines = ["## 2. Losses x weighting (PINN, depth 4; Huber delta 1, RBA gamma 0.99, eta 0.01)", "",
             "| loss | weighting | final rel-L2 | F->D | ->TD | ms/step | runs |",
             "|---|---|---|---|---|---|---|"]
    order = lambda kv: (LOSSES.index(kv[0][0]), list(WEIGHTINGS).index(kv[0][1]))
    for (loss, w), g in sorted(groups(rs, ("loss", "weighting")).items(), key=order):
        have = [r for r in g if "missing" not in r]
        col = lambda k: [r.get(k) for r in have]
        lines.append(f"| {loss} | {w} | {spread(col('final_rel_l2'))} | "
                     f"{onsets(col('fitting_end'), len(have))} | {onsets(col('total_diffusion'), len(have))}"
                     f" | {spread(col('ms_per_step'), '.1f')} | {state(g)} |")
    return lines + [""]


def depth_tables(rs: list[dict]) -> list[str]:
    lines = ["## 3. Depth (PINN, squared, no weighting): entropy and saturation per layer", "",
             "| depth | layer | H start | H onset | H end | dH start->onset | sat start | sat onset | "
             "sat end | onset (per seed) |", "|---|---|---|---|---|---|---|---|---|---|"]
    verdicts, ceilings = [], []
    for (depth,), g in sorted(groups(rs, ("depth",)).items()):
        have = [r for r in g if "missing" not in r and r.get("h_start") is not None]
        if not have:
            lines.append(f"| {depth} | - | | | | | | | | {state(g)} |")
            continue
        where = ", ".join(f"s{r['seed']}: " + (f"{r['entropy_onset_kind']} {r['entropy_onset']:,} "
                                               f"(rec {r['entropy_steps'][1]:,})"
                                               if r["entropy_onset_kind"] else "no onset")
                          for r in have)
        with_onset = [r for r in have if r.get("h_onset") is not None]
        hs, ho, he = (mean_layers(have, "h_start"), mean_layers(with_onset, "h_onset"),
                      mean_layers(have, "h_end"))
        ss, so, se = (mean_layers(have, "sat_start"), mean_layers(with_onset, "sat_onset"),
                      mean_layers(have, "sat_end"))
        dh = (np.mean([np.subtract(r["h_onset"], r["h_start"]) for r in with_onset], axis=0).tolist()
              if with_onset else None)
        for i in range(len(hs)):
            at = lambda v: "-" if v is None else f"{v[i]:.2f}"
            lines.append(f"| {depth} | {i + 1}{' (deepest)' if i == len(hs) - 1 else ''} | {at(hs)} | "
                         f"{at(ho)} | {at(he)} | {'-' if dh is None else f'{dh[i]:+.2f}'} | {at(ss)} | "
                         f"{at(so)} | {at(se)} | {where if i == 0 else ''} |")
        n_pts = next((r["n_points"] for r in have if r.get("n_points")), None)
        if n_pts:
            top = np.log2(n_pts)
            at_top = [i + 1 for i in range(len(hs))
                      if max(hs[i], ho[i] if ho else 0.0, he[i]) >= top - CEILING]
            if at_top:
                ceilings.append(f"depth {depth}: layer(s) {at_top} (log2({n_pts:,}) = {top:.2f} bits)")
        td = [r for r in have if r["entropy_onset_kind"] == "TD"]
        if not td:
            verdicts.append(f"- depth {depth}: cannot tell: total diffusion not reached "
                            f"({len(have)} run(s); the onset columns show fitting -> diffusion where "
                            f"marked FD)")
            continue
        comp = np.mean([np.subtract(r["h_start"], r["h_onset"]) for r in td], axis=0).tolist()
        v, why = verdict(comp)
        verdicts.append(f"- depth {depth}: **{v}** ({len(td)} run(s) at total diffusion): "
                        f"compression per layer {', '.join(f'{c:+.2f}' for c in comp)} bits; {why}")
    lines += ["", "Layer 1 is next to the input, the deepest next to the output. H: `/entropy/per_layer` "
              "(bits), sat: `/entropy/saturation`, at the first record, the record nearest the onset "
              "(TD: total diffusion; FD: fitting -> diffusion, where total diffusion is not reached) "
              "and the last record; means over seeds. dH < 0: compression.", "",
              "**The paper's claim: entropy compression at total diffusion spares the deepest "
              "layers.** Compression c = H_start - H_at TD onset per layer; agrees = the deepest "
              f"layer compresses least and the deeper half less than the shallower half (by > {TOL} "
              "bits), partly = one of the two:", "", *verdicts]
    if ceilings:
        lines += ["", f"Within {CEILING} bits of the entropy ceiling log2(N) at the start, onset or "
                  "end (N collocation points; there (nearly) every point has its own activation "
                  "pattern, so a compression hardly shows): "
                  + "; ".join(ceilings) + "."]
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("study", help="train what is missing, then the tables")
    s.add_argument("--parts", default=",".join(PARTS))
    s.add_argument("--iterations", type=int, default=3000)
    s.add_argument("--seeds", default=None,
                   help="seeds for every part (default: regression 0,1,2; losses 0; depth 0)")
    s.add_argument("--n-jobs", type=int, default=2)
    s.add_argument("--out", type=Path, default=None)
    s.add_argument("--losses", default=",".join(LOSSES))
    s.add_argument("--weightings", default=",".join(WEIGHTINGS))
    s.add_argument("--depths", default=",".join(map(str, DEPTHS)))
    s.add_argument("overrides", nargs="*", help="further pinn-train overrides (key=value), every run")
    r = sub.add_parser("report", help="the tables of a study folder, no training")
    r.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.mode == "study":
        study(args)
    else:
        report(args.out)


if __name__ == "__main__":
    main()
