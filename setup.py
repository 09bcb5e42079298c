"""Package discovery for pinn-cli (the metadata is in pyproject.toml).

Every package under ``pinn_cli/`` is found (no list to forget one), and so is every folder of
the top-level ``conf/`` tree, which ships as ``pinn_cli.conf`` (``[tool.setuptools.package-dir]``)
with its YAML files as package data.
"""
from setuptools import find_namespace_packages, find_packages, setup

conf = ["pinn_cli.conf"] + [f"pinn_cli.conf.{p}" for p in find_namespace_packages(where="conf")]
setup(packages=find_packages(include=["pinn_cli", "pinn_cli.*"]) + conf)
