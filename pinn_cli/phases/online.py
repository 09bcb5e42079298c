"""Causal phase detection: the rules of ``phases.detect``, fed one SNR record at a time.

``OnlinePhases.update(step, snr)`` takes each SNR record as training produces it and decides a
record's smoothed value, and a transition, as soon as the records seen so far fix them: every rule
of ``detect`` looks at a bounded stretch after its record, and once a record beyond that stretch
has arrived, no later record can change the outcome. So an onset confirmed online is exactly the
step that ``detect`` reports on the complete series (or on any longer one), and the online
detector never confirms a transition that ``detect`` does not find; ``finish()`` (the run is over)
then cuts the windows at the last record, as ``detect`` does, and the two agree completely.

**Confirmation delay.** A transition whose smoothed curve crosses 1 at record i, with change
point (onset) k, is confirmed at the first record that is

* past step (s_i (1 + persist) + 1) 10**window - 1 (1.68 s_i by default: the sustained window,
  plus the half-width of the running median of its last record), and at least
  min_records // 2 records past that window's last record (that record's running median,
  widened to min_records records where the cadence is sparse, reads its min_records // 2
  successors);
* at least the 2 min_records-th record counted from i and from k (the change-point fit, the level
  step), and past s_k (1 + persist).

Measured with the defaults on the paper's cadence (tests/test_online.py's series, 80
transitions): 1.68-1.78 times the onset step for onsets >= 10^4 (77-641 records later), 2.3-2.7
times for an onset at ~1,000 (14-15 records of 100 steps), 1.7-2.3 times for fitting ends at
70-180 (13-25 records); mean 1.88, max 2.67. Where the cadence is sparse for the onset's step, the
record counts dominate: on the CPU studies' cadence (every 5 steps to 300, then every 100) an
onset at 200-300 is confirmed at 600 and one at 400 at 1,700 or later (4.25 times or more).
``scripts/online_vs_offline.py`` checks this rule, record by record, on run files. Each
``Transition`` carries its ``confirmed_at``.

**Cost.** Each record's smoothed value is computed once (a median over its window) and each
candidate record is tested once (medians over its windows): O(window) per update, amortised,
with no pass over the whole history (~50-100 us per update). The records are kept (32 bytes
each).

**Resuming.** ``state_dict()`` holds plain python values and numpy arrays; ``load_state_dict``
continues from them exactly. Replaying the stored records (``replay``) rebuilds the same state.

**In training.** The SNR probe's record can feed it (``update(state.step, record["global"])``);
a phase action reads ``just_confirmed`` of the returned state (e.g. decay the learning rate on
``total_diffusion``); the checkpoint keeps ``state_dict()``.

Out-of-order records (a step below the last one), NaN and non-positive SNR are dropped and
counted (``dropped``); ``detect`` would sort the former in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pinn_cli.phases.offline import PhaseParams, is_step, refine, smooth_at, sustained

KINDS = ("fitting_end", "total_diffusion")


@dataclass(frozen=True)
class Transition:
    kind: str            # "fitting_end" or "total_diffusion"
    step: int            # the onset: the step detect() gives on the complete series
    confirmed_at: int    # the step of the record that confirmed it
    records_after: int   # records from the onset to that one


@dataclass(frozen=True)
class PhaseState:
    phase: str                      # "unknown", "fitting", "diffusion" or "total_diffusion"
    fitting_end: int | None         # confirmed onsets (None: not confirmed yet, or not reached)
    total_diffusion: int | None
    smooth: float | None            # the latest decided smoothed SNR ...
    smooth_step: float | None       # ... and its step (it trails the newest record)
    just_confirmed: tuple[Transition, ...] = ()   # confirmed by this update: phase actions


class _Grow:
    """A float array that doubles its storage when full: O(1) amortised append and view."""

    def __init__(self, values=()):
        values = np.asarray(values, dtype=float)
        self.n, self.a = len(values), np.empty(max(64, 2 * len(values)))
        self.a[:self.n] = values

    def append(self, value: float) -> None:
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty(len(self.a))])
        self.a[self.n] = value
        self.n += 1

    @property
    def v(self) -> np.ndarray:
        return self.a[:self.n]


class OnlinePhases:
    """The phases of a run so far, from its SNR records; see the module docstring."""

    def __init__(self, params: PhaseParams | None = None):
        self.params = params or PhaseParams()
        self._s, self._x, self._y, self._sm = _Grow(), _Grow(), _Grow(), _Grow()
        self.started: bool | None = None         # smoothed SNR above 1 at the first record
        self.onsets = dict.fromkeys(KINDS)        # confirmed onset steps
        self.rejected: dict = {}                  # {kind: step} of a crossing that was no step
        self.transitions: list[Transition] = []
        self.dropped, self.closed = 0, False
        self._stage = "start"                     # start, fitting_end, total_diffusion, done
        self._cand, self._i, self._k = 0, None, None

    # ---- feeding ---------------------------------------------------------------------------
    def update(self, step, snr) -> PhaseState:
        """Add one record (step, global SNR); -> the state, with the transitions it confirmed."""
        if self.closed:
            raise RuntimeError("finish() was called: the run is over")
        step, snr = float(step), float(snr)
        if not (np.isfinite(step) and np.isfinite(snr) and snr > 0) or \
                (self._s.n and step < self._s.v[-1]):
            self.dropped += 1
            return self.state()
        self._s.append(step)
        self._x.append(np.log10(np.array([step]) + 1)[0])
        self._y.append(np.log10(np.array([snr]))[0])
        return self.state(self._advance())

    def finish(self) -> PhaseState:
        """The run is over: decide what is left with windows cut at the last record, as
        ``detect`` does; -> the final state (the same onsets as ``detect``)."""
        self.closed = True
        return self.state(self._advance())

    @classmethod
    def replay(cls, steps, snr, params: PhaseParams | None = None) -> OnlinePhases:
        """A detector fed the stored records in order (not finished)."""
        det = cls(params)
        for s, v in zip(steps, snr):
            det.update(s, v)
        return det

    # ---- reading ---------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        if self.started is None:
            return "unknown"
        if self.onsets["total_diffusion"] is not None:
            return "total_diffusion"
        if self.started and self.onsets["fitting_end"] is None:
            return "fitting"
        return "diffusion"

    def state(self, just: tuple[Transition, ...] = ()) -> PhaseState:
        n = self._sm.n
        return PhaseState(self.phase, self.onsets["fitting_end"], self.onsets["total_diffusion"],
                          float(10 ** self._sm.v[-1]) if n else None,
                          float(self._s.v[n - 1]) if n else None, tuple(just))

    # ---- deciding --------------------------------------------------------------------------
    def _ready(self, step_limit: float, count: int) -> bool:
        """Are there >= count records, the last past step_limit (or is the run over)?"""
        m = self._s.n
        return self.closed or (m >= count and self._s.v[m - 1] > step_limit)

    def _smooth_ready(self, j: int) -> bool:
        """Is the running median of record j fixed: its window ends, and it has the records a
        widened window needs?"""
        p, m = self.params, self._s.n
        k = p.min_records
        return self.closed or (m >= max(k, j + k - k // 2)
                               and self._x.v[m - 1] > self._x.v[j] + p.window)

    def _sustained_ready(self, i: int) -> bool:
        p, s = self.params, self._s.v
        limit = s[i] * (1 + p.persist)
        if not self._ready(limit, i + p.min_records):
            return False
        end = max(int(np.searchsorted(s, limit, side="right")), min(i + p.min_records, len(s)))
        return self._sm.n >= end

    def _advance(self) -> list[Transition]:
        p = self.params
        while self._sm.n < self._s.n and self._smooth_ready(self._sm.n):
            self._sm.append(smooth_at(self._x.v, self._y.v, self._sm.n, p.window, p.min_records))
        if self._stage == "start" and self._sm.n:
            self.started = bool(self._sm.v[0] > 0)
            self._stage = KINDS[0] if self.started else KINDS[1]
        events = []
        while self._stage in KINDS and self._search():        # decided: on to the next stage
            kind, self._i, self._k = self._stage, None, None
            found = self.onsets[kind] is not None
            events += self.transitions[-1:] if found else []
            self._stage = KINDS[1] if kind == KINDS[0] and found else "done"
        return events

    def _search(self) -> bool:
        """Go on with the search for the current stage's transition as far as the records allow;
        -> True once it is decided (confirmed, or rejected as not reached)."""
        p, s, sm = self.params, self._s.v, self._sm.v
        up = self._stage == "total_diffusion"
        last = np.inf if up else p.fit_by
        while self._i is None:
            i = self._cand
            if i >= len(sm):
                return self.closed                        # over: not reached
            if s[i] > last:
                return True                               # no crossing by fit_by: not reached
            if (sm[i] > 0) == up:
                if not self._sustained_ready(i):
                    return False
                if sustained(s, sm, i, p):
                    self._i = i
                    break
            self._cand += 1
        return self._decide(up)

    def _decide(self, up: bool) -> bool:
        """The sustained crossing self._i: its change point, then whether the level steps."""
        p, s, i = self.params, self._s.v, self._i
        if self._k is None:
            if not self._ready(-np.inf, i + 2 * p.min_records):
                return False
            self._k = refine(self._y.v, i, p.min_records, up)
        k = self._k
        if not self._ready(s[k] * (1 + p.persist), k + 2 * p.min_records):
            return False
        onset = int(s[k])
        if not is_step(s, self._y.v, k, up, p):
            self.rejected[self._stage] = onset
            return True
        self.onsets[self._stage] = onset
        self.transitions.append(Transition(self._stage, onset, int(s[-1]), len(s) - 1 - k))
        self._cand = i                   # total diffusion is searched from the crossing on
        return True

    # ---- resuming --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue: plain python values and (copied) numpy arrays."""
        return {"version": 1, "params": self.params.asdict(), "steps": self._s.v.copy(),
                "log_step": self._x.v.copy(), "log_snr": self._y.v.copy(),
                "log_smooth": self._sm.v.copy(), "started": self.started,
                "onsets": dict(self.onsets), "rejected": dict(self.rejected),
                "transitions": [asdict(t) for t in self.transitions], "dropped": self.dropped,
                "closed": self.closed, "stage": self._stage, "cand": self._cand,
                "pending": [self._i, self._k]}

    def load_state_dict(self, d: dict) -> None:
        """Continue from ``state_dict()`` (its parameters replace this detector's)."""
        if d.get("version") != 1:
            raise ValueError(f"unknown OnlinePhases state version {d.get('version')!r}")
        self.params = PhaseParams(**d["params"])
        self._s, self._x = _Grow(d["steps"]), _Grow(d["log_step"])
        self._y, self._sm = _Grow(d["log_snr"]), _Grow(d["log_smooth"])
        self.started, self.onsets = d["started"], dict(d["onsets"])
        self.rejected = dict(d["rejected"])
        self.transitions = [Transition(**t) for t in d["transitions"]]
        self.dropped, self.closed = int(d["dropped"]), bool(d["closed"])
        self._stage, self._cand = d["stage"], int(d["cand"])
        self._i, self._k = (None if v is None else int(v) for v in d["pending"])
