"""How a training step's time and memory grow with the number of points, the width and the depth.

Every configuration runs in a fresh process (this script again, with ``--child``), so that no
configuration inherits memory the allocator kept from another. The child builds a Trainer (the
paper network, 6 x 128 tanh, on Allen-Cahn, Adam, ``diagnostics=off``, one thread, the default
``chunk_size=auto``), then

- reads its resident memory (``VmRSS``): the baseline (interpreter, torch, points, reference);
- resets the kernel's high-water mark (``/proc/self/clear_refs``), makes the FIRST step and
  reads the high-water mark again: the first step's peak above the baseline is its whole working
  set (graph, chunk buffers, optimizer state), before the allocator holds anything for reuse;
- makes ``--steps`` more steps, timed (median);
- reports the whole process's peak: the larger of the high-water marks read before the reset
  and at the end.

Sweeps (``--sweep``, any of): ``points`` (1e3 to 1e6 at the paper network), ``width`` (32 to 256
at depth 6) and ``depth`` (2 to 8 at width 128), both at ``--n`` points. The table is printed;
exponents are fitted by least squares of log(time per step) and log(first-step memory above the
baseline) against log N over the ``--fit`` largest sizes of the points sweep; a log-log figure
of the three sweeps goes to ``--out``.

``--rba``: the cost of RBA's extra residual pass instead of the sweeps. With a weighting that
reads every residual before the loss (RBA's max |r|) and more than one chunk, a step first forms
all residuals without a graph, then the chunks with a graph and their backward. One step of the
paper network at ``--n`` points with ``weighting=rba`` against ``weighting=none``, and that
residual pass alone (``LossEngine.interior_residuals``), alternated in one process, median of
``--steps`` rounds.

``--capture`` times the steps that record the SNR instead (``diagnostics=basic``: batches of
~256 points, the batch gradients taken from the step's own backward). ``--quick``: points 1e3 to 6.4e4, widths 32 and 128, depths 2 and 6,
two timed steps. ``--json`` is rewritten after every configuration; with ``--keep`` the
configurations it already holds are not measured again (a sweep that was stopped goes on).

    OMP_NUM_THREADS=1 python scripts/bench_scale.py [--quick] [--sweep points width depth]
        [--points 1000 4000 ...] [--n 25600] [--steps 3] [--capture]
        [--out docs/figures/scale.png] [--json results.json [--keep]]
    OMP_NUM_THREADS=1 python scripts/bench_scale.py --rba [--n 25600] [--steps 5]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
POINTS = [1000, 4000, 16000, 64000, 256000, 1000000]
WIDTHS = [32, 64, 128, 256]
DEPTHS = [2, 4, 6, 8]
QUICK = {"points": [1000, 4000, 16000, 64000], "width": [32, 128], "depth": [2, 6]}


# ---- the child: one configuration -------------------------------------------------------------
def status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def child(n: int, depth: int, width: int, steps: int, capture: bool, device: str) -> dict:
    sys.path.insert(0, str(HERE))
    from benchlib import sync, trainer

    t0 = time.perf_counter()
    tr = trainer(["pde=allen_cahn", f"model.depth={depth}", f"model.width={width}",
                  f"pde.n_collocation={n}", f"diagnostics={'basic' if capture else 'off'}",
                  "threads=1", f"device={device}", "iterations=1000000"])
    build = time.perf_counter() - t0
    batches = tr.recorder.batches if capture else 0
    gc.collect()
    hwm_build = status_kib("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status_kib("VmRSS")
    t = time.perf_counter()
    tr.step(0, batches)
    sync(tr.device)
    first = time.perf_counter() - t
    first_peak = status_kib("VmHWM")
    times = []
    for i in range(1, steps + 1):
        sync(tr.device)
        t = time.perf_counter()
        tr.step(i, batches)
        sync(tr.device)
        times.append(time.perf_counter() - t)
    return {"n": n, "depth": depth, "width": width, "chunk": tr.loss.chunk, "batches": batches,
            "build_s": build, "first_s": first, "step_s": statistics.median(times) if times else first,
            "base_mib": base / 1024, "first_above_mib": (first_peak - base) / 1024,
            "peak_mib": max(hwm_build, status_kib("VmHWM")) / 1024}


def measure(n: int, depth: int, width: int, args) -> dict:
    """One configuration in a fresh process -> the child's dict (or an error)."""
    cmd = [sys.executable, __file__, "--child", str(n), str(depth), str(width),
           "--steps", str(args.steps), "--device", args.device]
    cmd += ["--capture"] if args.capture else []
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode or not lines:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"n": n, "depth": depth, "width": width, "error": f"exit {out.returncode}: {tail}"}
    return json.loads(lines[-1])


