"""threads=auto: the thread count follows how busy the process's CPUs are kept by others."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from pinn_cli.training.threads import FixedThreads, ThreadGovernor, busy_ticks, cpus, threads_for


def test_others_is_busy_time_less_our_own_per_second():
    g = ThreadGovernor(2, interval=1e9)
    g.ticks, g.hz = 1000, 100
    # 4 s of wall time; our CPUs were busy 600 ticks = 6 s, of which 2 s were ours: 1 core
    assert g.others(4.0, 2.0, 1600) == pytest.approx(1.0)
    assert g.others(4.0, 7.0, 1600) == 0.0                   # never negative
    g.close()


@pytest.mark.skipif(busy_ticks(cpus()) is None, reason="no /proc/stat")
def test_the_governor_drops_to_one_thread_beside_busy_loops_and_returns_when_they_end():
    saved = torch.get_num_threads()
    n = len(cpus())
    g = ThreadGovernor(max(2, n), interval=0.5)
    assert torch.get_num_threads() == max(2, n)
    time.sleep(0.6)
    t, cpu, ticks = time.perf_counter(), time.process_time(), busy_ticks(g.cpus)
    quiet = g.others(t - g.t, cpu - g.cpu, ticks) < 0.5        # nothing else runs here now
    loops = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]
    try:
        deadline = time.time() + 20
        while g.threads != 1 and time.time() < deadline:
            time.sleep(0.6)
            g.tick()
        assert g.threads == 1 and torch.get_num_threads() == 1
    finally:
        for p in loops:
            p.kill()
            p.wait()
    deadline = time.time() + 20
    while quiet and g.threads == 1 and time.time() < deadline:
        time.sleep(0.6)
        g.tick()
    assert g.threads > 1 or not quiet
    g.close()
    assert torch.get_num_threads() == saved


def test_threads_option_picks_the_policy(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")            # a user's explicit setting caps auto
    g = threads_for("auto")
    assert g.max_threads == 1
    g.close()
    monkeypatch.delenv("OMP_NUM_THREADS")
    saved = torch.get_num_threads()
    for value in ("auto", None):
        g = threads_for(value)
        assert isinstance(g, ThreadGovernor)
        g.close()
    assert torch.get_num_threads() == saved
    fixed = threads_for(1)
    assert isinstance(fixed, FixedThreads) and torch.get_num_threads() == 1
    fixed.close()
    assert torch.get_num_threads() == saved
