"""Phase detection on the SNR series: offline (pinn-analyze, the whole series) and online (a
live run, one record at a time, causally). Pure numpy; read by the diagnostics and the analysis."""
from pinn_cli.phases.offline import PhaseParams, detect
from pinn_cli.phases.online import OnlinePhases

__all__ = ["PhaseParams", "detect", "OnlinePhases"]
