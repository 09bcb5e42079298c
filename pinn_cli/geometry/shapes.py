"""The primitive shapes: a box and a ball in any dimension.

Box [l_1, h_1] x ... x [l_d, h_d], with q_j = max(l_j - x_j, x_j - h_j):

    s(x) = || max(q, 0) ||_2 + min(max_j q_j, 0),

its faces {x_j = l_j} (normal -e_j) and {x_j = h_j} (normal +e_j), of size prod_{i != j} (h_i - l_i)
(a point of size 1 in 1-D). Interior points: a Latin hypercube (``scipy.stats.qmc``), exactly the
points :meth:`pinn_cli.pdes.base.PDE.latin_hypercube` draws from the same generator.

Ball |x - c| <= r in R^d: s(x) = |x - c| - r, normal (x - c) / |x - c|. Interior points
c + r U^(1/d) g / |g| and boundary points c + r g / |g| with g standard normal and U uniform
(exactly uniform in volume and on the sphere); the sphere's size 2 pi^(d/2) r^(d-1) / Gamma(d/2).
"""
from __future__ import annotations

import math

import numpy as np

from pinn_cli.geometry.base import Domain, Piece, box_bounds, latin_box


class Box(Domain):
    """Args:
        bounds: (d, 2) of [low, high] per coordinate.
        name: the boundary's part name (every face).
        faces: one part name per face instead, 2 d of them in the order
            [axis 0 low, axis 0 high, axis 1 low, axis 1 high, ...]
            (a channel along x: ``["inlet", "outlet", "wall", "wall"]``).
    """

    def __init__(self, bounds, name: str = "boundary", faces: list[str] | None = None):
        self.bounds = box_bounds(bounds)
        self.dim = len(self.bounds)
        self.faces = list(faces) if faces is not None else [name] * (2 * self.dim)
        if len(self.faces) != 2 * self.dim:
            raise ValueError(f"a {self.dim}-D box has {2 * self.dim} faces, {len(self.faces)} names given")

    @property
    def bbox(self) -> np.ndarray:
        return self.bounds.copy()

    def sdf(self, x):
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        q = np.maximum(lo - x, x - hi)                                              # (N, d)
        return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)

    def _normal(self, x):
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        centre = (lo + hi) / 2
        q = np.maximum(lo - x, x - hi)                                              # (N, d)
        side = np.where(x < centre, -1.0, 1.0)                                      # (N, d)
        out = np.maximum(q, 0.0) * side                                             # outside
        inner = np.zeros_like(x)                                                    # on or inside
        j = q.argmax(axis=1)
        inner[np.arange(len(x)), j] = side[np.arange(len(x)), j]
        length = np.linalg.norm(out, axis=1, keepdims=True)
        return np.where(length > 0, out / np.where(length > 0, length, 1.0), inner)

    def pieces(self):
        out = []
        side = self.bounds[:, 1] - self.bounds[:, 0]
        for j in range(self.dim):
            for k in (0, 1):
                size = float(np.prod(np.delete(side, j))) if self.dim > 1 else 1.0
                out.append(Piece(self.faces[2 * j + k], size, self._face(j, k)))
        return out

    def _face(self, j: int, k: int):
        def draw(m, rng):
            x = self.bounds[:, 0] + rng.random((m, self.dim)) * (self.bounds[:, 1] - self.bounds[:, 0])
            x[:, j] = self.bounds[j, k]
            n = np.zeros((m, self.dim))
            n[:, j] = 1.0 if k else -1.0
            return x, n
        return draw

    def _draw(self, m, rng):
        return latin_box(self.bounds, m, rng)

    def _interior(self, n, rng):
        return self._draw(n, rng)


class Ball(Domain):
    """Args:
        center: (d,) the centre (a disc in 2-D, a ball in 3-D, an interval in 1-D).
        radius: r > 0.
        name: the boundary's part name.
    """

    def __init__(self, center, radius: float, name: str = "boundary"):
        self.center = np.asarray(center, dtype=float).reshape(-1)
        self.radius, self.name, self.dim = float(radius), name, len(self.center)
        if not (self.radius > 0 and math.isfinite(self.radius)) or not np.all(np.isfinite(self.center)):
            raise ValueError(f"a ball needs a finite centre and a radius > 0, got "
                             f"{self.center.tolist()}, {radius}")

    @property
    def bbox(self) -> np.ndarray:
        return np.stack([self.center - self.radius, self.center + self.radius], axis=1)

    def sdf(self, x):
        return np.linalg.norm(x - self.center, axis=1) - self.radius

    def _normal(self, x):
        v = x - self.center                                                         # (N, d)
        length = np.linalg.norm(v, axis=1, keepdims=True)
        first = np.zeros_like(v)
        first[:, 0] = 1.0                                                           # at the centre
        return np.where(length > 0, v / np.where(length > 0, length, 1.0), first)

    def pieces(self):
        d = self.dim
        size = 2 * math.pi ** (d / 2) * self.radius ** (d - 1) / math.gamma(d / 2)

        def draw(m, rng):
            g = _directions(m, d, rng)
            return self.center + self.radius * g, g
        return [Piece(self.name, size, draw)]

    def _draw(self, m, rng):
        g = _directions(m, self.dim, rng)                                          # (m, d) unit
        r = self.radius * rng.random(m) ** (1.0 / self.dim)                         # (m,)
        return self.center + r[:, None] * g

    def _interior(self, n, rng):
        return self._draw(n, rng)


Disc = Ball


def _directions(m: int, d: int, rng) -> np.ndarray:
    """m unit vectors uniformly on the sphere S^(d-1), (m, d)."""
    g = rng.standard_normal((m, d))
    length = np.linalg.norm(g, axis=1, keepdims=True)
    while np.any(length == 0):                      # probability zero; redraw such a row
        bad = length[:, 0] == 0
        g[bad] = rng.standard_normal((int(bad.sum()), d))
        length = np.linalg.norm(g, axis=1, keepdims=True)
    return g / length
