"""What the diagnostics cost, on the paper network (6 x 128 tanh, Allen-Cahn, 25,600 points).

Prints, from one process:
  - the median backward with no capture, and with the SNR capture (fast path: the batch
    moments from the step's own backward), timed round-robin with the naive SNR so that machine
    drift hits all three alike;
  - the naive SNR (one backward per batch, 100 batches of 256) against the fast one: time,
    and the agreement of the SNR values;
  - the cost of every probe of the ``paper`` preset, and their total over a 300,000-step run
    as a share of that run's training time (the preset's overhead);

    python scripts/bench_diagnostics.py [--device cuda] [--repeats 5]
"""
from __future__ import annotations

import argparse

import torch

from benchlib import alternating, median_time, trainer
from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.diagnostics.snr import snr_stats

PAPER = ["pde=allen_cahn", "model.depth=6", "model.width=128", "diagnostics=paper"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=300_000, help="run length for the overhead")
    args = ap.parse_args()
    tr = trainer(PAPER + [f"device={args.device}"])
    obj, dev, b = tr.loss, tr.device, tr.recorder.batches
    print(f"paper network on {dev}: depth 6, width 128, {obj.n_res} points, {b} SNR batches, "
          f"engine {tr.field.engine}, torch {torch.__version__}, threads {torch.get_num_threads()}")

    def backward(capture):
        obj.zero_grad()
        return obj.backward(0, update=False, capture=capture)

    def naive():
        obj.zero_grad()
        return BatchMoments.from_batches(obj.batch_gradients(b))

    med = alternating({"plain": lambda: backward(0), "capture": lambda: backward(b),
                       "naive": naive}, args.repeats, dev)
    t_plain, t_capture, t_naive = med["plain"], med["capture"], med["naive"]
    out = backward(b)
    fast = out.batch_moments
    s_fast, s_naive = snr_stats(fast), snr_stats(naive())
    rel = abs(s_fast["global"] / s_naive["global"] - 1).item()
    t_stats = median_time(lambda: snr_stats(fast), args.repeats, dev)
    fast_cost = t_capture - t_plain + t_stats
    print(f"backward (no capture)    {t_plain * 1e3:9.1f} ms")
    print(f"backward (SNR capture)   {t_capture * 1e3:9.1f} ms")
    print(f"SNR naive loop           {(t_naive + t_stats) * 1e3:9.1f} ms  ({b} backward passes)")
    print(f"SNR fast (extra cost)    {fast_cost * 1e3:9.1f} ms  = capture - plain + statistics")
    print(f"fast SNR speed-up over the naive loop: {(t_naive + t_stats) / fast_cost:.1f}x "
          f"(marginal cost); {(t_naive + t_stats) / t_capture:.1f}x counting the whole captured step")
    print(f"fast vs naive SNR agreement: global SNR {s_fast['global']:.6g} vs {s_naive['global']:.6g}, "
          f"relative difference {rel:.2e}")

    # every probe of the preset: its cost per record and its records over the whole run
    t_step = median_time(lambda: tr.step(1), args.repeats, dev)   # a whole training step
    snr_probe = next(p for p in tr.recorder.probes if p.group == "snr")
    total = (t_capture - t_plain) * snr_probe.cadence.count(0, args.iterations)
    print(f"training step (no capture) {t_step * 1e3:.1f} ms")
    print(f"{'probe':<14}{'cost/record':>14}{'records':>10}{'share of run':>14}")
    for p in tr.recorder.probes:
        def once(p=p):
            before = {p.group: p.before(tr.view, 0)}
            out.batch_moments = fast
            p.record(tr.view, tr.step_state(0, out, 1e-3, 0.0, before))
        cost = median_time(once, args.repeats, dev)
        n = p.cadence.count(0, args.iterations)
        total += cost * n
        print(f"{p.group:<14}{cost * 1e3:11.2f} ms{n:10d}{cost * n / (t_step * args.iterations):13.3%}")
    print(f"(SNR capture: {(t_capture - t_plain) * 1e3:.1f} ms extra on each SNR step, "
          f"{snr_probe.cadence.count(0, args.iterations)} SNR steps)")
    print(f"paper preset overhead over {args.iterations} steps: {total / (t_step * args.iterations):.2%} "
          f"of training time")


if __name__ == "__main__":
    main()
