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

import inspect
import logging
import os
from pathlib import Path

from omegaconf import OmegaConf

from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.run_folder import RunFolder, migrated
from pinn_cli.runfile import RunWriter, count_records, read_run
from pinn_cli.schema import GROUPS
from pinn_cli.training import checkpoint

log = logging.getLogger("pinn_cli")
# Keys that must equal the checkpoint's for a resumed run to continue the same computation.
RESUME_KEYS = GROUPS + ("seed", "dtype", "engine", "chunk_size", "compile")


def resume_source(run_dir: Path, resume) -> Path | None:
    """The folder a run continues from: its own when it holds a checkpoint (a requeued job or
    the same command again, even one that first resumed another run), else ``resume``."""
    if RunFolder(run_dir).has_checkpoint():
        return Path(run_dir)
    return None if resume is None else Path(resume)


def open_run_file(run_dir: Path, source: Path | None, device, config_yaml: str, attrs: dict,
                  series, static, check=lambda state: None):
    """-> (RunWriter, checkpoint state, the old run's records) or (RunWriter, None, None) for a
    new run; ``source`` is :func:`resume_source`'s answer. ``check(state)`` may refuse the
    checkpoint (raise) before any file is touched."""
    path = RunFolder(run_dir).run_file
    if source is None:
        if path.exists():
            raise PinnError(f"{run_dir} already holds {path.name} without a checkpoint; choose "
                            "another output folder (nothing was changed)")
        return RunWriter(path, {**attrs, "resumed_from": ""}, series, static), None, None
    ckpt = RunFolder(source).last
    if not ckpt.exists():
        raise ConfigError("resume", str(source), "a run folder with a checkpoint "
                          f"({ckpt.relative_to(source)})")
    state = checkpoint.load(ckpt, device)
    check_resumable(state["config"], config_yaml, source)
    check(state)
    in_place = source.resolve() == run_dir.resolve()
    old_path = RunFolder(source).run_file
    if in_place:
        prev = RunFolder(run_dir).previous_run_file
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


def check_resumable(saved_yaml: str, config_yaml: str, source=None) -> None:
    """The checkpoint's config and this run's agree on every key of :data:`RESUME_KEYS`."""
    saved = OmegaConf.create(migrated(saved_yaml))
    now = OmegaConf.create(config_yaml)
    for key in RESUME_KEYS:
        a, b = OmegaConf.select(saved, key), OmegaConf.select(now, key)
        if key == "diagnostics" and a is not None and b is not None:
            a, b = _steering(a), _steering(b)
        if a != b:
            raise ConfigError("resume", str(source) if source is not None else "",
                              f"a run with this run's {key} ({key} differs from the checkpoint's: "
                              f"pass the same {key} settings, or start a new run)")


def _steering(diagnostics) -> dict:
    """The diagnostics that shape the training: every key but the probes that only record (a
    probe that neither takes the step's batch gradients, ``needs_capture``, nor may act on the
    run, ``actions_possible``). A run may be resumed with a recording probe added, removed or
    re-timed (a field map the shipped diagnostics gained since the checkpoint, say); the steps
    are the same."""
    from hydra.utils import get_object
    from pinn_cli.diagnostics.base import Probe
    from pinn_cli.schema import signature_of

    def probe_class(node):
        try:
            cls = get_object(node["_target_"])
        except Exception:                       # noqa: BLE001 - unknown: compared as it is
            return None
        return cls if isinstance(cls, type) and issubclass(cls, Probe) else None

    def records_only(cls) -> bool:
        return not cls.needs_capture and cls.actions_possible is Probe.actions_possible

    def with_defaults(cls, node: dict) -> dict:
        """The node with the constructor's defaults for the keys it leaves out (a YAML that
        lists a default since is the same probe)."""
        defaults = {name: default for name, (_, default) in signature_of(cls)[1].items()
                    if default is not inspect.Parameter.empty}
        merged = {**defaults, **node}
        if "at" in merged:                      # as the cadence reads it: null is no steps
            merged["at"] = sorted(merged["at"] or [])
        return merged

    out = {}
    for key, node in OmegaConf.to_container(diagnostics).items():
        cls = probe_class(node) if isinstance(node, dict) and isinstance(node.get("_target_"), str) else None
        if cls is None:
            out[key] = node
        elif not records_only(cls):
            out[key] = with_defaults(cls, node)
    return out
