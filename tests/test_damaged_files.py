"""Hostile files: truncated run files, checkpoints and cache entries, files that become
unwritable mid-run. Each must end in one line (an error, or a warning and a recovery), never a
hang, a traceback, a segfault or lost records. Real HDF5 files, real SIGKILLed writers; every
read of a damaged file runs in a child process under a timeout, so a hang fails the test."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pinn_cli.errors import PinnError
from pinn_cli.reference.cache import ReferenceCache
from pinn_cli.runfile import RunFileError, RunWriter, SeriesSpec, read_run
from pinn_cli.runfile import io as runfile_io
from pinn_cli.runfile.io import RunWriteError, count_records
from pinn_cli.run_folder import RunFolder
from pinn_cli.training import checkpoint

# the slow tier (pytest -m slow): each case runs pinn-train in a child process
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
FRACTIONS = (1, 5, 10, 25, 50, 75, 90, 99)
BOUND_S = 5.0                       # the most one read of a damaged file may take

# A writer with the layout of a training run (scalars, a vector series, compressed maps, static
# grids): python -c WRITER PATH N_RECORDS; prints "ready" after N records, then waits to be killed.
WRITER = """
import sys, time, numpy as np
from pinn_cli.runfile import RunWriter, SeriesSpec
w = RunWriter(sys.argv[1], {"seed": 1, "config": "a: 1\\n" * 40},
              {"metrics": SeriesSpec({"loss": ((), "f8"), "rel_l2": ((), "f8")}),
               "snr": SeriesSpec({"per_layer": ((5,), "f8")}),
               "residual_map": SeriesSpec({"map": ((32, 32), "f4")}, compress=True)},
              {"grid/x": np.linspace(0, 1, 32)})
rng = np.random.default_rng(0)
for s in range(int(sys.argv[2])):
    w.append("metrics", s, loss=1.0 / (s + 1), rel_l2=0.5 + s)
    if s % 5 == 0:
        w.append("snr", s, per_layer=np.arange(5.0) + s)
    if s % 20 == 0:
        w.append("residual_map", s, map=rng.random((32, 32), dtype="f4"))
print("ready", flush=True)
time.sleep(300)
"""

# Reads each file named on the command line; prints one JSON line per file.
READER = """
import json, sys, time
from pinn_cli.runfile import RunFileError, read_attrs, read_run
from pinn_cli.runfile.io import count_records
for path in sys.argv[1:]:
    out = {"path": path}
    for name, fn in (("read_run", read_run), ("read_attrs", read_attrs), ("count", count_records)):
        t = time.perf_counter()
        try:
            r = fn(path)
            out[name] = {g: {k: v.tolist() for k, v in d.items()} for g, d in r.series.items()} \\
                if name == "read_run" else "ok"
        except RunFileError as e:
            out[name] = "error: " + str(e)
        out[name + "_s"] = time.perf_counter() - t
    print(json.dumps(out), flush=True)
"""


def _python(code: str, *args, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=ENV, text=True,
                          capture_output=True, timeout=timeout, **kw)


def _kill_when_it_says(word: str, script: str, *args: str) -> None:
    """Run ``python -c script args``, SIGKILL it once it prints ``word`` (its first line)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], env=ENV,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == word
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> Path:
    """run.h5 of a writer SIGKILLed after 200 metrics records."""
    path = tmp_path_factory.mktemp("killed") / "run.h5"
    _kill_when_it_says("ready", WRITER, str(path), "200")
    return path


