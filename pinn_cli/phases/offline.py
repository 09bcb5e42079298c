"""Automatic detection of the training phases from the gradient SNR series (pure numpy).

The paper marks its phases by eye on smoothed curves. Here, with x = log10(step + 1) and
y = log10(SNR):

1. **Smooth** y with a running median in x: record i takes the median of the records with
   |x_j - x_i| <= ``window`` (decades), widened to its ``min_records`` nearest records where the
   cadence is sparse. A median in log-log space ignores the order-of-magnitude flicker of raw SNR
   and adapts to the irregular cadence (dense at the start, every 100 steps later).
2. **Fitting -> diffusion**: the first record whose smoothed SNR is below 1 and stays below 1
   over [s, s (1 + ``persist``)]: in at least ``hold`` of the records there, and at least
   ``min_records`` of them (a run that ends sooner needs ``min_records`` records up to its end),
   provided the run started in fitting (smoothed SNR above 1 at its first record), and at a step
   s <= ``fit_by``: fitting is the first, short phase (the paper: ~100-200 steps); a run whose SNR
   stays above 1 past that has no fitting -> diffusion, however its SNR drifts later.
3. **Diffusion -> total diffusion**: after that, the first record whose smoothed SNR is back
   above 1 and stays above under the same rule. A run that starts below 1 shows no fitting phase
   (reported as not observed) and is searched for this return from its first record.
4. **Refine** each onset: the crossing of the smoothed curve lags or leads by a few records, so
   the onset is the change point k of a two-level least-squares fit of the raw log SNR within
   2 x ``min_records`` records of the crossing.
5. **A step, or no transition**: both transitions are abrupt changes of level. The median raw
   log SNR over [s_k, s_k (1 + persist)] must differ from the median over [s_k / (1 + persist),
   s_k) by at least ``jump`` decades in the transition's direction (each window widened to
   2 x ``min_records`` records where the cadence is sparse). A drift across 1 moves the two
   medians by only (its rate, in decades of SNR per decade of step) x ~0.18 decades: ~0.1-0.15
   for the lid-driven cavity's SNR drifting from ~5 to ~1 over the late run; a drift that also
   wanders (+-0.15 decades over a third of a decade of step) can step by 0.4-0.7 locally, which
   is why fitting also has its ``fit_by`` bound. If the first sustained crossing fails this
   test, the transition is not reached (the crossing is kept in ``rejected``) and the search
   stops there: a fitting phase that did not end by a step has no total diffusion after it.

A transition that the series does not show is reported as not reached (``None``), never guessed.
NaN and non-positive values are dropped before anything else. Each rule looks a bounded stretch
ahead of its record (up to ~1.7 times its step, and 2 x ``min_records`` records), so the same
decisions are taken causally as the run goes by ``pinn_cli.phases.online``; ``fit_by`` is a step,
not a share of the run, for that reason (a run's length is unknown while it runs, and a killed or
extended run would move a share).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class PhaseParams:
    window: float = 0.05        # half-width of the running median, in decades of step
    min_records: int = 7        # fewest records in a median window, and in a sustained state
    persist: float = 0.5        # a state must hold over [s, s * (1 + persist)] ...
    hold: float = 0.7           # ... in at least this share of the records there
    jump: float = 0.4           # an onset steps the median log10 SNR by at least this (decades)
    fit_by: float = 10_000      # fitting -> diffusion must cross by this step (the paper: ~150)

    def asdict(self) -> dict:
        return asdict(self)


@dataclass
class Phases:
    steps: np.ndarray           # (m,) steps of the usable records
    snr: np.ndarray             # (m,) raw SNR
    smooth: np.ndarray          # (m,) smoothed SNR
    fitting_end: int | None     # step of fitting -> diffusion
    total_diffusion: int | None  # step of diffusion -> total diffusion
    started_in_fitting: bool
    rejected: dict = field(default_factory=dict)  # {kind: step} of a crossing that was no step


def clean(steps, values) -> tuple[np.ndarray, np.ndarray]:
    """Keep finite, positive records, sorted by step; -> (steps, values)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values) & (values > 0) & np.isfinite(steps)
    order = np.argsort(steps[ok], kind="stable")
    return steps[ok][order], values[ok][order]


