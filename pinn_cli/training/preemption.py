"""Stop signals from a scheduler: checkpoint, then let the scheduler's own handling go on.

SLURM signals a job before its time limit or when it is preempted (SIGUSR2 where submitit asked
for it, SIGTERM otherwise). While training, :class:`StopSignals` only notes the signal; the loop
sees it at the next iteration, saves a checkpoint and closes the run file with status
``preempted``, and :meth:`StopSignals.forward` then hands the signal to the handler that was
there before (submitit's, which requeues the job; the requeued job resumes from its own folder).
Without such a handler the process exits with 128 + the signal number.

Ctrl-C (SIGINT) is noted the same way rather than raised as ``KeyboardInterrupt`` wherever the
interpreter happens to be: an exception raised inside an HDF5 append, a checkpoint save or an
object's finaliser (where Python only prints it and goes on) could corrupt a file or be lost, and
the run would not stop. The loop ends the run as ``interrupted``; a second Ctrl-C raises at once.
"""
from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)


class StopSignals:
    def __init__(self):
        self.signum: int | None = None
        self.previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self.previous[s] = signal.signal(s, self._note)
        return self

    def _note(self, signum, frame):
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt           # a second Ctrl-C: the user will not wait
        self.signum = signum

    @property
    def interrupted(self) -> bool:
        """The user pressed Ctrl-C (as opposed to a scheduler's signal)."""
        return self.signum == signal.SIGINT

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return False

    def forward(self) -> None:
        """Pass a noted signal on to the previous handler (call after __exit__)."""
        if self.signum is None or self.interrupted:
            return
        handler = self.previous.get(self.signum, signal.SIG_DFL)
        if callable(handler):
            handler(self.signum, None)
        elif handler != signal.SIG_IGN:
            raise SystemExit(128 + self.signum)
