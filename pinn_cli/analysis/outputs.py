"""Folders pinn-analyze writes into, and never a file it did not write.

pinn-analyze marks every folder it writes its results into with an empty ``.pinn-analyze`` file.
Before writing ``NAME`` into a folder it checks that the folder is new, or marked, or that
``NAME`` is not there yet; a folder that holds a file of that name which pinn-analyze did not
write (``--out`` pointed at a user's own folder holding their ``comparison.csv``) is refused in
one line, and nothing is written. Folders written before the mark existed are recognised by the
JSON pinn-analyze writes into each (``summary.json``, ``comparison.json``).

The mark also holds the SHA-256 of each file pinn-analyze wrote (:func:`seal`): a file changed
since (a ``report.md`` the user annotated) is not overwritten by the next analysis, which is
refused in one line with nothing written (marks from before hold no hashes: as before).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from pinn_cli.errors import PinnError

MARK = ".pinn-analyze"
LEGACY = {"summary.json": "phases", "comparison.json": "groups"}   # file -> a key only ours has


class OutputRefused(PinnError):
    """A folder holds a file of a name pinn-analyze would write, written by someone else."""


def run_outputs(run) -> set[str]:
    """Every file name pinn-analyze may write for one run: its summary and figures."""
    return {"summary.json", *run_figure_names(run)}


def claim(folder: Path, names) -> Path:
    """Make ``folder`` pinn-analyze's (marked) if the files ``names`` may be written there;
    -> folder. Raises OutputRefused otherwise, having written nothing."""
    folder = Path(folder)
    if not (folder / MARK).exists() and not _legacy(folder):
        taken = sorted(n for n in names if (folder / n).exists())
        if taken:
            raise OutputRefused(f"{folder} holds {', '.join(taken)}, not written by pinn-analyze: "
                                "nothing was written; choose another folder (--out)")
    written = _hashes(folder)
    edited = sorted(n for n in names if n in written and (folder / n).is_file()
                    and _sha(folder / n) != written[n])
    if edited:
        raise OutputRefused(f"{folder / edited[0]} was changed since pinn-analyze wrote it: kept, "
                            "and nothing was written (move it away, or choose another folder: --out)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).touch()
    return folder


@contextlib.contextmanager
def writing(folder: Path, names):
    """:func:`claim` the folder for ``names``, then :func:`seal` what was written, also when
    the writing stops midway (a figure that fails, Ctrl-C): what pinn-analyze wrote is its own."""
    folder = claim(folder, names)
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            seal(folder, names)


def seal(folder: Path, names) -> None:
    """Record in the mark the hash of each of ``names`` now in ``folder`` (what pinn-analyze
    just wrote), so that a later change to one of them is seen."""
    folder = Path(folder)
    written = _hashes(folder)
    written.update({n: _sha(folder / n) for n in names if (folder / n).is_file()})
    (folder / MARK).write_text(json.dumps(written, indent=0, sort_keys=True))


def _hashes(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MARK).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _legacy(folder: Path) -> bool:
    for name, key in LEGACY.items():
        try:
            if key in json.loads((folder / name).read_text()):
                return True
        except (OSError, ValueError, TypeError):
            pass
    return False


def run_figure_names(run) -> set[str]:
    """Every file name :func:`pinn_cli.analysis.plots.run_figures` may write for ``run``."""
    names = {"snr.png", "residual_maps.png", "entropy.png", "adam.png", "velocity.png"}
    for g in run.series:
        names |= {f"{g}.png", f"{g}_velocity.png", f"{g}_{g}.png"}
    return names
