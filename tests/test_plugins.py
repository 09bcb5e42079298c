"""The contracts' test: a user's own PDE, model, weighting (trainable), optimizer (with a
closure) and probe, in their own files and YAML, run through pinn-train and pinn-analyze
without editing pinn-cli; and the shipped example runs from its folder."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pinn_cli.runfile import read_run

TRAIN = [sys.executable, "-c", "from pinn_cli.cli.train import main; main()"]
ANALYZE = [sys.executable, "-c", "from pinn_cli.cli.analyze import cli; cli()"]

PLUGINS = '''
import numpy as np
import torch
from pinn_cli.schema import Count, Positive
from pinn_cli.diagnostics import Probe
from pinn_cli.models.base import Model
from pinn_cli.optimizers.base import OptimizerSpec
from pinn_cli.pdes import PDE, Reference
from pinn_cli.runfile import SeriesSpec
from pinn_cli.weighting.base import Weighting


class Poisson1D(PDE):
    """-u'' = pi^2 sin(pi x) on [0, 1], u(0) = u(1) = 0: u = sin(pi x), periodic with period 2."""
    axes = ("x",)
    periodic = {"x": 2.0}

    def __init__(self, n_collocation: Count = 128):
        self.bounds, self.n_collocation = np.array([[0.0, 1.0]]), n_collocation
        self.loss_weights = {"res": 1.0, "bc": 1.0}

    def sample(self, rng):
        return {"res": self.latin_hypercube(self.n_collocation, rng), "bc": np.array([[0.0], [1.0]])}

    def residual(self, net, x):
        d = net.derivatives(x, ("u_xx",))
        return -d.u_xx - np.pi**2 * torch.sin(np.pi * x[:, 0])

    def conditions(self, net, points):
        return {"bc": net(points["bc"])}

    def reference(self, cache):
        x = np.linspace(0, 1, 101)
        return Reference(axes=[x], values=np.sin(np.pi * x))


class Residual2(Model):
    """Two tanh layers with a skip connection: h2 = h1 + tanh(W2 h1). It is told the problem's
    periodic axes (its YAML leaves them out) and refuses to be built without them."""

    def __init__(self, in_dim, out_dim=1, width: Count = 16, periodic_axes=None, periods=None):
        if periodic_axes != [0] or periods != [2.0]:
            raise ValueError(f"not told the periodic axes: {periodic_axes}, {periods}")
        super().__init__(in_dim, out_dim)
        self.a, self.b = torch.nn.Linear(in_dim, width), torch.nn.Linear(width, width)
        self.out = torch.nn.Linear(width, out_dim)

    def forward(self, x):
        h = torch.tanh(self.a(x))
        return self.out(h + torch.tanh(self.b(h)))

    def weight_matrices(self):
        return [self.a.weight, self.b.weight, self.out.weight]


class LearnedResidualWeight(Weighting):
    """One trainable weight 1 + sigmoid(s) in (1, 2) on the residual term, raised by gradient
    ascent (bounded, as self-adaptive weights must be)."""

    def __init__(self, lr: Positive = 0.01):
        self.s = torch.zeros((), requires_grad=True)
        self.opt = torch.optim.SGD([self.s], lr=lr, maximize=True)

    def apply(self, residuals, rows=None):
        if "res" not in residuals:
            return residuals
        return {**residuals, "res": (1 + torch.sigmoid(self.s)) * residuals["res"]}

    def parameters(self):
        return [self.s]

    def step(self):
        self.opt.step()
        self.s.grad = None

    def stats(self):
        return {"res_weight": 1 + torch.sigmoid(self.s.detach())}

    def state_dict(self):
        return {"s": self.s.detach().clone(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.s.copy_(state["s"])
        self.opt.load_state_dict(state["opt"])


class ClosureAdamW(OptimizerSpec):
    """AdamW driven through a closure (torch evaluates it inside step), no schedule."""
    needs_closure = True

    def __init__(self, lr: Positive = 0.01):
        self.lr = lr

    def build(self, params):
        return torch.optim.AdamW(params, lr=self.lr), None


class WeightNorm(Probe):
    """/wnorm: the norm of all weight matrices, and the step's loss; draws its own figure."""

    def spec(self, view):
        return SeriesSpec({"norm": ((), "f8"), "loss": ((), "f8")})

    def record(self, view, state):
        w = torch.cat([m.reshape(-1) for m in view.weight_matrices()])
        return {"norm": float(w.norm()), "loss": float(state.loss)}

    @staticmethod
    def figure(data, ax):
        ax.plot(data["step"], data["norm"], label="||W||")
        ax.legend()
        open("figure_drawn.txt", "w").write(str(len(data["step"])))
