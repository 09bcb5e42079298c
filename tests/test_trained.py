"""pinn_cli.load: the trained network rebuilt from a run folder; its outputs are the run's bit for
bit, its derivatives those of nested autograd; pinn-predict writes the API's values."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module

import pinn_cli
from pinn_cli.errors import PinnError
from pinn_cli.run_folder import RunFolder
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import run

from conftest import THREADS

PREDICT = [sys.executable, "-c", "from pinn_cli.cli.predict import cli; cli()"]
FIELD_MAP = ("diagnostics.field_map.grid=[9,9]", "diagnostics.field_map.every=10")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, ref_cache):
    """A short Helmholtz run (40 steps, errors every 10) with a field map."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    overrides = ["device=cpu", f"reference_cache={ref_cache}", f"threads={THREADS}",
                 "pde=helmholtz_smooth", "model.depth=2", "model.width=16", "pde.n_collocation=256",
                 "pde.reference.n=41", "iterations=40", "eval_every=10", "checkpoint_every=20",
                 "diagnostics.snr.batches=8", "optimizer.lr=0.01", *FIELD_MAP]
    with initialize_config_module("pinn_cli.conf", version_base=None):
        cfg = compose("train", overrides=overrides)
    assert run(cfg, folder)["status"] == "done"
    return folder


def test_the_last_network_reproduces_the_runs_final_record_bit_for_bit(run_dir):
    net = pinn_cli.load(run_dir)
    r = read_run(run_dir / "run.h5")
    assert net.step == 40 and net.axes == ("x", "y") and net.outputs == ("u",)
    assert net.dtype == torch.float32 and not net.model.training
    assert net.errors() == {"u": r.attrs["final_rel_l2"]} == {"u": r.series["metrics"]["rel_l2"][-1]}
    fm = r.series["field_map"]
    axes = [r.static["field_map_grid/x"], r.static["field_map_grid/y"]]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_array_equal(net(pts).reshape(9, 9), fm["u"][-1])
    obs = net.observables(pts)
    assert obs.keys() == {"u"} and np.array_equal(obs["u"], net(pts))


def test_the_best_network_is_the_one_with_the_lowest_recorded_error(run_dir):
    r = read_run(run_dir / "run.h5")
    best = pinn_cli.load(run_dir, checkpoint="best")
    assert best.step == r.attrs["best_step"] and best.rel_l2 == r.attrs["best_rel_l2"]
    assert best.errors()["u"] == r.attrs["best_rel_l2"]
    m = r.series["metrics"]
    assert best.rel_l2 == m["rel_l2"].min() and best.step == m["step"][m["rel_l2"].argmin()]


def test_derivatives_are_nested_autograd_and_agree_with_finite_differences(run_dir):
    net = pinn_cli.load(run_dir)
    x = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    d = net.derivatives(x, ["u_x", "u_yy", "u_xy"])
    t = torch.as_tensor(x, dtype=torch.float32).requires_grad_(True)
    u = net.model(t)[:, 0]
    g = torch.autograd.grad(u.sum(), t, create_graph=True)[0]                      # (N, 2)
    gx = torch.autograd.grad(g[:, 0].sum(), t, create_graph=True)[0]
    gy = torch.autograd.grad(g[:, 1].sum(), t, create_graph=True)[0]
    np.testing.assert_array_equal(d["u"], u.detach().numpy())
    np.testing.assert_array_equal(d["u_x"], g[:, 0].detach().numpy())
    np.testing.assert_array_equal(d["u_yy"], gy[:, 1].detach().numpy())
    # u_xy comes with u_yy (the gradient of u_y): the other order agrees to rounding
    np.testing.assert_array_equal(d["u_xy"], gy[:, 0].detach().numpy())
    np.testing.assert_allclose(d["u_xy"], gx[:, 1].detach().numpy(), rtol=1e-5, atol=1e-5)
    wide = pinn_cli.load(run_dir, dtype="float64")                                # the same weights
    h = 1e-4
    fd = (wide(x + [0, h]) - 2 * wide(x) + wide(x - [0, h])) / h**2
    np.testing.assert_allclose(wide.derivatives(x, ["u_yy"])["u_yy"], fd, rtol=1e-4, atol=1e-4)
    tx = torch.as_tensor(x, dtype=torch.float32)
    assert isinstance(net(tx), torch.Tensor) and not net(tx).requires_grad
    assert net(tx.requires_grad_(True)).requires_grad                          # graph when asked


def test_bad_arguments_are_one_line(run_dir, tmp_path):
    net = pinn_cli.load(run_dir)
    with pytest.raises(ValueError, match=r"expected \(N, 2\) with columns x, y"):
        net(np.zeros((3, 3)))
    with pytest.raises(PinnError, match="no such run folder"):
        pinn_cli.load(tmp_path / "nothing")
    with pytest.raises(PinnError, match="checkpoint='first' is not allowed"):
        pinn_cli.load(run_dir, checkpoint="first")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PinnError, match="bad.pt: unreadable checkpoint"):
        pinn_cli.load(tmp_path / "bad.pt")


