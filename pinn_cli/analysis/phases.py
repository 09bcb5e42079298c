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
   provided the run started in fitting (smoothed SNR above 1 at its first record).
3. **Diffusion -> total diffusion**: after that, the first record whose smoothed SNR is back
   above 1 and stays above under the same rule. A run that starts below 1 shows no fitting phase
   (reported as not observed) and is searched for this return from its first record.

4. **Refine** each onset: the crossing of the smoothed curve lags or leads by a few records, so
   the onset is the change point of a two-level least-squares fit of the raw log SNR within
   2 x ``min_records`` records of the crossing.

A transition that the series does not show is reported as not reached (``None``), never guessed.
NaN and non-positive values are dropped before anything else.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class PhaseParams:
    window: float = 0.05        # half-width of the running median, in decades of step
    min_records: int = 7        # fewest records in a median window, and in a sustained state
    persist: float = 0.5        # a state must hold over [s, s * (1 + persist)] ...
    hold: float = 0.7           # ... in at least this share of the records there

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


def clean(steps, values) -> tuple[np.ndarray, np.ndarray]:
    """Keep finite, positive records, sorted by step; -> (steps, values)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values) & (values > 0) & np.isfinite(steps)
    order = np.argsort(steps[ok], kind="stable")
    return steps[ok][order], values[ok][order]


def running_median(x: np.ndarray, y: np.ndarray, window: float, min_records: int) -> np.ndarray:
    """Median of y over |x_j - x_i| <= window, or over the min_records nearest x_j; (m,)."""
    m = len(x)
    lo = np.searchsorted(x, x - window, side="left")
    hi = np.searchsorted(x, x + window, side="right")
    out = np.empty(m)
    k = min(min_records, m)
    for i in range(m):
        a, b = lo[i], hi[i]
        if b - a < k:                                   # widen symmetrically to k records
            a = max(0, min(i - k // 2, m - k))
            b = a + k
        out[i] = np.median(y[a:b])
    return out


def _sustained(steps: np.ndarray, state: np.ndarray, i: int, p: PhaseParams) -> bool:
    """Does the state of record i hold over [s_i, s_i (1 + persist)]: in at least ``hold`` of
    those records, and at least ``min_records`` of them (fewer only if the run ends first)?"""
    end = np.searchsorted(steps, steps[i] * (1 + p.persist), side="right")
    end = max(end, min(i + p.min_records, len(steps)))
    span = state[i:end]
    return len(span) >= p.min_records and np.mean(span == state[i]) >= p.hold


def _first(steps, state, start, target, p: PhaseParams) -> int | None:
    for i in range(start, len(steps)):
        if state[i] == target and _sustained(steps, state, i, p):
            return i
    return None


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


def detect(steps, snr, params: PhaseParams | None = None) -> Phases:
    """Find fitting -> diffusion and diffusion -> total diffusion in an SNR series."""
    p = params or PhaseParams()
    s, v = clean(steps, snr)
    if len(s) == 0:
        return Phases(s, v, v, None, None, False)
    raw = np.log10(v)
    y = running_median(np.log10(s + 1), raw, p.window, p.min_records)
    above = y > 0
    fit_end = total = None
    started = bool(above[0])
    # a run that starts below 1 (fitting shorter than the first record, or absent) is in
    # diffusion from its first record; its total diffusion is still the sustained return above 1
    i = _first(s, above, 0, False, p) if started else 0
    if i is not None:
        if started:
            fit_end = int(s[refine(raw, i, p.min_records, up=False)])
        j = _first(s, above, i, True, p)
        total = int(s[refine(raw, j, p.min_records, up=True)]) if j is not None else None
    return Phases(s, v, 10**y, fit_end, total, started)


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