def _truncated_copies(src: Path, folder: Path, fractions=FRACTIONS) -> list[Path]:
    data = src.read_bytes()
    out = []
    for pct in fractions:
        dst = folder / f"cut{pct:02d}.h5"
        dst.write_bytes(data[: len(data) * pct // 100])
        out.append(dst)
    return out


# ---- 1. truncated run files: bounded, one line ---------------------------------------------------
def test_killed_run_file_reads_whole(killed_run):
    run = read_run(killed_run)
    assert run.attrs["status"] == "running"
    assert {g: len(d["step"]) for g, d in run.series.items()} == {"metrics": 200, "snr": 40,
                                                                  "residual_map": 10}
    np.testing.assert_array_equal(run.series["metrics"]["loss"], 1.0 / np.arange(1, 201))
    assert count_records(killed_run) == {"metrics": 200, "snr": 40, "residual_map": 10}


def test_truncated_killed_run_files_fail_in_bounded_time_or_read_a_prefix(killed_run, tmp_path):
    full = read_run(killed_run)
    copies = _truncated_copies(killed_run, tmp_path)
    result = _python(READER, *copies, timeout=len(copies) * 3 * BOUND_S + 30)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(copies)
    for out in lines:
        name = Path(out["path"]).name
        for fn in ("read_run", "read_attrs", "count"):
            assert out[fn + "_s"] < BOUND_S, (name, fn, out[fn + "_s"])
            if isinstance(out[fn], str) and out[fn].startswith("error: "):
                assert name in out[fn] and "\n" not in out[fn]
        if isinstance(out["read_run"], dict):           # a prefix of the real records, exactly
            for group, data in out["read_run"].items():
                for key, values in data.items():
                    want = full.series[group][key][: len(values)]
                    np.testing.assert_array_equal(np.array(values, dtype=want.dtype), want)
        else:
            assert out["count"] != "ok", f"{name}: count_records accepts what read_run refuses"


def test_an_unbounded_reader_is_run_in_a_child_under_a_timeout(killed_run, tmp_path, monkeypatch):
    """Where HDF5's retry count cannot be set, the read is tried in a child process first."""
    assert runfile_io._read_attempts_setter() is not None, "the bound is missing on this platform"
    # the cuts that hang an unbounded reader are those that fail on a metadata checksum
    cuts = _truncated_copies(killed_run, tmp_path, range(2, 40, 2))
    hanging = []
    for cut in cuts:
        try:
            read_run(cut)
        except RunFileError as e:
            if "checksum" in str(e):
                hanging.append(cut)
    assert hanging, "no cut fails on a metadata checksum"
    monkeypatch.setattr(runfile_io, "_read_attempts_setter", lambda: None)
    monkeypatch.setattr(runfile_io, "PROBE_TIMEOUT", 3.0)
    t = time.perf_counter()
    with pytest.raises(RunFileError, match="did not end within 3 s") as e:
        read_run(hanging[0])
    assert time.perf_counter() - t < 3.0 + BOUND_S and "\n" not in str(e.value)
    assert len(read_run(killed_run).series["metrics"]["step"]) == 200   # a whole file still reads


def test_a_live_file_always_reads_as_whole_records(tmp_path):
    """Reading while the writer appends: every read is a prefix of the final records."""
    path = tmp_path / "run.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "300"], env=ENV,
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    try:
        seen = -1                                   # errors are allowed until the file is made
        while seen < 300 and time.monotonic() < deadline:
            try:
                run = read_run(path)
            except RunFileError:
                assert seen < 0, "a live file that was readable became unreadable"
                time.sleep(0.01)
                continue
            m = run.series["metrics"]
            n = len(m["step"])
            assert n >= seen and all(len(v) == n for v in m.values())
            np.testing.assert_array_equal(m["step"], np.arange(n))
            np.testing.assert_array_equal(m["loss"], 1.0 / np.arange(1, n + 1))
            seen = n
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert seen == 300


# ---- 2. never shrink a record --------------------------------------------------------------------
def test_count_records_counts_each_group_and_before_a_step(tmp_path):
    spec = {"a": SeriesSpec({"x": ((), "f8")}), "b": SeriesSpec({"y": ((2,), "f4")})}
    w = RunWriter(tmp_path / "run.h5", {}, spec)
    for s in range(10):
        w.append("a", s, x=float(s))
        if s % 3 == 0:
            w.append("b", s, y=np.ones(2))
    assert w.counts() == {"a": 10, "b": 4}
    assert count_records(tmp_path / "run.h5") == {"a": 10, "b": 4}        # while running
    w.close("done")
    assert count_records(tmp_path / "run.h5") == {"a": 10, "b": 4}
    assert count_records(tmp_path / "run.h5", before_step=4) == {"a": 4, "b": 2}
    with pytest.raises(RunFileError, match="no such file"):
        count_records(tmp_path / "missing.h5")


# ---- 5. writes that fail mid-run -----------------------------------------------------------------
# python -c FAILING PATH MODE: appends, makes the file refuse writes (MODE "immutable": chattr +i;
# "full": the file-size limit, as a full disk), appends until that fails, then closes. Prints what
# each step raised; a segfault shows as the exit status.
FAILING = """
import os, resource, signal, subprocess, sys
import numpy as np
from pinn_cli.errors import PinnError
from pinn_cli.runfile import RunWriter, SeriesSpec
path, mode = sys.argv[1], sys.argv[2]
w = RunWriter(path, {}, {"metrics": SeriesSpec({"loss": ((), "f8")}),
                         "map": SeriesSpec({"m": ((64, 64), "f4")})})
for s in range(20):
    w.append("metrics", s, loss=float(s))
if mode in ("full", "full-at-close"):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    size = os.path.getsize(path) + (200_000 if mode == "full" else 0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
else:
    subprocess.run(["chattr", "+i", path], check=True)
try:
    for s in range(20, 20 if mode == "full-at-close" else 2000):
        w.append("metrics", s, loss=float(s))
        w.append("map", s, m=np.ones((64, 64)))
    print("append: no error")
except PinnError as e:
    print("append:", type(e).__name__, str(e).replace("\\n", "<NL>"))
if mode == "immutable-then-writable":
    subprocess.run(["chattr", "-i", path], check=True)
for i in range(2):
    try:
        w.close("failed")
        print("close: ok")
    except PinnError as e:
        print("close:", type(e).__name__, str(e).replace("\\n", "<NL>"))
"""


def _chattr_works(folder: Path) -> bool:
    probe = folder / "chattr-probe"
    probe.touch()
    try:
        ok = subprocess.run(["chattr", "+i", probe], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False
    if ok:
        subprocess.run(["chattr", "-i", probe])
    probe.unlink()
    return ok


@pytest.fixture
def immutable_ok(tmp_path):
    if not _chattr_works(tmp_path):
        pytest.skip("chattr +i does not work here (not installed, no CAP_LINUX_IMMUTABLE, or a "
                    "filesystem without the flag); the file-size-limit test covers the same path")
    yield
    subprocess.run(["chattr", "-R", "-i", tmp_path], capture_output=True)


def _run_failing(path: Path, mode: str) -> dict[str, list[str]]:
    result = _python(FAILING, path, mode, timeout=120)
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, \
        result.stderr[-2000:]
    out: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        key, _, rest = line.partition(": ")
        out.setdefault(key, []).append(rest)
    return out


def _assert_keeps_records(path: Path, status: str) -> None:
    run = read_run(path)
    assert run.attrs["status"] == status
    n = len(run.series["metrics"]["step"])
    assert n >= 20
    np.testing.assert_array_equal(run.series["metrics"]["loss"], np.arange(n, dtype=float))


def test_a_file_made_immutable_mid_run_gives_one_line_errors(tmp_path, immutable_ok):
    path = tmp_path / "run.h5"
    out = _run_failing(path, "immutable")
    append, = out["append"]
    assert append.startswith("RunWriteError") and str(path) in append and "<NL>" not in append
    assert "Operation not permitted" in append
    first, second = out["close"]
    assert first.startswith("RunWriteError") and str(path) in first and "<NL>" not in first
    assert "keeps status 'running'" in first
    assert second == "ok"                                   # the file is closed only once
    subprocess.run(["chattr", "-i", path], check=True)
    _assert_keeps_records(path, "running")                 # as a killed run's file


def test_after_a_refused_write_the_file_is_never_written_again(tmp_path, immutable_ok):
    """Even once writable again: whatever HDF5 would write after a refused write is unsafe."""
    path = tmp_path / "run.h5"
    out = _run_failing(path, "immutable-then-writable")
    assert out["append"][0].startswith("RunWriteError")
    assert out["close"][0].startswith("RunWriteError") and out["close"][1] == "ok"
    _assert_keeps_records(path, "running")


def test_a_full_disk_mid_run_gives_one_line_errors(tmp_path):
    path = tmp_path / "run.h5"
    out = _run_failing(path, "full")
    append, = out["append"]
    assert append.startswith("RunWriteError") and str(path) in append and "<NL>" not in append
    assert "File too large" in append
    first, second = out["close"]
    assert first.startswith("RunWriteError") and "keeps status 'running'" in first
    assert second == "ok"
    _assert_keeps_records(path, "running")                 # every record before the failure


def test_a_disk_full_before_the_close_still_records_the_outcome(tmp_path):
    """The disk fills after the last record (a checkpoint took the last bytes): the outcome is
    written in place, in room the file already has, and the file reads with it. (Reopening the
    file to set an attribute left it flagged 'open for write' and unreadable.)"""
    path = tmp_path / "run.h5"
    out = _run_failing(path, "full-at-close")
    assert out["append"] == ["no error"] and out["close"] == ["ok", "ok"]
    _assert_keeps_records(path, "failed")


def test_a_run_file_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunWriteError, match="cannot create the run file") as e:
        RunWriter(tmp_path / "file" / "run.h5", {}, {"a": SeriesSpec({"x": ((), "f8")})})
    assert "\n" not in str(e.value)


# ---- 3. checkpoints ------------------------------------------------------------------------------
def _save(run_dir: Path, step: int = 5) -> Path:
    model = torch.nn.Linear(4, 4)
    optimizer = torch.optim.Adam(model.parameters())
    return checkpoint.save(run_dir, {"step": step, "model": model.state_dict(), "config": "a: 1",
                                     "optimizer": optimizer.state_dict(), "weighting": {"lam": torch.ones(3)},
                                     "wall_time": 1.0, "loss_ref": torch.tensor(1.0)})


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_checkpoint_has_normal_permissions_and_leaves_no_temporary_file(tmp_path, umask_022):
    path = _save(tmp_path)
    assert path == RunFolder(tmp_path).last
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    assert checkpoint.load(path, "cpu")["step"] == 5


def test_checkpoint_is_synced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", fd)), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", Path(b).name)),
                                                     real_replace(a, b)))
    _save(tmp_path)
    first_replace = calls.index(("replace", "last.pt"))
    assert any(c[0] == "fsync" for c in calls[:first_replace]), calls


