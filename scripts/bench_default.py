"""The embedded default over seeds, CPU kernel sets and thread counts: final and best rel-L2 and
the fitting -> diffusion onset of every run, and the worst of each across the runs.

Each run is one ``pinn-train`` subprocess with ``ATEN_CPU_CAPABILITY`` set (torch dispatches its
CPU kernels by it, and chaotic training amplifies their round-off differences)::

    python scripts/bench_default.py                                   # seeds 0-4, every kernel set, 1 and 2 threads
    python scripts/bench_default.py --seeds 0 --caps default --threads 1 --extra "optimizer.schedule=staircase"

``--jobs`` runs that many at once (one thread each is fair only with ``--threads 1``).
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pinn_cli.analysis.summary import analyze_run
from pinn_cli.runfile import read_run


def capabilities() -> list[str]:
    caps = ["default", "avx2"]
    try:
        if "avx512f" in Path("/proc/cpuinfo").read_text():
            caps.append("avx512")
    except OSError:
        pass
    return caps


def one_run(folder: Path, seed: int, cap: str, threads: int, extra: list[str]) -> dict:
    run_dir = folder / f"s{seed}-{cap}-t{threads}"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": cap}
    cmd = [str(Path(sys.executable).with_name("pinn-train")), f"seed={seed}", f"threads={threads}",
           f"hydra.run.dir={run_dir}", *extra]
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = read_run(run_dir / "run.h5")
    s = analyze_run(run)
    m = run.series["metrics"]
    return {"seed": seed, "cap": cap, "threads": threads, "status": run.attrs.get("status"),
            "final": float(m["rel_l2"][-1]), "best": float(m["rel_l2"].min()),
            "best_step": int(m["step"][m["rel_l2"].argmin()]),
            "fd": s["phases"]["fitting_to_diffusion"].get("step"),
            "td": s["phases"]["total_diffusion"].get("step")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--caps", default=",".join(capabilities()))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--extra", default="", help="space-separated overrides for every run")
    a = ap.parse_args()
    grid = list(itertools.product([int(s) for s in a.seeds.split(",")], a.caps.split(","),
                                  [int(t) for t in a.threads.split(",")]))
    with tempfile.TemporaryDirectory(prefix="pinn-bench-default-") as tmp, \
            ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(lambda g: one_run(Path(tmp), *g, a.extra.split()), grid))
    print(f"{'seed':>4} {'kernels':>8} {'thr':>3} {'status':>8} {'final rel-L2':>12} "
          f"{'best rel-L2':>11} {'at':>5} {'F->D':>5} {'->TD':>5}")
    for r in rows:
        print(f"{r['seed']:>4} {r['cap']:>8} {r['threads']:>3} {str(r['status']):>8} {r['final']:12.3e} "
              f"{r['best']:11.3e} {r['best_step']:>5} {str(r['fd']):>5} {str(r['td']):>5}")
    fd = [r["fd"] for r in rows if r["fd"] is not None]
    print(f"worst final rel-L2 {max(r['final'] for r in rows):.3e}, worst best {max(r['best'] for r in rows):.3e}; "
          f"F->D reached in {len(fd)}/{len(rows)} runs, range {min(fd, default=None)}-{max(fd, default=None)}")


if __name__ == "__main__":
    main()
