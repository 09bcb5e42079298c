"""Checks of the command line before Hydra starts a run: one line per mistake, exit code 2.

Hydra reports an unknown option or key in many lines with its search path; here the same
mistakes, and values that are not allowed (``optimizer.lr=-1``), become one line naming the key,
the value and what is allowed. Every combination of a sweep is checked, so a bad value fails
before the first job trains; an output folder that holds another run is refused before Hydra
writes into it.
"""
from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import yaml
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from pinn_cli.training.build import build
from pinn_cli.training.validate import DTYPES, validate
from pinn_cli.plugins import allowed_target, run_folders
from pinn_cli.run_folder import RunFolder
from pinn_cli.errors import PinnError
from pinn_cli.schema import SELECTABLE



def parse_hydra_args(argv: list[str]) -> argparse.Namespace:
    """pinn-train's command line as Hydra's own parser reads it (its flags and the overrides),
    written here so that no private Hydra module is imported; Hydra parses the same line again
    when it runs."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("overrides", nargs="*")
    for flags in (("--help", "-h"), ("--hydra-help",), ("--resolve",), ("--run", "-r"),
                  ("--multirun", "-m")):
        ap.add_argument(*flags, action="store_true")
    for flags in (("--cfg", "-c"), ("--package", "-p"), ("--shell-completion", "-sc"),
                  ("--config-path", "-cp"), ("--config-name", "-cn"), ("--config-dir", "-cd"),
                  ("--experimental-rerun",)):
        ap.add_argument(*flags)
    ap.add_argument("--info", "-i", nargs="?", const="all")
    ap.add_argument("--version", nargs=0, action=_Flag)
    return ap.parse_args(argv)


class _Flag(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)


def options(group: str, config_dir: str | None = None) -> list[str]:
    """The option names of a config group: the shipped ones and a ``--config-dir``'s."""
    roots = [resources.files("pinn_cli.conf") / group]
    if config_dir:
        roots.append(Path(config_dir) / group)
    return sorted({p.name[:-5] for r in roots if r.is_dir() for p in r.iterdir()
                   if p.name.endswith(".yaml")})


def with_resume(argv: list[str]) -> list[str]:
    """``resume=DIR``: put DIR's own overrides first, so the run is rebuilt as it was."""
    resume = [_value(a) for a in argv if a.startswith("resume=")]
    if not resume:
        return argv
    folder = RunFolder(resume[-1])
    saved = folder.saved_overrides()
    if saved is None:
        raise PinnError(f"resume={resume[-1]!r} is not allowed: expected a run folder with "
                        f"{folder.hydra_file('overrides').relative_to(folder.path)}")
    given = {_key(a) for a in argv if "=" in a and not a.startswith("-")}
    old = [o for o in saved
           if not o.startswith("resume=") and _key(o) not in given]   # the command line wins
    folders = run_folders(Path(resume[-1]))
    for o in old:                # a run folder is data: its overrides name no foreign code
        if _key(o).endswith("_target_") and not allowed_target(o.split("=", 1)[1], folders):
            raise PinnError(f"resume={resume[-1]}: its override {o!r} is refused: a resumed run "
                            "instantiates only pinn-cli's classes and plugin modules in the "
                            "folder it ran in (nothing was run)")
    return old + argv


def _value(override: str) -> str:
    """The value of a ``key=value`` override as Hydra reads it (``resume='my run'``: my run)."""
    try:
        value = OverridesParser.create().parse_override(override).value()
    except Exception:                           # noqa: BLE001 - Hydra reports it, later
        return override.split("=", 1)[1]
    return value if isinstance(value, str) else override.split("=", 1)[1]


def _key(override: str) -> str:
    """The key an override sets: ``+a.b=1`` -> ``a.b``."""
    return override.split("=", 1)[0].lstrip("+~")


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


