"""``pinn-analyze --status SWEEP``: every job of a sweep or study and where it stands."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich import box

from pinn_cli.cli import make_console
from rich.table import Table

from pinn_cli.cli.sweep import job_states, read_state


def status(paths: list[Path]) -> int:
    """Print each job's state; 0 when every job is done, 1 otherwise, 2 for a path that holds
    no sweep."""
    console, code = make_console(), 0
    for path in paths:
        if read_state(path) is None and not (Path(path) / "multirun.yaml").exists():
            console.print(f"pinn-analyze: error: {path}: not a sweep folder", highlight=False)
            return 2
        jobs = job_states(path)
        t = Table(title=f"{path}", title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("state", "steps", "final rel-L2", "job"):
            t.add_column(col, overflow="fold")
        for j in jobs:
            err = j.get("final_rel_l2")
            t.add_row(j["state"], str(j.get("steps") or "-"), "-" if err is None else f"{err:.3g}",
                      j["job"] or " ".join(j["overrides"]))
        console.print(t)
        counts = Counter(j["state"] for j in jobs)
        console.print(", ".join(f"{n} {s}" for s, n in counts.most_common()), highlight=False)
        code = max(code, 0 if set(counts) <= {"done"} else 1)
    return code
