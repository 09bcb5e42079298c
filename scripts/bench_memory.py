"""Where a whole run's resident memory goes, and how much a whole ``pinn-train`` process takes.

``--pinn-train N [N ...]``: the peak resident memory (``ru_maxrss`` of the child, from
``os.wait4``: what ``/usr/bin/time -v`` reports as "Maximum resident set size") of one whole
``pinn-train`` process per N, the paper network on Allen-Cahn with ``diagnostics=basic``,
``threads=1``, ``--steps`` iterations.

    OMP_NUM_THREADS=1 python scripts/bench_memory.py --pinn-train 6400 25600 102400 --steps 20

Without ``--pinn-train``: one ``Trainer.run()`` (what ``pinn-train`` calls) in this process,
with a memory trace around each of its stages.

Each traced stage (the config and imports, sampling the points, the reference solution, the
Trainer's construction, opening the run file, an evaluation of the rel-L2, every training step,
the final evaluation) prints the resident memory before it, the high-water mark of resident
memory reached during it (the kernel's ``VmHWM``, reset before the stage through
``/proc/self/clear_refs``), and the resident memory after it. Stages nested in another (the
sampling and the reference within the construction) are shown indented; the high-water mark is
reset at every stage start, so an outer stage's peak covers only what followed its last inner
stage. The last line is the process's peak: the largest high-water mark seen over all stages
(``ru_maxrss`` is reset with ``VmHWM`` and cannot be used here; a whole untraced run's peak is
what ``--pinn-train`` measures).

    OMP_NUM_THREADS=1 python scripts/bench_memory.py [--n 102400] [--steps 6] [--depth 6]
        [--width 128] [--diagnostics basic] [key=value ...]

The extra ``key=value`` are config overrides (e.g. ``chunk_size=0``). glibc's allocator can be
tried from the environment: ``MALLOC_ARENA_MAX=2``, ``MALLOC_TRIM_THRESHOLD_=0``,
``MALLOC_MMAP_THRESHOLD_=65536``.
"""
from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024.0


def status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def reset_peak() -> None:
    """Set the high-water mark of resident memory to the present resident memory."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Trace:
    """Prints one line per traced call: rss before, peak during, rss after (MiB), seconds."""

    def __init__(self):
        self.depth, self.t0 = 0, time.perf_counter()
        self.peaks: dict[str, float] = {}

    def wrap(self, owner, name: str, label: str | None = None):
        fn = getattr(owner, name)
        label = label or name

        @functools.wraps(fn)
        def traced(*args, **kwargs):
            before = status_kib("VmRSS")
            reset_peak()
            self.depth += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                peak, after = status_kib("VmHWM"), status_kib("VmRSS")
                self.peaks[label] = max(self.peaks.get(label, 0), peak / MIB)
                print(f"{'  ' * self.depth}{label:<26} rss {before / MIB:8.1f}  peak {peak / MIB:8.1f}"
                      f"  (+{(peak - before) / MIB:7.1f})  after {after / MIB:8.1f} MiB"
                      f"  {time.perf_counter() - t:6.2f} s", flush=True)

        setattr(owner, name, traced)


def whole_run_peak(n: int, steps: int, depth: int, width: int, pde: str, diagnostics: str,
                   overrides: list[str]) -> tuple[float, float, int]:
    """One whole pinn-train process -> (peak resident memory in bytes, wall seconds, exit code)."""
    args = [f"pde={pde}", f"model.depth={depth}", f"model.width={width}", f"pde.n_collocation={n}",
            f"iterations={steps}", f"diagnostics={diagnostics}", "threads=1",
            f"hydra.run.dir={tempfile.mkdtemp(prefix=f'pinn-mem-{n}-')}", *overrides]
    cmd = [str(Path(sys.executable).with_name("pinn-train")), *args]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    t = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * 1024.0, time.perf_counter() - t, child.returncode


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pinn-train", type=int, nargs="+", metavar="N",
                    help="measure whole pinn-train processes at these numbers of points")
    ap.add_argument("--n", type=int, default=102400, help="collocation points")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--pde", default="allen_cahn")
    ap.add_argument("--diagnostics", default="basic")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    if args.pinn_train:
        print(f"whole pinn-train, {args.depth} x {args.width}, {args.pde}, diagnostics="
              f"{args.diagnostics}, {args.steps} steps")
        print(f"{'points':>10} {'peak RSS GB':>12} {'GiB':>7} {'wall s':>8} {'exit':>5}")
        for n in args.pinn_train:
            peak, wall, rc = whole_run_peak(n, args.steps, args.depth, args.width, args.pde,
                                            args.diagnostics, args.overrides)
            print(f"{n:>10,} {peak / 1e9:>12.2f} {peak / 2**30:>7.2f} {wall:>8.0f} {rc:>5}", flush=True)
        return

    print(f"{'start (python)':<26} rss {status_kib('VmRSS') / MIB:8.1f} MiB")
    import numpy as np  # noqa: F401  (the imports pinn-train makes, before anything is traced)
    import torch

    from pinn_cli.pdes.base import PDE
    from pinn_cli.training import trainer as trainer_mod
    from pinn_cli.training.evaluate import Evaluator
    from pinn_cli.training.loss_engine import LossEngine

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from benchlib import compose_cfg

    cfg = compose_cfg([f"pde={args.pde}", f"model.depth={args.depth}", f"model.width={args.width}",
                       f"pde.n_collocation={args.n}", f"iterations={args.steps}",
                       f"diagnostics={args.diagnostics}", "threads=1", *args.overrides])
    print(f"{'imports and config':<26} rss {status_kib('VmRSS') / MIB:8.1f} MiB  "
          f"(torch {torch.__version__}, {torch.get_num_threads()} thread(s))")

    trace = Trace()
    trace.wrap(trainer_mod.Trainer, "__init__", "Trainer(...)")
    trace.wrap(trainer_mod.Trainer, "_open", "open run file")
    trace.wrap(trainer_mod.Trainer, "step", "step")
    trace.wrap(trainer_mod.Trainer, "_finish", "finish")
    trace.wrap(Evaluator, "rel_l2", "evaluate rel-L2")
    trace.wrap(Evaluator, "__init__", "Evaluator(...)")
    trace.wrap(LossEngine, "evaluate", "final loss")
    pde_cls = type(compose_pde(cfg))
    trace.wrap(pde_cls, "sample", "sample points")
    trace.wrap(pde_cls, "reference", "reference")
    for probe in probe_classes(cfg):
        trace.wrap(probe, "before", f"{probe.__name__}.before")
        trace.wrap(probe, "record", f"{probe.__name__}.record")
    del PDE
    run_dir = tempfile.mkdtemp(prefix="pinn-mem-")
    summary = trainer_mod.Trainer(cfg, run_dir).run()
    peak = max([*trace.peaks.values(), status_kib("VmHWM") / MIB])
    worst = max(trace.peaks, key=trace.peaks.get)
    print(f"status {summary['status']}; process peak {peak:.1f} MiB, reached in: {worst}")


def compose_pde(cfg):
    from hydra.utils import instantiate

    return instantiate(cfg.pde)


def probe_classes(cfg) -> list:
    """The probe classes the config's diagnostics use (besides the metrics probe)."""
    from hydra.utils import get_class

    out = []
    for key, entry in cfg.diagnostics.items():
        if hasattr(entry, "get") and entry.get("_target_"):
            out.append(get_class(entry._target_))
    return out


if __name__ == "__main__":
    main()
