"""Combinations of domains: union, difference, intersection (``A | B``, ``A - B``, ``A & B``).

Signed distances (exact in sign, zero exactly on the boundary):

    union         s = min(s_A, s_B)     boundary: dA outside B, and dB outside A
    intersection  s = max(s_A, s_B)     boundary: dA inside B, and dB inside A
    difference    s = max(s_A, -s_B)    boundary: dA outside B, and dB inside A (normal reversed)

The normal at a boundary point is that of the operand whose s is active there (reversed for the
subtracted one). Boundary pieces are the operands' pieces with the side condition above added;
interior points are drawn from the first operand (difference, intersection) or from the bounding
box (union) and those outside the combination rejected: uniform over it.
"""
from __future__ import annotations

import numpy as np

from pinn_cli.geometry.base import Domain, Piece


class _Pair(Domain):
    def __init__(self, a: Domain, b: Domain):
        if not (isinstance(a, Domain) and isinstance(b, Domain)):
            raise TypeError("domains combine only with domains")
        if a.dim != b.dim:
            raise ValueError(f"a {a.dim}-D and a {b.dim}-D domain cannot be combined")
        self.a, self.b, self.dim = a, b, a.dim


class Union(_Pair):
    @property
    def bbox(self):
        p, q = self.a.bbox, self.b.bbox
        return np.stack([np.minimum(p[:, 0], q[:, 0]), np.maximum(p[:, 1], q[:, 1])], axis=1)

    def sdf(self, x):
        return np.minimum(self.a.sdf(x), self.b.sdf(x))

    def _normal(self, x):
        first = (self.a.sdf(x) <= self.b.sdf(x))[:, None]
        return np.where(first, self.a._normal(x), self.b._normal(x))

    def pieces(self) -> list[Piece]:
        return ([p.kept(lambda x: self.b.sdf(x) > 0) for p in self.a.pieces()]
                + [p.kept(lambda x: self.a.sdf(x) > 0) for p in self.b.pieces()])


class Intersection(_Pair):
    @property
    def bbox(self):
        p, q = self.a.bbox, self.b.bbox
        box = np.stack([np.maximum(p[:, 0], q[:, 0]), np.minimum(p[:, 1], q[:, 1])], axis=1)
        if np.any(box[:, 1] <= box[:, 0]):
            raise ValueError("the intersection of these domains is empty")
        return box

    def sdf(self, x):
        return np.maximum(self.a.sdf(x), self.b.sdf(x))

    def _normal(self, x):
        first = (self.a.sdf(x) >= self.b.sdf(x))[:, None]
        return np.where(first, self.a._normal(x), self.b._normal(x))

    def pieces(self) -> list[Piece]:
        return ([p.kept(lambda x: self.b.sdf(x) < 0) for p in self.a.pieces()]
                + [p.kept(lambda x: self.a.sdf(x) < 0) for p in self.b.pieces()])

    def _draw(self, m, rng):
        return self.a.interior(m, rng)


class Difference(_Pair):
    @property
    def bbox(self):
        return self.a.bbox

    def sdf(self, x):
        return np.maximum(self.a.sdf(x), -self.b.sdf(x))

    def _normal(self, x):
        first = (self.a.sdf(x) >= -self.b.sdf(x))[:, None]
        return np.where(first, self.a._normal(x), -self.b._normal(x))

    def pieces(self) -> list[Piece]:
        return ([p.kept(lambda x: self.b.sdf(x) > 0) for p in self.a.pieces()]
                + [p.kept(lambda x: self.a.sdf(x) < 0, flip=True) for p in self.b.pieces()])

    def _draw(self, m, rng):
        return self.a.interior(m, rng)
