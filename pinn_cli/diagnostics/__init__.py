"""Diagnostics: pure functions on tensors, and the probes that record them in the run file."""
from pinn_cli.diagnostics.cadence import Cadence
from pinn_cli.diagnostics.recorder import MetricsProbe, Probe, Recorder, StepState

__all__ = ["Cadence", "Probe", "MetricsProbe", "Recorder", "StepState"]
