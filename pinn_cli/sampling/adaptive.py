"""Residual-based adaptive sampling (Wu, Zhu, Tan, Kartha & Lu, "A comprehensive study of
non-adaptive and residual-based adaptive sampling for physics-informed neural networks", CMAME
2023): a candidate pool S of ``pool`` fresh points, their residual magnitudes |r|, and the density

    p(x) ~ |r(x)|^k / mean_S(|r|^k) + c,

from which points are drawn from S without replacement:

- RAD (``sampling=rad``): every ``every`` steps, all N interior points are drawn anew from p
  (the paper's recommended default: k = 1, c = 1);
- RAR-D (``sampling=rar_d``): every ``every`` steps, ``add`` points drawn from p join the current
  ones, which stay (default k = 2, c = 0); the count grows, so ``add`` must be a multiple of the
  SNR's batch count (checked before training).

The pool is ``pool_factor`` times the current points (at least ``add``), evaluated in chunks.
"""
from __future__ import annotations

from typing import Annotated

import torch

from pinn_cli.sampling.base import Sampler
from pinn_cli.schema import Count, NonNeg, Range

PoolFactor = Annotated[float, Range(1, None)]   # candidates per point drawn: the pool holds them all


def density(r: torch.Tensor, k: float, c: float) -> torch.Tensor:
    """p (M,) over a pool from its residual magnitudes r (M,): |r|^k / mean(|r|^k) + c, to sum 1."""
    a = r.double().pow(k)                                                           # (M,)
    mean = a.mean()
    p = (a / mean if mean > 0 else torch.zeros_like(a)) + c
    if not torch.isfinite(p).all() or p.sum() <= 0:
        p = torch.ones_like(a)                     # a flat or broken residual: uniform
    return p / p.sum()


def draw_from(pool: torch.Tensor, p: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """n distinct points of ``pool`` (M, d) drawn with probabilities p (M,)."""
    idx = torch.multinomial(p.cpu(), n, replacement=False, generator=generator)    # (n,)
    return pool[idx.to(pool.device)]


class _Adaptive(Sampler):
    def __init__(self, every: Count, k: NonNeg, c: NonNeg, pool_factor: PoolFactor):
        super().__init__(every)
        self.k, self.c, self.pool_factor = float(k), float(c), float(pool_factor)

    def _density_pool(self, n_pool: int, draw, residual):
        pool = draw(n_pool)                                                         # (M, d)
        return pool, density(residual(pool), self.k, self.c)


class RAD(_Adaptive):
    """Args:
        every: steps between two resamples.
        k, c: the density's exponent and floor (Wu et al.: 1, 1).
        pool_factor: candidates per point (the pool is this times N).
    """

    def __init__(self, every: Count = 1000, k: NonNeg = 1.0, c: NonNeg = 1.0,
                 pool_factor: PoolFactor = 4.0):
        super().__init__(every, k, c, pool_factor)

    def resample(self, step, points, draw, residual, rng):
        n = len(points)
        pool, p = self._density_pool(max(n, int(self.pool_factor * n)), draw, residual)
        return draw_from(pool, p, n, rng)


class RARD(_Adaptive):
    """Args:
        every: steps between two additions.
        add: points added each time (a multiple of the SNR's batch count).
        k, c: the density's exponent and floor (Wu et al.: 2, 0).
        pool_factor: candidates per added point.
    """

    grows = True

    def __init__(self, every: Count = 1000, add: Count = 256, k: NonNeg = 2.0, c: NonNeg = 0.0,
                 pool_factor: PoolFactor = 10.0):
        super().__init__(every, k, c, pool_factor)
        self.add = int(add)

    def resample(self, step, points, draw, residual, rng):
        pool, p = self._density_pool(max(self.add, int(self.pool_factor * self.add)), draw, residual)
        return torch.cat([points, draw_from(pool, p, self.add, rng)])
