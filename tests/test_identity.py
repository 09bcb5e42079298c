"""Runs are named and compared by their config choices; version-1 run files still read."""
from __future__ import annotations

import json

import pytest
import shutil

from pinn_cli.analysis.compare import ratio_text, group_table, ratios
from pinn_cli.analysis.identity import label, run_identity
from pinn_cli.cli.analyze import main
from pinn_cli.runfile import read_run


def test_a_version_1_run_file_is_analysed(tmp_path):
    """tests/data/run_v1.h5 was written by pinn-cli before the contracts (schema 1)."""
    shutil.copy("tests/data/run_v1.h5", tmp_path / "run.h5")
    run = read_run(tmp_path / "run.h5")
    assert run.attrs["schema_version"] == 1 and run.has("snr") and run.has("weights")
    assert main([str(tmp_path)]) == 0
    s = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert s["config"]["choices"]["weighting"] == "rba" and s["missing"] == []
    assert s["phases"]["snr_records"] == 30 and (tmp_path / "analysis" / "snr.png").is_file()


def test_options_of_one_class_are_told_apart():
    attrs = {"choices": json.dumps({"pde": "burgers", "weighting": "none"}), "config": "seed: 1"}
    other = {"choices": json.dumps({"pde": "burgers_smooth", "weighting": "none"}), "config": "seed: 1"}
    a, b = run_identity(attrs, "/nonexistent"), run_identity(other, "/nonexistent")
    assert a["label"] == "burgers" and b["label"] == "default" and a["seed"] == 1
    assert label({"weighting": "rba"}, ["seed=3", "optimizer.lr=0.01", "weighting=rba"]) == "rba lr=0.01"
    # a strategy names a run; what it records does not
    assert label({"strategy": "time_marching", "diagnostics": "paper"}, []) == "time_marching"


def _summary(weighting, model, seed, onset, err):
    choices = {"pde": "allen_cahn", "model": model, "optimizer": "adam", "weighting": weighting}
    sig = {"pde": {"_target_": "AC"}, "model": {"_target_": model}, "weighting": {"_target_": weighting}}
    return {"run": f"{weighting}-{model}-{seed}", "status": "done", "final": {"rel_l2": err},
            "config": {"choices": choices, "overrides": [], "seed": seed,
                       "label": label(choices, []), "signature": sig},
            "phases": {"total_diffusion": {"step": onset}, "fitting_to_diffusion": {"step": 100}}}


def test_every_option_is_compared_with_the_default_all_else_equal():
    runs = [_summary("none", "mlp", s, 8000 + s, 0.06) for s in range(2)]
    runs += [_summary("rba", "mlp", s, 400, 0.01) for s in range(2)]
    runs += [_summary("rba", "pirate", 0, 200, 0.005), _summary("none", "pirate", 0, None, 0.1)]
    groups = group_table(runs)
    assert {g["label"]: g["runs"] for g in groups} == {"allen_cahn": 2, "allen_cahn rba": 2,
                                                       "allen_cahn pirate rba": 1, "allen_cahn pirate": 1}
    rel = {(r["factor"], r["label"]): r for r in ratios(groups)}
    w = rel[("weighting", "allen_cahn rba")]
    # option / baseline: below 1, the option reaches total diffusion sooner or ends more accurate
    assert abs(w["total_diffusion_ratio"] - 400 / 8000.5) < 1e-12 and abs(w["final_rel_l2_ratio"] - 1 / 6) < 1e-12
    assert rel[("weighting", "allen_cahn pirate rba")]["final_rel_l2_ratio"] == pytest.approx(0.05, rel=1e-12)
    assert "total_diffusion_ratio" not in rel[("weighting", "allen_cahn pirate rba")]   # not reached
    assert abs(rel[("model", "allen_cahn pirate rba")]["total_diffusion_ratio"] - 0.5) < 1e-12
    assert "final rel-L2 0.167x" in ratio_text(w) and "more accurate" in ratio_text(w) and "sooner" in ratio_text(w)
