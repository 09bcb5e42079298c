"""What a probe may read of a run: a frozen :class:`RunInfo` and a read-only :class:`RunView`.

Probes never see the trainer, the PDE, the model or the optimizer themselves: everything they may
read is a field or method below (and the step's :class:`pinn_cli.diagnostics.base.StepState`),
so that this page is the whole contract (``docs/extending.md`` lists it again).

RunInfo (fixed for the run; tensors on the run's device):

    problem          pinn_cli.problem.Problem: axes, outputs, terms {term: points}, bounds,
                     time_axis, periodic axes; domain (a pinn_cli.geometry.Domain, or None
                     for the box bounds) and inside(x) -> (M,) bool, what maps are masked to
    term_weights     {term: w_k}, the loss terms in the loss's order
    observables      the reference's observables, the headline error's first
    reference_points (M, d) where the reference holds values; reference_values {name: (M,)}
    reference_axes   one array per coordinate when the reference is a tensor-product grid, else None
    points           {term: (N_k, d)} the training points at the start of the run (they may move:
                     RunView.points() and StepState.points are the current ones)
    chunk            points per evaluation pass (what bounds a probe's memory)
    n_weights        the number of weight matrices (what every "per layer" field is over)
    device, dtype

RunView (the live run; every method detaches what it returns):

    info                       the RunInfo
    errors()                   {observable: ()} relative L2 errors against the reference
    points()                   {term: (N_k, d)} the current training points
    observables(x)             {observable: (M,)} computed from the network at x (M, d)
    residual(x)                the PDE residual at x: (M,) or (M, q)
    hidden(x)                  the model's hidden activations at x, [(M, w_l)] ([] allowed)
    weight_matrices()          the matrices the SNR is over, in layer order
    point_weights()            {term: (N_k,) or (N_k, q)} the weighting's per-point weights
    weighting_stats()          {name: ()} the weighting's scalar summaries
    optimizer                  pinn_cli.optimizers.view.OptimizerView (stage, Adam moments, L-BFGS)
    evaluation_grid(shape)     regular axes over the domain, one array per coordinate
    tensor(a)                  a numpy array as a tensor of the run's device and dtype
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from pinn_cli.optimizers.view import OptimizerView
from pinn_cli.problem import Problem


@dataclass(frozen=True)
class RunInfo:
    problem: Problem
    term_weights: dict[str, float]
    observables: tuple[str, ...]
    reference_points: torch.Tensor
    reference_values: dict[str, torch.Tensor]
    reference_axes: list[np.ndarray] | None
    points: dict[str, torch.Tensor]
    chunk: int
    n_weights: int
    device: torch.device
    dtype: torch.dtype


@dataclass(frozen=True)
class RunView:
    """Built by the trainer from its parts (bound methods); read-only for probes."""

    info: RunInfo
    optimizer: OptimizerView
    _errors: Callable[[], dict]
    _points: Callable[[], dict]
    _observables: Callable[[torch.Tensor], dict]
    _residual: Callable[[torch.Tensor], torch.Tensor]
    _hidden: Callable[[torch.Tensor], list]
    _weight_matrices: Callable[[], list]
    _point_weights: Callable[[], dict]
    _weighting_stats: Callable[[], dict]
    _evaluation_grid: Callable[[tuple], list]

    @torch.no_grad()
    def errors(self) -> dict[str, torch.Tensor]:
        return self._errors()

    def points(self) -> dict[str, torch.Tensor]:
        return dict(self._points())

    def observables(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {k: v.detach() for k, v in self._observables(x).items()}

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            return self._residual(x).detach()

    @torch.no_grad()
    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [h.detach() for h in self._hidden(x)]

    def weight_matrices(self) -> list[torch.Tensor]:
        return [w.detach() for w in self._weight_matrices()]

    def point_weights(self) -> dict[str, torch.Tensor]:
        return {k: w.detach() for k, w in self._point_weights().items()}

    def weighting_stats(self) -> dict[str, torch.Tensor]:
        return {k: v.detach() for k, v in self._weighting_stats().items()}

    def evaluation_grid(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        return self._evaluation_grid(shape)

    def tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.info.dtype,
                               device=self.info.device)
