"""Diagnostics: pure functions on tensors (snr, adam, residuals, entropy) and the probes that
record them into the run file (probes.py), on the Probe contract (base.py)."""
from pinn_cli.diagnostics.base import Probe, StepState
from pinn_cli.diagnostics.recorder import Diagnostics, MetricsProbe, Recorder

__all__ = ["Probe", "StepState", "Diagnostics", "MetricsProbe", "Recorder"]
