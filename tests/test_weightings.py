"""The weighting schemes beyond RBA: self-adaptive, grad-norm, causal and their combinations."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinn_cli.errors import ConfigError
from pinn_cli.problem import Problem
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.training.trainer import Trainer, run
from pinn_cli.training.validate import validate
from pinn_cli.weighting import RBA, Combined, GradNorm, SelfAdaptive
from pinn_cli.runfile import read_run

BURGERS = ["pde=burgers", "dtype=float64"]


def _grads(params):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in params]


@pytest.mark.parametrize("weighting", ["sa", "gradnorm", "causal", "rba_gradnorm", "sa_res"])
@pytest.mark.parametrize("capture", [0, 8])
def test_backward_per_chunk_equals_one_backward(make_cfg, tmp_path, weighting, capture):
    """Chunked evaluation gives the loss, gradients (network and weights), per-term and batch
    gradients and, after the weighting's step, the weights of one backward over all points."""
    extra = (["weighting=sa", "weighting.terms=[res]"] if weighting == "sa_res"
             else [f"weighting={weighting}"])
    out = []
    for chunk in (0, 32, 64):
        tr = Trainer(make_cfg(*BURGERS, *extra, f"chunk_size={chunk}", "diagnostics=paper",
                              "diagnostics.snr.batches=8"), tmp_path / str(chunk))
        res = tr.loss.backward(0, update=True, capture=capture)
        grads = _grads(tr.loss.params)
        tr.weighting.step()
        out.append((res, grads, tr.weighting.stats(), tr.weighting.weights()))
    assert len(tr.loss.chunks()) == 4
    for res, grads, stats, w in out[1:]:
        torch.testing.assert_close(res.loss, out[0][0].loss, rtol=1e-12, atol=0)
        for a, b in zip(grads, out[0][1]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
        for k in stats:
            torch.testing.assert_close(stats[k], out[0][2][k], rtol=1e-12, atol=0)
        for k in w:
            torch.testing.assert_close(w[k], out[0][3][k], rtol=1e-12, atol=0)
        m, ref = res.batch_moments, out[0][0].batch_moments
        assert (m is None) == (ref is None)
        for a, b in zip([*m.mean, *m.var] if m else [], [*ref.mean, *ref.var] if ref else []):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
        for k, g in (res.term_grads or {}).items():
            for a, b in zip(g, out[0][0].term_grads[k]):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_term_grads_add_up_to_the_gradient(make_cfg, tmp_path):
    """The per-term gradients of a capturing step sum to ``.grad``; splitting the condition
    backward leaves the loss and gradient of a plain step (Burgers: ic and bc)."""
    tr = Trainer(make_cfg(*BURGERS, "diagnostics=paper", "diagnostics.snr.batches=8"), tmp_path)
    plain = tr.loss.backward(0, capture=0)
    ref = _grads(tr.loss.model_params)
    tr.loss.zero_grad()
    split = tr.loss.backward(0, capture=8)
    assert set(split.term_grads) == {"res", "ic", "bc"} and plain.term_grads is None
    for i, p in enumerate(tr.loss.model_params):
        total = sum(split.term_grads[k][i] for k in split.term_grads)
        torch.testing.assert_close(total, p.grad, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(p.grad, ref[i], rtol=1e-12, atol=1e-15)


def test_one_condition_term_split_is_bit_identical(make_cfg, tmp_path):
    """Allen-Cahn (one condition term), nested autograd: a capturing step leaves ``.grad``
    bit for bit as a plain step does."""
    tr = Trainer(make_cfg("pde=allen_cahn", "engine=autograd", "diagnostics=paper",
                          "diagnostics.snr.batches=8"), tmp_path)
    tr.loss.backward(0, capture=0)
    ref = _grads(tr.loss.model_params)
    tr.loss.zero_grad()
    tr.loss.backward(0, capture=8)
    for a, b in zip(_grads(tr.loss.model_params), ref):
        assert torch.equal(a, b)


# ---- self-adaptive ----------------------------------------------------------------------------
def _sa(**kw):
    sa = SelfAdaptive(**kw)
    sa.setup({"res": torch.zeros(4, 2, dtype=torch.float64), "ic": torch.zeros(3, 2, dtype=torch.float64)})
    return sa


def test_sa_term_and_gradient_match_the_paper():
    """mean((sqrt(m(lambda)) r)^2) = mean(m(lambda) r^2) and dL/dlambda = m'(lambda) r^2 / N, for
    both masks; the first ascent step moves every weight with a nonzero residual by +lr."""
    r = torch.tensor([0.0, 0.5, -2.0, 1.0], dtype=torch.float64)
    for mask, m, dm in [("polynomial", lambda l: l**3, lambda l: 3 * l**2),
                        ("sigmoid", lambda l: 1 / (1 + np.exp(-l)),
                         lambda l: np.exp(-l) / (1 + np.exp(-l)) ** 2)]:
        sa = _sa(init=0.7, mask=mask, q=3.0, lr=0.01)
        loss = sa.apply({"res": r})["res"].square().mean()
        lam = 0.7 * np.ones(4)
        np.testing.assert_allclose(loss.item(), np.mean(m(lam) * r.numpy() ** 2), rtol=1e-13)
        loss.backward()
        np.testing.assert_allclose(sa.lam["res"].grad.numpy(), dm(lam) * r.numpy() ** 2 / 4, rtol=1e-12)
        sa.step()
        np.testing.assert_allclose(sa.lam["res"].detach().numpy(), [0.7, 0.71, 0.71, 0.71], rtol=1e-7)


@pytest.mark.outcome
def test_sa_weights_grow_where_the_residual_stays_large():
    """Constant residual at point 0, a decaying one at 1, zero at 2: after 50 ascent steps
    lambda_0 > lambda_1 > lambda_2 = lambda_init; the chunk rows index the weights."""
    sa = _sa(lr=0.01, terms=["res", "ic"])
    for step in range(50):
        r = torch.tensor([1.0, 0.9**step, 0.0, 1.0], dtype=torch.float64)
        loss = sa.apply({"res": r[:3]}, slice(0, 3))["res"].square().sum() / 4
        loss = loss + sa.apply({"res": r[3:]}, slice(3, 4))["res"].square().sum() / 4
        loss.backward()
        sa.step()
        sa.lam["res"].grad = None
    lam = sa.lam["res"].detach()
    assert lam[0] > lam[1] > lam[2] == 1.0 and lam[0] == lam[3]
    assert torch.equal(sa.weights()["ic"], torch.ones(3, dtype=torch.float64))  # ic untouched (no residual)


def test_sa_unknown_term_is_one_config_line():
    problem = Problem(axes=("t", "x"), outputs=("u",), terms={"res": 4, "ic": 3}, bounds=((0, 1),) * 2)
    with pytest.raises(ConfigError, match=r"weighting.terms=\['res', 'bc'\].*\(res, ic\)"):
        SelfAdaptive(terms=["res", "bc"]).check(problem)
    assert set(_sa().weights()) == {"res", "ic"}                  # default: every term


# ---- grad-norm --------------------------------------------------------------------------------
def test_gradnorm_balances_synthetic_norms():
    """lhat_k = sum_j n_j / n_k with lambda_k divided out of g_k; alpha mixes; max_mean rule."""
    gn = GradNorm(every=1, alpha=0.0)
    gn.setup({k: torch.zeros(2, 1, dtype=torch.float64) for k in ("res", "ic")})
    gn.lam["ic"] = torch.tensor(2.0, dtype=torch.float64)
    grads = {"res": [torch.tensor([3.0, 4.0], dtype=torch.float64)],          # n_res = 5
             "ic": [torch.tensor([2.0, 0.0], dtype=torch.float64)]}            # n_ic = 2 / 2 = 1
    gn.term_gradients(grads, 0)
    gn.step()
    assert gn.lam["res"].item() == pytest.approx(6 / 5) and gn.lam["ic"].item() == pytest.approx(6.0)
    assert gn.lam["res"] * 5 == pytest.approx(gn.lam["ic"] * 1)               # balanced
    mm = GradNorm(alpha=0.5, rule="max_mean")
    mm.setup({k: torch.zeros(2, 1, dtype=torch.float64) for k in ("res", "ic")})
    mm.term_gradients(grads, 0)
    mm.step()                                   # lhat_ic = max|g_res| / mean|g_ic| = 4 / 1
    assert mm.lam["res"].item() == 1.0 and mm.lam["ic"].item() == pytest.approx(0.5 + 0.5 * 4)


def test_gradnorm_balances_the_terms_of_a_run(make_cfg, tmp_path):
    """After one update with alpha = 0 the weighted terms of Burgers have equal gradient norms
    (same parameters), and the update comes only every `every` steps."""
    tr = Trainer(make_cfg(*BURGERS, "weighting=gradnorm", "weighting.alpha=0.0",
                          "weighting.every=3"), tmp_path)
    obj = tr.loss
    assert obj.backward(1).term_grads is None              # not due: no split, no update
    tr.weighting.step()
    assert all(v == 1 for v in tr.weighting.lam.values())
    obj.zero_grad()
    before = obj.backward(3).term_grads
    norms0 = {k: torch.cat([g.reshape(-1) for g in v]).norm() for k, v in before.items()}
    tr.weighting.step()
    obj.zero_grad()
    after = obj.backward(3).term_grads
    norms = [torch.cat([g.reshape(-1) for g in v]).norm() for v in after.values()]
    for n in norms:
        torch.testing.assert_close(n, sum(norms0.values()), rtol=1e-10, atol=0)


# ---- causal -----------------------------------------------------------------------------------
def test_causal_weights_match_a_hand_computation(make_cfg, tmp_path):
    """Slabs of equal width and count on the Latin hypercube points; w_i = exp(-eps sum_{j<i}
    L_j) in (0, 1], non-increasing; the loss uses sqrt(w) r."""
    tr = Trainer(make_cfg("pde=allen_cahn", "dtype=float64", "weighting=causal",
                          "weighting.slabs=8", "weighting.epsilon=5.0"), tmp_path)
    cw = tr.weighting
    t = tr.loss.points["res"][:, 0].numpy()
    t_end = tr.pde.t_end
    for i in range(8):
        ti = t[cw.slab.numpy() == i]
        assert len(ti) == 32 and ti.min() >= i * t_end / 8 and ti.max() <= (i + 1) * t_end / 8
    out = tr.loss.backward(0)
    r = out.residuals["res"].numpy()
    slab_loss = np.array([np.mean(r[cw.slab.numpy() == i] ** 2) for i in range(8)])
    w = np.array([np.exp(-5.0 * slab_loss[:i].sum()) for i in range(8)])
    np.testing.assert_allclose(cw.w.numpy(), w, rtol=1e-12)
    assert np.all(w > 0) and np.all(w <= 1) and np.all(np.diff(w) <= 0) and w[0] == 1
    res_term = np.mean(w[cw.slab.numpy()] * r**2)
    np.testing.assert_allclose(out.terms["res"].item(), res_term, rtol=1e-12)
    np.testing.assert_allclose(cw.stats()["res_mean"].item(), w.mean(), rtol=1e-12)


def test_causal_refuses_a_pde_without_time(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="a problem with a time axis.*axes are x, y") as e:
        Trainer(make_cfg("weighting=causal"), tmp_path)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="weighting.slabs=512"):
        Trainer(make_cfg("pde=allen_cahn", "weighting=causal", "weighting.slabs=512"), tmp_path)


# ---- combinations -----------------------------------------------------------------------------
def test_combined_applies_in_order_and_names_stats():
    pts = {"res": torch.rand(6, 2, dtype=torch.float64), "ic": torch.rand(3, 2, dtype=torch.float64)}
    comb = Combined([RBA(init="residual"), GradNorm()])
    rba, gn = RBA(init="residual"), GradNorm()
    for s in (comb, rba, gn):
        s.setup(pts)
    gn.lam["res"] = comb.schemes[1].lam["res"] = torch.tensor(4.0, dtype=torch.float64)
    e = {"res": torch.randn(6, dtype=torch.float64), "ic": torch.randn(3, dtype=torch.float64)}
    comb.update(e, 0)
    rba.update(e, 0)
    part = {"res": e["res"][2:5], "ic": e["ic"]}                          # a chunk of rows 2..4
    want = gn.apply(rba.apply(part, slice(2, 5)), slice(2, 5))
    got = comb.apply(part, slice(2, 5))
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-15, atol=0)
    assert comb.uses_residuals and {"rba_res_mean", "gradnorm_res_mean", "gradnorm_ic_mean"} <= set(comb.stats())


