"""The phases as they happen: the live phase in the run file and on the progress line, phase
actions, pinn-analyze --watch, the TensorBoard export, and the default run's diagnostics."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from pinn_cli.phases.offline import detect
from pinn_cli.analysis.liveness import STALE
from pinn_cli.cli.analyze import _table, main as analyze
from pinn_cli.cli.watch import expected_jobs, watch
from pinn_cli.phases.offline import PhaseParams
from pinn_cli.diagnostics.actions import DecayLR, Stop
from pinn_cli.diagnostics.probes import ACTIONS, PHASES, SNRProbe
from pinn_cli.diagnostics.snr import auto_batches
from pinn_cli.runfile import RunWriter, SeriesSpec, read_run
from pinn_cli.training.trainer import Trainer, run


def _series(seed=0):
    """A synthetic SNR series with fitting until ~150 and total diffusion at ~3,000."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([np.arange(0, 300, 5), np.arange(300, 12000, 100)])
    level = np.where(steps < 150, 1.0, np.where(steps < 3000, -1.0, 0.7))
    return steps, 10 ** (level + 0.3 * rng.standard_normal(len(steps)))


def test_auto_batches_are_closest_to_256_points():
    assert auto_batches(25600) == 100 and auto_batches(2000) == 8 and auto_batches(999) == 3


def test_live_phase_matches_the_offline_detector_and_asks_for_its_action():
    steps, snr = _series()
    probe = SNRProbe(batches=8, on_total_diffusion="decay_lr", lr_factor=0.5)
    recs = [probe._live(int(s), float(v)) for s, v in zip(steps, snr)]
    off = detect(steps, snr)
    phases = [PHASES[r["phase"]] for r in recs]
    assert phases[-1] == "total_diffusion" and off.total_diffusion is not None
    first_total = steps[phases.index("total_diffusion")]
    assert first_total > off.total_diffusion                  # confirmed after the onset ...
    assert probe.online.onsets["total_diffusion"] == off.total_diffusion   # ... at the same step
    assert [ACTIONS[r["action"]] for r in recs].count("decay_lr") == 1
    assert [a.name for a in probe.actions] == ["decay_lr"] and probe.actions[0].factor == 0.5


def test_phase_actions_change_the_learning_rate_and_stop(make_cfg, tmp_path):
    tr = Trainer(make_cfg("diagnostics=paper", "diagnostics.snr.batches=8"), tmp_path)
    probe = next(p for p in tr.recorder.probes if p.group == "snr")
    lr0, base0 = tr.lr(), list(tr.schedule.base_lrs)
    probe.actions = [DecayLR(0.25)]
    tr._act([probe], 10)
    assert probe.actions == [] and not tr._stop
    assert tr.lr() == pytest.approx(lr0 * 0.25) and tr.schedule.base_lrs[0] == pytest.approx(base0[0] * 0.25)
    probe.actions = [Stop()]
    tr._act([probe], 11)
    assert tr._stop


def test_the_default_run_records_the_live_phase_and_resumes_it(make_cfg, tmp_path):
    cfg = make_cfg("iterations=60", "checkpoint_every=30")
    run(cfg, tmp_path / "full")
    full = read_run(tmp_path / "full" / "run.h5").series
    assert {"snr", "residual", "entropy", "residual_map", "metrics"} <= set(full)
    assert set(full["snr"]) >= {"phase", "smooth", "action", "global", "adam"}
    run(make_cfg("iterations=30"), tmp_path / "a")
    run(make_cfg("iterations=60", f"resume={tmp_path / 'a'}"), tmp_path / "b")
    resumed = read_run(tmp_path / "b" / "run.h5").series["snr"]
    for k in ("global", "phase", "smooth", "action"):
        np.testing.assert_array_equal(resumed[k], full["snr"][k])


def test_watch_follows_a_run_until_it_ends(tmp_path, capsys):
    spec = {"snr": SeriesSpec({"global": ((), "f8")})}
    w = RunWriter(tmp_path / "run.h5", {}, spec)
    w.append("snr", 0, **{"global": 5.0})

    def finish():
        time.sleep(1.0)
        w.append("snr", 5, **{"global": 4.0})
        w.close("done")

    t = threading.Thread(target=finish)
    t.start()
    t0 = time.perf_counter()
    watch([tmp_path], PhaseParams(), 0.2, STALE, _table)
    t.join()
    out = capsys.readouterr().out
    assert "1 running or pending" in out and "all ended" in out and time.perf_counter() - t0 < 30


def test_watch_counts_a_sweeps_pending_jobs(tmp_path):
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - seed=0,1,2\n    - weighting=none,rba\n    - iterations=5\n")
    assert expected_jobs(tmp_path) == 6 and expected_jobs(tmp_path / "nothing") == 1
    # a study's jobs come from its sweeper parameters, which multirun.yaml does not hold:
    # the job list pinn-train wrote is the count
    from pinn_cli.cli.sweep import write_state
    write_state(tmp_path, ["+study=phases"], [["seed=0"], ["seed=1"], ["seed=2"], ["seed=3"]])
    assert expected_jobs(tmp_path) == 4


def test_watch_ends_when_no_run_can_progress(tmp_path, capsys):
    """A run whose writer was SIGKILLed (its pid gone), a truncated file unchanged for longer
    than --stale, and a sweep job that will never start (the launcher's claim released): the
    watch ends, naming what stopped, instead of waiting forever."""
    import os
    import platform
    sweep = tmp_path / "sweep"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    spec = {"snr": SeriesSpec({"global": ((), "f8")})}
    (sweep / "0_killed").mkdir(parents=True)
    w = RunWriter(sweep / "0_killed" / "run.h5", {"host": platform.node(), "pid": dead.pid}, spec)
    w.append("snr", 0, **{"global": 5.0})
    w.f.flush()                                          # left open: as SIGKILL leaves it
    (sweep / "1_truncated").mkdir()
    (sweep / "1_truncated" / "run.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    old = time.time() - 3600
    os.utime(sweep / "1_truncated" / "run.h5", (old, old))
    (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task:\n    - seed=0,1,2\n")
    (sweep / ".pinn.lock").touch()                       # the launcher's claim, released
    t0 = time.perf_counter()
    watch([sweep], PhaseParams(), 0.2, 60.0, _table)
    out = capsys.readouterr().out
    assert "all ended" in out and "0_killed" in out and "unreadable" in out
    assert time.perf_counter() - t0 < 30


def test_tensorboard_export_holds_the_run_file_values(make_cfg, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run(make_cfg("iterations=20", "diagnostics=paper", "diagnostics.snr.batches=8",
                 "diagnostics.snr.every=5"), tmp_path / "r")
    assert analyze([str(tmp_path / "r"), "--no-figures", "--tensorboard", str(tmp_path / "tb")]) == 0
    acc = EventAccumulator(str(tmp_path / "tb" / "r"))
    acc.Reload()
    got = [(e.step, e.value) for e in acc.Scalars("snr/global")]
    snr = read_run(tmp_path / "r" / "run.h5").series["snr"]
    np.testing.assert_array_equal([s for s, _ in got], snr["step"])
    np.testing.assert_allclose([v for _, v in got], snr["global"], rtol=1e-6)
    assert "snr/per_layer/1" in acc.Tags()["scalars"] and "residual_map/map" in acc.Tags()["images"]
