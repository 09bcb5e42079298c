"""The contract every problem fulfils.

A PDE owns its domain, its collocation and condition points, its pointwise residuals and its
reference solution. The trainer never looks inside: it asks for points once, for pointwise
residuals every step, and for the reference at evaluation time.

Pointwise residuals come back as a dict of named 1-D tensors, ``{"res": r, "ic": e, ...}``. The
loss is ``sum_k loss_weights[k] * mean(e_k ** 2)``, after the weighting scheme has had its say on
``"res"``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import qmc


def grid_points(axes: list[np.ndarray]) -> np.ndarray:
    """The tensor-product grid of ``axes`` as (prod(len), d) points, ``indexing="ij"``."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


@dataclass
class Reference:
    """A reference solution on a tensor-product grid.

    Attributes:
        axes: one 1-D array per input coordinate, in the network's input order.
        values: u on the grid, shape ``tuple(len(a) for a in axes)`` (``indexing="ij"``).
    """

    axes: list[np.ndarray]
    values: np.ndarray

    def points(self) -> np.ndarray:
        """The grid as network inputs, shape (M, d), M = prod(len(a) for a in axes)."""
        return grid_points(self.axes)


class PDE(ABC):
    """A problem: domain, points, residuals, reference.

    Attributes set by subclasses:
        axes: coordinate names in the network's input order, e.g. ``("t", "x")``.
        bounds: (d, 2) array of [low, high] per coordinate.
        n_collocation: number of interior (residual) points.
        loss_weights: weight of each named loss term, e.g. ``{"res": 1.0, "ic": 1.0}``.
    """

    axes: tuple[str, ...]
    bounds: np.ndarray
    n_collocation: int
    loss_weights: dict[str, float]

    @property
    def dim(self) -> int:
        return len(self.axes)

    def latin_hypercube(self, n: int, rng: np.random.Generator, bounds=None) -> np.ndarray:
        """n points by Latin hypercube sampling in ``bounds`` (default: the whole domain), (n, d)."""
        b = self.bounds if bounds is None else np.asarray(bounds, dtype=float)
        unit = qmc.LatinHypercube(d=len(b), seed=rng).random(n)  # (n, d) in [0, 1)
        return qmc.scale(unit, b[:, 0], b[:, 1])

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Fixed training points, ``{"res": (N, d), "ic": (N_ic, d), ...}``, from one generator."""

    @abstractmethod
    def residual(self, net, x: torch.Tensor) -> torch.Tensor:
        """The PDE residual r(x) at points x (N, d) -> (N,); zero for the exact solution.

        ``net`` is a :class:`pinn_cli.models.fields.Field`: ``net(x)`` gives u (N,),
        ``net.derivatives(x, names)`` gives u and its named derivatives.
        """

    @abstractmethod
    def conditions(self, net, points: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Initial/boundary residuals, one (N_k,) tensor per term (``ic``, ``bc``)."""

    def residuals(self, net, points: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every loss term's pointwise residual: ``{"res": r (N,), **conditions}``."""
        return {"res": self.residual(net, points["res"]), **self.conditions(net, points)}

    @abstractmethod
    def reference(self, cache) -> Reference:
        """The reference solution; ``cache`` is a :class:`pinn_cli.reference.cache.ReferenceCache`."""

    def evaluation_grid(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """Regular axes over the domain for residual maps, one array per coordinate."""
        return [np.linspace(lo, hi, n) for (lo, hi), n in zip(self.bounds, shape)]


def check_positive_int(key: str, value) -> int:
    """Return ``value`` as an int >= 1, or raise ConfigError naming ``key``."""
    from pinn_cli.errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(key, value, "an integer >= 1")
    return int(value)
