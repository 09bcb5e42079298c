"""Reference solutions computed by the project (never downloaded), and their disk cache."""
from pinn_cli.reference.allen_cahn import solve_allen_cahn
from pinn_cli.reference.burgers import solve_burgers
from pinn_cli.reference.cache import ReferenceCache, default_cache_dir
from pinn_cli.reference.kuramoto_sivashinsky import solve_kuramoto_sivashinsky

__all__ = ["solve_allen_cahn", "solve_burgers", "solve_kuramoto_sivashinsky", "ReferenceCache",
           "default_cache_dir"]
