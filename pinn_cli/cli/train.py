"""``pinn-train``: compose the config with Hydra, check it, train one run per job.

The Hydra task function is thin: it finds the job's output folder and calls
:func:`pinn_cli.training.trainer.run`, which tests call directly without Hydra's global state.
"""
from __future__ import annotations

import logging
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from pinn_cli.config.argv import check_argv, with_resume
from pinn_cli.errors import PinnError
from pinn_cli.training.trainer import EXIT_CODES, run

log = logging.getLogger("pinn_cli")


def _threads_per_job(cfg: DictConfig) -> None:
    """Under the joblib launcher, split the cores among the parallel jobs (threads=null)."""
    launcher = HydraConfig.get().launcher
    if cfg.threads is None and "joblib" in str(launcher.get("_target_", "")):
        n_jobs = launcher.get("n_jobs", -1)
        cores = os.cpu_count() or 1
        n_jobs = cores if n_jobs in (None, -1) or n_jobs < 1 else n_jobs
        with open_dict(cfg):
            cfg.threads = max(1, cores // n_jobs)


def identity() -> dict:
    """The run's name in pinn-analyze: the group options Hydra composed and the overrides."""
    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    return {"choices": dict(choices), "overrides": list(hc.overrides.task)}


@hydra.main(version_base=None, config_path="pkg://pinn_cli.conf", config_name="train")
def hydra_main(cfg: DictConfig) -> float:
    run_dir = HydraConfig.get().runtime.output_dir
    _threads_per_job(cfg)
    try:
        summary = run(cfg, run_dir, identity())
    except PinnError as e:
        log.error("%s", e)
        print(f"pinn-train: error: {e}", file=sys.stderr)
        raise SystemExit(2)
    if summary["status"] == "done":
        log.info("done: rel_l2 %.3e after %d steps; results in %s", summary["final_rel_l2"],
                 summary["steps"], run_dir)
        return summary["final_rel_l2"]
    log.info("%s after %d steps; results in %s", summary["status"], summary["steps"], run_dir)
    if HydraConfig.get().mode != RunMode.MULTIRUN:   # a sweep keeps going; its summary shows it
        raise SystemExit(EXIT_CODES.get(summary["status"], 1))
    return float("nan")


def plugin_path(argv: list[str]) -> None:
    """A user's own classes (``_target_: my_pde.Heat``) import from the current folder and from
    a ``--config-dir``'s folder and its parent, as ``python -m`` would find them."""
    folders = [os.getcwd()]
    for i, a in enumerate(argv):
        if a in ("--config-dir", "-cd") and i + 1 < len(argv):
            folders += [os.path.abspath(argv[i + 1]), os.path.dirname(os.path.abspath(argv[i + 1]))]
        elif a.startswith("--config-dir="):
            d = os.path.abspath(a.split("=", 1)[1])
            folders += [d, os.path.dirname(d)]
    for f in reversed(folders):
        if f not in sys.path:
            sys.path.insert(0, f)


def main() -> None:
    """Console entry: check the command line, then hand it to Hydra."""
    argv = sys.argv[1:]
    plugin_path(argv)
    try:
        argv = with_resume(argv)
        check_argv(argv)
    except PinnError as e:
        print(f"pinn-train: error: {e}", file=sys.stderr)
        raise SystemExit(2)
    sys.argv = sys.argv[:1] + argv
    hydra_main()


if __name__ == "__main__":
    main()