# python -c KILLED_SAVE RUN_DIR: saves step 1, then starts saving step 2 and is killed mid-write.
KILLED_SAVE = """
import sys, time, torch
from pinn_cli.training import checkpoint
def save(step):
    m = torch.nn.Linear(4, 4)
    checkpoint.save(sys.argv[1], {"step": step, "model": m.state_dict(), "config": ""})
save(1)
def half(obj, f):
    f.write(b"PK half a checkpoint")
    f.flush()
    print("writing", flush=True)
    time.sleep(300)
torch.save = half
save(2)
"""


def test_a_kill_mid_save_keeps_the_last_checkpoint_and_the_next_save_cleans_up(tmp_path):
    _kill_when_it_says("writing", KILLED_SAVE, str(tmp_path))
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "last.pt.tmp"]
    assert checkpoint.load(folder / "last.pt", "cpu")["step"] == 1     # the whole previous one
    (folder / "tmpab12cd.tmp").write_bytes(b"left by the old mkstemp naming")
    _save(tmp_path, step=3)
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt"]
    assert checkpoint.load(folder / "last.pt", "cpu")["step"] == 3


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "not-a-checkpoint"])
def test_an_unreadable_checkpoint_is_one_line_naming_it(tmp_path, damage):
    path = _save(tmp_path)
    data = path.read_bytes()
    content = {"truncated": data[: len(data) // 2], "empty": b"", "garbage": os.urandom(3000)}
    if damage == "not-a-checkpoint":
        torch.save({"step": 1}, path)
    else:
        path.write_bytes(content[damage])
    with pytest.raises(PinnError, match="unreadable checkpoint") as e:
        checkpoint.load(path, "cpu")
    assert str(path) in str(e.value) and "\n" not in str(e.value)


# python -c FULL_SAVE RUN_DIR: saves step 1, then a checkpoint larger than the file-size limit.
FULL_SAVE = """
import resource, signal, sys, torch
from pinn_cli.errors import PinnError
from pinn_cli.training import checkpoint

def save(width, step):
    m = torch.nn.Linear(width, width)
    checkpoint.save(sys.argv[1], {"step": step, "model": m.state_dict(), "config": ""})
save(10, 1)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    save(1000, 2)
except PinnError as e:
    print(e)
"""


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path):
    result = _python(FULL_SAVE, tmp_path)
    assert result.returncode == 0 and not result.stderr, result.stderr[-2000:]
    error = result.stdout.strip()
    assert "cannot write the checkpoint (File too large)" in error and "\n" not in error
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt"]
    assert checkpoint.load(folder / "last.pt", "cpu")["step"] == 1


def test_a_checkpoint_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "checkpoints").write_text("a file where the folder should be")
    with pytest.raises(PinnError, match="cannot write the checkpoint") as e:
        _save(tmp_path)
    assert "\n" not in str(e.value) and "last.pt" in str(e.value)


