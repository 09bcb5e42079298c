"""From a validated config to the run's objects, each group built once.

``build`` instantiates the six groups (the model with the PDE's input and output counts), checks
that each object fulfils its contract (a plugin's class included), hands the PDE to the objective
(``parts.pde`` is the problem the run trains on: the PDE, or the regression of its reference) and
runs the checks that need two groups at once (each probe's ``check``, the engine against the
model). The command-line pre-check calls it on the ``meta`` device, where a model allocates
nothing (and no reference is computed).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig

from pinn_cli.diagnostics.recorder import Diagnostics
from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.models.base import Model
from pinn_cli.objective.spec import ObjectiveSpec
from pinn_cli.optimizers.base import OptimizerSpec
from pinn_cli.pdes.base import PDE
from pinn_cli.weighting.base import Weighting

CONTRACTS = {"pde": PDE, "model": Model, "optimizer": OptimizerSpec, "weighting": Weighting,
             "objective": ObjectiveSpec, "diagnostics": Diagnostics}


@dataclass
class Parts:
    pde: PDE
    model: Model
    optimizer: OptimizerSpec
    weighting: Weighting
    objective: ObjectiveSpec
    diagnostics: Diagnostics


def instantiate(node, **kwargs):
    """``hydra.utils.instantiate`` that lets a user's PinnError through unwrapped."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while cause is not None and not isinstance(cause, PinnError):
            cause = cause.__cause__
        if cause is None:
            raise PinnError(f"{node.get('_target_')}: {str(e).splitlines()[0]}") from e
        raise cause from None


def build(cfg: DictConfig, device: torch.device, dtype: torch.dtype) -> Parts:
    """-> the run's parts; ConfigError (one line) for what does not fit."""
    objs = {}
    try:
        objs["pde"] = instantiate(cfg.pde)
        with torch.device(device):
            objs["model"] = instantiate(cfg.model, in_dim=objs["pde"].dim,
                                        out_dim=len(objs["pde"].outputs)).to(dtype)
        for group in ("optimizer", "weighting", "objective", "diagnostics"):
            objs[group] = instantiate(cfg[group])
    except MemoryError:
        raise PinnError("the model does not fit in memory (model.width / model.depth too large)")
    for group, base in CONTRACTS.items():
        if not isinstance(objs[group], base):
            raise ConfigError(f"{group}._target_", cfg[group].get("_target_"),
                              f"a subclass of {base.__module__}.{base.__name__}")
    parts = Parts(**objs)
    parts.pde = parts.objective.problem(parts.pde, cfg.get("reference_cache"))
    if (cfg.engine == "streams" or cfg.compile) and not parts.model.supports_streams:
        key = "engine" if cfg.engine == "streams" else "compile"
        raise ConfigError(key, cfg[key], "a model with derivative streams (mlp with tanh or sin)")
    for probe in parts.diagnostics.probes:
        probe.check(parts.pde, parts.model)
    return parts
