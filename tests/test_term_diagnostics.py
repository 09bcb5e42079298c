"""Per-term gradient norms and alignment, gradient noise scale and GSNR (diagnostics/terms.py)
against plain computations: loops over batches and parameters in NumPy, float64."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch


from pinn_cli.diagnostics.snr import snr_stats
from pinn_cli.diagnostics.terms import alignment_score, cosines, gsnr, noise_scale, term_norms
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import Trainer, run

PROBE = "+diagnostics.terms={_target_:pinn_cli.diagnostics.terms.TermProbe,batches:8,every:5}"


def _batch_grads(seed=0, b=6):
    g = torch.Generator().manual_seed(seed)
    grads = [torch.randn(b, 3, 4, generator=g, dtype=torch.float64) + 0.3,
             torch.randn(b, 2, 3, generator=g, dtype=torch.float64)]
    grads[1][:, 0, 0] = 0.25                                 # a parameter with zero variance
    return grads


def _as_rows(grads):
    """-> (B, P) array: batch b's gradient as one row, every parameter by a plain loop."""
    rows = []
    for b in range(len(grads[0])):
        row = []
        for g in grads:
            row.extend(float(v) for v in g[b].reshape(-1))
        rows.append(row)
    return np.array(rows)


def test_noise_scale_by_loops():
    grads, n = _batch_grads(), 32
    g = _as_rows(grads)
    big_b, p = g.shape
    spread, signal = 0.0, 0.0
    for j in range(p):
        mean = sum(g[b, j] for b in range(big_b)) / big_b
        spread += sum((g[b, j] - mean) ** 2 for b in range(big_b)) / (big_b - 1)
        signal += mean**2
    assert noise_scale(grads, n).item() == pytest.approx(n * spread / signal, rel=1e-12)
    # the same information as the SNR: B_simple = n B / (B - 1) / SNR^2
    snr = snr_stats(grads)["global"].item()
    assert noise_scale(grads, n).item() == pytest.approx(n * big_b / (big_b - 1) / snr**2, rel=1e-12)


