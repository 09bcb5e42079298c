"""Opening a run's file: a new run, a resume into a new folder, or a resume in place.

- New run: ``run.h5`` must not exist (nothing is overwritten).
- ``resume=DIR``: DIR's checkpoint is loaded; DIR's records before the checkpoint's step are
  copied into this run's new file; DIR is only read.
- In place (the run folder holds a checkpoint: a requeued job, or the same command again): the
  old file is renamed ``run.h5.prev``, its records before the checkpoint's step are copied into a
  new ``run.h5``, and ``run.h5.prev`` is removed only once the new file holds at least as many of
  them. A resume killed in between finds ``run.h5.prev`` and starts from it again, never from
  the partial copy: the record never gets shorter.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from omegaconf import OmegaConf

from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.models.options import upgrade
from pinn_cli.runfile import RunWriter, count_records, read_run
from pinn_cli.schema import GROUPS
from pinn_cli.training import checkpoint

log = logging.getLogger("pinn_cli")
RUN_FILE = "run.h5"
# Keys that must equal the checkpoint's for a resumed run to continue the same computation.
RESUME_KEYS = GROUPS + ("seed", "dtype", "engine", "chunk_size", "compile")
# what a checkpoint from before a key existed ran with
LEGACY = {"objective": {"_target_": "pinn_cli.objective.PINN", "loss": "squared", "delta": 1.0},
          "sampling": {"_target_": "pinn_cli.sampling.Fixed"},
          "strategy": {"_target_": "pinn_cli.strategies.Strategy"}}


def resume_source(run_dir: Path, resume) -> Path | None:
    """The folder a run continues from: its own when it holds a checkpoint (a requeued job or
    the same command again, even one that first resumed another run), else ``resume``."""
    if (Path(run_dir) / checkpoint.CHECKPOINT).exists():
        return Path(run_dir)
    return None if resume is None else Path(resume)


def open_run_file(run_dir: Path, source: Path | None, device, config_yaml: str, attrs: dict,
                  series, static, check=lambda state: None):
    """-> (RunWriter, checkpoint state, the old run's records) or (RunWriter, None, None) for a
    new run; ``source`` is :func:`resume_source`'s answer. ``check(state)`` may refuse the
    checkpoint (raise) before any file is touched."""
    path = run_dir / RUN_FILE
    if source is None:
        if path.exists():
            raise PinnError(f"{run_dir} already holds {RUN_FILE} without a checkpoint; choose "
                            "another output folder (nothing was changed)")
        return RunWriter(path, {**attrs, "resumed_from": ""}, series, static), None, None
    ckpt = source / checkpoint.CHECKPOINT
    if not ckpt.exists():
        raise ConfigError("resume", str(source), "a run folder with checkpoints/last.pt")
    state = checkpoint.load(ckpt, device)
    check_resumable(state["config"], config_yaml)
    check(state)
    in_place = source.resolve() == run_dir.resolve()
    old_path = source / RUN_FILE
    if in_place:
        prev = path.with_suffix(".h5.prev")
        if prev.exists():            # an earlier resume stopped mid-copy: prev is the record
            if path.exists():
                path.unlink()
        elif path.exists():
            os.replace(path, prev)
        old_path = prev
    old = read_run(old_path)
    history = f"{old.attrs.get('resumed_from', '')}{source}@{state['step']};"
    writer = RunWriter(path, {**attrs, "resumed_from": history}, series, static)
    writer.copy_records(old, before_step=state["step"])
    if in_place:
        _check_not_shorter(old, writer, state["step"])
        old_path.unlink()
    log.info("resumed from %s at step %d", source, state["step"])
    return writer, state, old


def _check_not_shorter(old, writer: RunWriter, step: int) -> None:
    have = writer.counts()
    for group, want in count_records(old.path, before_step=step).items():
        if group in have and have[group] < want:
            raise PinnError(f"resume would lose records of /{group} ({have[group]} < {want}); "
                            f"{old.path} is kept")


def check_resumable(saved_yaml: str, config_yaml: str) -> None:
    """The checkpoint's config and this run's agree on every key of :data:`RESUME_KEYS`."""
    saved, now = OmegaConf.create(saved_yaml), OmegaConf.create(config_yaml)
    for key in RESUME_KEYS:
        a, b = OmegaConf.select(saved, key), OmegaConf.select(now, key)
        if a is None and key in LEGACY:
            a = OmegaConf.create(LEGACY[key])
        elif key == "model" and a is not None:         # flat embedding/RWF keys of older runs
            a = OmegaConf.create(upgrade(OmegaConf.to_container(a)))
        if a != b:
            raise ConfigError("resume", f"{key} differs", f"the resumed run's {key} (pass the same "
                              f"{key} settings, or start a new run)")