# ---- 4. reference cache --------------------------------------------------------------------------
class _Solver:
    def __init__(self):
        self.calls = 0

    def __call__(self, n):
        self.calls += 1
        return {"u": np.arange(float(n)), "x": np.linspace(0, 1, n)}


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "other-arrays"])
def test_a_damaged_cache_entry_is_computed_and_written_again(tmp_path, damage, caplog, umask_022):
    cache, solve = ReferenceCache(tmp_path), _Solver()
    cache.get("ref", {"n": 50}, solve)
    path = cache.path("ref", {"n": 50})
    data = path.read_bytes()
    if damage == "other-arrays":                 # a valid .npz without the expected arrays
        np.savez(path, x=np.zeros(3))
    else:
        path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                          "garbage": os.urandom(2000)}[damage])
    with caplog.at_level(logging.WARNING, logger="pinn_cli"):
        got = ReferenceCache(tmp_path).get("ref", {"n": 50}, solve)
    assert solve.calls == 2
    np.testing.assert_array_equal(got["u"], np.arange(50.0))
    warning, = _warnings(caplog)
    assert str(path) in warning and "unreadable" in warning
    again = ReferenceCache(tmp_path)                        # rewritten: a hit now
    np.testing.assert_array_equal(again.get("ref", {"n": 50}, solve)["u"], np.arange(50.0))
    assert again.hits == 1 and solve.calls == 2
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_files_have_normal_permissions(tmp_path, umask_022):
    cache = ReferenceCache(tmp_path / "cache")
    cache.get("ref", {"n": 5}, _Solver())
    assert os.stat(cache.path("ref", {"n": 5})).st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "cache").st_mode & 0o777 == 0o755


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_a_cache_folder_that_cannot_be_made_computes_in_memory(tmp_path, where, caplog):
    (tmp_path / "file").write_text("x")
    root = tmp_path / "file" / "cache" if where == "under-a-file" else tmp_path / "file"
    solve = _Solver()
    with caplog.at_level(logging.WARNING, logger="pinn_cli"):
        got = ReferenceCache(root).get("ref", {"n": 7}, solve)
    np.testing.assert_array_equal(got["u"], np.arange(7.0))
    warning, = _warnings(caplog)
    assert "could not write" in warning and "not cached" in warning and str(root) in warning
    assert (tmp_path / "file").read_text() == "x"


