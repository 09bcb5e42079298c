"""A domain: a membership test, samplers of its interior and of its boundary with outward normals.

Every domain Omega in R^d has a *signed distance* s(x): negative inside, zero on the boundary,
positive outside. For a box, a ball and a polygon it is the exact Euclidean distance to the
boundary (with that sign); for a combination it is the usual bound (union min(s_A, s_B),
intersection max(s_A, s_B), difference max(s_A, -s_B)), exact in sign and zero exactly on the
boundary. So

    x in Omega  <=>  s(x) <= tol,             x on dOmega  <=>  |s(x)| <= tol,

and the outward unit normal at a boundary point is that of the piece of boundary it lies on
(the shape whose s is active there; flipped for the boundary of a hole).

Sampling (all from the caller's ``np.random.Generator``, so the same seed gives the same points):

- interior: uniform over Omega (the measure restricted to it): exact for a box (a Latin
  hypercube, as :meth:`pinn_cli.pdes.base.PDE.latin_hypercube` draws), a ball and a polygon
  (area-weighted triangles); a combination draws from its first operand (or its bounding box)
  and rejects what is outside, which keeps the distribution uniform;
- boundary: uniform with respect to length (area in 3-D): each primitive's boundary is a union of
  *pieces* (a box's faces, a polygon's edges, a ball's sphere) of known size; a piece is chosen
  with probability proportional to its size, a point drawn uniformly on it, and a combination
  keeps the points of its operands' pieces that lie on its own boundary (a hole's inside the
  outer shape, with the normal reversed). Selecting from a uniform sample keeps it uniform.

Written here (numpy and scipy's Latin hypercube, no new dependency) rather than taken from a
geometry or PINN library: every draw must come from the generator the trainer passes to
``sample(rng)`` (one seed fixes every point), a box must give exactly the Latin hypercube the
shipped problems draw, and the normals must reach the PDE's conditions as tensors; the pieces
above are all it takes (~500 lines with the shapes).

Each piece belongs to a named *part* of the boundary (``name`` of a shape, or one name per face
or edge), so that conditions can differ by part: ``domain.boundary(n, rng, part="hole")``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from scipy.stats import qmc

from pinn_cli.geometry.memo import PointMemo

MAX_ROUNDS = 200          # rejection rounds before a sampler gives up (an empty region)
LEAST_ACCEPTANCE = 1e-4   # a region this much smaller than what it is drawn from is refused


@dataclass(frozen=True)
class Piece:
    """A piece of boundary of one primitive: ``draw(n, rng) -> (points (n, d), normals (n, d))``
    uniformly on it, of size ``size`` (length, area); ``keep``: the predicates a combination
    adds (points (n, d) -> bool (n,)); ``flip``: reverse the normals (the boundary of a hole)."""

    part: str
    size: float
    draw: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    keep: tuple = ()
    flip: bool = False

    def kept(self, predicate, flip: bool = False) -> "Piece":
        """This piece inside a combination: ``predicate(points, normals) -> bool`` tells which of
        its points lie on the combination's boundary, given the normals as oriented there
        (``flip``: the combination reverses them, the boundary of a hole)."""
        flipped = self.flip ^ flip
        return replace(self, keep=self.keep + ((predicate, flipped),), flip=flipped)


@dataclass(frozen=True)
class BoundarySample:
    """Boundary points (n, d), their outward unit normals (n, d) and the part of each (n,)."""

    points: np.ndarray
    normals: np.ndarray
    parts: np.ndarray


class Domain(ABC):
    """A region of R^d. Subclasses give ``dim``, ``bbox``, ``sdf``, ``_normal`` and ``pieces``."""

    dim: int

    @property
    @abstractmethod
    def bbox(self) -> np.ndarray:
        """The bounding box, (d, 2) of [low, high]."""

    @abstractmethod
    def sdf(self, x: np.ndarray) -> np.ndarray:
        """The signed distance s at x (N, d) -> (N,): < 0 inside, 0 on the boundary."""

    @abstractmethod
    def _normal(self, x: np.ndarray) -> np.ndarray:
        """The outward unit normal of the boundary nearest to x (N, d) -> (N, d)."""

    @abstractmethod
    def pieces(self) -> list[Piece]:
        """The pieces of the boundary, each with its part name."""

    # ---- membership --------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        """The bounding box's largest side: what tolerances are relative to."""
        b = self.bbox
        return float(np.max(b[:, 1] - b[:, 0]))

    def contains(self, x, tol: float | None = None) -> np.ndarray:
        """Whether each point of x (N, d) lies in the closed domain, within ``tol`` (default
        1e-9 of the bounding box's largest side): bool (N,)."""
        tol = 1e-9 * self.scale if tol is None else tol
        return self.sdf(_host(x, self.dim)) <= tol

    def on_boundary(self, x, tol: float | None = None) -> np.ndarray:
        """Whether each point of x (N, d) lies on the boundary, |s(x)| <= ``tol``: bool (N,)."""
        tol = 1e-9 * self.scale if tol is None else tol
        return np.abs(self.sdf(_host(x, self.dim))) <= tol

    @property
    def parts(self) -> tuple[str, ...]:
        """The names of the boundary's parts, in the order the shapes give them."""
        return tuple(dict.fromkeys(p.part for p in self.pieces()))

    # ---- normals -----------------------------------------------------------------------------
    def normal(self, x):
        """The outward unit normal at boundary points x (N, d) -> (N, d): numpy for numpy, a
        tensor of x's device and dtype for a tensor (computed once per tensor of points and
        remembered: the condition points of a run are the same tensor every step)."""
        if isinstance(x, torch.Tensor):
            memo = self.__dict__.setdefault("_memo", PointMemo())
            n = memo(x, self._normal)
            return torch.as_tensor(n, dtype=x.dtype, device=x.device)
        return self._normal(_host(x, self.dim))

    # ---- sampling ----------------------------------------------------------------------------
    def interior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n points uniformly in the domain, (n, d)."""
        return self._interior(_count(n, "interior"), rng)

    def _interior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """What :meth:`interior` draws (n checked): by default, rejection from :meth:`_draw`."""
        return _take(n, lambda m: self._draw(m, rng), lambda x: self.sdf(x) < 0, "interior")

    def _draw(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m points uniformly in a region holding the domain (default: its bounding box, as a
        Latin hypercube); what is outside is rejected by :meth:`interior`."""
        return latin_box(box_bounds(self.bbox), m, rng)

    def boundary(self, n: int, rng: np.random.Generator, part: str | list | tuple | None = None
                 ) -> BoundarySample:
        """n points uniformly (by length/area) on the boundary, or on the named part(s)."""
        n = _count(n, "boundary")
        pieces = self.pieces()
        if part is not None:
            wanted = {part} if isinstance(part, str) else set(part)
            unknown = sorted(wanted - {p.part for p in pieces})
            if unknown:
                raise ValueError(f"no boundary part {unknown[0]!r} (this domain's parts: "
                                 f"{', '.join(self.parts)})")
            pieces = [p for p in pieces if p.part in wanted]
        names = np.array(list(dict.fromkeys(p.part for p in pieces)))
        sizes = np.array([p.size for p in pieces], dtype=float)
        prob = sizes / sizes.sum()
        state = {}

        def draw(m):
            which = rng.choice(len(pieces), size=m, p=prob)                       # (m,)
            x, nrm = np.empty((m, self.dim)), np.empty((m, self.dim))
            ok, tag = np.ones(m, dtype=bool), np.empty(m, dtype=int)
            for j, p in enumerate(pieces):
                rows = np.flatnonzero(which == j)
                if not len(rows):
                    continue
                x[rows], raw = p.draw(len(rows), rng)
                nrm[rows] = -raw if p.flip else raw
                tag[rows] = int(np.flatnonzero(names == p.part)[0])
                for keep, flipped in p.keep:
                    ok[rows] &= keep(x[rows], -raw if flipped else raw)
            state.setdefault("chunks", []).append((nrm[ok], tag[ok]))
            return x[ok]

        pts = _take(n, draw, None, f"boundary part {part!r}" if part else "boundary")
        nrm = np.concatenate([c[0] for c in state["chunks"]])[:n]
        tag = np.concatenate([c[1] for c in state["chunks"]])[:n]
        return BoundarySample(pts, nrm, names[tag])

    # ---- combinations ------------------------------------------------------------------------
    # The classes A | B, A - B and A & B build: Union, Difference and Intersection, which
    # pinn_cli.geometry.csg registers here as it is imported (csg imports this module, not the
    # other way round; the package imports csg, so they are registered before any domain exists).
    _combinations: dict[str, type] = {}

    def __or__(self, other: "Domain") -> "Domain":
        return Domain._combinations["union"](self, other)

    def __sub__(self, other: "Domain") -> "Domain":
        return Domain._combinations["difference"](self, other)

    def __and__(self, other: "Domain") -> "Domain":
        return Domain._combinations["intersection"](self, other)


