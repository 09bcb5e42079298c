"""A simple polygon in the plane (an L-shape, a channel with a step, any outline).

Vertices v_0 .. v_{V-1} in order (either orientation), edge i from v_i to v_{i+1 mod V}, no two
edges crossing. With D(x) the distance to the nearest edge and the even-odd rule for inside,

    s(x) = -D(x) inside,  +D(x) outside,

and the outward normal of edge i is its direction turned by -90 degrees for a counter-clockwise
outline (+90 for a clockwise one). Interior points are exactly uniform: the polygon is cut into
V - 2 triangles by ear clipping, a triangle is chosen with probability proportional to its area,
and a point drawn in it as a + r1 (b - a) + r2 (c - a) with r1, r2 uniform in [0, 1), folded into
the triangle where r1 + r2 > 1 (r -> 1 - r: a reflection that maps the other half onto it).
Boundary points: an edge with probability proportional to its length, a uniform point on it.
"""
from __future__ import annotations

import numpy as np

from pinn_cli.geometry.base import Domain, Piece

BLOCK = 1 << 22           # points x edges evaluated at once by sdf (memory bound)


class Polygon(Domain):
    """Args:
        vertices: (V, 2), V >= 3, in order around the outline.
        name: the boundary's part name (every edge).
        edges: one part name per edge instead (edge i from vertex i to vertex i + 1).
    """

    dim = 2

    def __init__(self, vertices, name: str = "boundary", edges: list[str] | None = None):
        v = np.asarray(vertices, dtype=float)
        if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3 or not np.all(np.isfinite(v)):
            raise ValueError(f"a polygon needs at least 3 finite vertices (V, 2), got shape {v.shape}")
        self.vertices = v
        self.edges = list(edges) if edges is not None else [name] * len(v)
        if len(self.edges) != len(v):
            raise ValueError(f"a polygon of {len(v)} edges got {len(self.edges)} edge names")
        a, b = v, np.roll(v, -1, axis=0)
        area2 = float(np.sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]))            # 2 x signed area
        if abs(area2) <= 1e-12 * np.ptp(v, axis=0).max() ** 2:
            raise ValueError("the polygon's vertices enclose no area")
        _check_simple(v)
        self.ccw = area2 > 0
        self.area = abs(area2) / 2
        self._a, self._d = a, b - a                                                 # (V, 2) each
        self._len = np.linalg.norm(self._d, axis=1)                                 # (V,)
        turn = np.array([1.0, -1.0]) if self.ccw else np.array([-1.0, 1.0])
        self._out = self._d[:, ::-1] * turn / self._len[:, None]                    # (V, 2) outward
        self._tri = _ear_clip(v if self.ccw else v[::-1])                           # (V - 2, 3, 2)

    @property
    def bbox(self) -> np.ndarray:
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)], axis=1)

    def _nearest(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (distance to the nearest edge (N,), that edge (N,), inside by even-odd (N,))."""
        dist = np.empty(len(x))
        edge = np.empty(len(x), dtype=int)
        inside = np.empty(len(x), dtype=bool)
        step = max(1, BLOCK // len(self._a))
        for s in range(0, len(x), step):
            p = x[s:s + step, None, :]                                              # (n, 1, 2)
            rel = p - self._a                                                       # (n, V, 2)
            t = np.clip((rel * self._d).sum(-1) / self._len**2, 0.0, 1.0)           # (n, V)
            gap = np.linalg.norm(rel - t[..., None] * self._d, axis=-1)             # (n, V)
            edge[s:s + step] = gap.argmin(axis=1)
            dist[s:s + step] = gap.min(axis=1)
            y0, y1 = self._a[:, 1], self._a[:, 1] + self._d[:, 1]
            spans = (y0 > p[..., 1]) != (y1 > p[..., 1])                            # (n, V)
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = self._a[:, 0] + (p[..., 1] - y0) / self._d[:, 1] * self._d[:, 0]
            inside[s:s + step] = (spans & (p[..., 0] < cross)).sum(axis=1) % 2 == 1
        return dist, edge, inside

    def sdf(self, x):
        dist, _, inside = self._nearest(x)
        return np.where(inside, -dist, dist)

    def _normal(self, x):
        return self._out[self._nearest(x)[1]]

    def pieces(self):
        def edge(i):
            def draw(m, rng):
                t = rng.random(m)[:, None]
                return self._a[i] + t * self._d[i], np.repeat(self._out[i][None], m, axis=0)
            return draw
        return [Piece(self.edges[i], float(self._len[i]), edge(i)) for i in range(len(self._a))]

    def _draw(self, m, rng):
        a, b, c = self._tri[:, 0], self._tri[:, 1], self._tri[:, 2]                 # (T, 2) each
        u, w = b - a, c - a
        area = np.abs(u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]) / 2                   # (T,)
        k = rng.choice(len(area), size=m, p=area / area.sum())                      # (m,)
        r = rng.random((m, 2))
        fold = r.sum(axis=1) > 1
        r[fold] = 1.0 - r[fold]
        return a[k] + r[:, :1] * (b[k] - a[k]) + r[:, 1:] * (c[k] - a[k])

    def _interior(self, n, rng):
        return self._draw(n, rng)


def _check_simple(v: np.ndarray) -> None:
    """ValueError if two edges that are not neighbours cross or touch."""
    n = len(v)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue
            if _segments_meet(v[i], v[(i + 1) % n], v[j], v[(j + 1) % n]):
                raise ValueError(f"the polygon's edges {i} and {j} cross: the outline must be simple")


def _segments_meet(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    def on(a, b, c):               # c on segment ab, given collinear
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    o1, o2, o3, o4 = orient(p1, p2, q1), orient(p1, p2, q2), orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4 and 0 not in (o1, o2, o3, o4):
        return True
    return ((o1 == 0 and on(p1, p2, q1)) or (o2 == 0 and on(p1, p2, q2))
            or (o3 == 0 and on(q1, q2, p1)) or (o4 == 0 and on(q1, q2, p2)))


def _ear_clip(v: np.ndarray) -> np.ndarray:
    """Triangles (V - 2, 3, 2) of a simple counter-clockwise polygon, by ear clipping."""
    idx = list(range(len(v)))
    out = []
    cross = lambda a, b, c: (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])  # noqa: E731
    guard = 0
    while len(idx) > 3:
        guard += 1
        if guard > 10 * len(v) ** 2:
            raise ValueError("the polygon could not be triangulated (is its outline simple?)")
        for k in range(len(idx)):
            i0, i1, i2 = idx[k - 1], idx[k], idx[(k + 1) % len(idx)]
            a, b, c = v[i0], v[i1], v[i2]
            if cross(a, b, c) <= 0:                       # reflex or flat: not an ear
                if cross(a, b, c) == 0 and len(idx) > 3 and _flat_ok(a, b, c):
                    idx.pop(k)                            # a flat vertex carries no area
                    break
                continue
            others = [v[i] for i in idx if i not in (i0, i1, i2)]
            if any(cross(a, b, p) >= 0 and cross(b, c, p) >= 0 and cross(c, a, p) >= 0 for p in others):
                continue
            out.append((a, b, c))
            idx.pop(k)
            break
    out.append(tuple(v[i] for i in idx))
    return np.array(out, dtype=float)


def _flat_ok(a, b, c) -> bool:
    """b lies between a and c on one line (a straight vertex, safe to drop)."""
    return float(np.dot(b - a, c - b)) > 0