def test_gsnr_by_loops():
    grads = _batch_grads()
    g = _as_rows(grads)
    ratios = []
    for j in range(g.shape[1]):
        mean = g[:, j].sum() / len(g)
        var = sum((v - mean) ** 2 for v in g[:, j]) / len(g)
        if var > 0:
            ratios.append(mean**2 / var)
    assert len(ratios) == g.shape[1] - 1                     # the constant parameter left out
    mean, median = gsnr(grads)
    assert mean.item() == pytest.approx(sum(ratios) / len(ratios), rel=1e-12)
    assert median.item() == pytest.approx(sorted(ratios)[(len(ratios) - 1) // 2], rel=1e-12)


def test_cosines_alignment_and_norms_by_loops():
    rng = np.random.default_rng(1)
    vecs = {k: torch.tensor(rng.normal(size=7)) for k in ("res", "ic", "bc")}
    arr = {k: v.numpy() for k, v in vecs.items()}
    norm = {k: math.sqrt(sum(x * x for x in a)) for k, a in arr.items()}
    for k, v in term_norms(vecs).items():
        assert v.item() == pytest.approx(norm[k], rel=1e-13)
    cos = cosines(vecs)
    assert list(cos) == [("res", "ic"), ("res", "bc"), ("ic", "bc")]
    for (j, k), c in cos.items():
        dot = sum(x * y for x, y in zip(arr[j], arr[k]))
        assert c.item() == pytest.approx(dot / (norm[j] * norm[k]), rel=1e-12)
    mean_unit = [sum(arr[k][i] / norm[k] for k in arr) / 3 for i in range(7)]
    assert alignment_score(vecs).item() == pytest.approx(2 * sum(x * x for x in mean_unit) - 1, rel=1e-12)
    two = {"res": vecs["res"], "ic": vecs["ic"]}
    assert alignment_score(two).item() == pytest.approx(cos[("res", "ic")].item(), rel=1e-12)
    # bounds: 1 when aligned, -1 when the unit vectors cancel; a zero gradient is left out
    e = torch.eye(2, dtype=torch.float64)
    assert alignment_score({"a": e[0], "b": 3 * e[0]}).item() == pytest.approx(1.0)
    assert alignment_score({"a": e[0], "b": -2 * e[0], "c": 0 * e[0]}).item() == pytest.approx(-1.0)
    assert math.isnan(alignment_score({"a": e[0], "b": 0 * e[0]}).item())
    assert math.isnan(cosines({"a": e[0], "b": 0 * e[0]})[("a", "b")].item())


def test_probe_records_the_terms_of_a_step(make_cfg, tmp_path):
    """Burgers with RBA, float64: the probe's norms and cosines equal one autograd.grad per term
    (after the step's own weighting update), its noise statistics those of the naive batch loop."""
    tr = Trainer(make_cfg("pde=burgers", "dtype=float64", "weighting=rba", "weighting.init=residual",
                          "diagnostics=paper", "diagnostics.snr.batches=8", PROBE), tmp_path)
    probe = next(p for p in tr.recorder.probes if p.group == "terms")
    obj = tr.loss
    out = obj.backward(0, capture=8)
    rec = probe.record(tr.view, tr.step_state(0, out, 0.0, 0.0, {}))
    weights = tr.model.weight_matrices()
    conds = tr.pde.conditions(tr.field, obj.points)
    parts = {"res": {"res": tr.pde.residual(tr.field, obj.points["res"])},
             **{k: {k: e} for k, e in conds.items()}}
    vecs = {}
    for k, part in parts.items():
        loss, _ = obj.loss(part)
        vecs[k] = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, weights)])
    for k, v in vecs.items():
        assert rec[f"norm_{k}"] == pytest.approx(v.norm().item(), rel=1e-10)
    for (j, k), c in cosines(vecs).items():
        assert rec[f"cos_{j}_{k}"] == pytest.approx(c.item(), rel=1e-9)
    assert rec["alignment"] == pytest.approx(alignment_score(vecs).item(), rel=1e-9)
    naive = obj.batch_gradients(8)
    assert rec["noise_scale"] == pytest.approx(noise_scale(naive, 32).item(), rel=1e-9)
    assert rec["gsnr"] == pytest.approx(gsnr(naive)[0].item(), rel=1e-9)
    assert rec["gsnr_median"] == pytest.approx(gsnr(naive)[1].item(), rel=1e-9)


def test_probe_in_a_run_follows_the_snr_cadence(make_cfg, tmp_path):
    """An entry with only _target_ and batches in a run: one record per due step, finite values,
    no record at the final (non-training) step."""
    run(make_cfg("pde=allen_cahn", "diagnostics=paper", "diagnostics.snr.batches=8", PROBE,
                 "iterations=12"), tmp_path)
    r = read_run(tmp_path / "run.h5").series["terms"]
    assert list(r["step"]) == [0, 5, 10]
    assert set(r) == {"step", "norm_res", "norm_ic", "cos_res_ic", "alignment", "noise_scale",
                      "gsnr", "gsnr_median"}
    for k in r:
        assert np.all(np.isfinite(r[k])), k
    np.testing.assert_allclose(r["alignment"], r["cos_res_ic"], rtol=1e-6)   # K = 2


def test_the_term_probe_takes_the_snr_probes_auto_count_and_refuses_another(make_cfg, tmp_path):
    """The SNR and term probes share the batch gradients, so they have one B: ``auto`` resolves
    to the same count for both (256 points -> 2 batches here... the count nearest 256 points per
    batch), and two different counts are one line before the run file exists."""
    from pinn_cli.errors import ConfigError
    from pinn_cli.diagnostics.snr import auto_batches
    probe = "+diagnostics.terms={_target_: pinn_cli.diagnostics.terms.TermProbe, batches: %s, every: 1}"
    tr = Trainer(make_cfg("diagnostics.snr.batches=auto", probe % "auto"), tmp_path / "a")
    counts = {p.batches for p in tr.recorder.probes if p.needs_capture}
    assert counts == {auto_batches(256)}
    with pytest.raises(ConfigError, match="one SNR batch count"):
        Trainer(make_cfg("diagnostics.snr.batches=8", probe % 4), tmp_path / "b")
    assert not (tmp_path / "b" / "run.h5").exists()
