"""Validation of a composed config, in one place, before anything is built or trained.

The primary keys (``conf/train.yaml``) are checked against :data:`PRIMARY` (and a top-level key
that is none of them nor a group, ``+iteratons=5``, is refused); each group node against its
``_target_``'s constructor signature (:mod:`pinn_cli.schema`), every nested ``_target_`` node
included (the probes, a combined weighting's schemes). Every failure is a ConfigError: one line
naming the key, the value and what is allowed. Checks that need the problem or two groups at once
(an SNR batch count that must divide the PDE's points) are the objects' own ``check`` hooks, run
by :func:`pinn_cli.training.build.build`.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Literal

import torch
from omegaconf import DictConfig

from pinn_cli.errors import ConfigError
from pinn_cli.problem import CONTEXT
from pinn_cli.schema import GROUPS, Count, NonNegInt, Range, check_node, check_value

# what a sweeper may be told of a finished job (pinn_cli.cli.sweep.score)
SCORES = ("final_rel_l2", "best_rel_l2", "steps_to_target", "time_to_target")

DTYPES = {"float32": torch.float32, "float64": torch.float64}

PRIMARY = {
    "seed": NonNegInt,
    "dtype": Literal["float32", "float64"],
    "engine": Literal["auto", "streams", "autograd"],
    "compile": bool,
    "threads": Count | Literal["auto"] | None,
    "iterations": Count,
    "eval_every": Count,
    "log_every": Count,
    "checkpoint_every": Count,
    "divergence_factor": Annotated[float, Range(1, None, lo_open=True)],
    "resume": str | None,
    "reference_cache": str | None,
    "score": Literal[SCORES],
    "score_target": Annotated[float, Range(0, None, lo_open=True)],
}
OTHER = ("device", "chunk_size")            # checked below: values that need more than a type


def resolve_device(name) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, str) or not (name == "cpu" or name.split(":")[0] == "cuda"):
        raise ConfigError("device", name, "one of auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", name, "auto or cpu: this machine has no CUDA GPU")
    return torch.device(name)


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that is not allowed."""
    known = set(PRIMARY) | set(OTHER) | set(GROUPS)
    for key in cfg:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            raise ConfigError(str(key), cfg[key], "a key of pinn-train's config" + (
                f" (did you mean {close[0]}?)" if close else " (pinn-train --cfg job lists them)"))
    for key, annotation in PRIMARY.items():
        check_value(key, cfg.get(key), annotation)
    chunk = cfg.get("chunk_size")
    if chunk != "auto":
        check_value("chunk_size", chunk, NonNegInt)
    if cfg.compile and cfg.engine == "autograd":
        raise ConfigError("compile", True, "false with engine=autograd (compile applies to the streams)")
    if cfg.score.endswith("_to_target") and not cfg.diagnostics.get("metrics", True):
        raise ConfigError("score", cfg.score, "final_rel_l2 or best_rel_l2 with diagnostics."
                          "metrics=false (a target needs the recorded errors)")
    resolve_device(cfg.get("device"))
    for group in GROUPS:
        node = cfg.get(group)
        if not isinstance(node, DictConfig):
            raise ConfigError(group, node, f"a {group} option (pinn-train --help lists them)")
        check_node(group, node, CONTEXT)

