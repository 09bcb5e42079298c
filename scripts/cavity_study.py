"""The lid-driven cavity on a laptop: plain and RBA runs of ``cpu_cavity`` (Re = 100) over several
seeds, pinn-analyze over the sweep, and the outcome set against the paper's Re = 1000 case.

    OMP_NUM_THREADS=1 python scripts/cavity_study.py [--seeds 0,1,2] [--n-jobs 2] [--out DIR]
                                                     [pinn-train overrides, e.g. iterations=4000]
    python scripts/cavity_study.py --analyze-only --out DIR     (runs already in DIR, e.g. resumed)

Runs ``pinn-train -m +experiment=cpu_cavity,cpu_cavity_rba seed=<seeds>`` through the joblib
launcher (one thread per job), ``pinn-analyze`` on the sweep folder (figures included: the
velocity field of every run in ``<run>/analysis/velocity.png``), and prints per weighting the
fitting -> diffusion and -> total diffusion onsets, the final velocity-magnitude rel-L2 (and those
of u and v), mean +- std over seeds, then the paper's numbers beside them: rel-L2 6.2e-1 plain
and 5.6e-2 RBA after 300,000 steps, total diffusion at ~20,000 steps for both.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from pinn_cli.runfile import read_run

import studylib
from studylib import BIN

PAPER = {"none": {"rel_l2": 6.2e-1, "total_diffusion": 20000},
         "rba": {"rel_l2": 5.6e-2, "total_diffusion": 20000}}


def spread(values) -> str:
    """mean +- std (n=), the std to 2 significant digits."""
    return studylib.spread(values, ".3g", sd_spec=".2g")


def final_components(run_h5: str) -> dict[str, float]:
    """The last recorded rel-L2 of u and v of a run (its /metrics group)."""
    m = read_run(run_h5).series.get("metrics", {})
    return {k: float(m[f"rel_l2_{k}"][-1]) for k in ("u", "v") if f"rel_l2_{k}" in m}


def train_and_analyze(out: Path, seeds: str, n_jobs: int, overrides: list[str]) -> float:
    """The sweep and its analysis; -> training minutes."""
    cmd = [str(BIN / "pinn-train"), "-m", "+experiment=cpu_cavity,cpu_cavity_rba",
           f"seed={seeds}", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}",
           f"hydra.sweep.dir={out}", *overrides]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    minutes = (time.perf_counter() - t0) / 60
    subprocess.run([str(BIN / "pinn-analyze"), str(out)], check=True, stdout=subprocess.DEVNULL)
    return minutes


def report(runs: list[dict]) -> None:
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["weighting"], []).append(r)
    means = {}
    for w, rs in sorted(by.items()):
        comps = [final_components(r["run"]) for r in rs]
        means[w] = statistics.mean(r["final_rel_l2"] for r in rs if r["final_rel_l2"] is not None)
        three = sum(r["fitting_end"] is not None and r["total_diffusion"] is not None for r in rs)
        print(f"  {w:<6} fitting -> diffusion {spread(r['fitting_end'] for r in rs)}; "
              f"-> total diffusion {spread(r['total_diffusion'] for r in rs)}; all three phases "
              f"in {three}/{len(rs)} runs")
        print(f"         final rel-L2: speed {spread(r['final_rel_l2'] for r in rs)}, "
              f"u {spread(c.get('u') for c in comps)}, v {spread(c.get('v') for c in comps)}")
        for r, c in sorted(zip(rs, comps), key=lambda rc: rc[0]["seed"]):
            print(f"    seed {r['seed']}: {r['fitting_end']} -> {r['total_diffusion']}, speed "
                  f"{r['final_rel_l2']:.3g}, u {c.get('u', float('nan')):.3g}, "
                  f"v {c.get('v', float('nan')):.3g}")
    print("\nthe paper (Re = 1000, 6 x 128, 25,600 points, 300,000 steps):")
    for w, p in PAPER.items():
        print(f"  {w:<6} speed rel-L2 {p['rel_l2']:.2g}, total diffusion at ~{p['total_diffusion']}")
    if "none" in means and "rba" in means:
        print(f"  plain / RBA error ratio: here {means['none'] / means['rba']:.2g}, "
              f"paper {PAPER['none']['rel_l2'] / PAPER['rba']['rel_l2']:.2g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="sweep folder (default: outputs/...)")
    ap.add_argument("--analyze-only", action="store_true",
                    help="no training: pinn-analyze the runs already under --out and report")
    ap.add_argument("overrides", nargs="*", help="further pinn-train overrides")
    args = ap.parse_args()
    out = args.out or Path("outputs/cpu_study") / time.strftime("cpu_cavity-%Y%m%d-%H%M%S")
    if args.analyze_only:
        subprocess.run([str(BIN / "pinn-analyze"), str(out)], check=True, stdout=subprocess.DEVNULL)
        minutes = None
    else:
        minutes = train_and_analyze(out, args.seeds, args.n_jobs, args.overrides)
    runs = json.loads((out / "analysis" / "comparison.json").read_text())["runs"]
    took = "" if minutes is None else f", training {minutes:.1f} min"
    print(f"\ncpu_cavity: {len(runs)} runs{took} (analysis and figures in {out})")
    report(runs)


if __name__ == "__main__":
    main()
