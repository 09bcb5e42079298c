"""BatchMoments (diagnostics/moments.py): Chan et al.'s merge against one-shot computations where
E[x^2] - E[x]^2 fails; the SNR, noise scale and GSNR from moments equal the formulas on the full
batch gradients; the fast capture's moments equal the naive ones when chunks hold unequal
numbers of batches."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.diagnostics.snr import snr_stats
from pinn_cli.diagnostics.terms import gsnr, noise_scale
from pinn_cli.training.trainer import Trainer


def _merged(grads, sizes):
    """Moments built by merging consecutive pieces of ``sizes`` batches."""
    acc, a = BatchMoments(), 0
    for s in sizes:
        acc.add([g[a:a + s] for g in grads])
        a += s
    assert a == len(grads[0])
    return acc


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_merge_float32_data_with_a_huge_mean_to_std_ratio():
    """float32 batch gradients with |mu| / sigma = 10^6 (var / mu^2 = 1e-12, the SNR at
    initialisation): the merged variance matches a one-shot two-pass computation in float64;
    E[x^2] - E[x]^2 in the data's precision loses it."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 4, generator=g, dtype=torch.float64).sign() * 1e3
    x = (mu + 1e-3 * torch.randn(97, 5, 4, generator=g, dtype=torch.float64)).float()   # (B, 5, 4)
    ref = x.double().numpy()
    m = _merged([x], [10, 31, 1, 40, 15])
    assert m.count == 97
    assert _rel(m.var[0], ref.var(0)) < 1e-3
    assert _rel(m.mean[0], ref.mean(0)) < 1e-12
    naive = (x.square().mean(0) - x.mean(0).square()).double().numpy()
    assert _rel(naive, ref.var(0)) > 1e-3                    # the test can fail


def test_merge_is_stable_where_the_naive_formula_fails_in_its_own_precision():
    """float64 data with |mu| / sigma = 10^8: Chan's merge keeps the variance, E[x^2] - E[x]^2
    (in float64 too) does not."""
    g = torch.Generator().manual_seed(1)
    x = 1e4 + 1e-4 * torch.randn(64, 30, generator=g, dtype=torch.float64)
    ref = x.numpy().var(0)
    m = _merged([x], [7, 7, 7, 43])
    assert _rel(m.var[0], ref) < 1e-3
    naive = (x.square().mean(0) - x.mean(0).square()).numpy()
    assert _rel(naive, ref) > 1e-3


def _random_batch_grads(dtype=torch.float64, b=7):
    g = torch.Generator().manual_seed(2)
    grads = [torch.randn(b, 3, 4, generator=g, dtype=dtype) + 0.3,
             torch.randn(b, 2, 3, generator=g, dtype=dtype)]
    grads[1][:, 0, 0] = 0.25                                 # zero variance
    return grads


# the formulas on full batch gradients, as they were before the moments
def _old_snr_stats(grads):
    mu2 = torch.stack([g.mean(0).square().sum() for g in grads])
    var = torch.stack([g.var(0, unbiased=False).sum() for g in grads])
    return {"global": mu2.sum().sqrt() / var.sum().sqrt(), "per_layer": mu2.sqrt() / var.sqrt(),
            "order": mu2.sum().sqrt() / (mu2.sum() + var.sum()).sqrt(),
            "order_per_layer": mu2.sqrt() / (mu2 + var).sqrt()}


def _old_noise_scale(grads, per_batch):
    spread, signal = 0.0, 0.0
    for g in grads:
        g = g.double().reshape(len(g), -1)
        mean = g.mean(0)
        spread = spread + (g - mean).square().sum()
        signal = signal + mean.square().sum()
    return per_batch * spread / (len(grads[0]) - 1) / signal


def _old_gsnr(grads):
    ratios = []
    for g in grads:
        g = g.double().reshape(len(g), -1)
        mean = g.mean(0)
        var = (g - mean).square().mean(0)
        ratios.append(torch.where(var > 0, mean.square() / var, math.nan))
    r = torch.cat(ratios)
    return r.nanmean(), r.nanmedian()


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_statistics_from_moments_equal_the_old_formulas(dtype, rtol):
    grads = _random_batch_grads(dtype)
    for m in (BatchMoments.from_batches(grads), _merged(grads, [3, 3, 1]), grads):
        new, old = snr_stats(m), _old_snr_stats(grads)
        for k in old:
            np.testing.assert_allclose(new[k].double().numpy(), old[k].double().numpy(), rtol=rtol)
        assert noise_scale(m, 32).item() == pytest.approx(_old_noise_scale(grads, 32).item(), rel=rtol)
        for a, b in zip(gsnr(m), _old_gsnr(grads)):
            assert a.item() == pytest.approx(b.item(), rel=max(rtol, 1e-9))


def test_fast_moments_with_unequal_batches_per_chunk(make_cfg, tmp_path):
    """Chunks of 96 points hold 3, 3 and 2 batches of 32: the fast capture's moments, with RBA
    updating, equal those of the naive batch gradients."""
    tr = Trainer(make_cfg("pde=allen_cahn", "weighting=rba", "weighting.init=residual", "dtype=float64",
                          "diagnostics=paper", "diagnostics.snr.batches=8", "chunk_size=96"), tmp_path)
    assert [r.stop - r.start for r in tr.loss.chunks()] == [96, 96, 64]
    fast = tr.loss.backward(0, update=True, capture=8).batch_moments
    assert tr.loss.fast_capture and fast.count == 8
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(8))
    for f, n in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        assert ((f - n).norm() / n.norm()).item() < 1e-10
    # the fallback path, one batch gradient at a time, gives the same moments
    loop = tr.loss.batch_moments(8)
    for f, n in zip([*loop.mean, *loop.var], [*naive.mean, *naive.var]):
        assert ((f - n).norm() / n.norm()).item() < 1e-10
