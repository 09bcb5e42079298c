"""pinn-analyze end to end: a real short run, figures, sweeps, bad files, runs being written."""
from __future__ import annotations

import json
import shutil

import matplotlib.image
import numpy as np
import pytest

from pinn_cli.cli.analyze import main
from pinn_cli.runfile import RunWriter, SeriesSpec
from pinn_cli.training.trainer import run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, ref_cache):
    from hydra import compose, initialize_config_module
    folder = tmp_path_factory.mktemp("run")
    with initialize_config_module("pinn_cli.conf", version_base=None):
        cfg = compose("train", overrides=["device=cpu", f"reference_cache={ref_cache}",
                                          "pde=helmholtz_smooth", "model.depth=2", "model.width=16",
                                          "pde.n_collocation=256",
                                          "diagnostics=full", "diagnostics.snr.batches=16",
                                          "iterations=120", "eval_every=10"])
    run(cfg, folder)
    return folder


def test_real_run_end_to_end(real_run, capsys):
    assert main([str(real_run)]) == 0
    s = json.loads((real_run / "analysis" / "summary.json").read_text())
    assert s["schema"] == 3 and s["status"] == "done" and s["missing"] == []
    assert set(s["phases"]) >= {"fitting_to_diffusion", "total_diffusion", "started_in_fitting"}
    assert s["final"]["rel_l2"] > 0
    assert {p.rsplit("/", 1)[-1] for p in s["figures"]} >= {"snr.png", "residual_maps.png",
                                                             "entropy.png", "adam.png", "weights.png"}
    for d in (s["phases"]["fitting_to_diffusion"], s["phases"]["total_diffusion"]):
        assert d["reached"] in (True, False) and (d["step"] is None) == (not d["reached"])
    for name in ("snr", "residual_maps", "entropy", "adam"):
        img = matplotlib.image.imread(real_run / "analysis" / f"{name}.png")
        assert img.shape[0] > 200 and img.shape[1] > 300 and img.std() > 0.01   # not blank
    assert "pinn-analyze" in capsys.readouterr().out


def test_snr_figure_has_log_axes_and_the_error_on_a_twin_axis(real_run):
    from pinn_cli.analysis.summary import analyze_run
    from pinn_cli.analysis.plots import snr_figure
    from pinn_cli.runfile import read_run
    import matplotlib.pyplot as plt
    r = read_run(real_run / "run.h5")
    captured = {}
    orig = plt.Figure.savefig
    plt.Figure.savefig = lambda fig, *a, **k: captured.setdefault("fig", fig) and None
    try:
        snr_figure(r, analyze_run(r), real_run / "tmpfig")
    finally:
        plt.Figure.savefig = orig
    ax, ax2 = captured["fig"].axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_ylabel() == "gradient SNR"
    assert ax2.get_ylabel() == "relative L2 error"