'''

YAML = {
    "pde/poisson1d.yaml": "_target_: my_plugins.Poisson1D\nn_collocation: 128\n",
    "model/residual2.yaml": "_target_: my_plugins.Residual2\nwidth: 16\n",
    "weighting/learned.yaml": "_target_: my_plugins.LearnedResidualWeight\nlr: 0.001\n",
    "optimizer/closure_adamw.yaml": "_target_: my_plugins.ClosureAdamW\nlr: 0.003\n",
    "diagnostics/mine.yaml": textwrap.dedent("""\
        defaults: [paper, _self_]
        snr: {batches: 8, every: 5, dense_every: 0}
        wnorm: {_target_: my_plugins.WeightNorm, every: 5}
        residual_map: null
        """),
}


def _plugin_folder(root: Path) -> Path:
    (root / "my_plugins.py").write_text(PLUGINS)
    for rel, text in YAML.items():
        (root / "conf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "conf" / rel).write_text(text)
    return root


@pytest.mark.slow
def test_a_users_own_five_extensions_run_without_editing_pinn_cli(tmp_path, ref_cache):
    folder = _plugin_folder(tmp_path)
    cmd = TRAIN + ["--config-dir", "conf", "pde=poisson1d", "model=residual2", "weighting=learned",
                   "optimizer=closure_adamw", "diagnostics=mine", "iterations=30", "eval_every=5",
                   "device=cpu", "threads=1", "hydra.run.dir=run", f"reference_cache={ref_cache}"]
    p = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = read_run(folder / "run" / "run.h5")
    assert r.attrs["status"] == "done"
    assert json.loads(r.attrs["choices"])["optimizer"] == "closure_adamw"
    assert list(r.series["wnorm"]["step"]) == [0, 5, 10, 15, 20, 25, 30] and (r.series["wnorm"]["norm"] > 0).all()
    assert "adam" in r.series["snr"] and r.series["snr"]["per_layer"].shape == (6, 3)
    weights = r.series["weights"]["weighting_res_weight"]
    assert 2 > weights[-1] > weights[0] >= 1.5              # gradient ascent raised the weight
    assert "entropy" not in r.series                         # the model shows no hidden layers
    a = subprocess.run(ANALYZE + ["run"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert a.returncode == 0, a.stderr
    s = json.loads((folder / "run" / "analysis" / "summary.json").read_text())
    assert "poisson1d residual2 closure_adamw learned" in s["config"]["label"]
    assert (folder / "run" / "analysis" / "wnorm.png").is_file()
    assert (folder / "figure_drawn.txt").read_text() == "7"      # by the probe's own figure


def test_a_plugin_option_with_a_bad_value_is_one_line_before_training(tmp_path):
    folder = _plugin_folder(tmp_path)
    p = subprocess.run(TRAIN + ["--config-dir", "conf", "pde=poisson1d", "pde.n_collocation=-3",
                                "hydra.run.dir=run"], cwd=folder, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert "pde.n_collocation=-3" in p.stderr and ">= 1" in p.stderr and not (folder / "run").exists()


@pytest.mark.slow
def test_the_custom_pde_example_runs_from_its_folder(tmp_path, ref_cache):
    """examples/custom_pde: the README's first pinn-train line, shortened, from that folder."""
    folder = tmp_path / "custom_pde"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "custom_pde", folder)
    readme = (folder / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("pinn-train"))
    args = line.split()[1:]
    args = [a for a in args if not a.startswith("iterations=")] + ["iterations=60", "hydra.run.dir=run",
                                                                  "threads=1", f"reference_cache={ref_cache}"]
    p = subprocess.run(TRAIN + args, cwd=folder, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    a = subprocess.run(ANALYZE + ["run"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert a.returncode == 0 and "heat" in a.stdout
    assert read_run(folder / "run" / "run.h5").series["snr"]["global"].size > 0
