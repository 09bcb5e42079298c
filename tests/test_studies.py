"""Studies as configuration (issue 24): a study is a YAML file (a grid in hydra.sweeper.params,
unions of grids as arms); the same command continues it after a stop, to the same files as an
uninterrupted study; its grouped report equals a direct computation from the run files; every
combination is checked before anything trains; a search resumes from its storage."""
from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pinn_cli.cli.analyze import main as analyze
from pinn_cli.runfile import read_run
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]

STUDY = """# @package _global_
hydra:
  sweep:
    dir: {folder}
  sweeper:
    params:
      +arm/two: plain,rba
      seed: 0,1
pde: {{n_collocation: 256}}
model: {{depth: 2, width: 8}}
diagnostics: {{snr: {{batches: 8}}}}
iterations: 60
eval_every: 10
checkpoint_every: 20
threads: 1
"""
ARMS = {"plain.yaml": "# @package _global_\ndefaults:\n  - override /weighting: none\n",
        "rba.yaml": "# @package _global_\ndefaults:\n  - override /weighting: rba\n"
                    "weighting: {gamma: 0.99, eta: 0.01}\n"}


def _study(root: Path, folder: Path) -> Path:
    (root / "conf" / "study").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "arm" / "two").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "study" / "two.yaml").write_text(STUDY.format(folder=folder))
    for name, text in ARMS.items():
        (root / "conf" / "arm" / "two" / name).write_text(text)
    return root / "conf"


def _cmd(conf: Path, ref_cache, *extra):
    return TRAIN + ["-m", "--config-dir", str(conf), "+study=two", "pde=helmholtz_smooth",
                    f"reference_cache={ref_cache}", *extra]