@pytest.mark.slow
def test_pinn_predict_writes_the_apis_values_from_any_layout(run_dir, tmp_path):
    net = pinn_cli.load(run_dir)
    x = np.random.default_rng(1).uniform(-1, 1, (20, 2))
    np.savetxt(tmp_path / "plain.txt", x)                                          # no header
    np.savez(tmp_path / "pts.npz", y=x[:, 1], x=x[:, 0])                          # named arrays
    np.savetxt(tmp_path / "named.csv", np.column_stack([x[:, ::-1], x[:, 0]]), delimiter=",",
               header="y,x,other", comments="")                                    # by name
    want = {"u": net(x), **net.derivatives(x, ["u_x", "u_yy"])}
    for name in ("plain.txt", "pts.npz", "named.csv"):
        p = subprocess.run(PREDICT + [str(run_dir), str(tmp_path / name), "-o", str(tmp_path / "v.csv"),
                                      "--derivatives", "u_x,u_yy", "--observables", "--force"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        v = np.genfromtxt(tmp_path / "v.csv", delimiter=",", names=True)
        assert v.dtype.names == ("x", "y", "u", "u_x", "u_yy")
        np.testing.assert_array_equal(np.column_stack([v["x"], v["y"]]), x)
        for k, w in want.items():
            np.testing.assert_array_equal(v[k], w.astype(float))
    np.savetxt(tmp_path / "three.txt", np.zeros((2, 3)))
    for args, msg in (([str(tmp_path / "three.txt")], "3 columns without a header; expected 2 (x, y)"),
                      ([str(tmp_path / "plain.txt"), "--derivatives", "u_z"], "derivative 'u_z'"),
                      ([str(tmp_path / "none.csv")], "none.csv: no such file"),
                      ([str(tmp_path / "plain.txt"), "-o", str(tmp_path / "named.csv")],
                       "named.csv exists; nothing was written"),
                      ([str(tmp_path / "plain.txt"), "--device", "gpu0"],
                       "device='gpu0' is not allowed: expected one of auto, cpu, cuda, cuda:N")):
        p = subprocess.run(PREDICT + [str(run_dir), *args], capture_output=True, text=True, timeout=300)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert p.stderr.startswith("pinn-predict: error:") and msg in p.stderr, p.stderr
    assert np.loadtxt(tmp_path / "named.csv", delimiter=",", skiprows=1).shape == (20, 3)   # kept


def test_a_requeued_resume_keeps_its_own_best_network(tmp_path, ref_cache):
    """A run B that resumed another (``resume=A``) and is started again in its own folder
    continues from its own checkpoint and keeps its own best.pt, not A's."""
    base = ["device=cpu", f"reference_cache={ref_cache}", f"threads={THREADS}", "pde=burgers_smooth",
            "model.depth=2", "model.width=16", "pde.n_collocation=256", "eval_every=10",
            "checkpoint_every=20", "diagnostics.snr.batches=8", "optimizer.lr=0.003"]
    a, b = tmp_path / "a", tmp_path / "b"
    with initialize_config_module("pinn_cli.conf", version_base=None):
        assert run(compose("train", overrides=base + ["iterations=40"]), a)["status"] == "done"
        for _ in range(2):                # the second: the same command again, in place
            assert run(compose("train", overrides=base + ["iterations=120", f"resume={a}"]),
                       b)["status"] == "done"
    r = read_run(b / "run.h5")
    assert r.attrs["best_step"] > 40, "the test needs B's best after A's last step"
    best = pinn_cli.load(b, checkpoint="best")
    assert best.step == r.attrs["best_step"] and best.rel_l2 == r.attrs["best_rel_l2"]


def test_pinn_predict_refuses_bad_points_and_protects_the_run(run_dir, tmp_path, capsys):
    """NaN points, an axis named twice, an -o that is one of the run's own files (even with
    --force) or a format it does not write: one line, exit 2, nothing written; -o .npz writes
    one array per column, the CSV's values."""
    from pinn_cli.cli.predict import main as predict
    (tmp_path / "nan.csv").write_text("x,y\n0.1,0.2\nnan,0.3\n")
    (tmp_path / "twice.csv").write_text("x,y,x\n0.1,0.2,0.3\n")
    (tmp_path / "ok.csv").write_text("x,y\n0.1,0.2\n-0.5,0.25\n")
    last = RunFolder(run_dir).last
    before = last.read_bytes()
    for args, msg in (([str(tmp_path / "nan.csv")], "1 point(s) hold NaN or inf (the first is point 2 of 2)"),
                      ([str(tmp_path / "twice.csv")], "the header names 'x' 2 times"),
                      ([str(tmp_path / "ok.csv"), "-o", str(last), "--force"], "is a file of the run"),
                      ([str(tmp_path / "ok.csv"), "-o", str(tmp_path / "v.mat")], "expected a .csv")):
        assert predict([str(run_dir), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, err
    assert last.read_bytes() == before and not (tmp_path / "v.mat").exists()
    assert predict([str(run_dir), str(tmp_path / "ok.csv"), "-o", str(tmp_path / "v.npz")]) == 0
    assert predict([str(run_dir), str(tmp_path / "ok.csv"), "-o", str(tmp_path / "v.csv")]) == 0
    npz = np.load(tmp_path / "v.npz")
    csv = np.loadtxt(tmp_path / "v.csv", delimiter=",", skiprows=1)
    assert list(npz) == ["x", "y", "u"]
    np.testing.assert_array_equal(np.column_stack([npz[k] for k in npz]), csv)
