"""A run folder: every name in it, and how an older run's config reads today.

    run.h5                  the run file (:mod:`pinn_cli.runfile`)
    run.h5.prev             a resume in place's earlier run file, until the new one holds its records
    run.h5.stopped          a sweep job's run file that stopped before its first checkpoint
    checkpoints/last.pt     the last checkpoint (:mod:`pinn_cli.training.checkpoint`)
    checkpoints/best.pt     the network with the lowest headline error (:mod:`pinn_cli.training.best`)
    .hydra/                 Hydra's record of the command: config.yaml, overrides.yaml, hydra.yaml
    error.txt               why a sweep's job stopped before or during training (one line)
    traceback.txt           the traceback of a probe or a training step that raised
    .pinn.lock              the claim a live command holds on the folder (:mod:`pinn_cli.cli.claim`)
    analysis/               what pinn-analyze writes for this run

Every module names these through :class:`RunFolder`; every migration of an older run's config
(groups it did not have, flat model keys) is :func:`migrate`, used by resume and ``pinn_cli.load``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

RUN_FILE = "run.h5"
CHECKPOINTS = {"last": "last.pt", "best": "best.pt"}
HYDRA = ".hydra"
ERROR_FILE = "error.txt"
LOCK = ".pinn.lock"
# What a command that stopped before training leaves in its folder (Hydra's files, the log).
LEFT_BEFORE_TRAINING = frozenset({HYDRA, LOCK, ERROR_FILE})


@dataclass(frozen=True)
class RunFolder:
    """The files of one run folder (nothing is created or read until asked)."""

    path: Path

    def __init__(self, path):
        object.__setattr__(self, "path", Path(path))

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def previous_run_file(self) -> Path:
        return self.path / (RUN_FILE + ".prev")

    @property
    def stopped_run_file(self) -> Path:
        return self.path / (RUN_FILE + ".stopped")

    def checkpoint(self, which: str = "last") -> Path:
        """``last`` or ``best``; KeyError for any other."""
        return self.path / "checkpoints" / CHECKPOINTS[which]

    @property
    def last(self) -> Path:
        return self.checkpoint("last")

    @property
    def best(self) -> Path:
        return self.checkpoint("best")

    def has_checkpoint(self) -> bool:
        return self.last.exists()

    @property
    def hydra(self) -> Path:
        return self.path / HYDRA

    def hydra_file(self, name: str) -> Path:
        """``config``, ``overrides`` or ``hydra``: Hydra's YAML of that name."""
        return self.hydra / f"{name}.yaml"

    def saved_overrides(self) -> list[str] | None:
        """The command-line overrides the run was started with (None: no readable record)."""
        try:
            return list(yaml.safe_load(self.hydra_file("overrides").read_text()) or [])
        except (OSError, yaml.YAMLError, TypeError):
            return None

    @property
    def error_file(self) -> Path:
        return self.path / ERROR_FILE

    @property
    def traceback_file(self) -> Path:
        return self.path / "traceback.txt"

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def analysis(self) -> Path:
        return self.path / "analysis"

    @staticmethod
    def of_checkpoint(path) -> "RunFolder":
        """The run folder a checkpoint file lies in."""
        return RunFolder(Path(path).parent.parent)

    @staticmethod
    def run_files_under(path) -> list[Path]:
        """The run file of ``path`` (a run file, or a run folder), else every run file below it."""
        path = Path(path)
        if path.is_file() or path.suffix == ".h5":
            return [path]
        if (path / RUN_FILE).exists():
            return [path / RUN_FILE]
        return sorted(path.rglob(RUN_FILE))

    @staticmethod
    def jobs_under(path) -> list["RunFolder"]:
        """Every folder below ``path`` that Hydra ran a job in (it holds ``.hydra/``)."""
        return [RunFolder(h.parent) for h in sorted(Path(path).rglob(HYDRA))]


# ---- older runs ------------------------------------------------------------------------------
# what a run from before a group existed ran with
LEGACY_GROUPS = {"objective": {"_target_": "pinn_cli.objective.PINN", "loss": "squared", "delta": 1.0},
                 "sampling": {"_target_": "pinn_cli.sampling.Fixed"},
                 "strategy": {"_target_": "pinn_cli.strategies.Strategy"}}
# a model config written before its options were nested: flat key -> (node, key)
FLAT_MODEL_KEYS = {"features": ("embedding", "features"), "sigma": ("embedding", "sigma"),
                   "periodic_axes": ("embedding", "periodic_axes"), "periods": ("embedding", "periods"),
                   "rwf": ("rwf", "enabled"), "rwf_mu": ("rwf", "mu"), "rwf_sigma": ("rwf", "sigma")}
NESTED_TARGETS = {"embedding": "pinn_cli.models.options.EmbeddingOptions",
                  "rwf": "pinn_cli.models.options.RWFOptions"}


def migrate_model(node: dict) -> dict:
    """A model node of an older run (flat ``features``, ``rwf``, ...) as a nested one; any other
    node unchanged."""
    if not any(node.get(k) is not None and not isinstance(node[k], dict)
               for k in ("features", "rwf", "sigma")):
        return node
    out = {k: v for k, v in node.items() if k not in FLAT_MODEL_KEYS}
    for flat, (nested, key) in FLAT_MODEL_KEYS.items():
        if flat in node:
            out.setdefault(nested, {"_target_": NESTED_TARGETS[nested]})[key] = node[flat]
    return out


def migrated(config_yaml: str) -> dict:
    """:func:`migrate` of a run's resolved config as its YAML text (a checkpoint's ``config``)."""
    from omegaconf import OmegaConf
    return migrate(OmegaConf.to_container(OmegaConf.create(config_yaml)))


def migrate(config: dict) -> dict:
    """An older run's resolved config (a plain dict) as today's: the groups it lacked at what it
    ran with, its model node nested."""
    out = {**{k: v for k, v in LEGACY_GROUPS.items() if config.get(k) is None}, **{
        k: v for k, v in config.items() if v is not None or k not in LEGACY_GROUPS}}
    if isinstance(out.get("model"), dict):
        out["model"] = migrate_model(out["model"])
    return out
