"""The per-phase summary: every float series of every group, before and after each onset."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from pinn_cli.phases.offline import PhaseParams
from pinn_cli.analysis.summary import analyze_run, onset_windows
from pinn_cli.cli.analyze import main
from pinn_cli.runfile import RunWriter, SeriesSpec, read_run

FE, TD = 100, 1000                          # the onsets the SNR below shows, exactly
SNR_STEPS = np.arange(0, 3001, 10)          # fitting [0, 100), diffusion [100, 1000), total after


def level(s, fitting, diffusion, total):
    return fitting if s < FE else diffusion if s < TD else total


def write_run(path, groups=("snr", "terms", "weights", "my_probe")):
    """A run whose every series is constant within each phase."""
    specs = {"snr": SeriesSpec({"global": ((), "f8"), "per_layer": ((2,), "f8"),
                                "phase": ((), "i1")}),
             "terms": SeriesSpec({"alignment": ((), "f8"), "noise_scale": ((), "f8"),
                                  "cos_res_ic": ((), "f8")}),
             "weights": SeriesSpec({"norm": ((3,), "f8"), "weighting_res_mean": ((), "f8")}),
             # a user's own probe: names nobody knows, a code, an image, a field that is all NaN
             "my_probe": SeriesSpec({"wobble": ((), "f4"), "code": ((), "i8"),
                                     "image": ((2, 2), "f4"), "never": ((), "f8")})}
    w = RunWriter(path, {}, {g: specs[g] for g in groups})
    for s in SNR_STEPS:
        if "snr" in groups:
            g = level(s, 10.0, 0.1, 10.0)
            w.append("snr", int(s), **{"global": g, "per_layer": [g, 2 * g], "phase": 0})
        if "terms" in groups:
            w.append("terms", int(s), alignment=level(s, 0.5, -1.0, 0.25),
                     noise_scale=level(s, 3.0, 7e5, 200.0),
                     cos_res_ic=np.nan if s % 20 else level(s, 0.1, 0.2, 0.3))   # half NaN
        if "weights" in groups and s % 50 == 0:                               # a sparser cadence
            k = level(s, 1.0, 2.0, 4.0)
            w.append("weights", int(s), norm=[k, 10 * k, 100 * k], weighting_res_mean=k)
        if "my_probe" in groups and s % 100 == 0:
            w.append("my_probe", int(s), wobble=level(s, -1.0, -2.0, -3.0), code=7,
                     image=np.ones((2, 2)), never=np.nan)
    w.close("done")
    return path


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    return analyze_run(read_run(write_run(tmp_path_factory.mktemp("run") / "run.h5")))


def test_a_series_constant_in_each_phase_gives_its_levels_before_and_after(summary):
    ph = summary["phases"]
    assert summary["schema"] == 3
    fe, td = ph["fitting_to_diffusion"], ph["total_diffusion"]
    assert (fe["step"], td["step"]) == (FE, TD)
    for onset, before, after in ((fe, 0.5, -1.0), (td, -1.0, 0.25)):
        assert onset["series"]["terms"]["fields"]["alignment"] == {"before": before, "after": after}
    assert fe["series"]["terms"]["fields"]["noise_scale"] == {"before": 3.0, "after": 7e5}
    # NaN records are left out of the median; the other records decide it
    assert td["series"]["terms"]["fields"]["cos_res_ic"] == {"before": 0.2, "after": 0.3}
    # a vector field: the median of each component
    assert td["series"]["weights"]["fields"]["norm"] == {"before": [2.0, 20.0, 200.0],
                                                         "after": [4.0, 40.0, 400.0]}
    assert td["series"]["snr"]["fields"]["per_layer"] == {"before": [0.1, 0.2], "after": [10.0, 20.0]}


def test_the_windows_follow_each_groups_cadence_and_stay_within_a_phase(summary):
    fe, td = summary["phases"]["fitting_to_diffusion"], summary["phases"]["total_diffusion"]
    # terms every 10 steps: [FE/1.5, FE) has 3 records, widened to min_records = 7
    assert fe["series"]["terms"]["before"] == {"records": 7, "steps": [30, 90]}
    assert fe["series"]["terms"]["after"] == {"records": 7, "steps": [100, 160]}   # [100, 150) widened
    assert td["series"]["terms"]["before"] == {"records": 33, "steps": [670, 990]}
    # weights every 50 steps: 2 records before the fitting end, all there are
    assert fe["series"]["weights"]["before"] == {"records": 2, "steps": [0, 50]}
    # my_probe every 100 steps: fitting end's "after" is widened to 7 records, which stop short of
    # total diffusion (the cap itself: test_onset_windows_empty_sides_and_bounds)
    assert fe["series"]["my_probe"]["after"] == {"records": 7, "steps": [100, 700]}
    assert td["series"]["my_probe"]["before"] == {"records": 7, "steps": [300, 900]}
    assert td["series"]["my_probe"]["fields"]["wobble"] == {"before": -2.0, "after": -3.0}


def test_a_users_group_is_summarised_and_what_cannot_be_is_left_out(summary):
    fields = summary["phases"]["fitting_to_diffusion"]["series"]["my_probe"]["fields"]
    assert set(fields) == {"wobble", "never"}               # no integer code, no image
    assert fields["wobble"] == {"before": -1.0, "after": -2.0}
    assert fields["never"] == {"before": None, "after": None}
    assert "phase" not in summary["phases"]["total_diffusion"]["series"]["snr"]["fields"]
    json.dumps(summary, allow_nan=False)                    # plain JSON: no NaN, no Infinity


def test_missing_groups_are_absent_not_errors(tmp_path):
    s = analyze_run(read_run(write_run(tmp_path / "run.h5", groups=("snr",))))
    for onset in ("fitting_to_diffusion", "total_diffusion"):
        assert set(s["phases"][onset]["series"]) == {"snr"}
    assert {"metrics", "residual", "entropy"} <= set(s["missing"])
    no_snr = analyze_run(read_run(write_run(tmp_path / "b.h5", groups=("terms", "weights"))))
    assert no_snr["phases"]["total_diffusion"] == {"reached": None, "step": None}


def test_onset_windows_empty_sides_and_bounds():
    steps, p = np.arange(0, 1000, 100), PhaseParams()
    before, after = onset_windows(steps, 0, p)
    assert len(before) == 0 and list(steps[after]) == [0, 100, 200, 300, 400, 500, 600]
    before, after = onset_windows(steps, 450, p, lo=200, hi=700)
    assert list(steps[before]) == [200, 300, 400] and list(steps[after]) == [500, 600]
    before, after = onset_windows(steps, 5000, p)           # a group that stopped early
    assert list(steps[before]) == [300, 400, 500, 600, 700, 800, 900] and len(after) == 0


def test_a_sweep_writes_the_per_phase_summary_in_long_form(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_run(tmp_path / name / "run.h5", groups=("snr", "terms", "weights") if name == "a"
                  else ("snr", "my_probe"))
    assert main([str(tmp_path), "--no-figures"]) == 0
    with open(tmp_path / "analysis" / "phase_series.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["run", "label", "seed", "onset", "step", "group", "field", "component",
                             "before", "after", "records_before", "records_after"]
    pick = lambda **k: [r for r in rows if all(r[a] == v for a, v in k.items())]
    (r,) = pick(onset="total_diffusion", group="terms", field="alignment")
    assert (r["step"], float(r["before"]), float(r["after"])) == ("1000", -1.0, 0.25)
    norm = pick(onset="total_diffusion", group="weights", field="norm")
    assert [(x["component"], float(x["after"])) for x in norm] == [("1", 4.0), ("2", 40.0), ("3", 400.0)]
    assert pick(group="my_probe", field="never")[0]["before"] == ""        # None: an empty cell


def test_the_generic_figure_shades_the_phases(tmp_path):
    import matplotlib.pyplot as plt

    from pinn_cli.analysis.plots import series_figure
    run = read_run(write_run(tmp_path / "run.h5"))
    captured = {}
    orig = plt.Figure.savefig
    plt.Figure.savefig = lambda fig, *a, **k: captured.setdefault("fig", fig) and None
    try:
        series_figure(run, "terms", analyze_run(run), tmp_path)
    finally:
        plt.Figure.savefig = orig
    axes = captured["fig"].axes
    assert len(axes) == 3
    for ax in axes:
        assert len(ax.patches) == 3                         # fitting, diffusion, total diffusion
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["fitting", "diffusion",
                                                                       "total diffusion"]
