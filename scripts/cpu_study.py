"""The phases on a laptop: plain and RBA runs of a CPU-scale preset over several seeds, then
pinn-analyze, then onsets and errors as mean and spread.

    python scripts/cpu_study.py [--experiment cpu_allen_cahn] [--seeds 0,1,2] [--n-jobs 2] [--out DIR]

Runs ``pinn-train -m +experiment=<E>,<E>_rba seed=<seeds>`` through the joblib launcher (one
thread per job), ``pinn-analyze`` on the sweep folder (figures included), and prints, per
weighting: fitting -> diffusion and -> total diffusion onsets and the final rel-L2 (mean +- std
over seeds), how many runs passed all three phases, and the total wall time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def spread(values) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    sd = statistics.pstdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):.3g} +- {sd:.2g} (n={len(vals)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="cpu_allen_cahn")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="sweep folder (default: outputs/...)")
    ap.add_argument("overrides", nargs="*", help="further pinn-train overrides")
    args = ap.parse_args()
    out = args.out or Path("outputs/cpu_study") / time.strftime(f"{args.experiment}-%Y%m%d-%H%M%S")
    e = args.experiment
    cmd = [str(BIN / "pinn-train"), "-m", f"+experiment={e},{e}_rba", f"seed={args.seeds}",
           "hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}",
           f"hydra.sweep.dir={out}", *args.overrides]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    t_train = time.perf_counter() - t0
    subprocess.run([str(BIN / "pinn-analyze"), str(out)], check=True, stdout=subprocess.DEVNULL)
    runs = json.loads((out / "analysis" / "comparison.json").read_text())["runs"]
    print(f"\n{e}: {len(runs)} runs, training {t_train / 60:.1f} min, "
          f"total {(time.perf_counter() - t0) / 60:.1f} min (analysis and figures in {out})")
    by = {}
    for r in runs:
        by.setdefault(r["weighting"], []).append(r)
    for w, rs in by.items():
        three = sum(r["fitting_end"] is not None and r["total_diffusion"] is not None for r in rs)
        print(f"  {w:<12} fitting -> diffusion {spread(r['fitting_end'] for r in rs)}; "
              f"-> total diffusion {spread(r['total_diffusion'] for r in rs)}; "
              f"final rel-L2 {spread(r['final_rel_l2'] for r in rs)}; "
              f"all three phases in {three}/{len(rs)} runs")
        for r in sorted(rs, key=lambda r: r["seed"]):
            print(f"    seed {r['seed']}: {r['fitting_end']} -> {r['total_diffusion']}, "
                  f"rel-L2 {r['final_rel_l2']:.3g}")


if __name__ == "__main__":
    main()
