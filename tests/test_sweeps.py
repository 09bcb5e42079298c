"""Sweeps and scheduler signals: preemption resumes bit for bit, joblib sweeps, sweep summaries."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import run

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
SMALL = ["pde=helmholtz_smooth", "device=cpu", "model.depth=2", "model.width=16", "pde.n_collocation=256", "threads=2"]

@pytest.mark.slow
def test_preempted_job_checkpoints_and_resumes_bit_for_bit(make_cfg, tmp_path, ref_cache,
                                                           train_process, wait_for_records):
    common = SMALL + ["weighting=rba", "iterations=3000", "eval_every=5", "checkpoint_every=100000",
                      f"reference_cache={ref_cache}"]
    proc = train_process(tmp_path / "pre", *common)
    try:
        wait_for_records(tmp_path / "pre", 20)
        os.kill(proc.pid, signal.SIGUSR2)              # what SLURM/submitit send before a limit
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert code == 128 + signal.SIGUSR2                # no scheduler handler: exit 140
    r = read_run(tmp_path / "pre" / "run.h5")
    stopped = checkpoint.load(RunFolder(tmp_path / "pre").last, "cpu")["step"]
    assert r.attrs["status"] == "preempted" and 100 < stopped < 3000
    # the requeued job: same config, same folder; it resumes by itself
    cfg = make_cfg(*[c for c in common if "iterations" not in c], "iterations=3000", small=False)
    assert run(cfg, tmp_path / "pre")["status"] == "done"
    run(cfg, tmp_path / "full")
    a = checkpoint.load(RunFolder(tmp_path / "pre").last, "cpu")["model"]
    b = checkpoint.load(RunFolder(tmp_path / "full").last, "cpu")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(read_run(tmp_path / "pre" / "run.h5").series["metrics"]["loss"],
                                  read_run(tmp_path / "full" / "run.h5").series["metrics"]["loss"])


def _rows(sweep):
    with open(sweep / "summary.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_joblib_sweep_of_four_jobs_and_its_summary(tmp_path, ref_cache):
    sweep = tmp_path / "sweep"
    out = subprocess.run(TRAIN + ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                                  "seed=0,1,2,3", "iterations=30", *SMALL[:-1],
                                  f"reference_cache={ref_cache}", f"hydra.sweep.dir={sweep}"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = _rows(sweep)
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
    for job in sweep.glob("*/run.h5"):
        r = read_run(job)
        assert r.series["metrics"]["step"][-1] == 30
        assert "threads: 1" in r.attrs["config"]          # 2 cores / 2 jobs


@pytest.mark.slow
def test_a_failing_job_does_not_lose_the_others(tmp_path, ref_cache):
    sweep = tmp_path / "sweep"
    out = subprocess.run(TRAIN + ["-m", *SMALL, "pde=allen_cahn", "optimizer.lr=1e-3,1e3",
                                  "iterations=200", "log_every=10", f"reference_cache={ref_cache}",
                                  f"hydra.sweep.dir={sweep}"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 3, out.stderr[-2000:]          # a sweep exits with its worst job's code
    rows = _rows(sweep)
    assert len(rows) == 2
    status = {("lr=1000" in r["job"]): r["status"] for r in rows}   # folder names show overrides
    assert status == {False: "done", True: "diverged"}
    assert all(f.exists() for f in sweep.glob("*/run.h5")) and len(list(sweep.glob("*/run.h5"))) == 2
    assert "diverged" in out.stdout + out.stderr


@pytest.mark.parametrize("override, expected", [
    ('pde.reference={file:f.txt,axes:{x:X,y:Y},values:{T:"T (K)"}}',
     [{"file": "f.txt", "axes": {"x": "X", "y": "Y"}, "values": {"T": "T (K)"}}]),
    ("a.b='x, y (1)'", ["x, y (1)"]),
    ('a=["x y","b,c"],[z]', [["x y", "b,c"], ["z"]]),
    ("seed=0,1,2", [0, 1, 2]),
    ("a=interval(0.1, 2)", [0.1, 2.0])])
def test_every_checked_override_reaches_hydra_as_hydra_wrote_it(override, expected):
    """The up-front check composes each value from Hydra's own text of it: re-parsed, every text
    gives back the value (a quoted name with spaces and parentheses stays one string, not a
    function call, as it was when the check re-rendered values as YAML)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from pinn_cli.cli.argv import _texts
    parser = OverridesParser.create()
    o = parser.parse_overrides([override])[0]
    assert [parser.parse_overrides([f"k={t}"])[0].value() for t in _texts(o)] == expected
