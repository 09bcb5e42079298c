"""Whether a run's points fit in this machine's memory, decided before anything is allocated.

The training points live twice (the sampler's float64 draw and the run's tensor), and every
per-point quantity a step keeps beside them (the residual, a weighting's per-point state, the
residual probe's homogeneity input) is a few more numbers per point:

    bytes ~ N_total (8 d + (d + 4) s),      s = 4 (float32) or 8 (float64)

A run whose estimate exceeds the memory available now is refused in one line, before sampling
(a billion points used to fail only after a minute of allocation); likewise a model whose
parameters, gradients and optimizer moments would not fit (:func:`check_model_memory`).
"""
from __future__ import annotations

import os

import torch

from pinn_cli.errors import ConfigError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def points_bytes(problem, dtype: torch.dtype) -> int:
    """The estimate of the module docstring for ``problem``'s points."""
    n, d = sum(problem.terms.values()), problem.in_dim
    s = torch.empty((), dtype=dtype).element_size()
    return n * (8 * d + (d + 4) * s)


def check_memory(problem, dtype: torch.dtype) -> None:
    need, have = points_bytes(problem, dtype), available_memory()
    if have is not None and need > have:
        n = problem.terms.get("res", 0)
        raise ConfigError("pde.n_collocation", n, f"fewer points: {sum(problem.terms.values()):,} "
                          f"points need ~{need / 2**30:.1f} GiB, {have / 2**30:.1f} GiB are available")


def check_model_memory(model, dtype: torch.dtype) -> None:
    """The parameters, their gradients and two optimizer moments must fit: 4 numbers per
    parameter (counted on the ``meta`` device too, where nothing is allocated)."""
    n = sum(p.numel() for p in model.parameters())
    need, have = 4 * n * torch.empty((), dtype=dtype).element_size(), available_memory()
    if have is not None and need > have:
        raise ConfigError("model", f"{n:,} parameters", f"a model that fits in memory (~{need / 2**30:.0f} "
                          f"GiB needed, {have / 2**30:.1f} GiB available: model.width / model.depth smaller)")
