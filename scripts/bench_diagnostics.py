"""What the diagnostics cost, on the paper network (6 x 128 tanh, Allen-Cahn, 25,600 points).

Prints, from one process:
  - the median training step with no capture, and with the SNR capture (fast path), timed
    round-robin with the naive SNR so that machine drift hits all three alike;
  - the naive SNR (one backward per batch, 100 batches of 256) against the fast one: time,
    and the agreement of the SNR values;
  - the cost of every probe of the ``paper`` preset, and their total over a 300,000-step run
    as a share of that run's training time (the preset's overhead);
  - optionally (--window N) a direct measurement: N consecutive steps through the trainer's loop
    with diagnostics off and with a cadence of every 100 steps.

    python scripts/bench_diagnostics.py [--device cuda] [--repeats 5]
"""
from __future__ import annotations

import argparse

import torch

from benchlib import alternating, median_time, trainer
from pinn_cli.diagnostics.recorder import StepState
from pinn_cli.diagnostics.snr import naive_batch_gradients, snr_stats

PAPER = ["pde=allen_cahn", "model.depth=6", "model.width=128", "diagnostics=paper"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=300_000, help="run length for the overhead")
    args = ap.parse_args()
    tr = trainer(PAPER + [f"device={args.device}"])
    dev = tr.device
    print(f"paper network on {dev}: depth 6, width 128, {len(tr.points['res'])} points, "
          f"engine {tr.field.engine}, torch {torch.__version__}, threads {torch.get_num_threads()}")

    med = alternating({
        "plain": lambda: tr.forward_backward(capture=False, update_weights=False),
        "capture": lambda: tr.forward_backward(capture=True, update_weights=False),
        "naive": lambda: naive_batch_gradients(tr, tr.snr_batches)}, args.repeats, dev)
    t_plain, t_capture, t_naive = med["plain"], med["capture"], med["naive"]
    *_, fast = tr.forward_backward(capture=True, update_weights=False)
    naive = naive_batch_gradients(tr, tr.snr_batches)
    s_fast, s_naive = snr_stats(fast), snr_stats(naive)
    rel = abs(s_fast["global"] / s_naive["global"] - 1).item()
    t_stats = median_time(lambda: snr_stats(fast), args.repeats, dev)
    fast_cost = t_capture - t_plain + t_stats
    print(f"step (no capture)        {t_plain * 1e3:9.1f} ms")
    print(f"step (SNR capture)       {t_capture * 1e3:9.1f} ms")
    print(f"SNR naive loop           {(t_naive + t_stats) * 1e3:9.1f} ms  ({tr.snr_batches} backward passes)")
    print(f"SNR fast (extra cost)    {fast_cost * 1e3:9.1f} ms  = capture - plain step + statistics")
    print(f"fast SNR speed-up over the naive loop: {(t_naive + t_stats) / fast_cost:.1f}x "
          f"(marginal cost); {(t_naive + t_stats) / t_capture:.1f}x counting the whole captured step")
    print(f"fast vs naive SNR agreement: global SNR {s_fast['global']:.6g} vs {s_naive['global']:.6g}, "
          f"relative difference {rel:.2e}")

    # every probe of the preset, at a step, and its count over the whole run
    loss, terms, res, grads = tr.forward_backward(capture=True, update_weights=False)
    total = (t_capture - t_plain) * next(p for p in tr.recorder.probes if p.group == "snr").cadence.count(0, args.iterations)
    print(f"{'probe':<14}{'cost/record':>14}{'records':>10}{'share of run':>14}")
    for p in tr.recorder.probes:
        def once(p=p):
            before = {p.group: p.before(tr, 0)}
            p.record(tr, StepState(0, loss, terms, res, 1e-3, 0.0, before, grads))
        cost = median_time(once, args.repeats, dev)
        n = p.cadence.count(0, args.iterations)
        total += cost * n
        print(f"{p.group:<14}{cost * 1e3:11.1f} ms{n:10d}{cost * n / (t_plain * args.iterations):13.3%}")
    print(f"(SNR capture: {(t_capture - t_plain) * 1e3:.1f} ms extra on each SNR step)")
    print(f"paper preset overhead over {args.iterations} steps: {total / (t_plain * args.iterations):.2%} "
          f"of training time")


if __name__ == "__main__":
    main()
