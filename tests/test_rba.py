"""RBA: the update equals a hand computation and respects its bound."""
from __future__ import annotations

import torch

from pinn_cli.weighting import RBA, NoWeighting


def _points(**n):
    """Training points with the given counts per term (coordinates do not matter to RBA)."""
    return {k: torch.zeros(v, 2, dtype=torch.float64) for k, v in n.items()}


def _step(w, residuals, step=0):
    """One training iteration of a scheme: update, then apply."""
    w.update(residuals, step)
    return w.apply(residuals)


def test_rba_update_matches_hand_computation():
    rba = RBA(eta=0.1, gamma=0.5)
    rba.setup(_points(res=3, ic=2))
    r1 = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    r2 = torch.tensor([-3.0, 0.0, 1.5], dtype=torch.float64)
    ic = torch.tensor([7.0, 8.0], dtype=torch.float64)
    out = _step(rba, {"res": r1, "ic": ic})
    lam1 = 0.1 * torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64)          # 0.5*0 + 0.1*|r|/4
    torch.testing.assert_close(rba.lam, lam1)
    torch.testing.assert_close(out["res"], lam1 * r1)
    assert out["ic"] is ic                                                      # not re-weighted
    _step(rba, {"res": r2, "ic": ic})
    lam2 = 0.5 * lam1 + 0.1 * torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(rba.lam, lam2)


def test_rba_respects_its_bound_and_reaches_it():
    torch.manual_seed(0)
    rba = RBA(eta=0.05, gamma=0.99)
    rba.setup(_points(res=1000))
    for _ in range(3000):
        r = torch.randn(1000, dtype=torch.float64)
        r[7] = 100.0                                      # always the largest residual
        _step(rba, {"res": r})
        assert rba.lam.max() <= rba.bound * (1 + 1e-12) and rba.lam.min() >= 0
    assert abs(rba.lam[7].item() - rba.bound) < 1e-9      # 5 = eta / (1 - gamma)


def test_rba_minmax_and_residual_init():
    r = torch.tensor([1.0, 2.0, 5.0])
    mm = RBA(eta=1.0, gamma=0.5, normalization="minmax")
    mm.setup({"res": torch.zeros(3, 2)})
    _step(mm, {"res": r})
    torch.testing.assert_close(mm.lam, torch.tensor([0.0, 0.25, 1.0]))
    ri = RBA(init="residual")
    ri.setup({"res": torch.zeros(3, 2)})
    _step(ri, {"res": r})
    torch.testing.assert_close(ri.lam, torch.tensor([0.2, 0.4, 1.0]))
    _step(ri, {"res": r})
    torch.testing.assert_close(ri.lam, 0.999 * torch.tensor([0.2, 0.4, 1.0]) + 1e-3 * r / 5)


def test_rba_state_round_trips_and_none_is_identity():
    a = RBA()
    a.setup({"res": torch.zeros(4, 2)})
    _step(a, {"res": torch.arange(4.0)})
    b = RBA()
    b.setup({"res": torch.zeros(4, 2)})
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a.lam, b.lam)
    res = {"res": torch.ones(3)}
    assert _step(NoWeighting(), res) is res
