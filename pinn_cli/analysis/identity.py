"""What a run is, in the words the user composed it with: its config choices and overrides.

A run is named by the group options Hydra composed (``pde=allen_cahn weighting=rba``) and the
overrides on its command line, never by Python class names (``burgers`` and
``burgers_smooth`` are one class and two problems). Sources, first found wins: the run file's
``choices``/``overrides`` attributes (schema 2); the run folder's ``.hydra/hydra.yaml`` and
``overrides.yaml``; for a bare version-1 file, the ``_target_`` class names of its config.
"""
from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from pinn_cli.run_folder import RunFolder
from pinn_cli.schema import GROUPS, SELECTABLE

# overrides that say where or how a run computes, not what it computes
NOT_IDENTITY = ("seed", "device", "threads", "reference_cache", "resume", "hydra.", "chunk_size",
                "diagnostics", "log_every", "checkpoint_every", "eval_every")


# the groups that name a run: what it records (diagnostics) is not part of its name
NAMED = tuple(g for g in GROUPS if g != "diagnostics")


@cache
def defaults() -> dict[str, str]:
    """The default option of each group, from the shipped ``train.yaml``."""
    text = (resources.files("pinn_cli.conf") / "train.yaml").read_text()
    out = {}
    for entry in yaml.safe_load(text).get("defaults", []):
        if isinstance(entry, dict):
            out.update({k: str(v) for k, v in entry.items() if k in GROUPS})
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower()


def _from_config(config: dict) -> dict[str, str]:
    out = {}
    for g in NAMED:
        target = (config.get(g) or {}).get("_target_", "")
        if target:
            name = _snake(target.rsplit(".", 1)[-1])
            out[g] = {"no_weighting": "none"}.get(name, name)
    return out


def run_identity(attrs: dict, run_dir: Path) -> dict:
    """-> {"choices": {group: option}, "overrides": [...], "seed": int|None, "label": str}:
    ``label`` names the run without its seed (what differs from the defaults); runs with the
    same label differ only in their seed."""
    choices = json.loads(attrs.get("choices") or "{}")
    overrides = json.loads(attrs.get("overrides") or "[]")
    hydra_yaml = RunFolder(run_dir).hydra_file("hydra")
    if not choices and hydra_yaml.is_file():
        try:
            hc = yaml.safe_load(hydra_yaml.read_text())["hydra"]
            choices = {k: v for k, v in hc["runtime"]["choices"].items() if k in SELECTABLE}
            overrides = list(hc["overrides"]["task"])
        except (yaml.YAMLError, KeyError, TypeError):
            pass
    config = _load_config(attrs.get("config", ""))
    if not choices:
        choices = _from_config(config)
    choices = {k: str(v) for k, v in choices.items() if v is not None}
    seed = config.get("seed")
    return {"choices": choices, "overrides": overrides, "seed": seed,
            "label": label(choices, overrides), "signature": signature(config)}


def signature(config: dict) -> dict:
    """The resolved config without what does not change the computation's maths (seed, device,
    folders, recording): runs with equal signatures differ only in their seed."""
    return {k: v for k, v in config.items() if not k.startswith(NOT_IDENTITY)}


def label(choices: dict, overrides: list[str]) -> str:
    """The options that differ from the defaults and the value overrides, seed left out:
    ``"allen_cahn rba lr=0.001"``; ``"default"`` when nothing differs."""
    base = defaults()
    parts = [choices[k] for k in NAMED if k in choices and base.get(k) != choices[k]]
    if choices.get("experiment"):
        parts.insert(0, choices["experiment"])
    parts += [v for k, v in choices.items() if k.startswith("arm/")]      # a study's arm
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key.split("/")[0] in SELECTABLE or key.startswith(NOT_IDENTITY):
            continue
        parts.append(f"{key.rsplit('.', 1)[-1]}={o.split('=', 1)[1]}" if "=" in o else o)
    return " ".join(parts) or "default"


def _load_config(text: str) -> dict:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}
