"""Checks of the primary config values, before anything is built or trained.

Group options (pde, model, ...) check their own values in their constructors; this module checks
the keys of ``train.yaml`` and that the group objects can be built. Every failure is a
ConfigError: one line naming the key, the value and what is allowed.
"""
from __future__ import annotations

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig

from pinn_cli.errors import ConfigError, PinnError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def instantiate(node, **kwargs):
    """``hydra.utils.instantiate`` that lets a user's ConfigError through unwrapped."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while cause is not None and not isinstance(cause, PinnError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None


def _int(cfg, key: str, low: int) -> None:
    v = cfg.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(key, v, f"an integer >= {low}")


def resolve_device(name) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, str) or not (name == "cpu" or name.split(":")[0] == "cuda"):
        raise ConfigError("device", name, "one of auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", name, "auto or cpu: this machine has no CUDA GPU")
    return torch.device(name)


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that is not allowed."""
    _int(cfg, "iterations", 1)
    _int(cfg, "seed", 0)
    if cfg.get("chunk_size") != "auto":
        _int(cfg, "chunk_size", 0)
    if cfg.get("threads") is not None:
        _int(cfg, "threads", 1)
    for key in ("eval_every", "log_every", "checkpoint_every"):
        _int(cfg, key, 1)
    factor = cfg.get("divergence_factor")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 1:
        raise ConfigError("divergence_factor", factor, "a number > 1")
    if cfg.get("dtype") not in DTYPES:
        raise ConfigError("dtype", cfg.get("dtype"), "one of " + ", ".join(DTYPES))
    if cfg.get("engine") not in ("auto", "streams", "autograd"):
        raise ConfigError("engine", cfg.get("engine"), "one of auto, streams, autograd")
    if not isinstance(cfg.get("compile"), bool):
        raise ConfigError("compile", cfg.get("compile"), "true or false")
    if cfg.compile and cfg.engine == "autograd":
        raise ConfigError("compile", True, "false with engine=autograd (compile applies to the streams)")
    resolve_device(cfg.get("device"))
    pde = instantiate(cfg.pde)
    model = instantiate(cfg.model, in_dim=pde.dim)
    if (cfg.engine == "streams" or cfg.compile) and not model.supports_streams:
        key = "engine" if cfg.engine == "streams" else "compile"
        raise ConfigError(key, cfg[key], "a model with tanh or sin activation (the streams)")
    instantiate(cfg.optimizer)
    instantiate(cfg.weighting)
    instantiate(cfg.diagnostics)
