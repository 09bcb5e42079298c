"""A 4-job sweep with Hydra's basic launcher (one job after another) against the joblib
launcher (2 jobs at a time, 1 thread each), timed in one process, alternating.

    python scripts/bench_sweep.py [--iterations 1500]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]


def sweep(launcher: list[str], iterations: int) -> float:
    out = tempfile.mkdtemp(prefix="pinn-bench-sweep-")
    t0 = time.perf_counter()
    subprocess.run(TRAIN + ["-m", *launcher, "seed=0,1,2,3", f"iterations={iterations}",
                            "diagnostics=basic", f"hydra.sweep.dir={out}"],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    launchers = {"basic": [], "joblib (n_jobs=2)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}
    times = {k: [] for k in launchers}
    for _ in range(args.rounds):
        for name, extra in launchers.items():
            times[name].append(sweep(extra, args.iterations))
    for name, ts in times.items():
        print(f"{name:<20} {min(ts):7.1f} s  (4 jobs x {args.iterations} steps, default problem)")
    print(f"joblib speed-up over basic: {min(times['basic']) / min(times['joblib (n_jobs=2)']):.2f}x")


if __name__ == "__main__":
    main()
