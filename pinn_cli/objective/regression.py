"""``objective=regression``: the PDE's reference solution as a plain supervised regression.

The problem keeps the PDE's domain, axes, outputs, interior points (the same draws of the same
generator, so a PINN and a regression with one seed train on the same points) and reference, and
replaces the physics: the interior "residual" is the misfit of every observable the reference
holds (``pde.observables``: the solution components by default; speed, u and v for the cavity),

    e(x) = o_theta(x) - I[o_ref](x)          (N,) for one observable, (N, q) for q of them,

with I the multilinear interpolant of a reference on a grid (:mod:`pinn_cli.reference.interpolate`)
or the piecewise-linear interpolant on the Delaunay triangulation of a reference at scattered
nodes (:mod:`pinn_cli.reference.scattered`; the nearest node's value outside their hull): both
exact at the reference's points, where the rel-L2 is evaluated. The condition terms are dropped.
Points, domain, network, optimizer, weighting, SNR, residual maps, entropy and the evaluation are
unchanged.

The reference is computed (or read from the cache) the first time it is needed, never on the
``meta`` device of the command-line pre-check; a PDE without one is refused with a ConfigError
when the run is built, before training.
"""
from __future__ import annotations

import torch

from pinn_cli.errors import ConfigError
from pinn_cli.reference.interpolate import GridInterpolant
from pinn_cli.reference.scattered import ScatteredInterpolant
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.reference.cache import ReferenceCache


class RegressionProblem(PDE):
    """Args:
        pde: the problem whose reference is fitted.
        reference_cache: the reference cache folder (the run's ``reference_cache``; None: the default).
    """

    coefficients = ()            # no physics: nothing for a continuation to move

    def __init__(self, pde: PDE, reference_cache: str | None = None):
        self.pde = pde
        self.axes, self.outputs, self.bounds = pde.axes, pde.outputs, pde.bounds
        self.domain = pde.domain
        self.periodic = dict(pde.periodic)
        self.n_collocation = pde.n_collocation
        self.loss_weights = {"res": float(pde.loss_weights.get("res", 1.0))}
        self.cache = ReferenceCache(reference_cache)
        self._reference: Reference | None = None
        self._target: GridInterpolant | ScatteredInterpolant | None = None

    def __getattr__(self, name):
        """The wrapped PDE's own attributes (``t_end``, ``re``, ...)."""
        if name == "pde":
            raise AttributeError(name)
        return getattr(self.pde, name)

    def sample(self, rng):
        return {"res": self.pde.sample(rng)["res"]}                                 # (N, d)

    def point_counts(self):
        return {"res": self.pde.point_counts()["res"]}

    @property
    def time_axis(self):
        return self.pde.time_axis

    def residual(self, net, x):
        """o_theta(x) - I[o_ref](x) for every observable at x (N, d): (N,) or (N, q)."""
        target = self.target()
        pred = self.pde.observables(net, x)                                        # {o: (N,)}
        ref = target(x)                                                            # {o: (N,)}
        e = [pred[k] - ref[k] for k in target.values]
        return e[0] if len(e) == 1 else torch.stack(e, dim=1)

    def conditions(self, net, points):
        return {}

    def observables(self, net, x):
        return self.pde.observables(net, x)

    def evaluation_grid(self, shape):
        return self.pde.evaluation_grid(shape)

    def reference(self, cache=None) -> Reference:
        """The wrapped PDE's reference (computed once; ``cache`` or this problem's own)."""
        if self._reference is None:
            try:
                ref = self.pde.reference(cache or self.cache)
            except NotImplementedError:
                ref = None
            if not isinstance(ref, Reference):
                raise ConfigError("objective", "regression", f"a PDE with a reference solution "
                                  f"({type(self.pde).__name__} has none to fit)")
            self._reference = ref
        return self._reference

    def target(self) -> GridInterpolant | ScatteredInterpolant:
        """The interpolant of every observable the reference holds (grid or scattered)."""
        if self._target is None:
            ref = self.reference()
            values = ref.named(self.outputs[0])
            self._target = (GridInterpolant(ref.axes, values) if ref.is_grid
                            else ScatteredInterpolant(ref.nodes, values, "linear"))
        return self._target
