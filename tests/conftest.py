"""Shared fixtures: composing configs without Hydra's global state, a session reference cache."""
from __future__ import annotations

import os
import sys
import time

import pytest
import torch
from hydra import compose, initialize_config_module

# Threads of every in-process test and of the runs the tests build: PINN_TEST_THREADS (default 2),
# so that the suite can be checked at 1 and 2 threads (.ci/run does both).
THREADS = int(os.environ.get("PINN_TEST_THREADS", "2"))
# The device of the runs the fixtures build (make_cfg, train_process): PINN_TEST_DEVICE (default
# cpu). scripts/gpu_check.sh runs the tests that use them (marked `device` below) with cuda.
DEVICE = os.environ.get("PINN_TEST_DEVICE", "cpu")
RUN_FIXTURES = {"make_cfg", "train_process"}


def pytest_collection_modifyitems(config, items):
    """Tiers and subsets from what a test uses: a test that builds a run through the fixtures is
    marked `device`; a test of a training outcome or of the local SLURM is in the slow tier."""
    for item in items:
        if RUN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.device)
        if item.get_closest_marker("outcome") or item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ref_cache(tmp_path_factory):
    """One reference cache for the whole session, so each reference is solved once."""
    path = tmp_path_factory.mktemp("refcache")
    os.environ["PINN_CLI_CACHE"] = str(path)
    return path


def _test_pde(overrides) -> list[str]:
    """The tests' small PDE (Helmholtz, 2-D, analytic reference) where no PDE or experiment is
    chosen: the shipped default is a larger Burgers run."""
    chosen = any(o.startswith(("pde=", "+experiment=", "experiment=")) for o in overrides)
    return [] if chosen else ["pde=helmholtz_smooth"]


@pytest.fixture
def make_cfg(ref_cache):
    """make_cfg(*overrides) -> a composed DictConfig (hydra section removed), CPU, small. The PDE is
    the small Helmholtz case unless the test chooses a PDE or an experiment; the embedded default
    (Burgers) is tested in tests/test_default.py."""

    def _make(*overrides, small=True):
        base = [f"device={DEVICE}", f"reference_cache={ref_cache}", f"threads={THREADS}",
                *_test_pde(overrides)]
        if small:
            base += ["model.depth=2", "model.width=16", "pde.n_collocation=256"]
        with initialize_config_module("pinn_cli.conf", version_base=None):
            cfg = compose("train", overrides=base + list(overrides))
        return cfg

    return _make


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(THREADS)
    yield


# A training run in a subprocess: python -c TRAIN_SCRIPT RUN_DIR OVERRIDES...
TRAIN_SCRIPT = """
import sys
from hydra import compose, initialize_config_module
from pinn_cli.training.trainer import run
with initialize_config_module("pinn_cli.conf", version_base=None):
    cfg = compose("train", overrides=sys.argv[2:])
run(cfg, sys.argv[1])
"""


@pytest.fixture
def train_process():
    """train_process(run_dir, *overrides) -> a Popen of one training run."""
    import subprocess

    def _start(run_dir, *overrides):
        overrides = (f"threads={THREADS}", f"device={DEVICE}", *_test_pde(overrides), *overrides)
        return subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, str(run_dir), *overrides],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return _start


@pytest.fixture
def wait_for_records():
    """wait_for_records(pattern_dir, n): block until a run.h5 under it holds > n metrics records;
    -> its path."""
    from pinn_cli.errors import PinnError
    from pinn_cli.runfile import read_run

    def _wait(folder, n, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.3)
            for f in list(folder.glob("run.h5")) + list(folder.glob("*/run.h5")):
                try:
                    if len(read_run(f).series["metrics"]["step"]) > n:
                        return f
                except (PinnError, KeyError):
                    pass
        raise TimeoutError(f"no run under {folder} reached {n} records")

    return _wait