def rba_cost(n: int, rounds: int, device: str) -> None:
    """RBA's step against a plain one, and its residual pass alone, alternated."""
    import torch

    sys.path.insert(0, str(HERE))
    from benchlib import alternating, trainer

    common = ["pde=allen_cahn", "model.depth=6", "model.width=128", f"pde.n_collocation={n}",
              "diagnostics=off", "threads=1", f"device={device}", "iterations=1000000"]
    plain, rba = trainer(common + ["weighting=none"]), trainer(common + ["weighting=rba"])
    steps = {"plain": 0, "rba": 0}

    def step(name, tr):
        def go():
            tr.step(steps[name])
            steps[name] += 1
        return go

    def residual_pass():
        with torch.enable_grad():
            rba.loss.interior_residuals()

    t = alternating({"weighting=none": step("plain", plain), "weighting=rba": step("rba", rba),
                     "residual pass alone": residual_pass}, rounds, device)
    chunks = len(rba.loss.chunks())
    print(f"paper network, {n:,} points in {chunks} chunks of {rba.loss.chunk}, median of "
          f"{rounds} alternated rounds")
    print("| | time | vs weighting=none |\n|---|---|---|")
    for k, v in t.items():
        print(f"| {k} | {v * 1e3:,.0f} ms | {v / t['weighting=none']:.2f}x |")


