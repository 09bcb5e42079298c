"""A spatial domain times a time interval, for time-dependent problems: coordinates (t, x...).

Omega_T = [t0, t1] x Omega with time first (the network's input order of the shipped problems,
axes ``("t", "x", ...)``):

    s(t, x) = max(s_Omega(x), t0 - t, t - t1),

interior points (t, x) with t uniform in [t0, t1) and x uniform in Omega (independent: uniform in
the product); :meth:`initial` points (t0, x); boundary points (t, x) with x on dOmega (the lateral
boundary, by part), their normals (0, n(x)) (time has no normal component there).
"""
from __future__ import annotations

import numpy as np

from pinn_cli.geometry.base import Domain, Piece


class SpaceTime(Domain):
    """Args:
        space: the spatial domain.
        t: (t0, t1) the time interval, t0 < t1.
    """

    def __init__(self, space: Domain, t=(0.0, 1.0)):
        self.space = space
        self.t0, self.t1 = (float(v) for v in t)
        if not self.t1 > self.t0:
            raise ValueError(f"a time interval needs t0 < t1, got {list(t)}")
        self.dim = space.dim + 1

    @property
    def bbox(self):
        return np.concatenate([[[self.t0, self.t1]], self.space.bbox])

    def sdf(self, x):
        t = x[:, 0]
        return np.maximum(self.space.sdf(x[:, 1:]), np.maximum(self.t0 - t, t - self.t1))

    def _normal(self, x):
        return np.concatenate([np.zeros((len(x), 1)), self.space._normal(x[:, 1:])], axis=1)

    def pieces(self) -> list[Piece]:
        def lift(p: Piece) -> Piece:
            def draw(m, rng):
                x, n = p.draw(m, rng)
                t = self.t0 + (self.t1 - self.t0) * rng.random(m)
                return np.column_stack([t, x]), np.column_stack([np.zeros(m), n])
            keep = tuple(((lambda k: (lambda x, n: k(x[:, 1:], n[:, 1:])))(k), flipped)
                         for k, flipped in p.keep)
            return Piece(p.part, p.size * (self.t1 - self.t0), draw, keep, p.flip)
        return [lift(p) for p in self.space.pieces()]

    def _interior(self, n, rng):
        x = self.space.interior(n, rng)                                             # (n, d)
        t = self.t0 + (self.t1 - self.t0) * rng.random(n)                           # (n,)
        return np.column_stack([t, x])

    def initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n points (t0, x), x uniform in the spatial domain: (n, d + 1)."""
        x = self.space.interior(n, rng)                       # n checked there
        return np.column_stack([np.full(n, self.t0), x])
