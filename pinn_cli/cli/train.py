"""``pinn-train``: compose the config with Hydra, check it, claim the output folder, train one
run per job.

The Hydra task function is thin: it finds the job's output folder and calls
:func:`pinn_cli.training.trainer.run`, which tests call directly without Hydra's global state.
This module imports nothing heavy at the top, so that a Ctrl-C while torch and Hydra load is
one line and exit 130, not a traceback.

Exit codes (README, "Exit codes"): a single run exits with its status's code; a sweep exits 0
only when every job is done, else with the code of its worst job (:func:`sweep_exit_code`).
"""
from __future__ import annotations

import logging
import os
import sys

from pinn_cli.run_folder import RunFolder

log = logging.getLogger("pinn_cli")
_LAUNCHER = [os.getpid()]            # the launching process (the basic launcher runs jobs in it)


def _threads_per_job(cfg) -> None:
    """Under the joblib launcher, split the cores among the parallel jobs (threads=auto)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    launcher = HydraConfig.get().launcher
    if cfg.threads in (None, "auto") and "joblib" in str(launcher.get("_target_", "")):
        n_jobs = launcher.get("n_jobs", -1)
        cores = os.cpu_count() or 1
        n_jobs = cores if n_jobs in (None, -1) or n_jobs < 1 else n_jobs
        with open_dict(cfg):
            cfg.threads = max(1, cores // n_jobs)


def identity() -> dict:
    """The run's name in pinn-analyze: the group options Hydra composed and the overrides."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    return {"choices": dict(choices), "overrides": list(hc.overrides.task)}


def task(cfg) -> float:
    """One job: train, and turn its outcome into the value a sweeper reads (its final error) or,
    for a single run, into the exit code. A job of a sweep never ends the sweep: what went wrong
    is in its run file (or in ``error.txt`` when it stopped before the run file existed)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from pinn_cli.cli.sweep import job_lock

    hc = HydraConfig.get()
    run_dir, sweep = hc.runtime.output_dir, hc.mode == RunMode.MULTIRUN
    if not sweep:
        return _job(cfg, run_dir, False)
    with job_lock(run_dir) as mine:
        if not mine:
            log.info("%s is being trained by another command: left to it", run_dir)
            return float("nan")
        return _job(cfg, run_dir, True)


def _job(cfg, run_dir: str, sweep: bool) -> float:
    """:func:`task`'s job, in a sweep under its job lock."""
    from pinn_cli.errors import PinnError
    from pinn_cli.training.trainer import EXIT_CODES, run

    from pinn_cli.cli.sweep import prepare_job, score

    _threads_per_job(cfg)
    if sweep:
        ended = prepare_job(run_dir)
        if ended is not None:
            log.info("%s already ended (%s after %s steps): kept", run_dir, ended.get("status"),
                     ended.get("steps"))
            return score(RunFolder(run_dir).run_file, cfg.score, cfg.score_target)
    try:
        summary = run(cfg, run_dir, identity())
    except PinnError as e:
        log.error("%s", e)
        print(f"pinn-train: error: {e}", file=sys.stderr)
        if not sweep:
            raise SystemExit(2)
        _write_error(run_dir, f"bad input: {e}")
        return float("nan")
    except Exception as e:                      # noqa: BLE001 - a sweep goes on; see the log
        if not sweep:
            raise
        log.exception("the job failed")
        _write_error(run_dir, f"failed: {type(e).__name__}: {e}")
        return float("nan")
    if summary["status"] == "done":
        best = (f" (best {summary['best_rel_l2']:.3e} at step {summary['best_step']})"
                if "best_rel_l2" in summary else "")
        every = ("; every observable: " + ", ".join(f"{k} {v:.3e}" for k, v in summary["rel_l2"].items())
                 + f", joint {summary['joint_rel_l2']:.3e}") if "joint_rel_l2" in summary else ""
        log.info("done: rel_l2 (%s) %.3e after %d steps%s%s; results in %s", summary["headline"],
                 summary["final_rel_l2"], summary["steps"], best, every, run_dir)
        if summary.get("interrupted") and sweep and os.getpid() == _LAUNCHER[0]:
            raise SystemExit(EXIT_CODES["interrupted"])  # Ctrl-C during its last step: the sweep stops
        return score(RunFolder(run_dir).run_file, cfg.score, cfg.score_target)
    log.info("%s after %d steps; results in %s", summary["status"], summary["steps"], run_dir)
    stopped = summary["status"] in ("interrupted", "preempted") and os.getpid() == _LAUNCHER[0]
    if not sweep or stopped:               # a signal to this process ends its sweep too
        raise SystemExit(EXIT_CODES.get(summary["status"], 1))
    return float("nan")


