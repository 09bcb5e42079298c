"""Every weighting scheme on the CPU presets, and what the new diagnostics and schemes cost.

    python scripts/weighting_study.py study [--experiments cpu_allen_cahn,cpu_burgers]
        [--weightings none,rba,sa,gradnorm,causal,rba_gradnorm] [--seeds 0,1,2]
        [--iterations N] [--n-jobs 1] [--out DIR] [overrides...]
    python scripts/weighting_study.py report DIR
    python scripts/weighting_study.py overhead [--experiment cpu_allen_cahn] [--repeats 7]

``study`` trains ``+experiment=<E> weighting=<W> seed=<S>`` for every combination (one thread
per run, ``--n-jobs`` at once; the presets' ``paper`` diagnostics include the per-term probe
``/terms`` on the SNR cadence), and prints per run: the fitting -> diffusion and -> total diffusion onsets (pinn-analyze's
``analyze_run``), the final rel-L2, the time per step, and the gradient alignment score of the
loss terms before and after the total-diffusion onset (means of ``/terms/alignment`` over the
records before it and from it on; without an onset, over the first and second half of the run).
RBA runs with the presets' gamma 0.99, eta 0.01 (``cpu_*_rba``), also inside rba_gradnorm.

Runs go through ``scripts/studylib.py``: invoked again on the same ``--out``, finished runs
are kept and stopped ones continue from their checkpoint; Ctrl-C checkpoints the running runs
and starts no further one; each run's output goes to ``<run folder>.log``. ``report`` prints the
table again for a study folder (runs not done are listed, not counted). ``overhead`` times, on the preset's network and points (weighting none, float32, one thread,
medians of round-robin repeats): a plain step, a step with the SNR capture as it is now (per-term
split of the backward) and with the condition terms' backward in one piece (the split undone),
each probe's record, grad-norm's update steps against its ordinary ones, and a training step
(no capture) under every weighting.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import studylib  # noqa: E402  (scripts/)
WEIGHTINGS = "none,rba,sa,gradnorm,causal,rba_gradnorm"
RBA = {"rba": ["weighting.gamma=0.99", "weighting.eta=0.01"],
       "rba_gradnorm": ["weighting.schemes.0.gamma=0.99", "weighting.schemes.0.eta=0.01"]}


def job(out: Path, experiment: str, weighting: str, seed: int, extra: list[str]):
    """(folder, pinn-train command) of one run, for ``studylib.train_all``."""
    folder = out / experiment / f"{weighting}_seed{seed}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder, [str(studylib.BIN / "pinn-train"), f"+experiment={experiment}",
                    f"weighting={weighting}", f"seed={seed}", "threads=1",
                    f"hydra.run.dir={folder}", *RBA.get(weighting, []), *extra]


def window_mean(steps, values, lo, hi):
    sel = [v for s, v in zip(steps, values) if lo <= s < hi and np.isfinite(v)]
    return statistics.mean(sel) if sel else None


def describe_run(folder: Path) -> dict:
    from pinn_cli.analysis.summary import analyze_run
    from pinn_cli.runfile import read_run

    run = read_run(folder / "run.h5")
    s = analyze_run(run)
    fd, td = (s["phases"].get(k, {}).get("step") for k in ("fitting_to_diffusion", "total_diffusion"))
    terms = run.series["terms"]
    last = int(run.attrs.get("steps") or s["last_step"])
    split = td if td is not None else last / 2
    return {"fitting_end": fd, "total_diffusion": td, "final_rel_l2": s["final"]["rel_l2"],
            "ms_per_step": 1e3 * float(run.attrs["wall_time"]) / max(last, 1),
            "align_before": window_mean(terms["step"], terms["alignment"], 0, split),
            "align_after": window_mean(terms["step"], terms["alignment"], split, last + 1),
            "split_at": split}


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def study(args) -> None:
    out = args.out or Path("outputs/weighting_study") / time.strftime("%Y%m%d-%H%M%S")
    extra = list(args.overrides) + ([f"iterations={args.iterations}"] if args.iterations else [])
    jobs = [job(out, e, w, int(s), extra) for e in args.experiments.split(",")
            for w in args.weightings.split(",") for s in args.seeds.split(",")]
    print(f"{len(jobs)} runs in {out} (overrides: {extra}); finished ones are kept, stopped ones "
          f"continue", flush=True)
    studylib.train_all(jobs, args.n_jobs, f"python {sys.argv[0]} report {out}")
    report(out)


def report(out: Path) -> None:
    """The table of every run under ``out`` (``<experiment>/<weighting>_seed<S>/run.h5``)."""
    from pinn_cli.runfile import read_attrs

    rows, unfinished = [], []
    for f in sorted(out.glob("*/*_seed*/run.h5")):
        weighting, seed = f.parent.name.rsplit("_seed", 1)
        if read_attrs(f).get("status") != "done":        # running, stopped or failed: not counted
            unfinished.append(f.parent)
            continue
        rows.append({"experiment": f.parent.parent.name, "weighting": weighting, "seed": int(seed),
                     **describe_run(f.parent)})
    (out / "study.json").write_text(json.dumps(rows, indent=1, default=float))
    print(f"{'experiment':<16}{'weighting':<14}{'seed':>4}{'F->D':>7}{'->TD':>7}{'rel-L2':>10}"
          f"{'ms/step':>9}{'align<':>9}{'align>=':>9}")
    for r in rows:
        td = fmt(r["total_diffusion"], "d") if r["total_diffusion"] is not None else "-"
        print(f"{r['experiment']:<16}{r['weighting']:<14}{r['seed']:>4}{fmt(r['fitting_end'], 'd'):>7}"
              f"{td:>7}{fmt(r['final_rel_l2']):>10}{r['ms_per_step']:>9.1f}"
              f"{fmt(r['align_before'], '.2f'):>9}{fmt(r['align_after'], '.2f'):>9}")
    print("align< / align>=: mean alignment score before / from the total-diffusion onset "
          "(no onset: first / second half of the run)")
    print(summary_table(rows))
    if unfinished:
        print(f"not counted (not done): {', '.join(str(p.relative_to(out)) for p in unfinished)}")


def summary_table(rows: list[dict]) -> str:
    """Per experiment and weighting, over seeds: onsets (how many runs reach each, their mean),
    final rel-L2 mean +- std (and the ratio to ``none``), ms per step, alignment before/after."""
    def mean(vals, spec=".3g"):
        vals = [v for v in vals if v is not None]
        return "-" if not vals else format(statistics.mean(vals), spec)

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["experiment"], r["weighting"]), []).append(r)
    lines = ["| experiment | weighting | seeds | F→D (runs: mean) | →TD (runs: mean) | final rel-L2 "
             "| vs none | ms/step | alignment before / after |", "|---|---|---|---|---|---|---|---|---|"]
    for (e, w), rs in sorted(groups.items()):
        base = [r["final_rel_l2"] for r in groups.get((e, "none"), [])]
        ratio = (f"{statistics.mean(r['final_rel_l2'] for r in rs) / statistics.mean(base):.2f}x"
                 if base else "-")
        onset = {k: [r[k] for r in rs if r[k] is not None] for k in ("fitting_end", "total_diffusion")}
        lines.append(f"| {e} | {w} | {len(rs)} | {len(onset['fitting_end'])}: {mean(onset['fitting_end'], '.0f')} "
                     f"| {len(onset['total_diffusion'])}: {mean(onset['total_diffusion'], '.0f')} "
                     f"| {studylib.spread((r['final_rel_l2'] for r in rs), sd_spec='.2g')} | {ratio} "
                     f"| {mean((r['ms_per_step'] for r in rs), '.0f')} "
                     f"| {mean((r['align_before'] for r in rs), '.2f')} / {mean((r['align_after'] for r in rs), '.2f')} |")
    return "\n".join(lines)


def overhead(args) -> None:
    import torch
    from benchlib import alternating, median_time, trainer
    from pinn_cli.diagnostics.base import StepState

    tr = trainer([f"+experiment={args.experiment}", "device=cpu", "threads=1"])
    obj, b = tr.loss, tr.recorder.batches
    print(f"{args.experiment}: {obj.n_res} points, {b} SNR batches, {sum(p.numel() for p in obj.model_params)} "
          f"parameters, conditions {[k for k in obj.term_weights if k != 'res']}, torch threads "
          f"{torch.get_num_threads()}")
    split, joined = obj._backward_per_term, obj._model_grads

    def step(capture, one_piece=False):
        obj.zero_grad()
        if one_piece:                                          # the backward before the split
            obj._backward_per_term = lambda terms: (sum(obj.term_weights[k] * t
                                                        for k, t in terms.items()).backward(), {})[1]
            obj._model_grads = lambda: []
        try:
            return obj.backward(0, update=False, capture=capture)
        finally:
            obj._backward_per_term, obj._model_grads = split, joined

    med = alternating({"plain": lambda: step(0), "capture": lambda: step(b),
                       "capture_one_piece": lambda: step(b, True)}, args.repeats)
    out = step(b)
    state = StepState(0, out.loss, out.terms, out.residuals, 1e-3, 0.0, {}, out.batch_moments)
    probe = {p.group: p for p in tr.recorder.probes}
    rec = {g: median_time(lambda p=probe[g]: p.record(tr.ctx, state), args.repeats) for g in ("snr", "terms")}
    plain = med["plain"]
    for k, v in [*med.items(), *((f"record {g}", t) for g, t in rec.items())]:
        print(f"  {k:<22}{v * 1e3:9.2f} ms  ({v / plain:6.1%} of a plain step)")
    extra = med["capture"] - med["capture_one_piece"] + rec["terms"]
    print(f"  terms probe per SNR record: {extra * 1e3:.2f} ms = {extra / plain:.1%} of a plain step "
          f"(split {1e3 * (med['capture'] - med['capture_one_piece']):+.2f} ms, record "
          f"{1e3 * rec['terms']:.2f} ms)")
    gn = trainer([f"+experiment={args.experiment}", "device=cpu", "threads=1", "weighting=gradnorm",
                  "weighting.every=2", "diagnostics=basic"])

    def gn_step(i):
        gn.objective.zero_grad()
        gn.objective.backward(i)
        gn.weighting.step()

    t = alternating({"due": lambda: gn_step(0), "not due": lambda: gn_step(1)}, args.repeats)
    print(f"  gradnorm: update step {t['due'] * 1e3:.2f} ms, ordinary step {t['not due'] * 1e3:.2f} ms "
          f"({t['due'] / t['not due'] - 1:+.1%})")
    schemes = {w: trainer([f"+experiment={args.experiment}", "device=cpu", "threads=1",
                           f"weighting={w}", "diagnostics=basic", *RBA.get(w, [])])
               for w in WEIGHTINGS.split(",")}
    t = alternating({w: lambda tr=tr: tr.step(1) for w, tr in schemes.items()}, args.repeats)
    print("  training step (no capture) by weighting: " + ", ".join(
        f"{w} {v * 1e3:.1f} ms ({v / t['none'] - 1:+.0%})" for w, v in t.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("study")
    s.add_argument("--experiments", default="cpu_allen_cahn,cpu_burgers")
    s.add_argument("--weightings", default=WEIGHTINGS)
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--iterations", type=int, default=0, help="0: the presets' 10,000")
    s.add_argument("--n-jobs", type=int, default=1)
    s.add_argument("--out", type=Path, default=None)
    s.add_argument("overrides", nargs="*", help="further pinn-train overrides")
    r = sub.add_parser("report", help="the table of a study folder's runs")
    r.add_argument("out", type=Path)
    o = sub.add_parser("overhead")
    o.add_argument("--experiment", default="cpu_allen_cahn")
    o.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    {"study": study, "overhead": overhead, "report": lambda a: report(a.out)}[args.mode](args)


if __name__ == "__main__":
    main()