def median(a: np.ndarray) -> float:
    """np.median of a non-empty 1-D array without its per-call overhead (same value)."""
    n = len(a)
    if n % 2:
        return float(np.partition(a, n // 2)[n // 2])
    lo, hi = np.partition(a, (n // 2 - 1, n // 2))[n // 2 - 1:n // 2 + 1]
    return float((lo + hi) / 2)


def smooth_at(x: np.ndarray, y: np.ndarray, i: int, window: float, min_records: int) -> float:
    """Median of y over |x_j - x_i| <= window, or over the min_records nearest x_j (a window
    centred on i, shifted inside the series at its ends)."""
    m, k = len(x), min(min_records, len(x))
    a = int(np.searchsorted(x, x[i] - window, side="left"))
    b = int(np.searchsorted(x, x[i] + window, side="right"))
    if b - a < k:                                       # widen symmetrically to k records
        a = max(0, min(i - k // 2, m - k))
        b = a + k
    return median(y[a:b])


def running_median(x: np.ndarray, y: np.ndarray, window: float, min_records: int) -> np.ndarray:
    """``smooth_at`` of every record; (m,)."""
    return np.array([smooth_at(x, y, i, window, min_records) for i in range(len(x))])


def sustained(steps: np.ndarray, smooth: np.ndarray, i: int, p: PhaseParams) -> bool:
    """Does the state (smoothed log SNR above 0 or not) of record i hold over
    [s_i, s_i (1 + persist)]: in at least ``hold`` of those records, and at least ``min_records``
    of them (fewer only if the run ends first)?"""
    end = np.searchsorted(steps, steps[i] * (1 + p.persist), side="right")
    end = max(end, min(i + p.min_records, len(steps)))
    span = smooth[i:end] > 0
    return len(span) >= p.min_records and np.mean(span == span[0]) >= p.hold


def refine(y: np.ndarray, i: int, reach: int, up: bool) -> int:
    """The change point near record i: the split k in [i - reach, i + reach] that best fits the raw
    y around it by two constant levels (least squares) with a step in the expected direction
    (``up``: a rise), i.e. maximises (mean_after - mean_before)^2 n_before n_after / n over the
    splits whose step has that sign; i itself if none has."""
    a, b = max(0, i - 2 * reach), min(len(y), i + 2 * reach)
    seg = y[a:b]
    best, best_k = 0.0, i
    for k in range(max(a + 1, i - reach), min(b, i + reach + 1)):
        left, right = seg[: k - a], seg[k - a:]
        if len(left) == 0 or len(right) == 0:
            continue
        step = right.mean() - left.mean()
        score = step**2 * len(left) * len(right) / len(seg)
        if (step > 0) == up and score > best:
            best, best_k = score, k
    return best_k


def level_change(steps: np.ndarray, y: np.ndarray, k: int, p: PhaseParams) -> float:
    """median(y over [s_k, s_k r]) - median(y over [s_k / r, s_k)), r = 1 + persist, in decades;
    each window widened to 2 min_records records (cut at the ends of the run); 0 for k = 0."""
    if k <= 0:
        return 0.0
    r, n = 1 + p.persist, 2 * p.min_records
    a = min(int(np.searchsorted(steps, steps[k] / r, side="left")), max(0, k - n))
    e = max(int(np.searchsorted(steps, steps[k] * r, side="right")), min(len(steps), k + n))
    return median(y[k:e]) - median(y[a:k])


def is_step(steps: np.ndarray, y: np.ndarray, k: int, up: bool, p: PhaseParams) -> bool:
    """Does the level step at record k by at least ``jump`` decades, up (a rise) or down?"""
    change = level_change(steps, y, k, p)
    return (change if up else -change) >= p.jump


def first_crossing(steps, smooth, start, up: bool, p: PhaseParams, last=np.inf) -> int | None:
    """The first record i >= start with s_i <= last in state ``up``, sustained."""
    for i in range(start, int(np.searchsorted(steps, last, side="right"))):
        if (smooth[i] > 0) == up and sustained(steps, smooth, i, p):
            return i
    return None


def detect(steps, snr, params: PhaseParams | None = None) -> Phases:
    """Find fitting -> diffusion and diffusion -> total diffusion in an SNR series."""
    p = params or PhaseParams()
    s, v = clean(steps, snr)
    if len(s) == 0:
        return Phases(s, v, v, None, None, False)
    raw = np.log10(v)
    y = running_median(np.log10(s + 1), raw, p.window, p.min_records)
    started = bool(y[0] > 0)
    out = Phases(s, v, 10**y, None, None, started)
    # a run that starts below 1 (fitting shorter than the first record, or absent) is in
    # diffusion from its first record; its total diffusion is still the sustained return above 1
    start = 0
    for kind, up in (("fitting_end", False), ("total_diffusion", True)):
        if kind == "fitting_end" and not started:
            continue
        i = first_crossing(s, y, start, up, p, p.fit_by if kind == "fitting_end" else np.inf)
        if i is None:
            break
        k = refine(raw, i, p.min_records, up)
        if not is_step(s, raw, k, up, p):
            out.rejected[kind] = int(s[k])
            break
        setattr(out, kind, int(s[k]))
        start = i
    return out


def value_at(steps, values, step: int | None):
    """The record of ``values`` nearest to ``step`` (rows of a 2-D array too); None if absent."""
    if step is None or steps is None or len(steps) == 0:
        return None
    i = int(np.argmin(np.abs(np.asarray(steps) - step)))
    v = np.asarray(values)[i]
    return v.tolist() if np.ndim(v) else float(v)


def window_median(steps, values, lo: float, hi: float) -> float | None:
    """Median of the finite values with lo <= step < hi; None when there are none."""
    steps, values = np.asarray(steps), np.asarray(values, dtype=float)
    sel = (steps >= lo) & (steps < hi) & np.isfinite(values)
    return float(np.median(values[sel])) if sel.any() else None


def log_slope(steps, values, lo: float, hi: float) -> float | None:
    """Least-squares slope of log10(values) against log10(step + 1) over lo <= step <= hi."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    sel = (steps >= lo) & (steps <= hi) & np.isfinite(values) & (values > 0)
    if sel.sum() < 3:
        return None
    return float(np.polyfit(np.log10(steps[sel] + 1), np.log10(values[sel]), 1)[0])
