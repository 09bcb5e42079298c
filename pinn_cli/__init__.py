"""pinn-cli: a command-line experiment runner for PINNs that makes the training dynamics visible."""
__version__ = "0.1.0"


def __getattr__(name):
    """``pinn_cli.load`` and ``pinn_cli.TrainedModel``, imported when first used (the package
    itself stays light: pinn-train's start imports nothing heavy)."""
    if name in ("load", "TrainedModel"):
        from pinn_cli import trained
        return getattr(trained, name)
    raise AttributeError(f"module 'pinn_cli' has no attribute {name!r}")
