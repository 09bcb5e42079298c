"""CPU threads that cope with a shared machine (``threads: auto``).

torch's OpenMP workers spin while they wait for each other. On cores that other processes also
want (a laptop's browser, a shared cluster node, a local sweep), a spinning worker burns the time
slice its partner needs, and a 2-thread step slowed 7.6x beside two busy loops where a 1-thread
step slowed 1.3x (``scripts/bench_threads.py``). Passive waiting cures that but halves the idle
speed, and every fixed spin count traded one against the other. So the thread count follows the
load instead: every ``interval`` seconds the governor reads how much of this process's CPUs other
processes used,

    others = (busy time of our CPUs - our own CPU time) / wall time        (in cores)
    threads = clamp(floor(n_cpus - others + 1/2), 1, max_threads)

(``/proc/stat``, the CPUs of ``sched_getaffinity``) and sets ``torch.set_num_threads``. Idle, it
changes nothing; beside busy processes it drops to the threads the free cores can run.

The thread count leaves the numbers unchanged on this project's CPU build (1 and 2 threads gave
bit-identical runs, ``docs/reproducibility.md``); where an MKL build splits its sums by thread,
``threads=N`` pins the count and a resumed run equals an uninterrupted one bit for bit again.
"""
from __future__ import annotations

import logging
import math
import os
import time

import torch

log = logging.getLogger("pinn_cli")


def cpus() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def busy_ticks(which: list[int]) -> int | None:
    """Clock ticks the CPUs ``which`` spent busy (not idle, not waiting on I/O); None off Linux."""
    try:
        with open("/proc/stat") as f:
            lines = f.readlines()
    except OSError:
        return None
    wanted, total = {f"cpu{i}" for i in which}, 0
    for line in lines:
        name, *fields = line.split()
        if name in wanted:
            ticks = [int(v) for v in fields[:8]]       # user nice system idle iowait irq softirq steal
            total += sum(ticks) - ticks[3] - ticks[4]
    return total


class ThreadGovernor:
    """Args:
        max_threads: the most threads to use (all CPUs, or the launcher's share of them).
        interval: seconds between two decisions.
    """

    def __init__(self, max_threads: int, interval: float = 1.0):
        self.max_threads, self.interval = max(1, int(max_threads)), interval
        self.cpus = cpus()
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.saved = torch.get_num_threads()
        self.threads = self.max_threads
        torch.set_num_threads(self.threads)
        self._mark()

    def _mark(self) -> None:
        self.t, self.cpu, self.ticks = time.perf_counter(), time.process_time(), busy_ticks(self.cpus)

    def others(self, wall: float, own: float, ticks: int) -> float:
        """Cores that other processes kept busy over the last ``wall`` seconds."""
        return max(0.0, (ticks - self.ticks) / self.hz - own) / wall

    def tick(self) -> None:
        """Called once per step; decides at most once per ``interval`` seconds."""
        now = time.perf_counter()
        if now - self.t < self.interval or self.ticks is None:
            return
        ticks = busy_ticks(self.cpus)
        if ticks is None:
            self.ticks = None
            return
        others = self.others(now - self.t, time.process_time() - self.cpu, ticks)
        want = min(self.max_threads, max(1, math.floor(len(self.cpus) - others + 0.5)))
        if want != self.threads:
            log.debug("threads %d -> %d (other processes use %.1f cores)", self.threads, want, others)
            self.threads = want
            torch.set_num_threads(want)
        self._mark()

    def close(self) -> None:
        """Give the process its thread count back."""
        torch.set_num_threads(self.saved)


def threads_for(threads):
    """``threads``: ``auto`` (or null) -> a :class:`ThreadGovernor` over every CPU of the
    process, or over at most ``OMP_NUM_THREADS`` when the user's environment sets it (an explicit
    setting wins); N -> :class:`FixedThreads`."""
    if threads in (None, "auto"):
        most = len(cpus())
        try:
            most = min(most, int(os.environ["OMP_NUM_THREADS"]))
        except (KeyError, ValueError):
            pass
        return ThreadGovernor(most)
    return FixedThreads(threads)


class FixedThreads:
    """``threads=N``: N threads for the whole run."""

    def __init__(self, threads: int):
        self.saved, self.threads = torch.get_num_threads(), int(threads)
        torch.set_num_threads(self.threads)

    def tick(self) -> None:
        pass

    def close(self) -> None:
        torch.set_num_threads(self.saved)
