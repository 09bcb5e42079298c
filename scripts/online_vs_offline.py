"""Online against offline phase onsets, per run file: the differences in steps and how long the
online detector takes to confirm a transition.

    python scripts/online_vs_offline.py DIR [DIR ...]        (folders above run.h5 files, or files)

For every ``run.h5`` under the folders, it sets side by side

* **offline**: the onsets pinn-analyze reports (``analysis.summary.analyze_run`` with the default
  ``PhaseParams``, i.e. ``phases.detect`` on the complete ``/snr/global`` series);
* **online**: ``phases.online.OnlinePhases`` fed the stored SNR records one at a time, in the
  order the SNR probe fed them during training, and *not* finished: the onsets a phase action
  could have used by the end of the run. (``finish()`` is then called too, and must give
  ``detect``'s onsets exactly: the agreement the detector documents.)

**What the run file holds of the live detector** (``SNRProbe(live=True)``, the default): per SNR
record, ``/snr/phase`` (0 unknown, 1 fitting, 2 diffusion, 3 total diffusion: the confirmed phase
after that record), ``/snr/smooth`` (the latest decided smoothed SNR, NaN before the first) and
``/snr/action`` (index into ``probes.ACTIONS``: what was done on that record). The onset steps and
the confirmation steps are *not* stored. So the live record gives each transition's confirmation
step (the first record whose phase passed it), and the onsets come from the replay; the replay is
checked against the live record record by record (phase and smoothed SNR exactly, and the action
at the confirmation of total diffusion when ``diagnostics.snr.on_total_diffusion`` asked for one).
Files without the live fields (older runs, ``live=false``) get the replay alone.

**The theoretical confirmation delay.** With K = ``min_records`` (7), w = ``window`` (0.05
decades), r = 1 + ``persist`` (1.5), a transition whose smoothed curve crosses 1 at record i,
with onset (change point) k, is confirmed at the first record c (indices among the usable
records, steps s) that meets all of

    A  c >= i + K - 1 and s_c > r s_i           the sustained window [s_i, r s_i] is complete;
    B  c >= e + K - K//2 - 1 = e + 3            the running median of its last record e (the last
       and s_c > (s_e + 1) 10**w - 1            record <= r s_i, or i + K - 1 if later) is fixed:
                                                its +-w window is past and its 3 nearest
                                                records after it exist (the widened window);
    C  c >= i + 2K - 1                          the change-point fit's records (refine);
    D  c >= k + 2K - 1 and s_c > r s_k          the level-step windows (is_step);
    E  c >= the record that decided fitting -> diffusion (for total diffusion).

That is, by step: confirmed after about (r s_i + 1) 10**w - 1 ~= 1.68 s_i (A, B), and at least
13 records after both the crossing and the onset (C, D): with the CPU studies' cadence (every
5 steps to 300, then every 100) an onset at ~100 is confirmed ~70-100 steps later, an onset
at 200-300 at step 600 (B: the median of the record at 300 needs the records at 400, 500, 600),
and an onset at s >= 400 after max(0.68 s, 1,300 steps). Delay = confirmation step - onset step.
Each row's ``theory`` column checks the measured confirmation against this rule's record (``ok``:
the same record); a transition found offline only is one the run ended before confirming (the
row gives the step the rule needed).

Markdown on stdout: one row per run, then per group (experiment/weighting, plus any other
choice that differs within it) the mean and max |online - offline| over the transitions both
see, the mean delay, and the runs where only one detector sees a transition. Exit code 1 when a
file cannot be read or any check fails (replay vs live record, finish() vs detect, theory).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import yaml

from pinn_cli.analysis.identity import run_identity
from pinn_cli.phases.online import OnlinePhases
from pinn_cli.phases.offline import PhaseParams, first_crossing, is_step, refine, running_median
from pinn_cli.analysis.summary import analyze_run
from pinn_cli.run_folder import RunFolder
from pinn_cli.diagnostics.probes import ACTIONS, PHASES
from pinn_cli.runfile import RunFileError, read_run

KINDS = ("fitting_end", "total_diffusion")
SHORT = {"fitting_end": "fit->diff", "total_diffusion": "->total"}


# ---- one run ----------------------------------------------------------------------------------
def live_confirmations(phase: np.ndarray, steps: np.ndarray) -> dict:
    """{kind: step of the first record whose live phase is past the transition, or None}, and
    whether the live phase ever went backwards."""
    phase = np.asarray(phase, dtype=int)
    out = dict.fromkeys(KINDS)
    known = np.flatnonzero(phase > 0)
    started = bool(len(known)) and phase[known[0]] == PHASES.index("fitting")
    if started:
        past = np.flatnonzero(phase >= PHASES.index("diffusion"))
        out["fitting_end"] = int(steps[past[0]]) if len(past) else None
    total = np.flatnonzero(phase == PHASES.index("total_diffusion"))
    out["total_diffusion"] = int(steps[total[0]]) if len(total) else None
    out["monotone"] = bool(np.all(np.diff(phase) >= 0))
    return out


def usable(steps, snr):
    """The records the online detector keeps (finite, positive, not before the previous one)."""
    keep, last = [], -np.inf
    for n, (s, v) in enumerate(zip(np.asarray(steps, float), np.asarray(snr, float))):
        if np.isfinite(s) and np.isfinite(v) and v > 0 and s >= last:
            keep.append(n)
            last = s
    return np.asarray(keep, dtype=int)


def predicted_confirmations(s: np.ndarray, v: np.ndarray, p: PhaseParams) -> dict:
    """{kind: (crossing i, onset k, index c of the confirming record or None, the step the
    confirming record must be past, the number of records it needs)} from rules A-E of the
    module docstring, for the transitions detect finds on the usable records (s, v)."""
    out, K, r = {}, p.min_records, 1 + p.persist
    if len(s) == 0:
        return out
    x, y = np.log10(s + 1), np.log10(v)
    sm = running_median(x, y, p.window, K)
    started, start, prev = bool(sm[0] > 0), 0, 0
    for kind, up in (("fitting_end", False), ("total_diffusion", True)):
        if kind == "fitting_end" and not started:
            continue
        i = first_crossing(s, sm, start, up, p, p.fit_by if not up else np.inf)
        if i is None:
            break
        k = refine(y, i, K, up)
        if not is_step(s, y, k, up, p):              # rejected: no transition, the search stops
            break
        e = max(int(np.searchsorted(s, s[i] * r, side="right")), i + K) - 1
        conds = [(i + K - 1, s[i] * r, None),                 # A
                 (max(K - 1, e + K - K // 2 - 1), None, e),    # B (x_c > x_e + w, as the code)
                 (i + 2 * K - 1, None, None),                   # C
                 (k + 2 * K - 1, s[k] * r, None),               # D
                 (prev, None, None)]                            # E
        c, need, need_n = 0, 0.0, max(lo for lo, _, _ in conds) + 1
        for lo, step_gt, e_idx in conds:
            ok = np.arange(len(s)) >= lo
            if step_gt is not None:
                ok &= s > step_gt
                need = max(need, step_gt)
            if e_idx is not None and e_idx < len(s):
                ok &= x > x[e_idx] + p.window
                need = max(need, (s[e_idx] + 1) * 10**p.window - 1)
            hit = np.flatnonzero(ok)
            c = None if c is None or len(hit) == 0 else max(c, int(hit[0]))
        out[kind] = (i, k, c, need, need_n)
        prev = c if c is not None else len(s)
        start = i
    return out


def compare_run(path, params: PhaseParams | None = None) -> dict:
    """Offline and online onsets of one run file, the confirmation steps (live and replayed),
    the delays, and the checks; -> a plain dict (see ``row``)."""
    p = params or PhaseParams()
    run = read_run(Path(path))
    ident = run_identity(run.attrs, run.path.parent)
    ch = ident["choices"]
    res = {"path": str(run.path), "status": run.attrs.get("status"),
           "experiment": ch.get("experiment") or ch.get("pde", "?"),
           "weighting": ch.get("weighting", "none"), "seed": ident["seed"],
           "choices": {k: v for k, v in ch.items() if k not in ("diagnostics",)},
           "overrides": ident["label"], "problems": [], "kinds": {}}
    res["label"] = f"{res['experiment']}/{res['weighting']}/{res['seed']}"
    summary = analyze_run(run, p)
    snr = run.data("snr")
    if not snr:
        res["no_snr"] = True
        return res
    res["no_snr"] = False
    steps, glob = snr["step"], snr["global"]
    off = {"fitting_end": summary["phases"]["fitting_to_diffusion"]["step"],
           "total_diffusion": summary["phases"]["total_diffusion"]["step"]}
    # the replay, record by record as the probe fed them
    det, phase, smooth = OnlinePhases(p), [], []
    for s_, v_ in zip(steps, glob):
        st = det.update(s_, v_)
        phase.append(PHASES.index(st.phase))
        smooth.append(np.nan if st.smooth is None else st.smooth)
    phase, smooth = np.asarray(phase), np.asarray(smooth)
    trans = {t.kind: t for t in det.transitions}
    online = dict(det.onsets)
    final = OnlinePhases.replay(steps, glob, p).finish()
    for kind in KINDS:
        if getattr(final, kind) != off[kind]:
            res["problems"].append(f"finish() {SHORT[kind]} {getattr(final, kind)} != "
                                   f"detect {off[kind]}")
    # the live record
    res["live"] = "phase" in snr
    live = live_confirmations(snr["phase"], steps) if res["live"] else {}
    if res["live"]:
        res["live_check"] = _check_live(snr, steps, phase, smooth, trans, run.attrs)
        res["problems"] += res["live_check"]
        if not live["monotone"]:
            res["problems"].append("live phase went backwards")
    keep = usable(steps, glob)
    pred = predicted_confirmations(np.asarray(steps, float)[keep], np.asarray(glob, float)[keep], p)
    s_use = np.asarray(steps)[keep]
    for kind in KINDS:
        t = trans.get(kind)
        d = {"offline": off[kind], "online": online[kind],
             "confirmed": t.confirmed_at if t else None,
             "live_confirmed": live.get(kind) if res["live"] else None,
             "records_after": t.records_after if t else None}
        d["diff"] = (d["online"] - d["offline"]
                     if d["online"] is not None and d["offline"] is not None else None)
        d["delay"] = d["confirmed"] - d["online"] if t else None
        d["ratio"] = d["confirmed"] / d["online"] if t and d["online"] > 0 else None
        if kind in pred:
            i, k, c, need, need_n = pred[kind]
            d["predicted"] = int(s_use[c]) if c is not None else None
            d["needs_step"], d["needs_records"] = float(need), int(need_n)
            if int(s_use[k]) != off[kind]:
                res["problems"].append(f"theory: onset record {int(s_use[k])} != {off[kind]}")
        else:
            d["predicted"], d["needs_step"], d["needs_records"] = None, None, None
        if d["predicted"] != d["confirmed"]:
            res["problems"].append(f"theory: {SHORT[kind]} confirmed at {d['confirmed']}, "
                                   f"rule A-E gives {d['predicted']}")
        if d["online"] is not None and d["offline"] != d["online"]:
            res["problems"].append(f"{SHORT[kind]}: online {d['online']} != offline {d['offline']}")
        res["kinds"][kind] = d
    res["records"], res["usable"] = int(len(steps)), int(len(keep))
    res["last_step"] = int(steps[-1]) if len(steps) else 0
    return res


def _check_live(snr, steps, phase, smooth, trans, attrs) -> list[str]:
    """The replay against the live record: phase and smoothed SNR per record, exactly, and the
    action at the confirmation of total diffusion."""
    out = []
    bad = np.flatnonzero(np.asarray(snr["phase"], dtype=int) != phase)
    if len(bad):
        n = bad[0]
        out.append(f"live phase {PHASES[int(snr['phase'][n])]} != replay {PHASES[phase[n]]} "
                   f"at step {int(steps[n])} ({len(bad)} records)")
    if "smooth" in snr:
        live_sm = np.asarray(snr["smooth"], dtype=float)
        same = (live_sm == smooth) | (np.isnan(live_sm) & np.isnan(smooth))
        if not same.all():
            n = np.flatnonzero(~same)[0]
            out.append(f"live smooth {live_sm[n]:.6g} != replay {smooth[n]:.6g} at step "
                       f"{int(steps[n])} ({int((~same).sum())} records)")
    if "action" in snr:
        try:
            cfg = yaml.safe_load(attrs.get("config") or "") or {}
            want = ((cfg.get("diagnostics") or {}).get("snr") or {}).get("on_total_diffusion",
                                                                             "none")
        except yaml.YAMLError:
            want = "none"
        expect = np.zeros(len(steps), dtype=int)
        t = trans.get("total_diffusion")
        if t is not None and want in ACTIONS and want != "none":
            at = int(np.flatnonzero(np.asarray(steps) == t.confirmed_at)[0])
            expect[at] = ACTIONS.index(want)
        if not np.array_equal(np.asarray(snr["action"], dtype=int), expect):
            out.append(f"live actions {np.flatnonzero(snr['action']).tolist()} != expected "
                       f"({want} at the confirmation of total diffusion)")
    return out


# ---- the tables -------------------------------------------------------------------------------
def _n(v) -> str:
    return "-" if v is None else str(v)


def _delay(d) -> str:
    if d["delay"] is None:
        return "-"
    return f"{d['delay']} ({d['ratio']:.2f}x)" if d["ratio"] else str(d["delay"])


def _confirmed(d, live: bool) -> str:
    if d["confirmed"] is None:
        return "-"
    if live and d["live_confirmed"] != d["confirmed"]:
        return f"{d['confirmed']} (live {_n(d['live_confirmed'])}!)"
    return str(d["confirmed"])


def _theory(res) -> str:
    notes = []
    for kind in KINDS:
        d = res["kinds"][kind]
        if d["offline"] is not None and d["online"] is None:
            notes.append(f"{SHORT[kind]} needs a record past step {d['needs_step']:.0f} and "
                         f"{d['needs_records']} usable records (run: to step {res['last_step']}, "
                         f"{res['usable']} records)")
        elif d["predicted"] != d["confirmed"]:
            notes.append(f"{SHORT[kind]} rule: {_n(d['predicted'])}")
    return "; ".join(notes) or "ok"


HEADER = ("| run | status | records | fit->diff offline | online | diff | confirmed | delay "
          "| ->total offline | online | diff | confirmed | delay | theory | replay vs live |\n"
          "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")


def row(res: dict) -> str:
    name = res["label"] + (f" ({res['group_extra']})" if res.get("group_extra") else "")
    if res["no_snr"]:
        return f"| {name} | {res['status']} | 0 | no SNR records |" + " |" * 12
    cells = [name, str(res["status"]), str(res["records"])]
    for kind in KINDS:
        d = res["kinds"][kind]
        cells += [_n(d["offline"]), _n(d["online"]), _n(d["diff"]), _confirmed(d, res["live"]),
                  _delay(d)]
    live = ("no live fields" if not res["live"] else
            "; ".join(res["live_check"]) if res["live_check"] else "agree")
    other = [q for q in res["problems"] if not q.startswith("theory") and q not in
             res.get("live_check", [])]
    cells += [_theory(res), live + ("; " + "; ".join(other) if other else "")]
    return "| " + " | ".join(cells) + " |"


def name_groups(results: list[dict]) -> None:
    """group: experiment/weighting, plus the choices (and overrides) that differ within it."""
    by = {}
    for r in results:
        by.setdefault((r["experiment"], r["weighting"]), []).append(r)
    for (exp, w), rs in by.items():
        keys = sorted({k for r in rs for k in r["choices"]} - {"experiment", "weighting"})
        differ = [k for k in keys if len({r["choices"].get(k) for r in rs}) > 1]
        labels = len({r["overrides"] for r in rs}) > 1
        for r in rs:
            extra = [f"{k}={r['choices'].get(k)}" for k in differ]
            if labels and not differ:
                extra.append(r["overrides"])
            r["group_extra"] = " ".join(extra)
            r["group"] = f"{exp}/{w}" + (f" ({r['group_extra']})" if extra else "")
    names = {}
    for r in results:                    # runs that differ in nothing above: their folders
        names.setdefault((r["label"], r["group_extra"]), []).append(r)
    for same in (s for s in names.values() if len(s) > 1):
        for r in same:
            r["group_extra"] = " ".join(filter(None, [r["group_extra"],
                                                      Path(r["path"]).parent.name]))


def summary_rows(results: list[dict]) -> list[str]:
    out = ["| group | runs | both see (fit, total) | mean abs diff | max abs diff "
           "| mean delay fit->diff | mean delay ->total | one detector only | checks failed |",
           "|---|--:|---|--:|--:|--:|--:|--:|--:|"]
    groups = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    for g, rs in list(groups.items()) + [("**all**", results)]:
        rs = [r for r in rs if not r["no_snr"]]
        if not rs:
            continue
        diffs, delays, ratios, both = [], {k: [] for k in KINDS}, {k: [] for k in KINDS}, []
        one_only = 0
        for k in KINDS:
            both.append(sum(r["kinds"][k]["diff"] is not None for r in rs))
        for r in rs:
            lone = False
            for k in KINDS:
                d = r["kinds"][k]
                if d["diff"] is not None:
                    diffs.append(abs(d["diff"]))
                if d["delay"] is not None:
                    delays[k].append(d["delay"])
                    ratios[k].append(d["ratio"])
                lone |= (d["offline"] is None) != (d["online"] is None)
            one_only += lone

        def mean_delay(k):
            if not delays[k]:
                return "-"
            return f"{statistics.mean(delays[k]):.0f} ({statistics.mean(ratios[k]):.2f}x)"
        out.append(f"| {g} | {len(rs)} | {both[0]}, {both[1]} | "
                   f"{statistics.mean(diffs):.1f} | {max(diffs)} | " if diffs else
                   f"| {g} | {len(rs)} | {both[0]}, {both[1]} | - | - | ")
        out[-1] += (f"{mean_delay('fitting_end')} | {mean_delay('total_diffusion')} | "
                    f"{one_only} | {sum(bool(r['problems']) for r in rs)} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args(argv)
    results, failed = [], 0
    for path in args.paths:
        files = RunFolder.run_files_under(path)
        if not files:
            print(f"{path}: no run.h5 found", file=sys.stderr)
            failed = 1
        for f in files:
            try:
                results.append(compare_run(f))
            except RunFileError as e:
                print(f"{f}: {e}", file=sys.stderr)
                failed = 1
    if not results:
        return 1
    name_groups(results)
    results.sort(key=lambda r: (r["group"], str(r["seed"]), r["path"]))
    print(HEADER)
    for r in results:
        print(row(r))
    print()
    print("\n".join(summary_rows(results)))
    bad = [r for r in results if r["problems"]]
    print(f"\n{len(results)} runs; checks failed in {len(bad)}"
          + "".join(f"\n- {r['label']} ({r['path']}): {'; '.join(r['problems'])}" for r in bad))
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