def _jobs(folder: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in folder.glob("*/run.h5")}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_study_continues_to_the_uninterrupted_files(tmp_path, ref_cache, sig):
    conf = _study(tmp_path, tmp_path / "full")
    p = subprocess.run(_cmd(conf, ref_cache), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    full = _jobs(tmp_path / "full")
    assert len(full) == 4 and all(read_run(j / "run.h5").attrs["status"] == "done" for j in full.values())

    conf = _study(tmp_path / "b", tmp_path / "stopped")
    proc = subprocess.Popen(_cmd(conf, ref_cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tmp_path / "b")
    deadline = time.time() + 300
    while time.time() < deadline:                # stop it in its second job, after a checkpoint
        time.sleep(0.2)
        ckpts = list((tmp_path / "stopped").glob("*/checkpoints/last.pt"))
        if len(ckpts) >= 2:
            break
    proc.send_signal(sig)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    status = subprocess.run([sys.executable, "-c", "from pinn_cli.cli.analyze import cli; cli()",
                             "--status", str(tmp_path / "stopped")], capture_output=True, text=True)
    assert "not started" in status.stdout and status.returncode == 1
    p = subprocess.run(_cmd(conf, ref_cache), capture_output=True, text=True, timeout=600,
                       cwd=tmp_path / "b")
    assert p.returncode == 0, p.stderr[-2000:]
    resumed = _jobs(tmp_path / "stopped")
    assert resumed.keys() == full.keys()
    for name, job in full.items():
        a = checkpoint.load(RunFolder(job).last, "cpu")["model"]
        b = checkpoint.load(RunFolder(resumed[name]).last, "cpu")["model"]
        assert all(torch.equal(a[k], b[k]) for k in a), name
        ma, mb = (read_run(j / "run.h5").series["metrics"] for j in (job, resumed[name]))
        np.testing.assert_array_equal(ma["loss"], mb["loss"])
        np.testing.assert_array_equal(ma["rel_l2"], mb["rel_l2"])
    # a different study into the same folder is refused, in one line
    p = subprocess.run(_cmd(conf, ref_cache, "iterations=70"), capture_output=True, text=True,
                       timeout=300, cwd=tmp_path / "b")
    assert p.returncode == 2 and "another sweep" in p.stderr and "Traceback" not in p.stderr

    # the grouped report equals a direct computation from the run files
    assert analyze([str(tmp_path / "full"), "--no-figures", "--by", "arm/two",
                    "--metric", "final.loss"]) == 0
    with open(tmp_path / "full" / "analysis" / "report.csv") as f:
        rows = {r["arm/two"]: r for r in csv.DictReader(f)}
    for arm in ("plain", "rba"):
        runs = [read_run(j / "run.h5") for n, j in full.items() if f"two={arm}," in n]
        finals = [r.attrs["final_rel_l2"] for r in runs]
        best = [r.series["metrics"]["rel_l2"].min() for r in runs]
        assert float(rows[arm]["final_rel_l2_mean"]) == pytest.approx(np.mean(finals), rel=1e-12)
        assert float(rows[arm]["final_rel_l2_std"]) == pytest.approx(np.std(finals), rel=1e-9, abs=1e-15)
        assert float(rows[arm]["best_rel_l2_mean"]) == pytest.approx(np.mean(best), rel=1e-12)
        assert float(rows[arm]["final.loss_mean"]) == pytest.approx(
            np.mean([r.attrs["final_loss"] for r in runs]), rel=1e-12)
        assert rows[arm]["runs"] == "2" and rows[arm]["seeds"] == "0 1"
    assert (tmp_path / "full" / "analysis" / "report.md").read_text().count("\n| ") == 3


@pytest.mark.slow
def test_a_bad_value_deep_in_a_large_study_fails_before_anything_trains(tmp_path):
    """300 combinations, the first bad one (width 0) the 252nd: refused up front, in one line."""
    (tmp_path / "conf" / "study").mkdir(parents=True)
    (tmp_path / "conf" / "study" / "big.yaml").write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n      model.width: range(251,-49,-1)\n")
    t0 = time.perf_counter()
    p = subprocess.run(TRAIN + ["-m", "--config-dir", "conf", "+study=big", "pde=helmholtz_smooth",
                                f"hydra.sweep.dir={tmp_path / 's'}"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 2 and "model.width=0 is not allowed" in p.stderr
    assert p.stderr.strip().count("\n") == 0 and not (tmp_path / "s").exists()
    assert time.perf_counter() - t0 < 300


@pytest.mark.slow
def test_a_search_resumes_from_its_storage(tmp_path, ref_cache):
    pytest.importorskip("optuna")
    import optuna
    from pinn_cli.cli.search import remaining

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 1.0)
    study.ask()                                   # left running by a stopped search
    assert remaining(storage, "s", 5) == 3
    assert [t.state.name for t in optuna.load_study(study_name="s", storage=storage).trials] == \
        ["COMPLETE", "FAIL"]
    assert remaining(storage, "new", 5) == 5

    cmd = TRAIN + ["-m", "+study=search_default", f"hydra.sweep.dir={tmp_path / 'search'}",
                   "pde.n_collocation=256", "model.depth=2", "model.width=8", "iterations=10",
                   "diagnostics=off", "score=final_rel_l2", f"reference_cache={ref_cache}"]
    for n in (2, 3, 3):
        p = subprocess.run(cmd + [f"hydra.sweeper.n_trials={n}"], capture_output=True, text=True,
                           timeout=600, cwd=tmp_path)
        assert p.returncode == 0, p.stderr[-2000:]
    trials = optuna.load_study(study_name="pinn-search", storage=f"sqlite:///{tmp_path / 'search' / 'optuna.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 3     # no trial drawn twice
    assert "has all its 3 trials" in p.stderr


def test_a_job_whose_run_file_cannot_be_read_scores_nan(tmp_path):
    """The sweeper is told NaN (not an exception that ends the search) for a missing or
    truncated run file."""
    from pinn_cli.cli.sweep import score
    assert np.isnan(score(tmp_path / "run.h5", "final_rel_l2", 1e-2))
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    assert np.isnan(score(tmp_path / "bad.h5", "steps_to_target", 1e-2))


def test_an_arm_wins_over_its_study_for_every_key_and_the_command_line_over_both(tmp_path, ref_cache):
    """A study over the experiment cpu_burgers (10,000 iterations, 4 x 64) sets model.depth=2,
    width 8 and iterations=2; arm `three` sets depth 3, arm `long` iterations 3: each arm's runs
    train with the arm's value, the study's keys apply where the arm is silent and win over the
    experiment's, and a key on the command line wins over all."""
    import yaml
    conf = tmp_path / "conf"
    (conf / "study").mkdir(parents=True)
    (conf / "arm" / "size").mkdir(parents=True)
    (conf / "study" / "prec.yaml").write_text(
        "# @package _global_\nhydra:\n  sweep:\n    dir: outputs/studies/prec\n  sweeper:\n"
        "    params:\n      +experiment: cpu_burgers\n      +arm/size: three,long\n"
        "pde: {n_collocation: 64}\nmodel: {depth: 2, width: 8}\niterations: 2\nthreads: 1\n"
        "diagnostics: {snr: {batches: 2}}\n")
    (conf / "arm" / "size" / "three.yaml").write_text("# @package _global_\nmodel: {depth: 3}\n")
    (conf / "arm" / "size" / "long.yaml").write_text("# @package _global_\niterations: 3\n")

    def configs(*extra):
        p = subprocess.run([*TRAIN, "-m", "--config-dir", str(conf), "+study=prec", "device=cpu",
                            f"reference_cache={ref_cache}", *extra], capture_output=True,
                           text=True, timeout=300, cwd=tmp_path)
        assert p.returncode == 0, p.stderr[-2000:]
        out = {}
        for f in (tmp_path / "outputs" / "studies" / "prec").glob("*/.hydra/config.yaml"):
            c = yaml.safe_load(f.read_text())
            out[f.parent.parent.name.split(",")[0]] = (c["model"]["depth"], c["model"]["width"], c["iterations"])
        return out
    assert configs() == {"+arm-size=three": (3, 8, 2), "+arm-size=long": (2, 8, 3)}
    import shutil
    shutil.rmtree(tmp_path / "outputs")
    assert configs("model.depth=4") == {"+arm-size=three": (4, 8, 2), "+arm-size=long": (4, 8, 3)}


@pytest.mark.slow
def test_the_same_study_started_twice_at_once_trains_each_job_once(tmp_path, ref_cache):
    """The second command is refused while the first holds the study's folder (one line, exit
    2, nothing changed); every job trains once; .pinn-sweep.json stays whole. A job a command
    is training is also locked on its own (a continued SLURM study never trains it twice)."""
    import json
    conf = tmp_path / "conf"
    (conf / "study").mkdir(parents=True)
    (conf / "study" / "twice.yaml").write_text(
        "# @package _global_\nhydra:\n  sweep:\n    dir: outputs/studies/twice\n  sweeper:\n"
        "    params:\n      seed: 0,1\npde: {n_collocation: 256}\nmodel: {depth: 2, width: 16}\n"
        "iterations: 300\nthreads: 1\neval_every: 50\n")
    cmd = [*TRAIN, "-m", "--config-dir", str(conf), "+study=twice", f"reference_cache={ref_cache}"]
    first = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = tmp_path / "outputs" / "studies" / "twice"
    deadline = time.time() + 120
    while not (folder / ".pinn-sweep.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.wait(timeout=300) == 0
    assert second.returncode == 2 and "another pinn-train is writing to it" in second.stderr
    logs = sorted(folder.glob("*/train.log"))
    assert len(logs) == 2 and all(f.read_text().count("done: rel_l2") == 1 for f in logs)
    jobs = json.loads((folder / ".pinn-sweep.json").read_text())["jobs"]
    assert [[o for o in job if o.startswith("seed=")] for job in jobs] == [["seed=0"], ["seed=1"]]
    from pinn_cli.cli.sweep import job_lock
    with job_lock(logs[0].parent) as mine, job_lock(logs[0].parent) as again:
        assert mine and not again
