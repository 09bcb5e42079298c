"""Shared fixtures: composing configs without Hydra's global state, a session reference cache."""
from __future__ import annotations

import os

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import open_dict


@pytest.fixture(scope="session")
def ref_cache(tmp_path_factory):
    """One reference cache for the whole session, so each reference is solved once."""
    path = tmp_path_factory.mktemp("refcache")
    os.environ["PINN_CLI_CACHE"] = str(path)
    return path


@pytest.fixture
def make_cfg(ref_cache):
    """make_cfg(*overrides) -> a composed DictConfig (hydra section removed), CPU, small."""

    def _make(*overrides, small=True):
        base = ["device=cpu", f"reference_cache={ref_cache}"]
        if small:
            base += ["model.depth=2", "model.width=16", "pde.n_collocation=256"]
        with initialize_config_module("pinn_cli.conf", version_base=None):
            cfg = compose("train", overrides=base + list(overrides))
        return cfg

    return _make


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    yield
