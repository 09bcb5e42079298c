"""``sampling=uniform``: a fresh draw of the same number of interior points every ``every`` steps
(the problem's own sampler: Latin hypercube in the box), as an unbiased, stochastic quadrature of
the residual loss instead of a fixed one."""
from __future__ import annotations

from pinn_cli.sampling.base import Sampler
from pinn_cli.schema import Count


class Uniform(Sampler):
    """Args:
        every: steps between two draws.
    """

    def __init__(self, every: Count = 100):
        super().__init__(every)

    def resample(self, step, points, draw, residual, rng):
        return draw(len(points))
