"""``python -m pinn_cli COMMAND [ARGS...]``: the same commands as the console scripts, for an
environment whose scripts folder is not on PATH.

    python -m pinn_cli train pde=allen_cahn weighting=rba      # = pinn-train ...
    python -m pinn_cli analyze outputs/2026-11-28/14-03-11     # = pinn-analyze ...
    python -m pinn_cli predict RUN points.csv                  # = pinn-predict ...
"""
from __future__ import annotations

import sys

COMMANDS = {
    "train": ("pinn_cli.cli.train", "main", "compose a config with Hydra and train (pinn-train)"),
    "analyze": ("pinn_cli.cli.analyze", "cli", "phases, tables and figures of runs and sweeps "
                "(pinn-analyze)"),
    "predict": ("pinn_cli.cli.predict", "cli", "a trained network at your points (pinn-predict)"),
}


def usage() -> str:
    lines = ["usage: python -m pinn_cli {train,analyze,predict} [ARGS...] | --version", "",
             "commands:"]
    lines += [f"  {name:<8} {what}" for name, (_, _, what) in COMMANDS.items()]
    lines += ["", "python -m pinn_cli COMMAND --help: that command's own help"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv[0] in ("--version", "-V"):
        from pinn_cli.cli import version_line
        print(version_line("pinn_cli"))
        return 0
    if argv[0] not in COMMANDS:
        print(f"python -m pinn_cli: error: unknown command {argv[0]!r}: expected one of "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    import importlib

    module, entry, _ = COMMANDS[argv[0]]
    sys.argv = [f"pinn-{argv[0]}", *argv[1:]]
    try:
        getattr(importlib.import_module(module), entry)()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
