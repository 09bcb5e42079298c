"""Every config option composes and instantiates; bad input fails with one clear line."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from pinn_cli.cli import train
from pinn_cli.cli.argv import options
from pinn_cli.schema import GROUPS
from pinn_cli.training.build import build
from pinn_cli.training.validate import validate


def check_config(cfg):
    validate(cfg)
    return build(cfg, torch.device("meta"), torch.float32)

CHOICES = [(g, o) for g in GROUPS if g != "experiment" for o in options(g)]


@pytest.mark.parametrize("group,option", CHOICES)
def test_every_option_composes_and_instantiates(make_cfg, group, option):
    extra = ["pde.n_collocation=25600"] if group == "diagnostics" else []
    extra += {("weighting", "causal"): ["pde=burgers"],                   # these need time, or a re
              ("strategy", "time_marching"): ["pde=burgers"],
              ("strategy", "continuation"): ["pde=lid_driven_cavity"]}.get((group, option), [])
    cfg = make_cfg(f"{group}={option}", *extra, small=group not in ("model", "diagnostics"))
    obj = getattr(check_config(cfg), group)
    assert type(obj).__module__.startswith(("pinn_cli", "torch"))


def test_each_group_has_its_options():
    assert ({"allen_cahn", "burgers", "burgers_smooth", "helmholtz", "helmholtz_smooth"}
            <= set(options("pde")))
    assert {"none", "rba"} <= set(options("weighting"))
    assert {"off", "basic"} <= set(options("diagnostics"))


def _cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["pinn-train", *args])
    with pytest.raises(SystemExit) as exc:
        train.main()
    return exc.value.code, capsys.readouterr().err.strip()


BAD = [
    (["pde=foo"], "pde=foo", "allen_cahn, burgers, burgers_smooth, helmholtz, helmholtz_smooth"),
    (["optimizer.lr=-1"], "optimizer.lr=-1", "> 0"),
    (["optimizer.lr=0"], "optimizer.lr=0", "> 0"),
    (["iterations=0"], "iterations=0", ">= 1"),
    (["model.width=0"], "model.width=0", ">= 1"),
    (["weighting=rba", "weighting.gamma=1.5"], "weighting.gamma=1.5", "> 0 and < 1"),
    (["score=time_to_target", "diagnostics=off"], "score='time_to_target'", "final_rel_l2 or best_rel_l2"),
    (["dtype=float16"], "dtype", "float32, float64"),
    (["optimizer.lrr=3"], "optimizer.lrr", "not a key"),
    (["compile=maybe"], "compile='maybe'", "true or false"),
    (["compile=true", "engine=autograd"], "compile=True", "engine=autograd"),
    (["hydra.run.dir=/etc/passwd/run"], "hydra.run.dir", "writable folder"),
    (["-m", "seed=0,1", "optimizer.lr=1e-3,-2"], "optimizer.lr=-2", "> 0"),
    (["+study=optimizers"], "+study=optimizers is a sweep", "run it with -m"),
    (["-m", "+study=nosuch"], "study=nosuch is not an option", "architecture, beyond_depth"),
    (["pde.loss_weights={res:0,ic:0,bc:0}"], "pde.loss_weights", "at least one weight > 0"),
    (["sampling=rad", "sampling.pool_factor=0.5"], "sampling.pool_factor=0.5", ">= 1"),
    (["+pde.reference.file=x.csv"], "pde.reference.file='x.csv'", "no such key (its keys: n_x, n_t, n_quad)"),
    (["pde=helmholtz_smooth", "pde.reference={n: 5, q: 3}"], "pde.reference.q is not a key of pde.reference",
     "to replace it whole: '~pde.reference' '+pde.reference={n:5,q:3}'"),
    (["weighting=causal", "weighting.time_axis=1"], "weighting.time_axis=1", "null or 0: the problem's time axis is column 0 of (t, x)"),
    (["weighting=causal", "weighting.time_axis=5"], "weighting.time_axis=5", "null or 0"),
    (["pde=helmholtz_smooth", "weighting=causal", "weighting.time_axis=0"], "weighting='causal'", "a problem with a time axis"),
]


@pytest.mark.parametrize("args,key,allowed", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input_is_one_line_before_training(monkeypatch, capsys, tmp_path, args, key, allowed):
    monkeypatch.chdir(tmp_path)
    code, err = _cli(monkeypatch, capsys, *args)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("pinn-train: error:")
    assert key in err and allowed in err
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("run.h5"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_refused(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, err = _cli(monkeypatch, capsys, "device=cuda")
    assert code == 2 and "device='cuda'" in err and "no CUDA GPU" in err


PAIRED = [o for o in options("experiment") if f"{o}_rba" in options("experiment")]


def test_every_preset_without_an_rba_twin_composes_and_passes_the_checks(make_cfg):
    """The strategy and quasi-Newton presets (cpu_allen_cahn_full, cpu_cavity, ...) stand alone."""
    alone = [o for o in options("experiment") if o not in PAIRED and not o.endswith("_rba")]
    assert {"cpu_allen_cahn_full", "cpu_cavity_re1000", "cpu_cavity", "cpu_burgers_quasi_newton"} <= set(alone)
    for name in alone:
        check_config(make_cfg(f"+experiment={name}", small=False))


@pytest.mark.parametrize("plain", PAIRED)
def test_experiment_presets_compose_and_differ_only_in_weighting(make_cfg, plain):
    """Each preset passes the checks, and its _rba twin is the same run with RBA weighting."""
    a, b = make_cfg(f"+experiment={plain}", small=False), make_cfg(f"+experiment={plain}_rba", small=False)
    check_config(a)
    check_config(b)
    assert a.weighting._target_.endswith("NoWeighting") and b.weighting._target_.endswith("RBA")
    a.weighting = b.weighting = None
    assert a == b


def test_the_assembly_knows_every_group_once():
    """build's contracts and parts follow schema.GROUPS: a group added to one is added to all."""
    import dataclasses
    from pinn_cli.schema import GROUPS
    from pinn_cli.training.build import CONTRACTS, FIRST, TOLD, Parts
    assert tuple(CONTRACTS) == GROUPS
    assert sorted(FIRST + TOLD + ("model",)) == sorted(GROUPS)
    assert {f.name for f in dataclasses.fields(Parts)} == set(GROUPS) | {"problem"}


def test_every_shipped_option_lists_every_key_it_takes():
    """A key the documentation names (diagnostics.snr.on_total_diffusion=decay_lr) is set from
    the command line without '+' only if the option's YAML lists it: every _target_ node of every
    shipped option, at any depth, lists every constructor key but the problem's context."""
    import yaml
    from pinn_cli.problem import CONTEXT
    from pinn_cli.schema import signature_of
    conf = Path(__file__).resolve().parents[1] / "conf"
    missing = []

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("_target_"), str):
                keys = set(signature_of(node["_target_"])[1])        # through **kwargs too
                missing.extend(f"{where}: {k}" for k in sorted(keys - set(node) - set(CONTEXT)))
            for k, v in node.items():
                walk(v, f"{where}.{k}")
    for f in sorted(conf.glob("*/*.yaml")):
        if f.parent.name not in ("experiment", "study", "arm"):
            walk(yaml.safe_load(f.read_text()) or {}, f"{f.parent.name}/{f.stem}")
    assert not missing, missing
