"""Where a user's own classes are imported from: the one place that puts folders on ``sys.path``.

A config names a user's class by its module (``_target_: my_pde.Heat``). pinn-train imports that
module as ``python -m`` would find it: from the current folder and from each ``--config-dir``
and that folder's parent. A reader of a finished run (``pinn_cli.load``, ``pinn-predict``,
``pinn-analyze``) imports it from the folders the run recorded (its working folder and its
``--config-dir``, in ``.hydra/hydra.yaml``) and from the current folder.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import yaml

from pinn_cli.run_folder import RunFolder


def argv_folders(argv: list[str]) -> list[str]:
    """The current folder, then each ``--config-dir`` (``-cd``) on a command line and its parent."""
    found = [os.getcwd()]
    for i, a in enumerate(argv):
        d = None
        if a in ("--config-dir", "-cd") and i + 1 < len(argv):
            d = argv[i + 1]
        elif a.startswith("--config-dir="):
            d = a.split("=", 1)[1]
        if d:
            d = os.path.abspath(d)
            found += [d, os.path.dirname(d)]
    return found


def recorded_runtime(run_folder: Path) -> dict:
    """A run's ``hydra.runtime`` (cwd, config sources) from its ``.hydra/hydra.yaml``; {} without."""
    try:
        return (yaml.safe_load(RunFolder(run_folder).hydra_file("hydra").read_text())
                or {})["hydra"]["runtime"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}


def run_folders(run_folder: Path) -> list[str]:
    """The folders a run's plugins were imported from (its working folder, its --config-dir and
    that folder's parent), then the current folder."""
    rt = recorded_runtime(run_folder)
    found = [rt.get("cwd")] + [p for s in rt.get("config_sources", []) if s.get("schema") == "file"
                               for p in (s.get("path"), os.path.dirname(s.get("path") or ""))]
    return [p for p in found if p] + [os.getcwd()]


def add(folders: list[str]) -> list[str]:
    """Put ``folders`` at the front of ``sys.path`` (first wins), skipping those already there;
    returns the ones added."""
    added = [p for p in dict.fromkeys(folders) if p not in sys.path]
    sys.path[:0] = added
    return added


@contextlib.contextmanager
def importable(folders: list[str]):
    """``folders`` on ``sys.path`` for the duration of the block."""
    added = add(folders)
    try:
        yield
    finally:
        for p in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(p)


def allowed_target(target: str, folders: list[str]) -> bool:
    """Whether a config from someone else's run may instantiate ``target``: pinn-cli's own
    classes, or a module that lies in one of ``folders`` (the plugins of the folder it ran in)."""
    top = str(target).split(".", 1)[0]
    if top == "pinn_cli":
        return True
    return "." in str(target) and any(
        os.path.isfile(os.path.join(f, top + ".py")) or os.path.isfile(os.path.join(f, top, "__init__.py"))
        for f in folders if f)


def check_targets(node, folders: list[str], where: str) -> None:
    """Refuse (PinnError, one line) any ``_target_`` in ``node`` (a run's config, as plain
    containers) that :func:`allowed_target` does not allow: a run folder is data, not code."""
    from pinn_cli.errors import PinnError

    def walk(n, path):
        if isinstance(n, dict):
            for k, v in n.items():
                if k == "_target_" and not allowed_target(v, folders):
                    raise PinnError(f"{where}: {path + '.' if path else ''}_target_={v!r} is refused: "
                                    "a run read from a folder instantiates only pinn-cli's classes "
                                    "and plugin modules in the folder it ran in (nothing was run)")
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(n, (list, tuple)):
            for i, v in enumerate(n):
                walk(v, f"{path}[{i}]")
    walk(node, "")