def _values(override) -> list:
    """The typed values of one override to check: its value, each of a discrete sweep's, or
    both ends of a search interval (``interval(a, b)``, for hydra/sweeper=search)."""
    if not override.is_sweep_override():
        return [override.value()]
    if override.is_interval_sweep():
        sweep = override.value()
        return [sweep.start, sweep.end]
    return list(override.sweep_iterator())


def _strings(override) -> list[str] | None:
    """The override text of each job of a discrete sweep (as Hydra's basic sweeper writes it);
    None for a search interval, which has no fixed jobs."""
    if not override.is_sweep_override():
        return [f"{override.get_key_element()}={override.get_value_element_as_str()}"]
    if override.is_interval_sweep():
        return None
    return [f"{override.get_key_element()}={v}" for v in override.sweep_string_iterator()]


def _structural(override) -> bool:
    """Overrides that change which config files compose (groups, hydra, deletions)."""
    key = override.key_or_group
    return key.split("/")[0] in SELECTABLE or key.startswith("hydra") or override.is_delete()


@dataclass
class Output:
    """Where the command writes: ``key`` (hydra.run.dir or hydra.sweep.dir) = ``folder``, as
    composed; ``explicit`` when the command line sets it. For a sweep, ``overrides`` are its
    overrides with the sweeper's params (``hydra.sweeper.params``, e.g. from a study) merged in,
    and ``jobs`` every job's overrides (None for a search, whose jobs are not known ahead)."""

    key: str
    folder: str
    explicit: bool
    multirun: bool
    overrides: list[str]
    writes: bool = True            # False for --cfg: Hydra prints the config and runs nothing
    jobs: list[list[str]] | None = None
    sweeper: dict | None = None    # the composed hydra.sweeper (a search's storage and trials)


def check_argv(argv: list[str]) -> Output | None:
    """Raise PinnError with one line for the first mistake on the command line; -> where the
    command will write (None for --help and the like).

    Every combination of a sweep is checked, however many, including the combinations a study
    declares in its ``hydra.sweeper.params`` (the command line wins for the same key, as in
    Hydra's sweepers): the config is composed once per combination of group choices, and each
    combination of values is applied to it and checked (validation and a build on the meta
    device, which allocates nothing).
    """
    args = parse_hydra_args(argv)
    if args.help or args.hydra_help or args.info or args.shell_completion:
        return None
    if args.config_dir and not Path(args.config_dir).is_dir():
        raise PinnError(f"--config-dir={args.config_dir!r} is not allowed: expected an existing folder")
    search = [f"hydra.searchpath=[file://{Path(args.config_dir).resolve()}]"] if args.config_dir else []
    overrides = list(args.overrides)
    parsed = _parse(overrides)
    _check_options(parsed, args.config_dir)       # before a study's file is composed
    study = next((o for o in parsed if o.key_or_group.lstrip("+") == "study"), None)
    if study is not None and not args.multirun:
        name = _texts(study)[0]
        raise PinnError(f"+study={name} is a sweep: run it with -m (pinn-train -m +study={name}); "
                        "without it only one default run would train")
    if args.multirun:
        overrides = with_sweeper_params(parsed, overrides, search)
        parsed = _parse(overrides)
        _check_options(parsed, args.config_dir)
    structural, values = [], []
    for o in parsed:
        key = o.key_or_group
        if key == "hydra/launcher" and any("slurm" in str(v) for v in _values(o)) and args.multirun:
            check_slurm()
        if _structural(o):
            structural.append([f"{o.get_key_element()}={t}" for t in _texts(o)])
        else:
            values.append([(o, v) for v in _values(o)])
    key = "hydra.sweep.dir" if args.multirun else "hydra.run.dir"
    output = None
    for combo in itertools.product(*structural):
        base = _compose(list(combo) + search + [f"{o.get_key_element()}={_texts(o)[0]}"
                                                 for o, _ in (vs[0] for vs in values)])
        _check_launcher(base)
        if output is None:
            output = Output(key, str(OmegaConf.select(base, key)), _fixed(base, key), args.multirun,
                            overrides, writes=not args.cfg, jobs=_jobs(parsed, base),
                            sweeper=OmegaConf.to_container(base.hydra.sweeper, resolve=True)
                            if args.multirun else None)
        with open_dict(base):
            del base["hydra"]
        for assignment in itertools.product(*values):
            _check_values(base, assignment)
    return output