def box_bounds(bounds) -> np.ndarray:
    """``bounds`` as a (d, 2) float array of [low, high], refused (ValueError) unless finite with
    low < high on every axis."""
    b = np.asarray(bounds, dtype=float).reshape(-1, 2)
    if np.any(~np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError(f"a box needs low < high on every axis, got {b.tolist()}")
    return b


def latin_box(bounds: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """m points of a Latin hypercube in the box ``bounds`` (d, 2), (m, d): exactly the points
    :meth:`pinn_cli.pdes.base.PDE.latin_hypercube` draws from the same generator."""
    if m == 0:
        return np.empty((0, len(bounds)))
    unit = qmc.LatinHypercube(d=len(bounds), seed=rng).random(m)                # (m, d) in [0, 1)
    return qmc.scale(unit, bounds[:, 0], bounds[:, 1])


def _count(n, what: str) -> int:
    """A number of points to draw: an integer >= 0 (ValueError, one line, otherwise)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{what}: the number of points must be an integer >= 0, got {n!r}")
    return int(n)


def _take(n: int, draw, accept, what: str) -> np.ndarray:
    """n accepted points from rounds of ``draw(m) -> (m', d)``, in the order drawn (each round's
    points are independent and identically distributed, so the first n are an unbiased sample);
    ``accept``: a further predicate (None: ``draw`` filters itself)."""
    got, have, m, seen = [], 0, max(int(n), 1), 0
    for _ in range(MAX_ROUNDS):
        x = draw(m)
        seen += m
        if accept is not None:
            x = x[accept(x)]
        got.append(x)
        have += len(x)
        if have >= n:
            return np.concatenate(got)[:n]
        rate = have / seen
        if seen >= 10_000 and rate < LEAST_ACCEPTANCE:
            break
        m = int(min(max((n - have) / max(rate, LEAST_ACCEPTANCE) * 1.2, 64), 1 << 22))
    raise ValueError(f"the domain's {what} is empty or too small to sample ({have} of {seen} "
                     "points drawn fell on it)")


def _host(x, dim: int) -> np.ndarray:
    """Points as a float64 array (N, d)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"points of shape {x.shape} given to a {dim}-D domain: expected (N, {dim})")
    return x