def test_sweep_comparison_and_bad_files_do_not_stop_the_others(real_run, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for i in range(2):
        shutil.copytree(real_run, sweep / f"{i}_seed={i}", ignore=shutil.ignore_patterns("analysis"))
    (sweep / "2_broken").mkdir()
    (sweep / "2_broken" / "run.h5").write_text("not hdf5")
    code = main([str(sweep), "--no-figures"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("pinn-analyze: error:") == 1 and "2_broken" in err
    rows = (sweep / "analysis" / "comparison.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("run,status,label,seed,pde")
    groups = json.loads((sweep / "analysis" / "comparison.json").read_text())["groups"]
    assert len(groups) == 1 and groups[0]["runs"] == 2       # the two differ only in their seed


def test_runs_named_one_by_one_are_compared_in_their_common_folder(real_run, tmp_path,
                                                                    monkeypatch):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(real_run, runs / name, ignore=shutil.ignore_patterns("analysis"))
    work = tmp_path / "work"
    (work / "analysis").mkdir(parents=True)
    (work / "analysis" / "comparison.csv").write_text("the user's own file")
    monkeypatch.chdir(work)
    assert main([str(runs / "a"), str(runs / "b" / "run.h5"), "--no-figures"]) == 0
    assert len((runs / "analysis" / "comparison.csv").read_text().splitlines()) == 3
    assert (work / "analysis" / "comparison.csv").read_text() == "the user's own file"


def test_diagnostics_off_nans_and_a_single_record(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    w = RunWriter(tmp_path / "a" / "run.h5", {},
                  {"snr": SeriesSpec({k: ((), "f8") for k in ("global", "order", "adam", "adam_step")}
                                     | {"per_layer": ((2,), "f8"), "order_per_layer": ((2,), "f8")})})
    w.append("snr", 0, **{"global": np.nan, "order": 1.0, "adam": 1.0, "adam_step": 1.0,
                          "per_layer": [1.0, 1.0], "order_per_layer": [1.0, 1.0]})
    w.append("snr", 5, **{"global": 3.0, "order": 1.0, "adam": 1.0, "adam_step": 1.0,
                          "per_layer": [1.0, 1.0], "order_per_layer": [1.0, 1.0]})
    w.close("done")
    w2 = RunWriter(tmp_path / "b.h5", {}, {})
    w2.close("done")
    assert main([str(tmp_path / "a"), str(tmp_path / "b.h5"), "--out", str(tmp_path / "cmp")]) == 0
    a = json.loads((tmp_path / "a" / "analysis" / "summary.json").read_text())
    b = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert a["phases"]["snr_nan_or_nonpositive"] == 1 and not a["phases"]["total_diffusion"]["reached"]
    assert "metrics" in a["missing"]
    assert b["phases"]["total_diffusion"]["reached"] is None and "no SNR" in b["phases"]["note"]


def test_a_run_still_being_written_is_analysed(tmp_path):
    spec = {"snr": SeriesSpec({k: ((), "f8") for k in ("global", "order", "adam", "adam_step")}
                              | {"per_layer": ((1,), "f8"), "order_per_layer": ((1,), "f8")})}
    w = RunWriter(tmp_path / "run.h5", {}, spec)
    for s in range(0, 300, 5):
        w.append("snr", s, **{"global": 10.0 if s < 100 else 0.1, "order": 1.0, "adam": 1.0,
                              "adam_step": 1.0, "per_layer": [1.0], "order_per_layer": [1.0]})
    assert main([str(tmp_path), "--no-figures"]) == 0          # the writer still holds the file
    s = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert s["status"] == "running" and abs(s["phases"]["fitting_to_diffusion"]["step"] - 100) <= 10
    w.close("done")


def test_an_unknown_by_key_is_refused_with_the_keys_that_exist(real_run, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for i in range(2):
        shutil.copytree(real_run, sweep / f"{i}_seed={i}", ignore=shutil.ignore_patterns("analysis"))
    code = main([str(sweep), "--no-figures", "--by", "nokey.zz"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--by nokey.zz is not allowed" in err and "model.depth" in err and "seed" in err
    assert not (sweep / "analysis" / "report.md").exists()
    assert main([str(sweep), "--no-figures", "--by", "model.depth"]) == 0


def test_output_that_is_not_a_terminal_is_never_cut_to_80_columns(real_run, tmp_path):
    """pinn-analyze > file: the table's header and every column are there in full."""
    import subprocess
    import sys
    shutil.copytree(real_run, tmp_path / "r", ignore=shutil.ignore_patterns("analysis"))
    p = subprocess.run([sys.executable, "-c", "from pinn_cli.cli.analyze import cli; cli()",
                        str(tmp_path / "r"), "--no-figures"], capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ, "COLUMNS": "80"})
    assert p.returncode == 0
    assert "(steps; -: not reached)" in p.stdout and "best err" in p.stdout


def test_residual_maps_put_the_first_axis_across_in_the_domains_aspect(tmp_path):
    """A 4 x 2 channel's residual map: x across, y up, drawn at its own aspect (wider than tall),
    the last panel saying where the run ended when that is past the last map."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from pinn_cli.analysis import plots
    from pinn_cli.runfile import read_run
    w = RunWriter(tmp_path / "run.h5", {}, {"residual_map": SeriesSpec({"map": ((5, 3), "f8")})},
                  static={"grid/x": np.linspace(0, 4, 5), "grid/y": np.linspace(0, 2, 3)})
    for step in (0, 1000):
        w.append("residual_map", step, map=np.arange(1, 16, dtype=float).reshape(5, 3))
    w.close("done", steps=1938)
    run = read_run(tmp_path / "run.h5")
    shown = {}
    real_save = plots._save
    plots._save = lambda fig, path: shown.setdefault("fig", fig) and path
    try:
        plots.residual_maps_figure(run, {"phases": {}}, tmp_path)
    finally:
        plots._save = real_save
    ax = shown["fig"].axes[0]
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert ax.get_xlim()[1] >= 4 and ax.get_ylim()[1] <= 2.5 and ax.get_aspect() == 1.0
    assert "run: 1938 steps" in ax.get_title()
    plt.close("all")


def test_groups_renamed_in_the_yaml_keep_the_phases_and_their_figures(real_run, tmp_path, ref_cache):
    """Each group records its probe's kind: the same run with the SNR and entropy groups named
    otherwise gives the same phases, nothing missing, the same figures (found by kind)."""
    from hydra import compose, initialize_config_module
    from pinn_cli.analysis.summary import analyze_run
    from pinn_cli.runfile import read_run
    with initialize_config_module("pinn_cli.conf", version_base=None):
        cfg = compose("train", overrides=[
            "device=cpu", f"reference_cache={ref_cache}", "pde=helmholtz_smooth", "model.depth=2",
            "model.width=16", "pde.n_collocation=256", "diagnostics=full", "iterations=120",
            "eval_every=10", "~diagnostics.snr", "~diagnostics.entropy",
            "+diagnostics.gsnr={_target_: pinn_cli.diagnostics.probes.SNRProbe, batches: 16, "
            "every: 10, dense_every: 1, dense_until: 300}",
            "+diagnostics.layers={_target_: pinn_cli.diagnostics.probes.EntropyProbe, bins: 30, "
            "every: 10, dense_every: 2, dense_until: 200}",
            "diagnostics.terms.batches=16"])
    run(cfg, tmp_path)
    renamed, original = read_run(tmp_path / "run.h5"), read_run(real_run / "run.h5")
    assert renamed.kinds["gsnr"] == "snr" and renamed.kinds["layers"] == "entropy"
    assert "snr" not in renamed.series and renamed.group("snr") == "gsnr"
    np.testing.assert_array_equal(renamed.data("snr")["global"], original.data("snr")["global"])
    a, b = analyze_run(renamed), analyze_run(original)
    assert a["missing"] == [] and a["phases"] == b["phases"]
    assert main([str(tmp_path)]) == 0
    drawn = {p.name for p in (tmp_path / "analysis").glob("*.png")}
    assert {"snr.png", "entropy.png", "adam.png"} <= drawn and not {"gsnr.png", "layers.png"} & drawn


@pytest.mark.parametrize("value", ["1.5", "0", "nan"])
def test_hold_is_a_share_of_the_records(real_run, capsys, value):
    """--hold above 1 would turn phase detection off silently: refused, exit 2, one line."""
    with pytest.raises(SystemExit) as e:
        main([str(real_run), "--hold", value])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err == (f"pinn-analyze: error: --hold={float(value)} is not allowed: "
                                         "expected a share of the records in (0, 1]")


def test_an_unknown_metric_or_a_bad_argument_is_one_line(real_run, tmp_path, capsys):
    """--metric naming no number of any summary is refused like --by (it made an empty column);
    an argument argparse refuses is one line too (its usage block before)."""
    sweep = tmp_path / "sweep"
    for i in range(2):
        shutil.copytree(real_run, sweep / f"{i}_seed={i}", ignore=shutil.ignore_patterns("analysis"))
    for metric in ("final.nonexistent", "config.label"):
        assert main([str(sweep), "--no-figures", "--metric", metric]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"--metric {metric} is not allowed" in err
        assert "final.rel_l2" in err
    assert main([str(sweep), "--no-figures", "--metric", "final.loss"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(sweep), "--hold", "abc"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.splitlines() == [
        "pinn-analyze: error: argument --hold: invalid float value: 'abc' (--help lists the arguments)"]


def test_a_report_the_user_edited_is_never_overwritten(real_run, tmp_path, capsys):
    """pinn-analyze writes report.md; the user annotates it; the next analysis refuses in one
    line and keeps the edit (it overwrote it before); untouched outputs are rewritten."""
    sweep = tmp_path / "sweep"
    for i in range(2):
        shutil.copytree(real_run, sweep / f"{i}_seed={i}", ignore=shutil.ignore_patterns("analysis"))
    assert main([str(sweep), "--no-figures"]) == 0
    assert main([str(sweep), "--no-figures"]) == 0                     # untouched: rewritten
    report = sweep / "analysis" / "report.md"
    report.write_text(report.read_text() + "\nMy notes on these runs.\n")
    capsys.readouterr()
    assert main([str(sweep), "--no-figures"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "report.md was changed since pinn-analyze wrote it" in err
    assert report.read_text().endswith("My notes on these runs.\n")


def test_an_analysis_stopped_midway_does_not_lock_its_folder(tmp_path):
    """What pinn-analyze wrote before it stopped (a figure that failed, Ctrl-C) is sealed as its
    own: the next analysis rewrites it, it is not taken for the user's edit."""
    from pinn_cli.analysis.outputs import OutputRefused, claim, writing
    names = ["report.md", "summary.json"]
    with pytest.raises(KeyboardInterrupt):
        with writing(tmp_path, names) as out:
            (out / "report.md").write_text("half")
            raise KeyboardInterrupt
    assert claim(tmp_path, names) == tmp_path
    (tmp_path / "report.md").write_text("half, and my notes")
    with pytest.raises(OutputRefused, match="report.md was changed since pinn-analyze wrote it"):
        claim(tmp_path, names)
