"""A sweep folder that remembers its sweep, so that the same command continues it.

When ``pinn-train -m`` claims a sweep folder it writes ``.pinn-sweep.json``: the sweep's identity
(its overrides, a study's ``hydra.sweeper.params`` merged in, less where and how it computes:
``hydra.*``, threads, the reference cache) and, for a grid, every job's overrides. Run again with
the same overrides (a study's default folder is fixed, ``outputs/studies/<name>``; any other sweep
names its folder with ``hydra.sweep.dir``), the folder is the same sweep's and is continued: each
job looks at its own folder first (:func:`pinn_cli.cli.train.task`):

- ``done`` or ``diverged``: not trained again (its result is read back);
- a checkpoint (``interrupted``, ``preempted``, killed, ``failed`` mid-run): resumed in place,
  bit for bit as a single run's resume;
- a run file but no checkpoint (stopped before its first one): moved to ``run.h5.stopped`` and
  trained from the start;
- nothing: trained.

A folder holding another sweep (other overrides) is refused in one line. ``pinn-analyze --status``
lists each job as done / running / stopped / failed / not started (:func:`job_states`).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from pinn_cli.run_folder import RunFolder

log = logging.getLogger("pinn_cli")

STATE = ".pinn-sweep.json"
NOT_IDENTITY = ("hydra", "threads=", "reference_cache=")


def identity(overrides: list[str]) -> list[str]:
    """What makes two sweeps the same sweep: their overrides, less where and how they compute."""
    return sorted(o for o in overrides if not o.lstrip("+~").startswith(NOT_IDENTITY))


def write_state(folder, overrides: list[str], jobs: list[list[str]] | None) -> None:
    Path(folder, STATE).write_text(json.dumps({"identity": identity(overrides), "jobs": jobs},
                                              indent=1))


def read_state(folder) -> dict | None:
    try:
        return json.loads(Path(folder, STATE).read_text())
    except (OSError, ValueError):
        return None


def same_sweep(folder, overrides: list[str]) -> bool:
    state = read_state(folder)
    return state is not None and state.get("identity") == identity(overrides)


def job_overrides(job_dir: Path) -> list[str] | None:
    return RunFolder(job_dir).saved_overrides()


def job_states(folder) -> list[dict]:
    """Each job of the sweep at ``folder``: its overrides, folder (None: not started) and state
    (done, diverged, running, stopped, failed, bad input, not started)."""
    from pinn_cli.analysis.liveness import still_running
    from pinn_cli.cli.sweep_summary import summarize

    folder = Path(folder)
    rows = {r["job"]: r for r in summarize(folder)}
    found = {}
    for job in rows:
        ov = job_overrides(folder / job)
        if ov is not None:
            found[frozenset(o for o in ov if not o.startswith("hydra"))] = job
    state = read_state(folder) or {}
    expected = state.get("jobs") or [sorted(k) for k in found]
    out = []
    for ov in expected:
        job = found.get(frozenset(o for o in ov if not o.startswith("hydra")))
        if job is None:
            out.append({"overrides": ov, "job": None, "state": "not started"})
            continue
        status = rows[job]["status"]
        if status == "running":
            try:
                from pinn_cli.runfile import read_attrs
                run_file = RunFolder(folder / job).run_file
                alive = still_running(run_file, read_attrs(run_file))
            except Exception:                    # noqa: BLE001 - unreadable: not running
                alive = False
            status = "running" if alive else "stopped"
        elif status in ("interrupted", "preempted", "no run file"):
            status = "stopped"
        out.append({"overrides": ov, "job": job, "state": status,
                    "steps": rows[job].get("steps"), "final_rel_l2": rows[job].get("final_rel_l2")})
    return out


JOB_LOCK = ".pinn-job.lock"


@contextlib.contextmanager
def job_lock(run_dir):
    """An exclusive lock on a sweep job's folder while it trains (``flock``, released when the
    job ends or its process dies): the same study started twice at once never trains one job
    twice; the second command passes over a job the first holds. Yields whether it is ours."""
    import fcntl

    Path(run_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(run_dir) / JOB_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def prepare_job(run_dir) -> dict | None:
    """Before a job of a continued sweep trains: its run file's outcome if it already ended
    (``done`` or ``diverged``: not trained again), else None after making the folder ready (a
    run file without a checkpoint moved aside; the last failure's ``error.txt`` removed)."""
    from pinn_cli.runfile import RunFileError, read_attrs

    folder = RunFolder(run_dir)
    path = folder.run_file
    try:
        attrs = read_attrs(path)
    except RunFileError:
        attrs = None
    if attrs is not None and attrs.get("status") in ("done", "diverged"):
        return attrs
    if path.exists() and not folder.has_checkpoint():
        path.replace(folder.stopped_run_file)          # stopped before its first checkpoint
    folder.error_file.unlink(missing_ok=True)
    return None




def score(run_file, name: str, target: float) -> float:
    """What a sweeper is told of a finished job: its final or best rel-L2, or the step / the
    wall time (s) of its first recorded rel-L2 <= ``target`` (inf if never); NaN when the run
    did not end as done."""
    from pinn_cli.runfile import RunFileError, read_run

    try:
        run = read_run(run_file)
        m = run.data("metrics")
    except (RunFileError, OSError, ValueError, KeyError) as e:    # ended; its score is unknown
        log.warning("no score for %s: %s", run_file, e)
        return float("nan")
    if run.attrs.get("status") != "done":
        return float("nan")
    if name in ("final_rel_l2", "best_rel_l2"):
        return float(run.attrs.get(name, float("nan")))
    if "rel_l2" not in m:
        return float("nan")
    hit = (m["rel_l2"] <= target).nonzero()[0]
    if not len(hit):
        return float("inf")
    return float(m["step"][hit[0]] if name == "steps_to_target" else m["wall_time"][hit[0]])
