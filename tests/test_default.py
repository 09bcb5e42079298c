"""The embedded default (`pinn-train` with no arguments) is a run whose phases show: Burgers with
nu = 0.03 on 2,560 points (ten SNR batches of 256), 4 x 64 tanh, Adam 1e-3, the basic diagnostics.
Its SNR starts far above 1 (fitting) and falls below 1 at ~100 steps (seeds 0, 1, 2: 116, 100, 94
steps; docs/RESULTS.md), which the offline detector finds in a short run of the real default."""
from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_module

from pinn_cli.analysis.summary import analyze_run
from pinn_cli.runfile import read_run
from pinn_cli.training.trainer import run


def _default(ref_cache, *overrides):
    """The shipped default config (not conftest's make_cfg, which pins the small Helmholtz case)."""
    with initialize_config_module("pinn_cli.conf", version_base=None):
        return compose("train", overrides=["device=cpu", f"reference_cache={ref_cache}", *overrides])


def test_the_default_is_burgers_with_the_snr_recorded(ref_cache):
    cfg = _default(ref_cache)
    assert cfg.pde._target_.endswith("Burgers") and cfg.pde.nu == 0.03
    assert cfg.pde.n_collocation == 2560 and (cfg.model.depth, cfg.model.width) == (4, 64)
    assert cfg.optimizer.lr == 1e-3 and cfg.iterations == 3000
    assert cfg.diagnostics.snr.batches == "auto"


@pytest.mark.slow
@pytest.mark.outcome
def test_the_default_run_passes_from_fitting_to_diffusion(ref_cache, tmp_path):
    run(_default(ref_cache, "iterations=250"), tmp_path)
    r = read_run(tmp_path / "run.h5")
    snr = r.series["snr"]
    assert np.median(snr["global"][snr["step"] <= 20]) > 10               # fitting: SNR >> 1
    onset = analyze_run(r)["phases"]["fitting_to_diffusion"]["step"]
    assert onset is not None and 50 <= onset <= 200, onset
