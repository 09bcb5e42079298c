"""The ``objective`` config group: physics (``pinn``) or plain regression of the reference
(``regression``), each with a pointwise loss rho on the residuals (``squared``, ``l1``,
``huber``, ``log_cosh``)."""
from pinn_cli.objective.spec import PINN, ObjectiveSpec, Regression

__all__ = ["ObjectiveSpec", "PINN", "Regression"]