def _check_options(parsed, config_dir) -> None:
    """Every option chosen for a config group (pde=..., +study=...) exists (one line listing them)."""
    for o in parsed:
        key = o.key_or_group
        if key.lstrip("+").split("/")[0] in SELECTABLE:
            allowed = options(key.lstrip("+"), config_dir)
            for v in _values(o):
                if v not in allowed:
                    raise PinnError(f"{key}={v} is not an option: choose one of {', '.join(allowed)}")


def in_job_order(argv: list[str], out: Output) -> list[str]:
    """``argv`` with its overrides replaced by the sweep's, in the order the jobs compose
    (:func:`with_sweeper_params`); the flags (-m, --config-dir, ...) kept."""
    given = set(parse_hydra_args(argv).overrides)
    return [a for a in argv if a not in given] + list(out.overrides)


def _fixed(base, key: str) -> bool:
    """Whether the output folder is one the user (or a study) chose, rather than a time-stamped
    default (``${now:...}``, which may take a suffix when taken)."""
    node = base.hydra.sweep if key == "hydra.sweep.dir" else base.hydra.run
    return "${now:" not in str(node._get_node("dir")._value())


def _parse(overrides: list[str]):
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        raise PinnError(f"cannot parse the command line: {str(e).splitlines()[0]}")


def with_sweeper_params(parsed, overrides: list[str], search: list[str]) -> list[str]:
    """The sweep's overrides in the order the jobs compose: the params a composed config declares
    in ``hydra.sweeper.params`` (a study's grid, a search's space), in their order, a
    command-line override of the same key taking that key's place, and the rest of the command
    line. Hydra's basic sweeper puts the params first, so the study file itself (``+study=NAME``,
    on the command line) composes after them: the study's own keys win over its experiment's,
    as they should, but also over its arms'. For a study with arms on the basic sweeper, the
    study goes right before its first arm instead (and ``hydra.sweeper.params=null`` is added,
    so that the sweeper takes the params from the command line, in this order). Precedence, for
    every key: command line, arm, study, experiment."""
    first = [f"{o.get_key_element()}={_texts(o)[0]}" for o in parsed if not o.is_delete()]
    composed = _compose(first + search)
    params = OmegaConf.select(composed, "hydra.sweeper.params") or {}
    given = {o.get_key_element(): text for o, text in zip(parsed, overrides)}
    merged = [given.pop(k, f"{k}={v}") for k, v in params.items()]
    rest = [text for o, text in zip(parsed, overrides) if o.get_key_element() in given]
    study = next((text for o, text in zip(parsed, overrides)
                  if o.key_or_group.lstrip("+") == "study" and o.get_key_element() in given), None)
    arm = next((i for i, k in enumerate(params) if str(k).lstrip("+").startswith("arm/")), None)
    basic = "BasicSweeper" in str(OmegaConf.select(composed, "hydra.sweeper._target_"))
    if study is None or arm is None or not basic:
        return merged + rest
    rest.remove(study)
    return merged[:arm] + [study] + merged[arm:] + rest + ["hydra.sweeper.params=null"]


def _jobs(parsed, base) -> list[list[str]] | None:
    """Every job's overrides, in the basic sweeper's order (None for another sweeper)."""
    if "BasicSweeper" not in str(OmegaConf.select(base, "hydra.sweeper._target_")):
        return None
    per_key: dict[str, list[str]] = {}
    for o in parsed:
        if o.key_or_group.startswith("hydra"):
            continue                                  # not a job's own (Hydra keeps them apart)
        strings = _strings(o)
        if strings is None:
            return None
        per_key[o.get_key_element()] = strings         # a later override of a key wins
    return [list(job) for job in itertools.product(*per_key.values())]


