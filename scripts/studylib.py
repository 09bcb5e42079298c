"""Small helpers shared by the study scripts (architecture_study, beyond_study, cavity_study):
running a study's runs, one ``pinn-train`` subprocess each, and the mean +- std cells of its tables.

A study run folder is ``DIR/<run>/``: one run trained by ``pinn-train ... hydra.run.dir=DIR/<run>``
(one thread, checkpointing), its ``run.h5`` and ``checkpoints/last.pt`` inside, its console output
appended to ``DIR/<run>.log`` beside it. The folder name says which run it is (each script has its
own naming); its status is the run file's ``status`` attribute (None: no run file, or unreadable).

Invoked again on the same ``DIR``, a study trains only what is left (``train_all``):

* a run whose ``run.h5`` says ``done`` or ``diverged`` (``FINISHED``: it would diverge again) is
  not trained again (``pending`` notes one that finished with another iteration count: it is kept
  as it is);
* a stopped run with a checkpoint continues in place (pinn-train resumes from
  ``checkpoints/last.pt``);
* a run stopped before its first checkpoint (a folder without ``checkpoints/last.pt``) starts
  over: its folder is removed first.

Ctrl-C during ``train_all``: the running runs (same process group) get the SIGINT themselves, each
checkpoints and closes its file as ``interrupted``; no further run starts, and once the running
ones have ended the study stops with a ``SystemExit`` saying how to continue (the same command)
and how to see the tables so far. A second Ctrl-C quits at once (``KeyboardInterrupt``).
"""
from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pinn_cli.errors import PinnError
from pinn_cli.runfile import read_attrs

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
FINISHED = ("done", "diverged")
CHECKPOINT = Path("checkpoints") / "last.pt"
STOP = threading.Event()          # Ctrl-C: the running runs stop themselves, no new one starts


def log(msg: str) -> None:
    print(msg, flush=True)


def status_of(folder: Path) -> str | None:
    """The run file's status (None: no run file, or one that cannot be read)."""
    try:
        return read_attrs(folder / "run.h5").get("status")
    except (PinnError, OSError):
        return None


def pending(out: Path, names, iterations: int) -> list:
    """The runs among ``names`` (folder names under ``out``) not finished yet, in order; a finished
    one made with another iteration count than ``iterations`` is noted (and kept as it is)."""
    todo = [n for n in names if status_of(out / n) not in FINISHED]
    for n in names:
        if n not in todo:
            its = read_attrs(out / n / "run.h5").get("iterations")
            if its is not None and int(its) != iterations:
                print(f"  {n}: kept as it is (finished with {its} iterations)")
    return todo


def train_one(folder: Path, cmd: list[str]) -> None:
    """Run ``cmd`` (a pinn-train command with ``hydra.run.dir=folder``) by the rules above: skip
    it after Ctrl-C or when finished, remove a folder without a checkpoint, append the output to
    ``<folder>.log`` and log the outcome."""
    if STOP.is_set():
        return
    status = status_of(folder)
    if status in FINISHED:
        return
    if folder.exists() and not (folder / CHECKPOINT).exists():
        log(f"  {folder.name}: stopped before its first checkpoint ({status}); starting over")
        shutil.rmtree(folder)
    resumed = folder.exists()
    t0 = time.perf_counter()
    with open(folder.parent / f"{folder.name}.log", "a") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=ENV).returncode
    log(f"  {folder.name}: {status_of(folder)} (exit {rc}{', resumed' if resumed else ''}) in "
        f"{(time.perf_counter() - t0) / 60:.1f} min")


def _stop(signum, frame) -> None:     # the runs (same process group) get the Ctrl-C themselves
    if STOP.is_set():
        raise KeyboardInterrupt
    STOP.set()
    log("Ctrl-C: the running runs checkpoint and stop, no further run starts (again: quit)")


def train_all(jobs: list[tuple[Path, list[str]]], n_jobs: int, report_cmd: str) -> None:
    """``train_one`` over ``jobs`` ((folder, command) pairs), ``n_jobs`` at a time, Ctrl-C as above;
    prints the training time. Stopped by Ctrl-C: SystemExit naming ``report_cmd`` (the command
    that shows the tables so far)."""
    t0 = time.perf_counter()
    previous = signal.signal(signal.SIGINT, _stop)
    try:
        with ThreadPoolExecutor(max(1, n_jobs)) as pool:
            list(pool.map(lambda job: train_one(*job), jobs))
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"training: {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    if STOP.is_set():
        raise SystemExit(f"stopped: the same command continues the study; the tables so far: "
                         f"{report_cmd}")


# ---- table cells --------------------------------------------------------------------------------
def spread(values, spec: str = ".3g", sd_spec: str | None = None, bare_one: bool = False) -> str:
    """'mean +- population std (n=k)' of the values that are not None ('-' if none); the std in
    ``sd_spec`` (default: ``spec``); ``bare_one``: a single value alone."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    if bare_one and len(v) == 1:
        return f"{v[0]:{spec}}"
    sd = statistics.pstdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):{spec}} +- {sd:{sd_spec or spec}} (n={len(v)})"


def onsets(values, n: int, bare_one: bool = False) -> str:
    """Onset steps: 'mean +- population std (k/n)' over the k of n runs that reach it ('- (0/n)'
    if none); ``bare_one``: a single one alone, '1,200 (1/n)'."""
    v = [x for x in values if x is not None]
    if not v:
        return f"- (0/{n})"
    if bare_one and len(v) == 1:
        return f"{v[0]:,} (1/{n})"
    sd = statistics.pstdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):,.0f} +- {sd:,.0f} ({len(v)}/{n})"
