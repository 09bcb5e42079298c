"""Small helpers shared by the benchmark scripts: timing and building a Trainer from overrides."""
from __future__ import annotations

import statistics
import tempfile
import time

import torch
from hydra import compose, initialize_config_module


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, repeats: int, device="cpu", warmup: int = 1) -> float:
    """Median wall time of fn() in seconds, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def alternating(fns: dict, rounds: int, device="cpu", warmup: int = 1) -> dict[str, float]:
    """Median seconds of each fn, timed round-robin so that machine drift hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def compose_cfg(overrides: list[str]):
    with initialize_config_module("pinn_cli.conf", version_base=None):
        return compose("train", overrides=overrides)


def trainer(overrides: list[str]):
    from pinn_cli.training.trainer import Trainer

    return Trainer(compose_cfg(overrides), tempfile.mkdtemp(prefix="pinn-bench-"))
