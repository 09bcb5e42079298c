"""Reference solutions computed by the project (never downloaded), and their disk cache."""
from pinn_cli.reference.allen_cahn import solve_allen_cahn
from pinn_cli.reference.burgers import solve_burgers
from pinn_cli.reference.cache import ReferenceCache, default_cache_dir

__all__ = ["solve_allen_cahn", "solve_burgers", "ReferenceCache", "default_cache_dir"]