def _write_error(run_dir, text: str) -> None:
    """A job that stopped before its run file existed leaves its one-line reason (sweeps)."""
    try:
        with open(RunFolder(run_dir).error_file, "w") as f:
            f.write(text.splitlines()[0] + "\n")
    except OSError:
        pass


def sweep_exit_code(rows: list[dict]) -> int:
    """A sweep's exit code from its jobs' statuses: 0 when every job is done; else the worst
    job's, in this order: interrupted or preempted (130), bad input found when the job started
    (2), failed (4), diverged (3)."""
    statuses = {r["status"] for r in rows}
    for code, names in ((130, {"interrupted", "preempted"}), (2, {"bad input"}),
                        (4, {"failed", "no run file", "running"}), (3, {"diverged"})):
        if statuses & names or (code == 4 and any(str(s).startswith("unreadable") for s in statuses)):
            return code
    return 0


def _main(argv: list[str]) -> int:
    import hydra

    _LAUNCHER[0] = os.getpid()
    from pinn_cli.cli.claim import claim
    from pinn_cli.cli.sweep import write_state
    from pinn_cli.cli.sweep_summary import report
    from pinn_cli.cli.argv import check_argv, in_job_order, with_resume
    from pinn_cli.errors import PinnError
    from pinn_cli.plugins import add, argv_folders

    add(argv_folders(argv))    # a user's own classes (`_target_: my_pde.Heat`)
    try:
        argv = with_resume(argv)
        out = check_argv(argv)
        if out is not None and out.writes:
            folder = claim(out.folder, out.key, explicit=out.explicit, overrides=out.overrides,
                           sweep=out.multirun)
            if out.multirun:
                write_state(folder, out.overrides, out.jobs)
                argv = in_job_order(argv, out)        # a study's arms after the study itself
            argv = [*argv, f"{out.key}={folder}"]
            if out.multirun and "optuna" in str((out.sweeper or {}).get("_target_", "")):
                from pinn_cli.cli.search import remaining
                n = remaining(out.sweeper.get("storage"), out.sweeper["study_name"],
                              out.sweeper["n_trials"])
                if n == 0:
                    print(f"pinn-train: the search in {folder} has all its "
                          f"{out.sweeper['n_trials']} trials (nothing to run)", file=sys.stderr)
                    return 0
                argv.append(f"hydra.sweeper.n_trials={n}")
                seed = (out.sweeper.get("sampler") or {}).get("seed")
                if n < out.sweeper["n_trials"] and seed is not None:   # resumed: new draws
                    argv.append(f"hydra.sweeper.sampler.seed={seed + out.sweeper['n_trials'] - n}")
    except PinnError as e:
        print(f"pinn-train: error: {e}", file=sys.stderr)
        return 2
    logging.raiseExceptions = False      # a log that cannot be written (full disk) is not an error
    sys.argv = sys.argv[:1] + argv
    sweep = out is not None and out.multirun and out.writes
    try:
        hydra.main(version_base=None, config_path="pkg://pinn_cli.conf", config_name="train")(task)()
    finally:
        rows = report(folder) if sweep else []
    return sweep_exit_code(rows) if sweep else 0


def main() -> None:
    """Console entry: check the command line, claim the folder, then hand it to Hydra."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from pinn_cli.cli import version_line
        print(version_line("pinn-train"))
        raise SystemExit(0)
    try:
        code = _main(sys.argv[1:])
    except KeyboardInterrupt:
        print("pinn-train: interrupted before training started (nothing was trained)", file=sys.stderr)
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
