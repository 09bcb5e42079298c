"""Training strategies (issue 26): resampling (uniform, RAD, RAR-D), time-marching windows and
coefficient continuation as stages of a run: what each does to the points and the PDE, that the
run file records it, that a resumed run equals an uninterrupted one bit for bit, and the
combinations refused before training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinn_cli.errors import ConfigError
from pinn_cli.runfile import read_run
from pinn_cli.sampling.adaptive import density
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.training.trainer import Trainer, run

SMALL_AC = ["pde=allen_cahn", "pde.n_collocation=256", "pde.n_initial=64", "diagnostics.snr.batches=4"]


def test_the_rad_density_follows_the_residual_and_draws_distinct_points():
    r = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    p = density(r, k=1.0, c=1.0)                      # |r| / mean + 1 = 1, 1.75, 3.25; sum 6
    torch.testing.assert_close(p, torch.tensor([1, 1.75, 3.25], dtype=torch.float64) / 6)
    flat = density(torch.zeros(4), 2.0, 0.0)          # a zero residual: uniform, not NaN
    torch.testing.assert_close(flat, torch.full((4,), 0.25, dtype=torch.float64))


def test_time_marching_windows_map_every_terms_time_and_grow(make_cfg, tmp_path):
    tr = Trainer(make_cfg(*SMALL_AC, "strategy=time_marching", "strategy.windows=4",
                          "iterations=40", "pde.t_end=1.0"), tmp_path)
    seen = []
    for i in range(40):
        if tr.stager.before_step(i) is not None:
            pts = tr.loss.points
            seen.append((i, pts["res"][:, 0].max().item(), pts["ic"][:, 0].abs().max().item()))
    assert [s for s, _, _ in seen] == [0, 10, 20, 30]
    for (_, tmax, ic), window in zip(seen, (0.25, 0.5, 0.75, 1.0)):
        assert window - 0.02 < tmax <= window and ic == 0.0      # uniform in [0, t_k]; IC at t = 0


def test_continuation_sets_the_coefficient_per_stage_and_errors_stay_the_problems(make_cfg, tmp_path):
    cfg = make_cfg("pde=lid_driven_cavity", "pde.re=400", "pde.reference.n=16", "pde.n_collocation=64",
                   "diagnostics=off", "strategy=continuation", "strategy.values=[100,200]",
                   "strategy.steps=[5,5]", "iterations=15", "eval_every=5")
    tr = Trainer(cfg, tmp_path)
    res = []
    for i in range(15):
        tr.stager.before_step(i)
        res.append(tr.pde.re)
    assert res == [100.0] * 5 + [200.0] * 5 + [400.0] * 5
    with pytest.raises(ConfigError, match="strategy.key='nu'.*coefficient of LidDrivenCavity"):
        Trainer(make_cfg("pde=lid_driven_cavity", "strategy=continuation", "strategy.key=nu"), tmp_path / "b")


@pytest.mark.parametrize("keys", [
    ["sampling=uniform", "sampling.every=7", "weighting=rba"],
    ["sampling=rad", "sampling.every=9", "weighting=rba", "weighting.init=residual"],
    ["sampling=rar_d", "sampling.every=8", "sampling.add=8", "weighting=causal"],
    ["strategy=time_marching", "strategy.windows=3", "strategy.steps=[10,10]", "weighting=rba",
     "sampling=uniform", "sampling.every=5"],
])
def test_a_resumed_run_with_moving_points_equals_the_uninterrupted_one(make_cfg, tmp_path, keys):
    common = [*SMALL_AC, *keys, "eval_every=3", "checkpoint_every=13", "pde.t_end=0.5"]
    run(make_cfg(*common, "iterations=30"), tmp_path / "full")
    run(make_cfg(*common, "iterations=13"), tmp_path / "part")
    run(make_cfg(*common, "iterations=30"), tmp_path / "part")          # in place, from step 13
    a, b = (checkpoint.load(RunFolder(tmp_path / f).last, "cpu") for f in ("full", "part"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for k in a["stages"]["points"]:
        assert torch.equal(a["stages"]["points"][k], b["stages"]["points"][k])
    fa, fb = (read_run(tmp_path / f / "run.h5").series for f in ("full", "part"))
    np.testing.assert_array_equal(fa["metrics"]["loss"], fb["metrics"]["loss"])
    np.testing.assert_array_equal(fa["stages"]["step"], fb["stages"]["step"])
    assert fa["stages"]["resampled"].sum() >= 3
    if "sampling=rar_d" in keys:                       # 256 points, 8 more every 8 steps
        np.testing.assert_array_equal(fa["stages"]["n_points"], [256, 264, 272, 280])


def test_rba_weights_follow_their_points_to_the_nearest_new_one(make_cfg, tmp_path):
    tr = Trainer(make_cfg(*SMALL_AC, "weighting=rba", "sampling=uniform", "sampling.every=5"), tmp_path)
    for i in range(5):
        tr.stager.before_step(i)
        tr.step(i)
    old_pts, old_lam = tr.loss.points["res"].clone(), tr.weighting.lam.clone()
    tr.stager.before_step(5)
    new_pts, new_lam = tr.loss.points["res"], tr.weighting.lam
    assert not torch.equal(new_pts, old_pts)
    d = torch.cdist(new_pts, old_pts)                                # (N, N)
    torch.testing.assert_close(new_lam, old_lam[d.argmin(1)], rtol=0, atol=0)


@pytest.mark.parametrize("keys,key", [
    ([*SMALL_AC, "weighting=sa", "sampling=uniform"], "weighting='SelfAdaptive'"),
    ([*SMALL_AC, "sampling=rar_d", "sampling.add=6"], "sampling.add=6"),
    (["pde=helmholtz_smooth", "strategy=time_marching"], "time axis"),
    ([*SMALL_AC, "strategy=time_marching", "+strategy.time_axis=2"], "strategy.time_axis=2"),
    ([*SMALL_AC, "strategy=time_marching", "strategy.windows=3", "strategy.steps=[5]"], "strategy.steps"),
    ([*SMALL_AC, "strategy=time_marching", "strategy.windows=1000", "iterations=5"],
     "iterations=5 is not allowed: expected at least one step per stage: the strategy has 1000 stages"),
])
def test_moving_points_that_cannot_work_are_refused_before_training(make_cfg, tmp_path, keys, key):
    with pytest.raises(ConfigError, match=key.replace("(", r"\(").replace("[", r"\[")):
        Trainer(make_cfg(*keys), tmp_path)


def test_a_resume_whose_stages_would_move_is_refused(make_cfg, tmp_path):
    run(make_cfg(*SMALL_AC, "strategy=time_marching", "iterations=20", "checkpoint_every=10"), tmp_path)
    with pytest.raises(ConfigError, match="iterations=.*strategy.steps"):
        run(make_cfg(*SMALL_AC, "strategy=time_marching", "iterations=40", f"resume={tmp_path}"),
            tmp_path / "more")
    assert not (tmp_path / "more" / "run.h5").exists()          # refused before any file


def test_the_stages_are_drawn_on_the_figures(make_cfg, tmp_path):
    from pinn_cli.analysis.plots import stage_boundaries
    run(make_cfg(*SMALL_AC, "strategy=time_marching", "strategy.windows=2", "iterations=20",
                 "eval_every=5"), tmp_path)
    assert stage_boundaries(read_run(tmp_path / "run.h5")) == [(10, "t<=1")]


@pytest.mark.parametrize("value", [-0.1, 0.0])
def test_each_continuation_value_is_checked_as_the_coefficient_is(make_cfg, tmp_path, value):
    """pde.nu=-0.1 is refused; so is a continuation through nu=-0.1 or 0, before training."""
    with pytest.raises(ConfigError, match=r"strategy.values\[0\]=.* pde.nu accepts \(a finite number > 0\)"):
        run(make_cfg("pde=burgers_smooth", "strategy=continuation", "strategy.key=nu",
                     f"strategy.values=[{value}]"), tmp_path)
    assert not (tmp_path / "run.h5").exists()


@pytest.mark.parametrize("pde, key", [("burgers", "nu"), ("helmholtz_smooth", "k"), ("allen_cahn", "reaction")])
def test_each_value_a_continuation_moves_to_is_checked_as_the_coefficient_is(make_cfg, tmp_path, pde, key):
    """pde.<key>=1e300 is refused (the residual is not finite); so is the same value as a stage of
    a continuation (it trained and diverged); the problem's own value is restored after the check."""
    from pinn_cli.errors import PinnError
    with pytest.raises(PinnError, match=f"strategy.values: with {key}=1e\\+300, pde: .* failed"):
        Trainer(make_cfg(f"pde={pde}", "strategy=continuation", f"strategy.key={key}",
                         "strategy.values=[1e300]"), tmp_path / "a")
    tr = Trainer(make_cfg(f"pde={pde}", "strategy=continuation", f"strategy.key={key}",
                          "strategy.values=[0.5]"), tmp_path / "b")
    assert getattr(tr.pde, key) != 0.5
