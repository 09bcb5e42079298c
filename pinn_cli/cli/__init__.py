"""The command-line fronts: pinn-train, pinn-analyze and what they share."""
from omegaconf import OmegaConf

# ${pinn_dir:...}: a job's folder name from its overrides, '/' (a study's arm group) made '-'
OmegaConf.register_new_resolver("pinn_dir", lambda s: str(s).replace("/", "-"), replace=True)
