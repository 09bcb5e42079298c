"""This checkout's training step against an earlier revision's, in one process, alternated.

The revision's ``pinn_cli`` and ``conf`` are exported from git (``git archive``) into a temporary
folder as a package named ``pinn_cli_ref`` (its imports and ``_target_`` names renamed), so that
both versions build the same Trainer from the same overrides and their steps alternate in one
process: the plain step and the step that captures the batch-gradient SNR, printed as ratios to
the revision's plain step.

    OMP_NUM_THREADS=1 python scripts/bench_versions.py --ref cc775d3 [--rounds 21] [overrides...]
    e.g. ... model=fourier_mlp      ... +experiment=cpu_cavity
"""
from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import torch
from hydra import compose, initialize_config_module

from benchlib import alternating

ROOT = pathlib.Path(__file__).resolve().parents[1]


def export(ref: str) -> pathlib.Path:
    """The revision's package as ``pinn_cli_ref`` in a fresh folder; -> that folder."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="pinn-ref-"))
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "pinn_cli", "conf"],
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=tar, check=True)
    pkg = out / "pinn_cli_ref"
    (out / "pinn_cli").rename(pkg)
    if (pkg / "conf").is_symlink() or (pkg / "conf").exists():
        (pkg / "conf").unlink()
    (out / "conf").rename(pkg / "conf")
    for f in list(pkg.rglob("*.py")) + list(pkg.rglob("*.yaml")):
        f.write_text(re.sub(r"\bpinn_cli\b", "pinn_cli_ref", f.read_text()))
    return out


def trainer(package: str, overrides: list[str]):
    module = __import__(f"{package}.training.trainer", fromlist=["Trainer"])
    with initialize_config_module(f"{package}.conf", version_base=None):
        cfg = compose("train", overrides=overrides)
    return module.Trainer(cfg, tempfile.mkdtemp(prefix="pinn-bench-"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="cc775d3", help="the earlier revision (git)")
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("overrides", nargs="*", help="pinn-train overrides for both versions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(export(args.ref)))
    common = ["pde.n_collocation=2560", f"threads={args.threads}", "diagnostics=basic",
              "device=cpu", "iterations=1000000", *args.overrides]
    ref, new = trainer("pinn_cli_ref", common), trainer("pinn_cli", common)
    b = new.recorder.batches
    steps = {f"{args.ref} plain": lambda: ref.step(0), "this plain": lambda: new.step(0),
             f"{args.ref} snr": lambda: ref.step(0, b), "this snr": lambda: new.step(0, b)}
    med = alternating(steps, args.rounds, warmup=2)
    base = med[f"{args.ref} plain"]
    print(f"{' '.join(args.overrides) or 'default'}: {args.rounds} alternated rounds, "
          f"{torch.get_num_threads()} thread(s), B = {b}")
    for name, t in med.items():
        print(f"  {name:18s} {t * 1e3:8.1f} ms  {t / base:5.2f}x the {args.ref} plain step")


if __name__ == "__main__":
    main()
