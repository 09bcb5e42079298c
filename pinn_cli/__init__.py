"""pinn-cli: a command-line experiment runner for PINNs that makes the training dynamics visible."""
__version__ = "0.1.0"
