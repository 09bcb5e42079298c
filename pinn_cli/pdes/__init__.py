"""The problems: each a PDE subclass with its domain, points, residuals and reference."""
from pinn_cli.pdes.allen_cahn import AllenCahn
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.pdes.burgers import Burgers
from pinn_cli.pdes.cavity import LidDrivenCavity
from pinn_cli.pdes.helmholtz import Helmholtz
from pinn_cli.pdes.kuramoto_sivashinsky import KuramotoSivashinsky

__all__ = ["PDE", "Reference", "AllenCahn", "Burgers", "Helmholtz", "KuramotoSivashinsky",
           "LidDrivenCavity"]
