"""A user's plugin that cannot work is reported as theirs, in one line naming it, before the run
file exists: NaN parameters after construction, NaN points, a NaN residual where the network is
finite (a coefficient read as NaN), a data file that is not there. And every shipped PDE lists all
its loss terms in its YAML, so that ``pinn-train --cfg job`` shows each weight."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from pinn_cli.training.build import PluginError
from pinn_cli.training.trainer import Trainer

PLUGINS = '''
import numpy as np
import torch
from pinn_cli.models.mlp import MLP
from pinn_cli.pdes import Helmholtz
from pinn_cli.pdes.coefficients import CoefficientField


class NanMLP(MLP):
    def __init__(self, in_dim, out_dim=1, depth=4, width=64, activation="tanh"):
        super().__init__(in_dim, out_dim, depth, width, activation)
        with torch.no_grad():
            self.layers[1].weight[0, 0] = float("nan")


class NanSource(Helmholtz):
    def source(self, x, y):
        return super().source(x, y) * float("nan")


class NanPoints(Helmholtz):
    def sample(self, rng):
        points = super().sample(rng)
        points["bc"][3] = np.nan
        return points


class WithCoefficient(Helmholtz):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.c = CoefficientField.from_data({"file": "conductivity.csv", "axes": {"x": 0, "y": 1},
                                             "values": {"k": 2}}, self.axes)
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    (tmp_path / "userplug.py").write_text(textwrap.dedent(PLUGINS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("override,message", [
    ("model._target_=userplug.NanMLP",
     "model: userplug.NanMLP failed: ValueError: its parameter 'layers.1.weight' holds NaN or inf "
     "after construction"),
    ("pde._target_=userplug.NanSource",
     "pde: userplug.NanSource failed: ValueError: its residual is NaN or inf at the first 4 points "
     "while the network is finite there"),
    ("pde._target_=userplug.NanPoints",
     "pde: userplug.NanPoints failed: ValueError: its sample() gave NaN or inf points in term 'bc' "
     "(1 of 400, first at row 3)"),
    ("pde._target_=userplug.WithCoefficient",
     "pde: userplug.WithCoefficient failed: FileNotFoundError: "),
])
def test_a_broken_plugin_is_one_line_naming_it_before_the_run_file(plugins, make_cfg, override, message):
    cfg = make_cfg(override)
    with pytest.raises(PluginError) as err:
        Trainer(cfg, plugins / "run")
    text = str(err.value)
    assert text.startswith(message) and "\n" not in text, text
    if "WithCoefficient" in override:
        assert text.endswith(f"{plugins / 'conductivity.csv'}: no such file")
    assert not list(plugins.rglob("run.h5"))


def test_the_shipped_pdes_list_every_loss_term_in_their_yaml():
    """A term left out of loss_weights weighs 1 (docs/extending.md); the shipped options state
    every weight, so the composed config (--cfg job) shows them."""
    folder = Path(__file__).parents[1] / "conf" / "pde"
    for option in sorted(p.stem for p in folder.glob("*.yaml")):
        with initialize_config_module("pinn_cli.conf", version_base=None):
            cfg = compose("train", overrides=[f"pde={option}"])
        pde = instantiate(cfg.pde)
        assert set(cfg.pde.loss_weights) == set(pde.point_counts()), option
