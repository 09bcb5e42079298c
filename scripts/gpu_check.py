"""The GPU check: what a lent GPU should measure, prepared so that it is spent measuring.

1. tests: the tests that build runs through the fixtures (marker ``device``, fast tier) with
   ``PINN_TEST_DEVICE`` set to the device;
2. the paper's step (6 x 128 tanh MLP, 25,600 Allen-Cahn points, Adam): a hand-written PyTorch
   step of the same maths (nested autograd, scripts/bench_step.py) against pinn-cli's step, plain
   and with the SNR's batch gradients captured, timed round-robin in this process (median);
3. a short Allen-Cahn RBA run through pinn-cli's trainer: its error, phases and ms/step;
then one table. ``scripts/gpu_check.sh`` runs it with ``--device cuda`` (<= 8 min on one GPU);
``--device cpu --quick`` runs the same code small on a CPU (tests/test_gpu_check.py).

    python scripts/gpu_check.py --device cuda [--steps 20] [--ac-iterations 2000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench_step import baseline
from benchlib import alternating, compose_cfg, trainer

REPO = Path(__file__).resolve().parent.parent


def run_tests(device: str, quick: bool, timeout: int) -> tuple[str, str]:
    """The device-touching fast-tier tests on ``device`` -> (result, pytest's last line)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
            "device and not slow", "--maxfail=20"]
    if quick:                                    # the CPU rehearsal: one module is enough
        args.append("tests/test_trainer.py")
    env = {**os.environ, "PINN_TEST_DEVICE": device}
    try:
        p = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"more than {timeout} s"
    last = (p.stdout.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    if p.returncode != 0:
        failed = [ln for ln in p.stdout.splitlines() if ln.startswith("FAILED")]
        print("\n".join(failed[:20]) or p.stdout[-3000:] + p.stderr[-3000:], file=sys.stderr)
    return ("ok" if p.returncode == 0 else "FAILED"), last


def step_times(device: str, depth: int, width: int, n: int, steps: int) -> dict[str, float]:
    """Median seconds per step: the hand-written step, pinn-cli's plain step, pinn-cli's step
    capturing the SNR's B batch gradients (diagnostics=basic's B)."""
    common = ["pde=allen_cahn", f"model.depth={depth}", f"model.width={width}",
              f"pde.n_collocation={n}", f"device={device}", "iterations=100000"]
    plain = trainer(common + ["diagnostics=off"])
    snr = trainer(common + ["diagnostics=basic"])
    snr.model.load_state_dict(plain.model.state_dict())
    runs = {"hand-written PyTorch step": baseline(plain, depth, width),
            "pinn-cli step": lambda: plain.step(0),
            f"pinn-cli step + SNR ({snr.recorder.batches} batches)":
                lambda: snr.step(0, capture=snr.recorder.batches)}
    return alternating(runs, steps, torch.device(device), warmup=3)


def allen_cahn_rba(device: str, iterations: int, quick: bool) -> dict:
    """A short ``pde=allen_cahn weighting=rba`` run -> its summary and ms/step."""
    from pinn_cli.phases.offline import detect
    from pinn_cli.run_folder import RunFolder
    from pinn_cli.runfile import read_run
    from pinn_cli.training.trainer import run

    small = ["model.depth=2", "model.width=16", "pde.n_collocation=512"] if quick else []
    cfg = compose_cfg(["pde=allen_cahn", "weighting=rba", f"device={device}",
                       f"iterations={iterations}", *small])
    t0 = time.perf_counter()
    summary = run(cfg, tempfile.mkdtemp(prefix="pinn-gpu-check-"))
    summary["ms_per_step"] = 1e3 * (time.perf_counter() - t0) / max(1, summary["steps"])
    snr = read_run(RunFolder(summary["run_dir"]).run_file).data("snr")
    if snr:
        ph = detect(snr["step"], snr["global"])
        summary["phases"] = f"F->D {ph.fitting_end or '-'}, total diffusion {ph.total_diffusion or '-'}"
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes: the CPU rehearsal")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    ap.add_argument("--ac-iterations", type=int, default=2000)
    ap.add_argument("--test-timeout", type=int, default=240)
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device here (torch {torch.__version__}): nothing to check")
        return 0
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    size = (2, 16, 1024) if args.quick else (6, 128, 25600)
    rows = []
    t0 = time.perf_counter()
    result, line = run_tests(args.device, args.quick, args.test_timeout)
    rows.append(("tests (marker device, fast tier)", result, f"{line} [{time.perf_counter() - t0:.0f} s]"))
    times = step_times(args.device, *size, steps=3 if args.quick else args.steps)
    base = times["hand-written PyTorch step"]
    for k, v in times.items():
        rows.append((f"{k}, {size[0]} x {size[1]}, {size[2]} points", f"{v * 1e3:.2f} ms",
                     f"{base / v:.2f}x the hand-written step's speed"))
    s = allen_cahn_rba(args.device, 20 if args.quick else args.ac_iterations, args.quick)
    rows.append((f"Allen-Cahn RBA, {s['steps']} steps", s["status"],
                 f"rel-L2 {s['final_rel_l2']:.3e}, {s['ms_per_step']:.1f} ms/step" +
                 (f", {s['phases']}" if "phases" in s else "")))
    print(f"\ngpu_check on {name} (torch {torch.__version__}, pinn-cli from {REPO})")
    w = max(len(r[0]) for r in rows)
    for check, res, detail in rows:
        print(f"  {check:<{w}}  {res:<10} {detail}")
    return 0 if result == "ok" and s["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
