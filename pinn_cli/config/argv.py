"""Checks of the command line before Hydra starts a run: one line per mistake, exit code 2.

Hydra reports an unknown option or key in many lines with its search path; here the same
mistakes, and values that are not allowed (``optimizer.lr=-1``), become one line naming the key,
the value and what is allowed. Every combination of a sweep is checked (up to ``MAX_COMBINATIONS``),
so a bad value fails before the first job trains.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import yaml
from hydra import compose, initialize_config_module
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from pinn_cli.config.validate import check_config
from pinn_cli.errors import PinnError

GROUPS = ("pde", "model", "optimizer", "weighting", "diagnostics", "experiment")
MAX_COMBINATIONS = 64


def options(group: str) -> list[str]:
    """The option names of a config group, from the shipped conf tree."""
    root = resources.files("pinn_cli.conf") / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def with_resume(argv: list[str]) -> list[str]:
    """``resume=DIR``: put DIR's own overrides first, so the run is rebuilt as it was."""
    resume = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if not resume:
        return argv
    saved = Path(resume[-1]) / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        raise PinnError(f"resume={resume[-1]!r} is not allowed: expected a run folder with "
                        ".hydra/overrides.yaml")
    old = [o for o in yaml.safe_load(saved.read_text()) or [] if not o.startswith("resume=")]
    return old + argv


def check_slurm() -> None:
    """The SLURM launcher needs a reachable controller: sbatch on PATH and sinfo answering."""
    if shutil.which("sbatch") is None:
        raise PinnError("hydra/launcher=slurm is not usable here: sbatch is not on PATH "
                        "(for a local test cluster: bash scripts/slurm_local.sh start)")
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PinnError(f"hydra/launcher=slurm is not usable here: sinfo failed ({e})")
    if out.returncode != 0:
        msg = (out.stderr.strip().splitlines() or ["no answer"])[-1]
        raise PinnError(f"hydra/launcher=slurm is not usable here: the SLURM controller does not "
                        f"answer ({msg})")


def _sweep_values(override) -> list[str]:
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    return list(override.sweep_string_iterator())


def check_argv(argv: list[str]) -> None:
    """Raise PinnError with one line for the first mistake on the command line."""
    args = get_args_parser().parse_args(argv)
    if args.help or args.hydra_help or args.info or args.shell_completion:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(args.overrides)
    except HydraException as e:
        raise PinnError(f"cannot parse the command line: {str(e).splitlines()[0]}")
    choices = []
    for o in parsed:
        key = o.key_or_group
        values = _sweep_values(o)
        if key == "hydra/launcher" and any("slurm" in v for v in values) and args.multirun:
            check_slurm()
        if key in GROUPS:
            allowed = options(key)
            for v in values:
                if v not in allowed:
                    raise PinnError(f"{key}={v} is not an option: choose one of {', '.join(allowed)}")
        choices.append([f"{o.get_key_element()}={v}" for v in values])
    for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
        _check_composed(list(combo), multirun=args.multirun)


def _check_composed(overrides: list[str], multirun: bool) -> None:
    try:
        with initialize_config_module("pinn_cli.conf", version_base=None):
            cfg = compose("train", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as e:
        raise PinnError(_composition_message(e, overrides))
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    folder = str(OmegaConf.select(cfg, key))
    with open_dict(cfg):
        del cfg["hydra"]
    try:
        check_config(cfg)
    except OmegaConfBaseException as e:
        raise PinnError(str(e).strip().splitlines()[0])
    _check_writable(folder, key)


def _composition_message(e: Exception, overrides: list[str]) -> str:
    """Hydra's many-line composition error as one line that names the override."""
    text = str(e).strip()
    m = re.search(r"Could not override '([^']+)'", text)
    if m and "not in struct" in f"{text} {e.__cause__}":
        given = next((o for o in overrides if o.split("=")[0].lstrip("+~") == m.group(1)), m.group(1))
        return f"{given} is not allowed: {m.group(1)} is not a key of this config (check the " \
               "spelling; pinn-train --cfg job lists the keys)"
    cause = str(e.__cause__ or "").strip().splitlines()
    return " ".join(line.strip() for line in text.splitlines()[:2]) + (f" ({cause[0]})" if cause else "")


def _check_writable(folder: str, key: str) -> None:
    """The output folder can be created and written (tested with a temporary file)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise PinnError(f"{key}={folder!r} is not allowed: expected a writable folder "
                        f"({e.strerror or e})")
    finally:
        if path.is_dir() and not any(path.iterdir()):
            os.rmdir(path)
