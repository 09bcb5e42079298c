"""Diagnostics: the fast SNR equals the naive loop; entropy, saturation, homogeneity, Adam SNR
match their definitions; the run file holds them; diagnostics=off costs nothing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinn_cli.optimizers.view import OptimizerView

from pinn_cli.diagnostics.adam import adam_snr
from pinn_cli.diagnostics.entropy import layer_entropy
from pinn_cli.diagnostics.moments import BatchMoments
from pinn_cli.diagnostics.residuals import homogeneity
from pinn_cli.diagnostics.snr import snr_stats
from pinn_cli.errors import ConfigError
from pinn_cli.runfile import read_run
from pinn_cli.training.evaluate import Evaluator
from pinn_cli.training.trainer import Trainer, run


@pytest.mark.parametrize("pde,weighting,chunk", [("burgers", "rba", 0), ("allen_cahn", "none", 64),
                                                 ("helmholtz", "rba", 100)])
def test_fast_snr_equals_naive_loop(make_cfg, tmp_path, pde, weighting, chunk):
    cfg = make_cfg(f"pde={pde}", f"weighting={weighting}", "diagnostics=paper", "dtype=float64",
                   "diagnostics.snr.batches=8", "model.depth=3", f"chunk_size={chunk}")
    tr = Trainer(cfg, tmp_path)
    if weighting == "rba":  # weights far from uniform, so re-weighting matters
        tr.weighting.lam = torch.rand(tr.loss.n_res, dtype=torch.float64)
    fast = tr.loss.backward(0, update=False, capture=8).batch_moments
    naive = BatchMoments.from_batches(tr.loss.batch_gradients(8))
    assert fast.count == naive.count == 8
    for f, n in zip([*fast.mean, *fast.var], [*naive.mean, *naive.var]):
        assert f.shape == n.shape
        assert ((f - n).norm() / n.norm()).item() < 1e-10
    sf, sn = snr_stats(fast), snr_stats(naive)
    for k in sf:
        torch.testing.assert_close(sf[k], sn[k], rtol=1e-5, atol=0)
    # the mean of the batch gradients is the full-batch gradient
    full = [w.grad for w in tr.model.weight_matrices()]
    for f, g in zip(naive.mean, full):
        torch.testing.assert_close(f, g)


def _batch_gradients_by_definition(tr, batches):
    """g_b = d/dW [w_res mean_{i in b} (lambda_i r_i)^2 + sum_k w_k mean(e_k^2)], written out from
    the definition with nested autograd, independently of the objective."""
    from pinn_cli.fields.field import Field

    field = Field(tr.model, tr.pde.axes, "autograd", outputs=tr.pde.outputs)
    pts, w = tr.loss.points, tr.pde.loss_weights
    lam = tr.weighting.weights().get("res")
    n = len(pts["res"]) // batches
    weights = tr.model.weight_matrices()
    out = []
    for b in range(batches):
        r = tr.pde.residual(field, pts["res"][b * n:(b + 1) * n])
        if lam is not None:
            r = lam[b * n:(b + 1) * n] * r
        loss = w["res"] * r.square().mean()
        for k, e in tr.pde.conditions(field, pts).items():
            loss = loss + w[k] * e.square().mean()
        out.append(torch.autograd.grad(loss, weights))
    return [torch.stack([g[l] for g in out]) for l in range(len(weights))]


@pytest.mark.parametrize("engine", ["auto", "autograd"])
def test_both_snr_paths_see_the_updated_weights(make_cfg, tmp_path, engine):
    """With RBA updating as in training, the batch gradients (fast path with engine=auto, one
    backward per batch with engine=autograd) equal the definition evaluated after the update."""
    cfg = make_cfg("pde=allen_cahn", "weighting=rba", "weighting.init=residual", "dtype=float64",
                   "diagnostics=paper", "diagnostics.snr.batches=8", f"engine={engine}")
    tr = Trainer(cfg, tmp_path)
    got = tr.loss.backward(0, update=True, capture=8).batch_moments
    want = BatchMoments.from_batches(_batch_gradients_by_definition(tr, 8))
    assert got.count == 8
    for g, w in zip([*got.mean, *got.var], [*want.mean, *want.var]):
        assert ((g - w).norm() / w.norm()).item() < 1e-10


def test_fast_snr_float32_agrees_to_1e5(make_cfg, tmp_path):
    cfg = make_cfg("diagnostics=paper", "diagnostics.snr.batches=16")
    tr = Trainer(cfg, tmp_path)
    fast = tr.loss.backward(0, update=False, capture=16).batch_moments
    sf, sn = snr_stats(fast), snr_stats(tr.loss.batch_gradients(16))
    assert abs(sf["global"] / sn["global"] - 1) < 1e-5


def test_snr_order_identity_and_a_plain_computation():
    torch.manual_seed(0)
    grads = [torch.randn(10, 4, 3, dtype=torch.float64) + 0.3, torch.randn(10, 5, dtype=torch.float64)]
    s = snr_stats(grads)
    flat = torch.cat([g.reshape(10, -1) for g in grads], 1).numpy()
    mu, sd = flat.mean(0), flat.std(0)
    assert s["global"].item() == pytest.approx(np.linalg.norm(mu) / np.linalg.norm(sd), rel=1e-12)
    phi = s["order"]
    assert s["global"].item() == pytest.approx((phi / torch.sqrt(1 - phi**2)).item(), rel=1e-12)
    rms = np.sqrt((flat**2).mean(0))
    assert phi.item() == pytest.approx(np.linalg.norm(mu) / np.linalg.norm(rms), rel=1e-12)
    assert 0 <= phi <= 1 and s["per_layer"].shape == (2,)


def test_entropy_is_log2_k_for_k_equiprobable_patterns_and_zero_for_a_constant_layer():
    k, reps, w = 8, 50, 5
    levels = torch.linspace(-0.9, 0.9, k, dtype=torch.float64)
    t = levels.repeat_interleave(reps)[:, None].repeat(1, w)         # k distinct rows, equal counts
    h, _ = layer_entropy(t, bins=30)
    assert h.item() == pytest.approx(np.log2(k), abs=1e-12)
    h0, _ = layer_entropy(torch.full((100, 4), 0.3, dtype=torch.float64))
    assert h0.item() == 0.0


def test_saturation_of_a_synthetic_tanh_layer():
    """A quarter of the samples at each end of a tanh neuron's range, the rest in the middle:
    saturation = the share in the lowest or highest bin = 0.5."""
    n = 4000
    z = torch.cat([torch.full((n // 4,), -8.0), torch.full((n // 4,), 8.0),
                   torch.linspace(-0.5, 0.5, n // 2)]).double()
    t = torch.tanh(z)[:, None].repeat(1, 3)
    _, sat = layer_entropy(t, bins=30)
    assert sat.item() == pytest.approx(0.5, abs=1e-12)
    _, sat_lin = layer_entropy(torch.linspace(-1, 1, 3000, dtype=torch.float64)[:, None])
    assert sat_lin.item() == pytest.approx(2 / 30, abs=2e-3)       # uniform: 2 of 30 bins


def test_homogeneity_is_one_when_uniform_and_falls_when_concentrated():
    torch.manual_seed(0)
    x = torch.rand(20000, 2, dtype=torch.float64) * 2 - 1
    bounds = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    assert homogeneity(x, torch.ones(20000, dtype=torch.float64), bounds).item() == pytest.approx(1.0)
    peak = torch.exp(-((x**2).sum(1)) / 0.01)
    wide = torch.exp(-((x**2).sum(1)) / 1.0)
    h_peak, h_wide = homogeneity(x, peak, bounds).item(), homogeneity(x, wide, bounds).item()
    assert h_peak < 0.3 < h_wide < 1.0
    one_cell = (x.abs() < 0.2).all(1).double()                     # 4 of 100 cells
    assert homogeneity(x, one_cell, bounds).item() == pytest.approx(0.2, abs=0.02)   # sqrt(4/100)


def test_adam_snr_from_bias_corrected_moments():
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    gs = [torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64),
          torch.tensor([0.5, -1.0, -0.5], dtype=torch.float64)]
    m = v = 0
    for t, g in enumerate(gs, 1):
        p.grad = g.clone()
        opt.step()
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.99**2)
    den = v_hat.sqrt() + 1e-8
    out = adam_snr(OptimizerView(opt).adam_moments())
    assert out["snr"].item() == pytest.approx((m_hat.norm() / den.norm()).item(), rel=1e-9)
    assert out["mean_step"].item() == pytest.approx((m_hat / den).abs().mean().item(), rel=1e-9)


def test_run_file_holds_every_diagnostic_with_documented_shapes(make_cfg, tmp_path):
    cfg = make_cfg("pde=burgers", "diagnostics=full", "weighting=rba", "iterations=30", "eval_every=10",
                   "diagnostics.snr.batches=16", "diagnostics.residual_map.grid=[12,10]")
    run(cfg, tmp_path)
    r = read_run(tmp_path / "run.h5")
    n_w, depth = 3, 2                                   # depth 2 -> 3 weight matrices
    snr, ent, res = r.series["snr"], r.series["entropy"], r.series["residual"]
    np.testing.assert_array_equal(snr["step"], np.arange(30))      # dense: every step
    assert snr["per_layer"].shape == (30, n_w) and snr["global"].shape == (30,)
    assert np.all(snr["global"] > 0) and np.all((snr["order"] > 0) & (snr["order"] <= 1))
    assert ent["per_layer"].shape == (len(ent["step"]), depth) and ent["step"][-1] == 30
    assert np.all(ent["per_layer"] <= np.log2(256) + 1e-9)
    assert res["homogeneity"].shape == res["homogeneity_weights"].shape
    maps = r.series["residual_map"]
    assert maps["map"].shape == (len(maps["step"]), 12, 10) and np.all(maps["map"] >= 0)
    assert r.static["grid/t"].shape == (12,) and r.static["grid/x"].shape == (10,)
    assert r.series["weights"]["norm"].shape[1] == n_w


def test_diagnostics_off_records_and_computes_nothing(make_cfg, tmp_path, monkeypatch):
    calls = []
    orig = Evaluator.rel_l2
    monkeypatch.setattr(Evaluator, "rel_l2", lambda self: calls.append(1) or orig(self))
    monkeypatch.setattr("pinn_cli.diagnostics.probes.snr_stats", lambda *a: 1 / 0)
    summary = run(make_cfg("diagnostics=off", "iterations=20"), tmp_path)
    assert summary["status"] == "done" and len(calls) == 1           # the final summary only
    r = read_run(tmp_path / "run.h5")
    assert r.series == {} and r.attrs["final_rel_l2"] == pytest.approx(summary["final_rel_l2"])


def test_snr_batches_must_divide_the_points(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="diagnostics.snr.batches"):
        Trainer(make_cfg("diagnostics=paper", "diagnostics.snr.batches=7"), tmp_path).run()
