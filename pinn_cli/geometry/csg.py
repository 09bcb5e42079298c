"""Combinations of domains: union, difference, intersection (``A | B``, ``A - B``, ``A & B``).

Signed distances (exact in sign, zero exactly on the boundary):

    union         s = min(s_A, s_B)
    intersection  s = max(s_A, s_B)
    difference    s = max(s_A, -s_B)     (B's boundary a hole's: its normal reversed)

Boundary pieces are the faces of every shape the combination is made of, at any depth (not the
nested combinations' own pieces: a face hidden inside ``A | B`` is boundary again in
``(A | B) - B``), each point kept when it lies on the combination's boundary, tested across it:
with n the point's outward normal there and h a small step,

    s(x - h n) < 0 < s(x + h n)          (the combination on the inner side only)

This is right where faces coincide, which a sign test of the other operand's distance is not
(e.g. ``Box([[0,1],[0,1]]) & Box([[0,2],[0,1]])`` sharing three edges, or a shape with
itself): a face shared with the same normal is on the boundary, one shared with opposite normals
(two shapes side by side) is inside. A point that an earlier shape also has on a face of its own
with the same normal is kept from that shape only, so a shared face is counted once. The normal at a boundary point
is that of the piece it came from. Interior points are drawn from the first operand (difference,
intersection) or from the bounding box (union) and those outside the combination rejected:
uniform over it.

Membership is that of the *regular* set, the closure of the interior: a point with s = 0 is in it
only if the combination's interior comes within a small step h of it (in some direction: at a
corner the normal's may run along a face), and on its boundary only if its exterior does too. A face of the first operand left
dangling by a difference (``Box([[0,4],[0,1]]) - Box([[0,1],[0,0.5]])``: the removed box's
edges on x = 0 and y = 0) has s = 0 but no interior on either side: it is outside; a face between
two shapes side by side has interior on both: it is inside, and not on the boundary. The signed distance there stays the bound above (0), so ``contains`` and
``on_boundary``, not the sign of ``sdf``, are the membership tests.
"""
from __future__ import annotations

import numpy as np

from pinn_cli.geometry.base import Domain, Piece, _host


class _Pair(Domain):
    def __init__(self, a: Domain, b: Domain):
        if not (isinstance(a, Domain) and isinstance(b, Domain)):
            raise TypeError("domains combine only with domains")
        if a.dim != b.dim:
            raise ValueError(f"a {a.dim}-D and a {b.dim}-D domain cannot be combined")
        self.a, self.b, self.dim = a, b, a.dim

    def _across(self, x, n) -> np.ndarray:
        """Whether each point x (m, d) with normal n (m, d) lies on this combination's boundary:
        inside just within, outside just beyond (module docstring)."""
        h = self._step()
        return (self.sdf(x - h * n) < 0) & (self.sdf(x + h * n) > 0)

    def _step(self, tol: float = 0.0) -> float:
        """The step h across the boundary: small against the domain, large against ``tol``."""
        box = np.concatenate([self.a.bbox, self.b.bbox], axis=1)
        return max(1e-7 * max(1.0, float(np.ptp(box))), 10.0 * tol)

    def _sides(self, x, tol: float) -> tuple[np.ndarray, np.ndarray]:
        """Of points x (m, d) with |s| <= tol: whether the combination's interior comes within h
        of them (s < -h / 4 a step h away, along the normal or one of the 3^d - 1 directions of
        {-1, 0, 1}^d) and whether its exterior does (s > h / 4). A smooth face is met at most
        ~35 degrees from one of those directions, so both hold across it."""
        h, n = self._step(tol), self._normal(x)                                  # n (m, d)
        grid = np.stack(np.meshgrid(*[[-1.0, 0.0, 1.0]] * self.dim, indexing="ij"), -1)
        grid = grid.reshape(-1, self.dim)[np.any(grid.reshape(-1, self.dim) != 0, axis=1)]
        ways = [n, -n] + [np.broadcast_to(g / np.linalg.norm(g), x.shape) for g in grid]
        s = np.stack([self.sdf(x + h * w) for w in ways])                         # (k, m)
        return s.min(axis=0) < -h / 4, s.max(axis=0) > h / 4

    def contains(self, x, tol: float | None = None) -> np.ndarray:
        x, tol = _host(x, self.dim), 1e-9 * self.scale if tol is None else tol
        s = self.sdf(x)                                                           # (N,)
        inside, edge = s < -tol, np.abs(s) <= tol
        inside[edge] = self._sides(x[edge], tol)[0]
        return inside

    def on_boundary(self, x, tol: float | None = None) -> np.ndarray:
        x, tol = _host(x, self.dim), 1e-9 * self.scale if tol is None else tol
        edge = np.abs(self.sdf(x)) <= tol
        within, beyond = self._sides(x[edge], tol)
        edge[edge] = within & beyond
        return edge

    flips_b = False                     # a difference reverses its second operand's normals

    def _leaves(self) -> list[tuple[Domain, bool]]:
        """The shapes this combination is made of, at any depth, each with whether its normals
        are reversed here (a hole's, or a hole's hole's twice)."""
        out = []
        for side, flip in ((self.a, False), (self.b, self.flips_b)):
            inner = side._leaves() if isinstance(side, _Pair) else [(side, False)]
            out += [(leaf, f ^ flip) for leaf, f in inner]
        return out

    def pieces(self) -> list[Piece]:
        """Every face of every shape it is made of (not the nested combinations' pieces: a face
        hidden inside a union, ``A | B``, is this combination's boundary again once a later
        operation cuts B away), each point kept when it lies on this boundary and no earlier
        shape has a face there with the same normal (a shared face counted once)."""
        leaves = self._leaves()
        out = []
        for j, (leaf, flip) in enumerate(leaves):
            def keep(x, n, earlier=leaves[:j]):
                return self._across(x, n) & _first_face(x, n, earlier)
            out += [p.kept(keep, flip=flip) for p in leaf.pieces()]
        return out


def _first_face(x, n, earlier: list[tuple[Domain, bool]]) -> np.ndarray:
    """Points x (m, d) with normals n (m, d) that no shape of ``earlier`` has on a face of its
    own with the same normal (as oriented in the combination)."""
    keep = np.ones(len(x), dtype=bool)
    for leaf, flip in earlier:
        tol = 1e-9 * max(1.0, float(np.ptp(leaf.bbox)))
        on = np.flatnonzero(keep & (np.abs(leaf.sdf(x)) <= tol))
        if len(on):
            normal = -leaf._normal(x[on]) if flip else leaf._normal(x[on])
            keep[on[np.einsum("ij,ij->i", normal, n[on]) > 0.5]] = False
    return keep


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

    def _draw(self, m, rng):
        return self.a.interior(m, rng)


class Difference(_Pair):
    flips_b = True

    @property
    def bbox(self):
        return self.a.bbox

    def sdf(self, x):
        return np.maximum(self.a.sdf(x), -self.b.sdf(x))

    def _normal(self, x):
        first = (self.a.sdf(x) >= -self.b.sdf(x))[:, None]
        return np.where(first, self.a._normal(x), -self.b._normal(x))

    def _draw(self, m, rng):
        return self.a.interior(m, rng)


# A | B, A - B, A & B (Domain's operators build what is registered here)
Domain._combinations.update(union=Union, difference=Difference, intersection=Intersection)
