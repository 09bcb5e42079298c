"""A run folder from someone else is data, not code: a checkpoint whose pickle would run code,
and a config or override that names a foreign callable, are refused with nothing executed, by
pinn_cli.load, pinn-predict and resume alike; every checkpoint pinn-cli writes loads safely."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import pinn_cli
from pinn_cli.errors import PinnError
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint
from pinn_cli.training.trainer import run

BIN = Path(sys.executable).parent


class Payload:
    """Unpickling this calls os.system: the attack a copied checkpoint can carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def trained(make_cfg, tmp_path):
    folder = tmp_path / "their_run"
    run(make_cfg("iterations=4", "checkpoint_every=2"), folder)
    (folder / ".hydra").mkdir(exist_ok=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["iterations=4"]))
    return folder


def _poison(folder: Path, marker: Path) -> None:
    state = torch.load(RunFolder(folder).last, weights_only=False)
    state["extra"] = Payload(marker)
    torch.save(state, RunFolder(folder).last)


def test_every_checkpoint_pinn_cli_writes_loads_with_weights_only(trained):
    """The safe path reads what training wrote: the RNG states (numpy's included), the
    optimizer, the best network."""
    state = checkpoint.load(RunFolder(trained).last, "cpu")
    assert state["rng"]["numpy"][1].dtype.name == "uint32"
    net = pinn_cli.load(trained, checkpoint="best")
    assert net.step > 0


def test_a_checkpoint_that_would_run_code_is_refused_by_every_reader(trained, tmp_path, make_cfg):
    marker = tmp_path / "pwned"
    _poison(trained, marker)
    with pytest.raises(PinnError, match="refused: the checkpoint names .*system"):
        pinn_cli.load(trained)
    (tmp_path / "p.csv").write_text("x,y\n0.1,0.2\n")
    p = subprocess.run([BIN / "pinn-predict", trained, tmp_path / "p.csv"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "refused" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    with pytest.raises(PinnError, match="refused"):
        run(make_cfg("iterations=6", f"resume={trained}"), tmp_path / "mine")
    assert not marker.exists()
    assert not (tmp_path / "mine" / "run.h5").exists()


def test_a_config_naming_a_builtin_is_refused_with_nothing_executed(trained, tmp_path):
    marker = tmp_path / "pwned"
    state = torch.load(RunFolder(trained).last, weights_only=False)
    cfg = yaml.safe_load(state["config"])
    cfg["pde"] = {"_target_": "os.system", "command": f"touch {marker}"}
    state["config"] = yaml.safe_dump(cfg)
    torch.save(state, RunFolder(trained).last)
    with pytest.raises(PinnError, match=r"pde\._target_='os.system' is refused"):
        pinn_cli.load(trained)
    assert not marker.exists()


def test_a_resume_whose_saved_overrides_name_a_builtin_is_refused(trained, tmp_path):
    marker = tmp_path / "pwned"
    (trained / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"+pde.command=touch {marker}", "pde._target_=os.system"]))
    p = subprocess.run([BIN / "pinn-train", f"resume={trained}", "iterations=6",
                        f"hydra.run.dir={tmp_path / 'mine'}"], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and "refused" in p.stderr, p.stderr
    assert not marker.exists() and not (tmp_path / "mine").exists()
