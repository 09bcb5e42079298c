"""A strong-Wolfe line search along a direction d (Nocedal & Wright, Algorithms 3.5 and 3.6).

With phi(t) = f(x + t d) and phi'(t) = grad f(x + t d) . d (phi'(0) < 0), a step t is accepted
when it satisfies the strong Wolfe conditions

    phi(t) <= phi(0) + c1 t phi'(0)          (sufficient decrease)
    |phi'(t)| <= c2 |phi'(0)|                 (curvature)

The search brackets such a t by growing the trial step, then narrows the bracket [lo, hi]
(phi(lo) the lowest value seen that decreases enough) by safeguarded cubic interpolation.
If the evaluations run out first, it returns the best sufficient-decrease step it saw, or t = 0
(no move) when none decreased enough.
"""
from __future__ import annotations

import math
from typing import Callable

# phi(t) -> (phi(t), phi'(t), anything the caller wants back for the accepted t)
Phi = Callable[[float], tuple[float, float, object]]


def cubic_min(t1: float, f1: float, d1: float, t2: float, f2: float, d2: float,
              lo: float, hi: float) -> float:
    """The minimiser of the cubic through (t1, f1, d1) and (t2, f2, d2), clipped into [lo, hi];
    the middle of [lo, hi] when the cubic has no real minimiser."""
    e1 = d1 + d2 - 3 * (f1 - f2) / (t1 - t2)
    disc = e1 * e1 - d1 * d2
    if disc < 0 or not math.isfinite(disc):
        return (lo + hi) / 2
    e2 = math.copysign(math.sqrt(disc), t2 - t1)
    den = d2 - d1 + 2 * e2
    if den == 0:
        return (lo + hi) / 2
    t = t2 - (t2 - t1) * (d2 + e2 - e1) / den
    return min(max(t, lo), hi) if math.isfinite(t) else (lo + hi) / 2


def strong_wolfe(phi: Phi, f0: float, d0: float, t: float, c1: float = 1e-4, c2: float = 0.9,
                 max_evals: int = 25) -> tuple[float, float, object, int]:
    """-> (t, phi(t), payload of t, evaluations used); t = 0 (payload None) when no step
    decreased enough. ``d0`` = phi'(0) < 0; ``t`` the first trial step."""
    prev = (0.0, f0, d0)                 # the previous trial (t, phi, phi')
    best = (0.0, f0, None)               # the lowest sufficient-decrease point so far
    evals = 0
    while evals < max_evals:
        f, d, pay = phi(t)
        evals += 1
        if not math.isfinite(f) or f > f0 + c1 * t * d0 or (evals > 1 and f >= prev[1]):
            return _zoom(phi, f0, d0, prev, (t, f, d), best, c1, c2, max_evals - evals, evals)
        best = (t, f, pay)
        if abs(d) <= -c2 * d0:
            return t, f, pay, evals
        if d >= 0:
            return _zoom(phi, f0, d0, (t, f, d), prev, best, c1, c2, max_evals - evals, evals)
        # extrapolate: the cubic's minimiser beyond t, between 1.1 t and 10 t
        nxt = cubic_min(prev[0], prev[1], prev[2], t, f, d, t * 1.1, t * 10)
        prev, t = (t, f, d), nxt
    return best[0], best[1], best[2], evals


def _zoom(phi: Phi, f0: float, d0: float, lo, hi, best, c1: float, c2: float, left: int,
          evals: int):
    """Narrow the bracket between ``lo`` (sufficient decrease, lowest so far) and ``hi``."""
    for _ in range(left):
        a, b = sorted((lo[0], hi[0]))
        if b - a <= 1e-12 * max(1.0, b):
            break
        pad = 0.1 * (b - a)
        if math.isfinite(hi[1]):
            t = cubic_min(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2], a + pad, b - pad)
        else:                                       # a NaN/inf above: bisect
            t = (a + b) / 2
        f, d, pay = phi(t)
        evals += 1
        if not math.isfinite(f) or f > f0 + c1 * t * d0 or f >= lo[1]:
            hi = (t, f, d)
            continue
        best = (t, f, pay)
        if abs(d) <= -c2 * d0:
            return t, f, pay, evals
        if d * (hi[0] - lo[0]) >= 0:
            hi = lo
        lo = (t, f, d)
    return best[0], best[1], best[2], evals
