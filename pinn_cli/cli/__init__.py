"""The command-line fronts: pinn-train, pinn-analyze and what they share."""
from omegaconf import OmegaConf

# ${pinn_dir:...}: a job's folder name from its overrides, '/' (a study's arm group) made '-'
OmegaConf.register_new_resolver("pinn_dir", lambda s: str(s).replace("/", "-"), replace=True)


def version_line(prog: str) -> str:
    """What ``--version`` prints on every command (the run file records the same version)."""
    from pinn_cli import __version__
    return f"{prog} (pinn-cli) {__version__}"


def make_console():
    """A rich Console for a command's tables: a terminal's width on a terminal; output that is
    not a terminal (a file, a pipe) is never cut or wrapped to 80 columns."""
    import sys

    from rich.console import Console
    return Console() if sys.stdout.isatty() else Console(width=100_000)


def argument_parser(prog: str, description: str):
    """An ``argparse`` parser whose usage errors are one line (``prog: error: ...``, exit 2), as
    every other refusal of the commands is, not argparse's usage block."""
    import argparse
    import sys

    class OneLine(argparse.ArgumentParser):
        def error(self, message):
            print(f"{self.prog}: error: {message} (--help lists the arguments)", file=sys.stderr)
            raise SystemExit(2)

    return OneLine(prog=prog, description=description)
