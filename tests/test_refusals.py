"""Refusals and failures by class, one test per class: a folder claimed
by two commands at once, checks that need the problem done before any job trains, a plugin's
mistakes reported as the plugin's, a probe that raises mid-run, arithmetic that breaks down, a
sweep's exit code, and the one-line errors that were tracebacks."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from pinn_cli.cli.analyze import main as analyze
from pinn_cli.cli.argv import with_resume
from pinn_cli.cli.claim import claim, held
from pinn_cli.errors import PinnError
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import Trainer

# the slow tier (pytest -m slow): each case runs pinn-train in a child process
pytestmark = pytest.mark.slow

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
SMALL = ["pde=helmholtz_smooth", "model.depth=2", "model.width=8", "pde.n_collocation=64",
         "device=cpu", "threads=1"]


def _train(*args, cwd=None, timeout=300):
    return subprocess.run(TRAIN + list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _one_line(p, *must):
    err = p.stderr.strip().splitlines()
    assert err and err[-1].startswith("pinn-train: error:") and "Traceback" not in p.stderr, p.stderr[-2000:]
    for m in must:
        assert m in err[-1], (m, err[-1])


# ---- a folder is claimed before anything is written -------------------------------------------
def test_two_commands_at_once_never_write_into_one_folder(tmp_path, ref_cache):
    folder = tmp_path / "x"
    procs = [subprocess.Popen(TRAIN + SMALL + [f"seed={s}", "iterations=40", f"hydra.run.dir={folder}",
                                               f"reference_cache={ref_cache}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    winner = 1 + [c for c, _ in results].index(0)
    loser_err = results[[c for c, _ in results].index(2)][1]
    assert "nothing was changed" in loser_err
    assert f"seed={winner}" in (folder / ".hydra" / "overrides.yaml").read_text()
    assert f"seed={3 - winner}" not in (folder / ".hydra" / "overrides.yaml").read_text()
    assert read_run(folder / "run.h5").attrs["seed"] == winner
    assert "error" not in (folder / "train.log").read_text().lower()


def test_a_taken_default_folder_gets_a_suffix_and_the_lock_is_seen(tmp_path):
    taken = tmp_path / "12-00-00"
    (taken / ".hydra").mkdir(parents=True)
    (taken / "run.h5").write_bytes(b"another run")
    got = claim(str(taken), "hydra.run.dir", explicit=False, overrides=[])
    assert got == f"{taken}_1" and held(got)              # the lock is held (by this process)
    with pytest.raises(PinnError, match="already holds files"):
        claim(str(taken), "hydra.run.dir", explicit=True, overrides=[])
    assert (taken / "run.h5").read_bytes() == b"another run" and not (taken / ".pinn.lock").exists()


def test_a_late_refusal_leaves_a_folder_the_corrected_command_reuses(tmp_path, ref_cache):
    """A reference solver that gives up (Re 1e9) is one line, exit 2, after Hydra made the
    folder; the corrected command into the same folder then runs."""
    common = ["pde=lid_driven_cavity", "pde.reference.n=16", "pde.n_collocation=64", "model.width=8",
              "model.depth=2", "iterations=3", "threads=1", f"hydra.run.dir={tmp_path / 'r'}",
              f"reference_cache={ref_cache}", "diagnostics=off"]
    p = _train(*common, "pde.re=1e9")
    assert p.returncode == 2
    _one_line(p, "LidDrivenCavity", "did not converge")
    assert not (tmp_path / "r" / "run.h5").exists()
    p = _train(*common, "pde.re=100")
    assert p.returncode == 0, p.stderr[-2000:]


def test_the_user_pre_created_empty_folder_is_kept_when_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    p = _train(*SMALL, f"hydra.run.dir={tmp_path / 'mine'}")
    assert p.returncode == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "mine"


# ---- checks that need the problem run for every combination, before anything trains ----------
@pytest.mark.parametrize("args,must", [
    (["-m", "weighting=none,rba,causal", "pde=burgers,helmholtz_smooth"], "time axis"),
    (["-m", "pde=burgers", "weighting=sa", "weighting.terms=[res],[bogus]"], "weighting.terms"),
    (["-m", "pde=lid_driven_cavity", "pde.reference.n=16,3"], "pde.reference.n=3"),
    (["+iteratons=5"], "did you mean iterations"),
    (["optimizer=adam", "diagnostics.snr.on_total_diffusion=next_stage"], "next_stage needs a staged"),
    (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "seed=0,1"], "hydra.launcher.n_jobs=0"),
    (["--config-dir", "/nonexistent"], "--config-dir"),
    (["pde.n_collocation=900000000"], "GiB"),
    (["diagnostics.residual_map.grid=[100000,100000]"], "at most"),
])
def test_problem_level_mistakes_are_one_line_before_any_job(tmp_path, args, must):
    flags = [a for i, a in enumerate(args) if a.startswith("-") or (i and args[i - 1] == "--config-dir")]
    p = _train(*flags, *SMALL, *[a for a in args if a not in flags], f"hydra.sweep.dir={tmp_path / 's'}",
               f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    _one_line(p, must)
    assert not list(tmp_path.rglob(".hydra")) and not list(tmp_path.rglob("run.h5"))


def test_a_yaml_with_a_syntax_error_is_one_line(tmp_path):
    (tmp_path / "conf" / "pde").mkdir(parents=True)
    (tmp_path / "conf" / "pde" / "bad.yaml").write_text("_target_: x\n  bad: [\n")
    p = _train("--config-dir", "conf", "pde=bad", cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    _one_line(p, "bad.yaml, line 2", "not valid YAML")


# ---- a plugin's mistakes are the plugin's ----------------------------------------------------
PLUGIN = '''
import numpy as np
from pinn_cli.pdes import PDE, Reference
from pinn_cli.diagnostics import Probe
from pinn_cli.runfile import SeriesSpec



class Half(PDE):
    axes = ("x",)
    def __init__(self, n_collocation: int = 64, mode: str = "shape"):
        self.bounds, self.n_collocation, self.mode = np.array([[0.0, 1.0]]), n_collocation, mode
        self.loss_weights = {"res": 1.0}
        if mode == "file":
            open("missing-data.csv").read()
    def sample(self, rng):
        return {"res": self.latin_hypercube(self.n_collocation, rng)}
    def residual(self, net, x):
        if self.mode == "derivative":
            return net.derivatives(x, ("v_xx",)).v_xx
        return net(x)[: len(x) // 2]
    def conditions(self, net, points):
        return {}
    def reference(self, cache):
        x = np.linspace(0, 1, 11)
        return Reference(axes=[x], values=x)


class Raises(Probe):
    def spec(self, view):
        return SeriesSpec({"x": ((), "f8")})
    def record(self, view, state):
        if state.step >= 6:
            raise RuntimeError("my probe broke")
        return {"x": 1.0}
'''


@pytest.mark.parametrize("mode,must", [("shape", "has shape (2,), expected (4,)"),
                                       ("derivative", "v_xx"),
                                       ("file", "FileNotFoundError")])
def test_a_plugin_pde_mistake_is_one_line_naming_it_and_exit_2(tmp_path, mode, must):
    (tmp_path / "plug.py").write_text(PLUGIN)
    (tmp_path / "conf" / "pde").mkdir(parents=True)
    (tmp_path / "conf" / "pde" / "half.yaml").write_text(f"_target_: plug.Half\nmode: {mode}\n")
    p = _train("--config-dir", "conf", "pde=half", "iterations=5", "threads=1", "hydra.run.dir=r",
               "diagnostics=off", cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    _one_line(p, "plug.Half", must)
    assert not (tmp_path / "r" / "run.h5").exists()


def test_a_probe_that_raises_mid_run_fails_the_run_with_exit_4(tmp_path, ref_cache):
    (tmp_path / "plug.py").write_text(PLUGIN)
    (tmp_path / "conf" / "diagnostics").mkdir(parents=True)
    (tmp_path / "conf" / "diagnostics" / "bad.yaml").write_text(
        "defaults: ['off', _self_]\nmine: {_target_: plug.Raises, every: 2}\n")
    p = _train("--config-dir", "conf", *SMALL, "diagnostics=bad", "iterations=20", "hydra.run.dir=r",
               f"reference_cache={ref_cache}", cwd=tmp_path)
    assert p.returncode == 4, p.stderr[-2000:]
    assert "my probe broke" in p.stdout + p.stderr and "Traceback" not in p.stdout + p.stderr
    r = read_run(tmp_path / "r" / "run.h5")
    assert r.attrs["status"] == "failed" and list(r.series["mine"]["step"]) == [0, 2, 4]
    assert "my probe broke" in (tmp_path / "r" / "traceback.txt").read_text()


# ---- arithmetic that breaks down, and a sweep's exit code --------------------------------------
def test_a_line_search_dividing_by_zero_is_a_divergence(tmp_path, ref_cache):
    p = _train(*SMALL, "optimizer=lbfgs", "optimizer.schedule=staircase", "optimizer.decay_rate=1e-30",
               "optimizer.decay_every=1", "iterations=400", f"hydra.run.dir={tmp_path / 'r'}",
               f"reference_cache={ref_cache}", "diagnostics=off")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert "ZeroDivisionError in the optimizer step" in p.stdout + p.stderr
    assert read_run(tmp_path / "r" / "run.h5").attrs["status"] == "diverged"


@pytest.mark.slow
def test_a_sweep_whose_job_fails_to_start_goes_on_and_exits_2(tmp_path, ref_cache):
    sweep = tmp_path / "s"
    p = _train("-m", "pde=lid_driven_cavity", "pde.re=100,1e9", "pde.reference.n=16",
               "pde.n_collocation=64", "model.width=8", "model.depth=2", "iterations=3", "threads=1",
               "diagnostics=off", f"hydra.sweep.dir={sweep}", f"reference_cache={ref_cache}")
    assert p.returncode == 2, p.stderr[-2000:]
    summary = (sweep / "summary.csv").read_text()
    assert "done" in summary and "bad input" in summary and "did not converge" in summary


# ---- the rest: tracebacks that became one line --------------------------------------------------
def test_ctrl_c_while_loading_is_exit_130_and_one_line(tmp_path):
    # as from a terminal: a suite started in the background (``pytest &``) hands its children
    # SIGINT ignored, and Python then installs no Ctrl-C handler while it imports
    proc = subprocess.Popen(TRAIN + SMALL + [f"hydra.run.dir={tmp_path / 'r'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.3)                                  # imports are still running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err, err


def test_next_stage_switches_a_staged_optimizer_and_survives_its_state_dict(make_cfg, tmp_path):
    tr = Trainer(make_cfg("optimizer=adam_lbfgs", "optimizer.adam_steps=100"), tmp_path)
    for i in range(3):
        tr.step(i)
    assert tr.view.optimizer.stage == 0
    tr.next_stage()
    assert tr.view.optimizer.stage == 1 and tr.view.optimizer.stage_starts() == (0, 3)
    state = tr.optimizer.state_dict()
    other = Trainer(make_cfg("optimizer=adam_lbfgs", "optimizer.adam_steps=100"), tmp_path / "b")
    other.optimizer.load_state_dict(state)
    assert other.view.optimizer.stage == 1


def test_resume_lets_the_command_line_win_over_the_saved_overrides(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- seed=1\n- +optimizer.warmup_steps=5\n")
    got = with_resume([f"resume={tmp_path}", "+optimizer.warmup_steps=7", "iterations=9"])
    assert got == ["seed=1", f"resume={tmp_path}", "+optimizer.warmup_steps=7", "iterations=9"]


def test_analyze_never_overwrites_a_users_file_and_bad_paths_are_exit_2(tmp_path, capsys, make_cfg):
    from pinn_cli.training.trainer import run
    for s in (0, 1):
        run(make_cfg("iterations=4", f"seed={s}"), tmp_path / "runs" / f"r{s}")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "comparison.csv").write_text("my own numbers")
    assert analyze([str(tmp_path / "runs"), "--no-figures", "--out", str(mine)]) == 2
    assert (mine / "comparison.csv").read_text() == "my own numbers"
    assert "not written by pinn-analyze" in capsys.readouterr().err
    for name in ("report.md", "report_error.png"):      # the grouped report's files too
        theirs = tmp_path / name.replace(".", "_")
        theirs.mkdir()
        (theirs / name).write_text("mine")
        assert analyze([str(tmp_path / "runs"), "--out", str(theirs)]) == 2
        assert (theirs / name).read_text() == "mine"
    assert analyze([str(tmp_path / "runs"), "--no-figures", "--out", str(tmp_path / "new")]) == 0
    assert analyze([str(tmp_path / "runs"), "--no-figures", "--out", str(tmp_path / "new")]) == 0
    (tmp_path / "empty").mkdir()
    assert analyze([str(tmp_path / "empty")]) == 2
    assert analyze([str(tmp_path / "nowhere")]) == 2
    (tmp_path / "afile").write_text("x")
    assert analyze([str(tmp_path / "runs" / "r0"), "--no-figures", "--tensorboard",
                    str(tmp_path / "afile")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--tensorboard" in err


def test_a_model_too_large_for_memory_is_one_line(tmp_path):
    p = _train(*SMALL, "model.width=200000", "model.depth=40", cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    _one_line(p, "model")


def test_a_disk_full_at_the_first_record_is_one_error_line_and_exit_4(tmp_path, ref_cache):
    """Every file is limited to 30 kB (as a full disk): the log cannot grow either, and the
    run must still end in one error line (no 'Logging error' blocks), exit 4, file readable."""
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (30000, 30000))\n"
            "from pinn_cli.cli.train import main\n"
            "sys.argv = ['pinn-train'] + sys.argv[1:]\n"
            "main()\n")
    # the field map's static reference (17 kB) is left out: the file is made, its first record fails
    p = subprocess.run([sys.executable, "-c", code, *SMALL, "iterations=50", "eval_every=5",
                        "diagnostics.field_map=null",
                        f"hydra.run.dir={tmp_path / 'r'}", f"reference_cache={ref_cache}"],
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 4, out[-2000:]
    assert "Logging error" not in out and "Traceback" not in out
    assert out.count("ERROR") == 1 and "File too large" in out
    assert read_run(tmp_path / "r" / "run.h5").attrs["status"] == "running"


def test_a_checkpoint_with_the_older_flat_model_keys_still_resumes():
    """A run saved before the embedding/RWF options were nested (``model.features``,
    ``model.rwf: false``) resumes under today's config of the same model; another width does not."""
    from pinn_cli.errors import ConfigError
    from pinn_cli.run_folder import LEGACY_GROUPS as LEGACY
    from pinn_cli.training.resume import check_resumable
    new = {"_target_": "pinn_cli.models.modified_mlp.ModifiedMLP", "depth": 4, "width": 64,
           "activation": "tanh",
           "embedding": {"_target_": "pinn_cli.models.options.EmbeddingOptions", "features": 0,
                         "sigma": 1.0, "periodic_axes": None, "periods": None},
           "rwf": {"_target_": "pinn_cli.models.options.RWFOptions", "enabled": False, "mu": 1.0,
                   "sigma": 0.1}}
    old = {"_target_": new["_target_"], "depth": 4, "width": 64, "activation": "tanh",
           "sigma": 1.0, "features": 0, "periodic_axes": None, "periods": None, "rwf": False,
           "rwf_mu": 1.0, "rwf_sigma": 0.1}
    now = OmegaConf.to_yaml({"model": new, **LEGACY, "seed": 0})
    check_resumable(OmegaConf.to_yaml({"model": old, "seed": 0}), now)
    with pytest.raises(ConfigError, match="model"):
        check_resumable(OmegaConf.to_yaml({"model": {**old, "width": 32}, "seed": 0}), now)

