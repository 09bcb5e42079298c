"""examples/perforated_plate: a domain with holes, a Neumann condition on them and a reference read
from a file of mesh nodes; trained from its own folder, analysed with the same figures as the
paper's problems, its network loaded and evaluated at new points (API and pinn-predict); a missing
data file is the user's error (one line, exit 2), and the folder is used again once it is fixed."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pinn_cli
from pinn_cli.runfile import read_run

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
ANALYZE = [sys.executable, "-c", "from pinn_cli.cli.analyze import cli; cli()"]
PREDICT = [sys.executable, "-c", "from pinn_cli.cli.predict import cli; cli()"]
EXAMPLE = Path(__file__).parents[1] / "examples" / "perforated_plate"
HOLES = [(0.3, 0.6, 0.12), (0.68, 0.35, 0.15)]


def _in_hole(x, y, pad=0.0):
    return np.any([np.hypot(x - a, y - b) < r - pad for a, b, r in HOLES], axis=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The README's pinn-train line, shortened, run from a copy of the example's folder; its
    first attempt with the data file misnamed (exit 2, nothing trained), then the README's."""
    folder = tmp_path_factory.mktemp("ex") / "perforated_plate"
    shutil.copytree(EXAMPLE, folder)
    readme = (folder / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("pinn-train"))
    args = [a for a in line.split()[1:] if not a.startswith("iterations=")]
    args += ["iterations=60", "eval_every=20", "hydra.run.dir=run", "threads=1"]
    bad = subprocess.run(TRAIN + args + ["pde.reference.file=plate_nodez.txt"], cwd=folder,
                         capture_output=True, text=True, timeout=300)
    good = subprocess.run(TRAIN + args, cwd=folder, capture_output=True, text=True, timeout=600)
    return folder, bad, good


@pytest.mark.slow
def test_a_missing_data_file_is_one_line_naming_the_pde_and_leaves_the_folder_usable(trained):
    folder, bad, good = trained
    err = bad.stderr.strip()
    assert bad.returncode == 2 and len(err.splitlines()) == 1, bad.stderr[-2000:]
    assert "plate.PerforatedPlate" in err and "plate_nodez.txt: no such file" in err
    assert good.returncode == 0, good.stderr[-2000:]            # the same folder, corrected


@pytest.mark.slow
def test_the_example_trains_on_its_domain_and_is_analysed(trained):
    folder, _, good = trained
    r = read_run(folder / "run" / "run.h5")
    assert r.attrs["status"] == "done" and r.attrs["steps"] == 60
    m = r.series["metrics"]
    assert set(m) >= {"loss_res", "loss_outer", "loss_holes", "rel_l2"}
    assert m["rel_l2"][-1] < m["rel_l2"][0] and np.isfinite(m["rel_l2"]).all()
    # residual maps: NaN exactly at the grid points in the holes
    gx, gy = (r.static[f"grid/{a}"] for a in ("x", "y"))
    X, Y = np.meshgrid(gx, gy, indexing="ij")
    blank = np.isnan(r.series["residual_map"]["map"][-1])
    np.testing.assert_array_equal(blank, _in_hole(X, Y) & ~np.isclose(np.hypot(X - 0.3, Y - 0.6), 0.12)
                                  & ~np.isclose(np.hypot(X - 0.68, Y - 0.35), 0.15))
    # the field map at the reference's nodes, triangulated without crossing a hole
    pts, tri = r.static["field_map_grid/points"], r.static["field_map_grid/triangles"]
    assert pts.shape == (1084, 2) and r.series["field_map"]["T"].shape[1:] == (1084,)
    centres = pts[tri].mean(axis=1)
    assert len(tri) > 1800 and not _in_hole(centres[:, 0], centres[:, 1]).any()
    a = subprocess.run(ANALYZE + ["run"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert a.returncode == 0, a.stderr[-2000:]
    for png in ("field_map.png", "residual_maps.png", "snr.png", "summary.json"):
        assert (folder / "run" / "analysis" / png).is_file()


@pytest.mark.slow
def test_the_trained_network_is_loaded_from_anywhere_and_predicts(trained, tmp_path, monkeypatch):
    """pinn_cli.load from another folder finds the user's plate module and its data file again
    (the run records where pinn-train ran); its error is the run's final error bit for bit, and
    pinn-predict writes exactly the API's values."""
    folder, _, _ = trained
    monkeypatch.chdir(tmp_path)
    net = pinn_cli.load(folder / "run")
    r = read_run(folder / "run" / "run.h5")
    assert net.errors() == {"T": r.attrs["final_rel_l2"]}
    assert net.errors()["T"] == r.series["metrics"]["rel_l2"][-1]
    new = np.array([[0.1, 0.1], [0.5, 0.9], [0.9, 0.5], [0.45, 0.2]])
    np.savetxt(tmp_path / "points.csv", new, delimiter=",", header="x,y", comments="")
    p = subprocess.run(PREDICT + [str(folder / "run"), "points.csv", "-o", "values.csv",
                                  "--derivatives", "T_x,T_yy"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    table = np.genfromtxt(tmp_path / "values.csv", delimiter=",", names=True)
    assert table.dtype.names == ("x", "y", "T", "T_x", "T_yy")
    d = net.derivatives(new, ["T_x", "T_yy"])
    np.testing.assert_array_equal(table["T"], net(new).astype(float))
    np.testing.assert_array_equal(table["T_x"], d["T_x"].astype(float))
    np.testing.assert_array_equal(table["T_yy"], d["T_yy"].astype(float))
    # the field map's final record is the loaded network at the reference's nodes, to float32's
    # rounding: the run evaluated it with its own thread count, and a matrix product split over
    # other threads may round a value's last bit differently
    pts = r.static["field_map_grid/points"]
    recorded, loaded = r.series["field_map"]["T"][-1], net(pts).astype(np.float32)
    np.testing.assert_allclose(recorded, loaded, rtol=0,
                               atol=4 * np.finfo(np.float32).eps * np.abs(loaded).max())