def test_a_read_only_cache_folder_computes_in_memory_and_still_serves_hits(tmp_path, caplog,
                                                                            immutable_ok):
    root = tmp_path / "cache"
    ReferenceCache(root).get("ref", {"n": 3}, _Solver())            # one entry cached before
    subprocess.run(["chattr", "+i", root], check=True)
    try:
        solve = _Solver()
        with caplog.at_level(logging.WARNING, logger="pinn_cli"):
            cache = ReferenceCache(root)
            np.testing.assert_array_equal(cache.get("ref", {"n": 3}, solve)["u"], np.arange(3.0))
            assert cache.hits == 1 and solve.calls == 0 and not _warnings(caplog)
            np.testing.assert_array_equal(cache.get("ref", {"n": 4}, solve)["u"], np.arange(4.0))
        assert solve.calls == 1
        warning, = _warnings(caplog)
        assert "could not write" in warning and "Operation not permitted" in warning
    finally:
        subprocess.run(["chattr", "-i", root], check=True)


def test_a_full_disk_leaves_no_partial_cache_entry(tmp_path, caplog, monkeypatch):
    """np.savez failing halfway (ENOSPC): the reference is still returned, nothing is left."""
    def full(*_, **__):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", full)
    with caplog.at_level(logging.WARNING, logger="pinn_cli"):
        got = ReferenceCache(tmp_path).get("ref", {"n": 6}, _Solver())
    np.testing.assert_array_equal(got["u"], np.arange(6.0))
    warning, = _warnings(caplog)
    assert "No space left on device" in warning
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".lock"]
