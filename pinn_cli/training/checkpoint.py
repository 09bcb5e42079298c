"""Checkpoints: everything needed to continue a run bit for bit on the same device and dtype.

A checkpoint taken after k updates holds the parameters, the optimizer and schedule state, the
weighting state (RBA's lambda), every random-number state, the wall-clock offset and k. It is
written to a temporary file and renamed over ``last.pt``, so a kill never leaves half of one.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = Path("checkpoints") / "last.pt"


def save(run_dir, *, step: int, model, optimizer, scheduler, weighting, wall_time: float,
         config_yaml: str, loss_ref) -> Path:
    path = Path(run_dir) / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step, "wall_time": wall_time, "config": config_yaml, "loss_ref": loss_ref,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "weighting": weighting.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        torch.save(state, f)
    os.replace(tmp, path)
    return path


def load(path, device) -> dict:
    return torch.load(path, map_location=device, weights_only=False)


def restore(state: dict, *, model, optimizer, scheduler, weighting) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    weighting.load_state_dict(state["weighting"])
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["python"])
    if state["rng"]["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
