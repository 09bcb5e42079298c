"""Progress on the console: a rich progress bar on a terminal, plain log lines elsewhere
(cluster logs, pipes), at the logging cadence."""
from __future__ import annotations

import logging
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

log = logging.getLogger("pinn_cli")


class Reporter:
    """Args:
        total: iterations of the run; start: the first iteration (after a resume).
        tty: show a progress bar (default: when stderr is a terminal).
    """

    def __init__(self, total: int, start: int = 0, tty: bool | None = None):
        self.total, self.start = total, start
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.t0, self.last = time.perf_counter(), ""
        self.bar = None
        if self.tty:
            self.bar = Progress(TextColumn("[bold]pinn-train"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                transient=True)
            self.task = self.bar.add_task("train", total=total, completed=start, info="")
            self.bar.start()

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step + 1)

    def report(self, step: int, loss: float, rel_l2: float | None, status: str = "") -> None:
        """One progress line: loss, error, speed, and the probes' status (the live phase)."""
        rate = (step + 1 - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        err = "-" if rel_l2 is None else f"{rel_l2:.3e}"
        self.last = f"loss {loss:.3e}  rel_l2 {err}  {rate:.1f} it/s" + (f"  {status}" if status else "")
        if self.bar is not None:
            self.bar.update(self.task, info=self.last)
        else:
            log.info("step %d/%d  %s", step, self.total, self.last)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
