"""The ways in: console scripts, ``python -m pinn_cli``, --version, Hydra's shell completion,
the GPU check's CPU path, and the package that a wheel ships."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pinn_cli

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args, env=None, timeout=120, cwd=None):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


@pytest.mark.parametrize("command", ["pinn-train", "pinn-analyze", "pinn-predict"])
def test_every_command_says_its_version(command):
    p = _run(BIN / command, "--version")
    assert p.returncode == 0 and p.stdout.strip() == f"{command} (pinn-cli) {pinn_cli.__version__}"


def test_python_dash_m_lists_the_commands_and_runs_them(tmp_path):
    listing = _run(sys.executable, "-m", "pinn_cli")
    assert listing.returncode == 0
    for name in ("train", "analyze", "predict"):
        assert f"  {name} " in listing.stdout
    assert _run(sys.executable, "-m", "pinn_cli", "--version").stdout.startswith("pinn_cli (pinn-cli) ")
    bad = _run(sys.executable, "-m", "pinn_cli", "fit")
    assert bad.returncode == 2 and "unknown command 'fit'" in bad.stderr
    # a subcommand is the command itself: its own errors and exit codes
    p = _run(sys.executable, "-m", "pinn_cli", "analyze", tmp_path / "nothing")
    assert p.returncode == 2 and "pinn-analyze: error:" in p.stderr and "no such file" in p.stderr
    p = _run(sys.executable, "-m", "pinn_cli", "train", "model.width=0", cwd=tmp_path)
    assert p.returncode == 2 and "model.width" in p.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("run.h5"))


def test_hydra_shell_completion_completes_groups_and_keys(tmp_path):
    """`eval "$(pinn-train -sc install=bash)"` (README): the script installs, and a query
    completes a group's options and a key, from the installed configs, writing nothing."""
    install = _run(BIN / "pinn-train", "-sc", "install=bash", cwd=tmp_path)
    assert install.returncode == 0 and "complete" in install.stdout and "pinn-train" in install.stdout
    line = "pinn-train pde=allen"
    q = _run(BIN / "pinn-train", "-sc", "query=bash", env={"COMP_LINE": line, "COMP_POINT": str(len(line))},
             cwd=tmp_path)
    assert q.returncode == 0 and q.stdout.split() == ["pde=allen_cahn"]
    line = "pinn-train optimizer.l"
    q = _run(BIN / "pinn-train", "-sc", "query=bash", env={"COMP_LINE": line, "COMP_POINT": str(len(line))},
             cwd=tmp_path)
    assert "optimizer.lr=" in q.stdout.split()
    assert list(tmp_path.iterdir()) == []


def test_the_gpu_check_says_in_one_line_that_there_is_no_cuda():
    if __import__("torch").cuda.is_available():
        pytest.skip("a GPU is here: scripts/gpu_check.sh would measure it")
    p = _run("bash", REPO / "scripts" / "gpu_check.sh", env={"PY": sys.executable})
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 1 and "no CUDA device" in p.stdout


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_on_the_cpu():
    """The same code as on a GPU (device tests, the timed steps, the Allen-Cahn RBA run), small."""
    p = _run(sys.executable, REPO / "scripts" / "gpu_check.py", "--device", "cpu", "--quick",
             timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    table = p.stdout[p.stdout.index("gpu_check on cpu"):]
    assert "passed" in table and "pinn-cli step + SNR" in table
    assert re.search(r"Allen-Cahn RBA, 20 steps +done +rel-L2", table), table


def test_every_package_in_the_tree_is_in_the_wheel():
    """setup.py discovers the packages: every folder of pinn_cli/ with modules and every folder of
    conf/ is shipped (the wheel once left out pinn_cli.sampling and pinn_cli.strategies)."""
    sys.path.insert(0, str(REPO))
    try:
        import runpy
        from unittest import mock

        import setuptools
        with mock.patch.object(setuptools, "setup") as setup:
            runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    finally:
        sys.path.remove(str(REPO))
    shipped = set(setup.call_args.kwargs["packages"])
    tree = {".".join(p.relative_to(REPO).parts) for p in (REPO / "pinn_cli").rglob("*")
            if p.is_dir() and any(p.glob("*.py"))} | {"pinn_cli"}
    conf = {"pinn_cli.conf" + "".join("." + x for x in p.relative_to(REPO / "conf").parts)
            for p in [REPO / "conf", *(REPO / "conf").rglob("*")] if p.is_dir() and "__pycache__" not in p.parts}
    assert tree | conf <= shipped, sorted((tree | conf) - shipped)