def test_combined_schemes_are_checked_by_the_schema_walk_in_one_line(make_cfg):
    """The nested schemes are validated once, by the same walk as every node."""
    cfg = make_cfg("weighting=rba_gradnorm", "+weighting.schemes.1.evry=3")
    with pytest.raises(ConfigError, match=r"weighting.schemes\[1\].evry=3.*its keys: every, alpha, rule"):
        validate(cfg)
    cfg = make_cfg("weighting=rba_gradnorm", "weighting.schemes.1.alpha=1.0")
    with pytest.raises(ConfigError, match=r"weighting.schemes\[1\].alpha=1.0"):
        validate(cfg)
    with pytest.raises(ConfigError, match=r"weighting.schemes\[0\]"):
        Combined([{"_target_": "pinn_cli.weighting.RBA"}])          # not built: refused


# ---- resume -----------------------------------------------------------------------------------
@pytest.mark.parametrize("weighting", [["weighting=sa"], ["weighting=gradnorm", "weighting.every=4"],
                                       ["weighting=rba_gradnorm", "weighting.schemes.1.every=4"]])
def test_resume_is_bit_identical(make_cfg, tmp_path, weighting):
    """Stopped at 12 and resumed: parameters, weights (and SA's Adam moments) and every recorded
    loss equal an uninterrupted run's."""
    common = [*weighting, "pde=burgers", "eval_every=3", "checkpoint_every=6"]
    run(make_cfg(*common, "iterations=20"), tmp_path / "full")
    run(make_cfg(*common, "iterations=12"), tmp_path / "a")
    run(make_cfg(*common, "iterations=20", f"resume={tmp_path / 'a'}"), tmp_path / "b")
    ref = checkpoint.load(RunFolder(tmp_path / "full").last, "cpu")
    got = checkpoint.load(RunFolder(tmp_path / "b").last, "cpu")
    for k in ref["model"]:
        assert torch.equal(got["model"][k], ref["model"][k]), k
    _assert_equal_nested(got["weighting"], ref["weighting"])
    m, full = (read_run(tmp_path / f / "run.h5").series["metrics"] for f in ("b", "full"))
    np.testing.assert_array_equal(m["loss"], full["loss"])


def _assert_equal_nested(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_equal_nested(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_equal_nested(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b
