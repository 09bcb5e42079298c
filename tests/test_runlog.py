"""The run file: layout, growth, and clear errors for files that are not run files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from pinn_cli.runfile import RunFileError, RunWriter, SeriesSpec, read_run


def test_series_grow_together_and_static_data_is_kept(tmp_path):
    w = RunWriter(tmp_path / "run.h5", {"seed": 3},
                  {"a": SeriesSpec({"x": ((), "f8"), "m": ((2, 3), "f4")}, compress=True)},
                  {"grid/x": np.arange(4.0)})
    for s in range(5):
        w.append("a", s * 10, x=s, m=np.full((2, 3), s))
        mid = read_run(tmp_path / "run.h5")              # readable while being written
        assert len(mid.series["a"]["step"]) == s + 1
    with pytest.raises(ValueError):
        w.append("a", 60, x=1.0)
    w.close("done", steps=40, final_loss=1.5)
    r = read_run(tmp_path / "run.h5")
    assert r.attrs["status"] == "done" and r.attrs["seed"] == 3
    assert r.attrs["steps"] == 40 and r.attrs["final_loss"] == 1.5
    assert "final_rel_l2" not in r.attrs and "best_step" not in r.attrs      # never set
    assert "final" not in r.static
    np.testing.assert_array_equal(r.series["a"]["step"], [0, 10, 20, 30, 40])
    assert r.series["a"]["m"].shape == (5, 2, 3) and r.series["a"]["m"][4, 1, 2] == 4
    np.testing.assert_array_equal(r.static["grid/x"], np.arange(4.0))


def test_the_outcome_is_running_until_closed_and_only_outcome_fields_are_taken(tmp_path):
    w = RunWriter(tmp_path / "run.h5", {}, {"a": SeriesSpec({"x": ((), "f8")})})
    w.append("a", 0, x=1.0)
    assert read_run(tmp_path / "run.h5").attrs["status"] == "running"
    with pytest.raises(ValueError, match="extra"):
        w.close("done", extra=1)
    w.close("interrupted", steps=1)
    assert read_run(tmp_path / "run.h5").attrs["status"] == "interrupted"


def test_copy_records_keeps_only_earlier_steps(tmp_path):
    spec = {"a": SeriesSpec({"x": ((), "f8")})}
    w = RunWriter(tmp_path / "one.h5", {}, spec)
    for s in range(6):
        w.append("a", s, x=s * 2.0)
    w.close("done")
    w2 = RunWriter(tmp_path / "two.h5", {}, spec)
    w2.copy_records(read_run(tmp_path / "one.h5"), before_step=4)
    w2.close("done")
    np.testing.assert_array_equal(read_run(tmp_path / "two.h5").series["a"]["x"], [0, 2, 4, 6])


def test_bad_files_give_one_clear_reason(tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    good = RunWriter(tmp_path / "good.h5", {}, {"a": SeriesSpec({"x": ((), "f8")})})
    good.append("a", 0, x=1.0)
    good.close("done")
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 3])
    for name, reason in [("missing.h5", "no such file"), ("text.h5", "not an HDF5 file"),
                         ("other.h5", "not a pinn-cli run file"), ("trunc.h5", "truncated")]:
        with pytest.raises(RunFileError, match=reason) as e:
            read_run(tmp_path / name)
        assert name in str(e.value) and "\n" not in str(e.value)
