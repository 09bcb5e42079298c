"""Residual homogeneity, and the residual magnitude that homogeneity and residual maps use.

Homogeneity: bin the domain into ``bins`` cells per axis, take the mean of a nonnegative pointwise
quantity a_i (|r_i|, or the RBA weight lambda_i) in each non-empty cell, m_c, and

    phi_r = mean_c(m_c) / sqrt(mean_c(m_c^2))    in (0, 1],

1 for a uniform residual, falling toward 0 as it concentrates in few cells.
"""
from __future__ import annotations

import numpy as np
import torch


def homogeneity(points: torch.Tensor, values: torch.Tensor, bounds: np.ndarray,
                bins: int = 10) -> torch.Tensor:
    """phi_r of ``values`` (N,) >= 0 at ``points`` (N, d) over the box ``bounds`` (d, 2); () tensor."""
    lo = torch.as_tensor(bounds[:, 0], dtype=points.dtype, device=points.device)
    hi = torch.as_tensor(bounds[:, 1], dtype=points.dtype, device=points.device)
    cell = ((points - lo) / (hi - lo) * bins).long().clamp_(0, bins - 1)          # (N, d)
    flat = (cell * bins ** torch.arange(points.shape[1], device=points.device)).sum(1)  # (N,)
    n_cells = bins ** points.shape[1]
    sums = torch.zeros(n_cells, dtype=values.dtype, device=values.device).index_add_(0, flat, values)
    counts = torch.bincount(flat, minlength=n_cells)
    means = sums[counts > 0] / counts[counts > 0]                                  # (C,)
    return means.mean() / means.square().mean().sqrt()


def magnitude(r: torch.Tensor) -> torch.Tensor:
    """|r| per point: (N,) -> (N,); (N, q) -> (N,) the Euclidean norm over the q equations."""
    r = r.detach()
    return r.abs() if r.ndim == 1 else torch.linalg.vector_norm(r, dim=1)
