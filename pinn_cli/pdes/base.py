"""The contract every problem fulfils.

A PDE owns its domain, its points, its pointwise residuals and its reference solution. The
training side never looks inside: it asks for points once, for pointwise residuals every step
(through :class:`pinn_cli.training.loss_engine.LossEngine`, the one place the loss is formed), and
for the reference at evaluation time.

- ``axes``: input coordinate names, single letters, in the network's input order (``("t", "x")``).
- ``outputs``: solution component names, in the network's output order (``("u",)``, or
  ``("psi", "p")`` for a stream function and a pressure); the model gets ``len(outputs)`` outputs.
- ``bounds`` (d, 2): the domain box, or the bounding box of ``domain`` (residual maps cover it and
  homogeneity bins it).
- ``domain`` (optional): a :class:`pinn_cli.geometry.Domain` when the domain is not the box
  ``bounds`` (a square with holes, an L-shape, a space-time cylinder); its samplers give the
  points of ``sample``, its ``normal`` the outward normals of Neumann/Robin conditions, and the
  residual maps and field figures are masked to it. ``bounds`` defaults to its bounding box.
- ``time_axis``: the index of the time coordinate (default: the axis named ``t``, or None);
  ``periodic``: ``{axis name: period}`` of the coordinates the solution is periodic in (default
  none). Both reach the other plugins through :class:`pinn_cli.problem.Problem`.
- ``coefficients``: the names of the float attributes that the residual and the conditions read
  when called (not the domain or the points; the reference stays the problem's own value's),
  e.g. ``("re",)``: what ``strategy=continuation`` may set between steps (default none).
- ``point_counts()``: ``{term: N_k}``, the number of points of each key of ``sample`` (default:
  counted from one draw; the shipped PDEs state them without drawing).
- ``sample(rng)``: the fixed training points, ``{"res": (N, d), "ic": (N_ic, d), ...}``; ``"res"``
  holds the interior (collocation) points, the other keys one entry per condition term.
- ``residual(field, x)``: the interior residual at x (N, d), (N,) or (N, q) for q equations at
  the same points (the two momentum equations of a flow); zero for the exact solution.
- ``conditions(field, points)``: ``{term: (N_k,) or (N_k, q)}`` for the other keys of ``sample``.
- ``loss_weights``: ``{term: w_k}`` for ``res`` and every condition term; a term it leaves out
  weighs 1 (list every term in the PDE's YAML so that ``pinn-train --cfg job`` shows them). The
  loss is

      L = sum_k w_k (1 / N_k) sum_i sum_q rho((W[e_k])_iq)

  with ``W`` the weighting scheme (identity without one) and rho the objective's pointwise loss
  (e^2 by default; ``objective.loss``).
- ``reference(cache)``: a :class:`Reference` on a grid or at scattered nodes (read from a file:
  :func:`pinn_cli.reference.data.load_reference`); ``observables(field, x)`` computes from the
  network the quantities it holds (default: each solution component), the first one being the
  one whose relative L2 error is *the* error of the run. Called with grad enabled, the
  observables carry the graph (``objective=regression`` fits them to the reference).

The field hands out components and derivatives by name (:mod:`pinn_cli.fields.field`):
``field.derivatives(x, ("u_t", "u_xx"))``, ``field(x)``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy.stats import qmc

from pinn_cli.reference.base import Reference  # noqa: F401 - where plugins import it from


class PDE(ABC):
    """A problem: domain, points, residuals, reference.

    Attributes set by subclasses:
        axes: coordinate names in the network's input order, e.g. ``("t", "x")``.
        bounds: (d, 2) array of [low, high] per coordinate (default: ``domain``'s bounding box).
        domain: a :class:`pinn_cli.geometry.Domain`, or None for the box ``bounds``.
        n_collocation: number of interior (residual) points.
        loss_weights: weight of each named loss term, e.g. ``{"res": 1.0, "ic": 1.0}``.
    """

    axes: tuple[str, ...]
    outputs: tuple[str, ...] = ("u",)
    domain = None
    n_collocation: int
    loss_weights: dict[str, float]
    periodic: dict[str, float] = {}
    coefficients: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        return len(self.axes)

    @property
    def bounds(self) -> np.ndarray:
        """(d, 2) [low, high] per coordinate: as set, else the domain's bounding box."""
        if "_bounds" in self.__dict__:
            return self.__dict__["_bounds"]
        if self.domain is not None:
            return self.domain.bbox
        raise AttributeError(f"{type(self).__name__} sets neither bounds nor domain")

    @bounds.setter
    def bounds(self, value) -> None:
        self.__dict__["_bounds"] = np.asarray(value, dtype=float)

    @property
    def time_axis(self) -> int | None:
        """The index of the time coordinate: the axis named ``t``, if any."""
        return self.axes.index("t") if "t" in self.axes else None

    def point_counts(self) -> dict[str, int]:
        """{term: number of points}, the keys of :meth:`sample` ("res" first)."""
        return {k: len(v) for k, v in self.sample(np.random.default_rng(0)).items()}

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
        """The PDE residual r(x) at points x (N, d) -> (N,) or (N, q); zero for the exact solution.

        ``net`` is a :class:`pinn_cli.fields.field.Field`: ``net(x)`` gives the solution,
        ``net.derivatives(x, names)`` the components and their named derivatives.
        """

    @abstractmethod
    def conditions(self, net, points: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Initial/boundary residuals, one (N_k,) or (N_k, q) tensor per term (``ic``, ``bc``)."""

    @abstractmethod
    def reference(self, cache) -> Reference:
        """The reference solution; ``cache`` is a :class:`pinn_cli.reference.cache.ReferenceCache`."""

    def observables(self, net, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the reference holds, computed from the network at x (M, d); each (M,).
        Default: the solution components. Runs under ``torch.no_grad`` unless it needs
        derivatives (then it enables grad itself); called with grad enabled, the result keeps
        its graph (``objective=regression`` differentiates it)."""
        u = net(x)
        return {self.outputs[0]: u} if u.ndim == 1 else dict(zip(self.outputs, u.unbind(1)))

    def evaluation_grid(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """Regular axes over the domain for residual maps, one array per coordinate."""
        return [np.linspace(lo, hi, n) for (lo, hi), n in zip(self.bounds, shape)]

