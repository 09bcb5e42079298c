"""The cluster path on a real single-node SLURM (scripts/slurm_local.sh start; .ci/run does it)."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import pytest
import torch

from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import run


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "alloc"))


pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(not _slurm_up(), reason="no SLURM: bash scripts/slurm_local.sh start")]
TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
SMALL = ["pde=helmholtz_smooth", "model.depth=2", "model.width=16", "pde.n_collocation=256", "threads=1"]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
         "hydra.launcher.timeout_min=20"]


def test_two_by_two_sweep_completes_on_slurm(tmp_path, ref_cache):
    sweep = tmp_path / "sweep"
    out = subprocess.run(TRAIN + ["-m", *SLURM, "seed=0,1", "weighting=none,rba", "iterations=20",
                                  *SMALL, f"reference_cache={ref_cache}", f"hydra.sweep.dir={sweep}"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(r["status"] == "done" for r in rows)
    for f in sweep.glob("*/run.h5"):
        r = read_run(f)
        assert r.attrs["status"] == "done" and r.series["metrics"]["step"][-1] == 20


def test_signalled_job_is_requeued_and_ends_like_an_uninterrupted_run(tmp_path, make_cfg, ref_cache,
                                                                     wait_for_records):
    sweep = tmp_path / "sweep"
    common = [*SMALL, "weighting=rba", "iterations=2500", "eval_every=10",
              "checkpoint_every=100000", f"reference_cache={ref_cache}"]
    proc = subprocess.Popen(TRAIN + ["-m", *SLURM, "seed=0", *common, f"hydra.sweep.dir={sweep}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run_file = wait_for_records(sweep, 20, timeout=300)
        job_id = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True,
                                text=True).stdout.split()[0]
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)   # as before a time limit
        output, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, output[-3000:]
    r = read_run(run_file)
    assert r.attrs["status"] == "done" and "@" in r.attrs["resumed_from"], r.attrs
    run(make_cfg(*common, "seed=0", small=False), tmp_path / "full")
    a = checkpoint.load(RunFolder(run_file.parent).last, "cpu")["model"]
    b = checkpoint.load(RunFolder(tmp_path / "full").last, "cpu")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