# Launcher values Hydra's own schema lets through but the launcher would fail on, mid-sweep.
LAUNCHER_RANGES = {"n_jobs": (-1, "an integer >= 1, or -1 (every core)"),
                   "timeout_min": (1, "an integer >= 1"), "cpus_per_task": (1, "an integer >= 1"),
                   "gpus_per_node": (0, "an integer >= 0"), "nodes": (1, "an integer >= 1"),
                   "tasks_per_node": (1, "an integer >= 1"), "array_parallelism": (1, "an integer >= 1"),
                   "mem_gb": (1, "an integer >= 1")}


def _check_launcher(base) -> None:
    launcher = OmegaConf.select(base, "hydra.launcher") or {}
    for key, (lo, allowed) in LAUNCHER_RANGES.items():
        v = launcher.get(key) if key in launcher else None
        if v is None:
            continue
        bad = not isinstance(v, int) or isinstance(v, bool) or v < lo or (key == "n_jobs" and v == 0)
        if bad:
            raise PinnError(f"hydra.launcher.{key}={v!r} is not allowed: expected {allowed}")


def _texts(override) -> list[str]:
    """The override text of each value ``_values`` gives, as Hydra itself writes it (its quotes
    kept: ``values:{T:"T (K)"}`` stays quoted); a search interval's two ends as numbers."""
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    if override.is_interval_sweep():
        return [_text(v) for v in _values(override)]
    return list(override.sweep_string_iterator())


def _text(value) -> str:
    """A typed number (a search interval's end) as override text."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _compose(overrides: list[str]):
    try:
        with initialize_config_module("pinn_cli.conf", version_base=None):
            return compose("train", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as e:
        raise PinnError(_composition_message(e, overrides))
    except yaml.YAMLError as e:                    # a user's YAML file with a syntax error
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}" if mark else "a YAML file"
        raise PinnError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None


def _check_values(base, assignment) -> None:
    cfg = base.copy()
    for o, v in assignment:
        key = o.key_or_group.lstrip("+")
        try:
            with open_dict(cfg):
                OmegaConf.update(cfg, key, v, merge=False, force_add=o.is_add() or o.is_force_add())
        except OmegaConfBaseException as e:
            raise PinnError(f"{key}={v!r} is not allowed: {str(e).strip().splitlines()[0]}")
    try:
        validate(cfg)
        build(cfg, torch.device("meta"), DTYPES[cfg.dtype])
    except OmegaConfBaseException as e:
        raise PinnError(str(e).strip().splitlines()[0])


def _composition_message(e: Exception, overrides: list[str]) -> str:
    """Hydra's many-line composition error as one line that names the override."""
    text = str(e).strip()
    m = re.search(r"Could not override '([^']+)'", text)
    if m and "not in struct" in f"{text} {e.__cause__}":
        given = next((o for o in overrides if o.split("=")[0].lstrip("+~") == m.group(1)), m.group(1))
        full = re.search(r"full_key: (\S+)", str(e.__cause__ or ""))
        if full and full.group(1) != m.group(1):       # a mapping given a key it does not have
            key = m.group(1)
            return (f"{given} is not allowed: {full.group(1)} is not a key of {key} (a mapping "
                    f"given on the command line merges into the YAML's; to replace it whole: "
                    f"'~{key}' '+{given.lstrip('+~')}')")
        return f"{given} is not allowed: {m.group(1)} is not a key of this config (check the " \
               "spelling; pinn-train --cfg job lists the keys)"
    cause = str(e.__cause__ or "").strip().splitlines()
    return " ".join(line.strip() for line in text.splitlines()[:2]) + (f" ({cause[0]})" if cause else "")
