"""Per-term gradients and gradient noise, from what an SNR step already computes.

Inputs of one record (all over the weight matrices, biases excluded, as the SNR):

- g_k, the gradient of each loss term as it enters the loss (``res``: the interior's share of
  the step's ``.grad``, i.e. sum_b C_b of the SNR's fast path; each condition term from its own
  backward; ``StepState.term_grads``); sum_k g_k = G, the full gradient;
- g_b, b = 1..B, the SNR's batch gradients (batch b: n = N / B interior points plus the whole
  condition terms); mean_b g_b = G. Only their elementwise mean and variance are at hand
  (:class:`pinn_cli.diagnostics.moments.BatchMoments`), which is all the statistics below need.

Recorded (``TermProbe``, one group, e.g. ``/terms``):

    norm_k      = ||g_k||
    cos_j_k     = <g_j, g_k> / (||g_j|| ||g_k||)                      (every pair j < k)
    alignment   = 2 ||(1/K) sum_k g_k / ||g_k|| ||^2 - 1              in [-1, 1]

(the gradient alignment score of Wang, Bhartari, Li & Perdikaris, "Gradient alignment in
physics-informed neural networks: a second-order optimization perspective", 2025: 1 when all
terms pull the same way, -1 when their unit vectors cancel, the cosine itself for K = 2; terms
with a zero gradient are left out, NaN below two terms);

    noise_scale = B_simple = tr(Sigma) / ||G||^2,   tr(Sigma) ~ n / (B - 1) sum_b ||g_b - G||^2

(McCandlish, Kaplan, Amodei et al., "An empirical model of large-batch training", 2018: Sigma is
the covariance of one point's gradient; a batch mean of n points has covariance Sigma / n, so the
unbiased variance of the B batch gradients times n estimates tr(Sigma); the condition terms are
common to every batch and drop out; the finite-population factor 1 - n/N, 0.9 at B = 10, is
ignored). B_simple is in points: the batch size at which the gradient noise is as large as the
gradient. With the SNR's population variance it is n B / (B - 1) / SNR^2: the same information
as /snr/global, on the scale of a batch size;

    gsnr        = mean_p  mean_b(g_bp)^2 / var_b(g_bp)                (population variance)
    gsnr_median = the median over p of the same ratio

(the per-parameter gradient signal-to-noise ratio, GSNR, of Liu et al., "Understanding why neural
networks generalize well through GSNR of parameters", ICLR 2020, here over batch gradients: about
n times their per-example GSNR; parameters whose batch gradients do not vary are left out).
All statistics are computed in float64.
"""
from __future__ import annotations

import math
from typing import Literal

import torch

from pinn_cli.schema import Count
from pinn_cli.diagnostics.base import Probe, host
from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.diagnostics.snr import batch_count
from pinn_cli.runfile import SeriesSpec


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    """One gradient over several tensors as one float64 vector, (P,)."""
    return torch.cat([g.detach().reshape(-1).double() for g in grads])


def term_norms(vecs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{k: (P,)} -> {k: ()} the Euclidean norms."""
    return {k: v.norm() for k, v in vecs.items()}


def cosines(vecs: dict[str, torch.Tensor]) -> dict[tuple[str, str], torch.Tensor]:
    """{k: (P,)} -> {(j, k): ()} for every pair j before k; NaN where a gradient is zero."""
    keys = list(vecs)
    out = {}
    for a, j in enumerate(keys):
        for k in keys[a + 1:]:
            den = vecs[j].norm() * vecs[k].norm()
            out[(j, k)] = torch.where(den > 0, vecs[j] @ vecs[k] / den, math.nan)
    return out


def alignment_score(vecs: dict[str, torch.Tensor]) -> torch.Tensor:
    """2 ||(1/K) sum_k u_k||^2 - 1 over the K nonzero gradients, u_k = g_k / ||g_k||; NaN if K < 2."""
    v = torch.stack(list(vecs.values()))                                 # (K, P)
    norms = v.norm(dim=1, keepdim=True)                                  # (K, 1)
    units = torch.where(norms > 0, v / norms, 0.0)                       # zero rows left out
    k = (norms > 0).sum()
    score = 2 * (units.sum(0) / k).square().sum() - 1
    return torch.where(k >= 2, score, math.nan)


def noise_scale(moments, per_batch: int) -> torch.Tensor:
    """B_simple = n / (B - 1) sum_b ||g_b - G||^2 / ||G||^2 from B batch gradients of n points,
    sum_b ||g_b - G||^2 being sum_l sum M2_l.

    Args:
        moments: the batch gradients' :class:`BatchMoments` (or one (B, *shape_l) tensor per
            weight matrix).
        per_batch: n, points per batch.
    """
    moments = BatchMoments.of(moments)
    spread = sum(m.sum() for m in moments.m2)
    signal = sum(m.square().sum() for m in moments.mean)
    return per_batch * spread / (moments.count - 1) / signal


def gsnr(moments) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, median) over parameters of mean_b(g)^2 / var_b(g), population variance; the
    parameters with var_b = 0 are left out (NaN if none is left).

    Args:
        moments: the batch gradients' :class:`BatchMoments` (or one (B, *shape_l) tensor per
            weight matrix).
    """
    moments = BatchMoments.of(moments)
    ratios = []
    for mean, var in zip(moments.mean, moments.var):
        mean, var = mean.reshape(-1), var.reshape(-1)                    # (P_l,)
        ratios.append(torch.where(var > 0, mean.square() / var, math.nan))
    r = torch.cat(ratios)                                                # (P,), NaN: left out
    return r.nanmean(), r.nanmedian()


class TermProbe(Probe):
    """Per-term gradient norms and alignment, gradient noise scale and GSNR (module docstring),
    on the SNR batch gradients of the step.

    Args:
        batches: B, as the SNR probe's (the run has one batch count).
    """

    kind = "terms"

    needs_capture = True

    def __init__(self, batches: Count | Literal["auto"] = 100, **cadence):
        super().__init__(**cadence)
        self.batches = batches

    def check(self, problem):
        self.batches = batch_count(problem.terms["res"], self.batches)

    def spec(self, view):
        keys = list(view.info.term_weights)
        names = [f"norm_{k}" for k in keys]
        names += [f"cos_{j}_{k}" for a, j in enumerate(keys) for k in keys[a + 1:]]
        names += ["alignment", "noise_scale", "gsnr", "gsnr_median"]
        return SeriesSpec({n: ((), "f8") for n in names})

    @torch.no_grad()
    def record(self, view, state):
        vecs = {k: flat(g) for k, g in state.term_grads.items()}
        values = {f"norm_{k}": v for k, v in term_norms(vecs).items()}
        values.update({f"cos_{j}_{k}": c for (j, k), c in cosines(vecs).items()})
        mean, median = gsnr(state.batch_moments)
        per_batch = len(state.points["res"]) // state.batch_moments.count
        values.update(alignment=alignment_score(vecs),
                      noise_scale=noise_scale(state.batch_moments, per_batch),
                      gsnr=mean, gsnr_median=median)
        return host(values)