# ---- the sweeps, the fit, the table, the figure ----------------------------------------------
def fit_exponent(xs, ys) -> float:
    """Slope of log y against log x, least squares."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def row(r: dict, key: str) -> str:
    if "error" in r:
        return f"| {r[key]:,} | {r['error']} | | | | |"
    return (f"| {r[key]:,} | {r['step_s'] * 1e3:,.0f} | {r['first_s'] * 1e3:,.0f} | "
            f"{r['first_above_mib']:,.0f} | {r['base_mib']:,.0f} | {r['peak_mib']:,.0f} |")


def table(name: str, key: str, rows: list[dict]) -> str:
    head = (f"| {name} | step (ms, median) | first step (ms) | first step above baseline (MiB) "
            f"| baseline (MiB) | process peak (MiB) |\n|---|---|---|---|---|---|")
    return "\n".join([head, *(row(r, key) for r in rows)])


def figure(results: dict, fits: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = [(s, k) for s, k in (("points", "n"), ("width", "width"), ("depth", "depth"))
              if results.get(s)]
    fig, axes = plt.subplots(1, len(sweeps), figsize=(4.6 * len(sweeps), 3.8), squeeze=False)
    for ax, (sweep, key) in zip(axes[0], sweeps):
        ok = [r for r in results[sweep] if "error" not in r]
        x = [r[key] for r in ok]
        ax.loglog(x, [r["step_s"] for r in ok], "o-", label="step time (s)")
        ax.loglog(x, [r["first_above_mib"] / 1024 for r in ok], "s-",
                  label="first step above baseline (GiB)")
        ax.loglog(x, [r["peak_mib"] / 1024 for r in ok], "^--", label="process peak (GiB)")
        title = {"n": "points N", "width": "width", "depth": "depth"}[key]
        if sweep == "points" and fits:
            title += f"\ntime ~ N^{fits['time']:.2f}, memory ~ N^{fits['memory']:.2f} (largest {fits['sizes']})"
        ax.set_xlabel(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", type=int, nargs=3, metavar=("N", "DEPTH", "WIDTH"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--sweep", nargs="+", choices=["points", "width", "depth"],
                    default=["points", "width", "depth"])
    ap.add_argument("--points", type=int, nargs="+", help=f"the points sweep (default {POINTS})")
    ap.add_argument("--widths", type=int, nargs="+", help=f"default {WIDTHS}")
    ap.add_argument("--depths", type=int, nargs="+", help=f"default {DEPTHS}")
    ap.add_argument("--n", type=int, default=25600, help="points of the width and depth sweeps")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after the first")
    ap.add_argument("--fit", type=int, default=3, help="fit the exponents over this many largest N")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--capture", action="store_true", help="steps that capture the SNR")
    ap.add_argument("--rba", action="store_true", help="RBA's step against a plain one")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(HERE.parent / "docs" / "figures" / "scale.png"))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="reuse the results --json already holds")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.capture, args.device)))
        return
    if args.rba:
        rba_cost(args.n, args.steps, args.device)
        return
    if args.quick:
        args.steps = min(args.steps, 2)
    grids = {"points": args.points or (QUICK["points"] if args.quick else POINTS),
             "width": args.widths or (QUICK["width"] if args.quick else WIDTHS),
             "depth": args.depths or (QUICK["depth"] if args.quick else DEPTHS)}
    what = "SNR capture steps" if args.capture else "plain steps (diagnostics=off)"
    print(f"Allen-Cahn, Adam, {what}, chunk_size=auto, one thread, {args.steps} timed steps "
          f"after the first, each configuration in a fresh process", flush=True)
    results: dict[str, list[dict]] = {}
    kept = {}
    if args.keep and args.json and Path(args.json).exists():
        for rows in json.loads(Path(args.json).read_text())["results"].values():
            kept.update({(r["n"], r["depth"], r["width"]): r for r in rows if "error" not in r})
    for sweep in args.sweep:
        for v in grids[sweep]:
            n, depth, width = {"points": (v, 6, 128), "width": (args.n, 6, v),
                               "depth": (args.n, v, 128)}[sweep]
            r = kept.get((n, depth, width)) or measure(n, depth, width, args)
            results.setdefault(sweep, []).append(r)
            if args.json:
                Path(args.json).write_text(json.dumps({"results": results}, indent=1))
            print(f"  {sweep} {v}: " + (r["error"] if "error" in r else
                  f"step {r['step_s']:.3f} s, first step +{r['first_above_mib']:.0f} MiB, "
                  f"peak {r['peak_mib']:.0f} MiB"), flush=True)
    fits = {}
    ok = [r for r in results.get("points", []) if "error" not in r][-args.fit:]
    if len(ok) >= 2:
        ns = [r["n"] for r in ok]
        fits = {"time": fit_exponent(ns, [r["step_s"] for r in ok]),
                "memory": fit_exponent(ns, [r["first_above_mib"] for r in ok]),
                "sizes": len(ok), "from": ns[0], "to": ns[-1]}
    for sweep, key, name in (("points", "n", "points N"), ("width", "width", f"width (N={args.n:,})"),
                             ("depth", "depth", f"depth (N={args.n:,})")):
        if results.get(sweep):
            print(f"\n{table(name, key, results[sweep])}")
    if fits:
        print(f"\nfitted over N = {fits['from']:,} .. {fits['to']:,} ({fits['sizes']} sizes): "
              f"step time ~ N^{fits['time']:.2f}, first-step memory above baseline ~ N^{fits['memory']:.2f}")
    figure(results, fits, Path(args.out))
    print(f"figure: {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "fits": fits}, indent=1))


if __name__ == "__main__":
    main()
