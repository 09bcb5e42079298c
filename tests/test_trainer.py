"""Runs end to end: the run file, resume bit for bit, SIGKILL, divergence."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.errors import ConfigError, PinnError
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import Trainer, run


def _params(run_dir):
    state = checkpoint.load(RunFolder(run_dir).last, "cpu")
    return state["model"], state["optimizer"]["state"], state["weighting"], state["step"]


@pytest.mark.outcome
def test_run_writes_metrics_and_learns(make_cfg, tmp_path):
    cfg = make_cfg("iterations=60", "eval_every=20", "optimizer.lr=1e-2")
    summary = run(cfg, tmp_path)
    assert summary["status"] == "done" and summary["steps"] == 60
    r = read_run(tmp_path / "run.h5")
    assert r.attrs["status"] == "done" and r.attrs["schema_version"] == 3
    assert "pde:" in r.attrs["config"] and r.attrs["seed"] == 0
    m = r.series["metrics"]
    np.testing.assert_array_equal(m["step"], [0, 20, 40, 60])
    assert set(m) >= {"loss", "loss_res", "loss_bc", "res_mse", "rel_l2", "lr", "wall_time"}
    assert np.all(np.diff(m["wall_time"]) > 0)
    assert m["rel_l2"][-1] == pytest.approx(summary["final_rel_l2"])
    assert m["loss"][-1] < m["loss"][0]


def test_allen_cahn_rba_and_plain_differ(make_cfg, tmp_path):
    errs = {}
    for w in ("rba", "none"):
        cfg = make_cfg("pde=allen_cahn", f"weighting={w}", "iterations=30", "eval_every=10")
        errs[w] = run(cfg, tmp_path / w)["final_rel_l2"]
        assert read_run(tmp_path / w / "run.h5").series["metrics"]["step"][-1] == 30
    assert errs["rba"] != errs["none"]


@pytest.mark.parametrize("weighting", ["none", "rba"])
def test_resume_equals_uninterrupted_bit_for_bit(make_cfg, tmp_path, weighting):
    common = [f"weighting={weighting}", "eval_every=5", "checkpoint_every=10", "optimizer.decay_every=7"]
    run(make_cfg(*common, "iterations=30"), tmp_path / "full")
    # stopped at 20, then continued in its own folder (what a requeued job does)
    run(make_cfg(*common, "iterations=20"), tmp_path / "inplace")
    run(make_cfg(*common, "iterations=30"), tmp_path / "inplace")
    # stopped at 20, then resume=<folder> into a new folder
    run(make_cfg(*common, "iterations=20"), tmp_path / "a")
    run(make_cfg(*common, "iterations=30", f"resume={tmp_path / 'a'}"), tmp_path / "b")
    ref_model, ref_opt, ref_w, _ = _params(tmp_path / "full")
    full = read_run(tmp_path / "full" / "run.h5").series["metrics"]
    for folder in ("inplace", "b"):
        model, opt, w, step = _params(tmp_path / folder)
        assert step == 30
        for k in ref_model:
            assert torch.equal(model[k], ref_model[k]), k
        for k in ref_opt:
            assert torch.equal(opt[k]["exp_avg_sq"], ref_opt[k]["exp_avg_sq"])
        if weighting == "rba":
            assert torch.equal(w["lam"], ref_w["lam"])
        m = read_run(tmp_path / folder / "run.h5").series["metrics"]
        np.testing.assert_array_equal(m["step"], full["step"])
        np.testing.assert_array_equal(m["loss"], full["loss"])
        np.testing.assert_array_equal(m["rel_l2"], full["rel_l2"])
    assert str(tmp_path / "a") in read_run(tmp_path / "b" / "run.h5").attrs["resumed_from"]
    assert read_run(tmp_path / "a" / "run.h5").series["metrics"]["step"][-1] == 20  # untouched


@pytest.mark.parametrize("engine", ["streams", "autograd"])
@pytest.mark.parametrize("weighting", ["none", "rba"])
@pytest.mark.parametrize("capture", [0, 8])
def test_backward_per_chunk_equals_one_backward(make_cfg, tmp_path, engine, weighting, capture):
    """A backward per chunk of points (memory bounded by the chunk) gives the loss, gradients,
    updated weights and SNR batch gradients of one backward over all points, in float64."""
    out = []
    for chunk in (0, 32, 64):
        tr = Trainer(make_cfg("dtype=float64", f"weighting={weighting}", f"chunk_size={chunk}",
                              f"engine={engine}", "diagnostics=paper", "diagnostics.snr.batches=8"),
                     tmp_path / str(chunk))
        res = tr.loss.backward(0, update=True, capture=capture)
        out.append((res, [p.grad.clone() for p in tr.model.parameters()], tr.weighting.weights()))
    assert tr.loss.chunk == 64 and len(tr.loss.chunks()) == 4
    for res, grads, lam in out[1:]:
        torch.testing.assert_close(res.loss, out[0][0].loss, rtol=1e-12, atol=0)
        for a, b in zip(grads, out[0][1]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
        for k in lam:
            torch.testing.assert_close(lam[k], out[0][2][k], rtol=1e-12, atol=0)
        m, ref = res.batch_moments, out[0][0].batch_moments
        assert (m is None) == (ref is None)
        for a, b in zip([*m.mean, *m.var] if m else [], [*ref.mean, *ref.var] if ref else []):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_resume_refuses_a_changed_model(make_cfg, tmp_path):
    run(make_cfg("iterations=10"), tmp_path / "a")
    with pytest.raises(ConfigError, match="model"):
        run(make_cfg("iterations=20", "model.width=17", f"resume={tmp_path / 'a'}"), tmp_path / "b")


def test_finished_run_folder_is_never_overwritten(make_cfg, tmp_path):
    (tmp_path / "run.h5").write_bytes(b"user data")
    with pytest.raises(PinnError, match="nothing was changed"):
        run(make_cfg("iterations=5"), tmp_path)
    assert (tmp_path / "run.h5").read_bytes() == b"user data"


def test_diverging_run_stops_with_a_readable_file(make_cfg, tmp_path):
    cfg = make_cfg("pde=allen_cahn", "optimizer.lr=1e3", "iterations=400", "log_every=10",
                   "eval_every=10")
    summary = run(cfg, tmp_path)
    assert summary["status"] == "diverged" and summary["steps"] < 400
    r = read_run(tmp_path / "run.h5")
    assert r.attrs["status"] == "diverged" and len(r.series["metrics"]["step"]) >= 1


def test_sigkilled_run_file_opens_with_its_completed_records(tmp_path, ref_cache, train_process,
                                                             wait_for_records):
    proc = train_process(tmp_path, "device=cpu", "iterations=100000", "eval_every=1",
                         "model.depth=2", "model.width=8", "pde.n_collocation=64",
                         "diagnostics=full", "diagnostics.snr.batches=8",
                         "diagnostics.residual_map.every=5", f"reference_cache={ref_cache}")
    try:
        wait_for_records(tmp_path, 50)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    r = read_run(tmp_path / "run.h5")
    m = r.series["metrics"]
    n = len(m["step"])
    assert r.attrs["status"] == "running" and n > 50
    np.testing.assert_array_equal(m["step"], np.arange(n))
    assert all(len(v) == n and np.all(np.isfinite(v)) for v in m.values())
    for group in ("snr", "residual", "residual_map", "entropy", "weights"):  # diagnostics too
        data = r.series[group]
        assert len(data["step"]) > 5 and np.all(np.diff(data["step"]) > 0)
        assert all(len(v) == len(data["step"]) for v in data.values())


def test_a_step_that_raises_ends_the_run_as_failed_with_its_traceback_kept(make_cfg, tmp_path):
    """optimizer.lr=1e300 in float32: torch's Adam raises inside the step. The run ends as
    failed (exit 4), one line naming the cause, the traceback in the run folder, the file
    readable (a traceback and exit 1 before)."""
    from pinn_cli.runfile import read_attrs
    summary = run(make_cfg("optimizer.lr=1e300", "iterations=5", "diagnostics=off"), tmp_path)
    assert summary["status"] == "failed" and "OverflowError" not in summary["error"]
    assert summary["error"].startswith("training raised RuntimeError")
    assert "\n" not in summary["error"] and (tmp_path / "traceback.txt").read_text().startswith("Traceback")
    assert read_attrs(tmp_path / "run.h5")["status"] == "failed"


def test_a_ctrl_c_after_the_last_step_is_not_lost(make_cfg, tmp_path, monkeypatch):
    """Ctrl-C while the last step's records are written: the run is done (its files complete),
    and the summary says it was interrupted, so that a sweep stops there (it went on before)."""
    from pinn_cli.training.trainer import Trainer
    tr = Trainer(make_cfg("iterations=3", "diagnostics=off"), tmp_path)
    finish = tr._finish

    def interrupted_finish(*args):
        os.kill(os.getpid(), signal.SIGINT)             # noted by StopSignals, not raised
        return finish(*args)
    monkeypatch.setattr(tr, "_finish", interrupted_finish)
    summary = tr.run()
    assert summary["status"] == "done" and summary["interrupted"] is True
