"""The run folder's names in one place, and older runs' configs read as today's."""
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pinn_cli.errors import ConfigError
from pinn_cli.run_folder import LEGACY_GROUPS, RunFolder, migrate
from pinn_cli.training.resume import check_resumable

PACKAGE = Path(__file__).resolve().parents[1] / "pinn_cli"


def test_no_module_but_the_run_folder_spells_its_names():
    """run.h5, .hydra and the checkpoints' file names appear in pinn_cli/run_folder.py only."""
    import re
    pattern = re.compile(r'"run\.h5"|"\.hydra"|last\.pt|best\.pt')
    spelt = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if pattern.search(p.read_text()))
    assert spelt == ["run_folder.py"]


def test_a_folder_names_its_files_and_finds_its_runs(tmp_path):
    f = RunFolder(tmp_path / "a")
    assert f.run_file == tmp_path / "a" / "run.h5" and f.last.parent == f.best.parent
    assert RunFolder.of_checkpoint(f.best) == f and not f.has_checkpoint()
    assert f.saved_overrides() is None
    f.hydra.mkdir(parents=True)
    f.hydra_file("overrides").write_text("- seed=1\n- pde=burgers\n")
    assert f.saved_overrides() == ["seed=1", "pde=burgers"]
    f.run_file.write_bytes(b"")
    (tmp_path / "b" / "c").mkdir(parents=True)
    RunFolder(tmp_path / "b" / "c").run_file.write_bytes(b"")
    assert RunFolder.run_files_under(tmp_path) == [f.run_file, tmp_path / "b" / "c" / "run.h5"]
    assert RunFolder.run_files_under(f.path) == [f.run_file]
    assert [j.path for j in RunFolder.jobs_under(tmp_path)] == [f.path]
    with pytest.raises(KeyError):
        f.checkpoint("first")


def test_an_older_config_is_migrated_once_for_every_reader():
    """Groups a run predates get what it ran with; flat model keys are nested; today's config is
    unchanged."""
    old = {"seed": 0, "model": {"_target_": "pinn_cli.models.mlp.MLP", "depth": 2, "features": 0,
                                "sigma": 1.0, "rwf": False}}
    new = migrate(old)
    assert {k: new[k] for k in LEGACY_GROUPS} == LEGACY_GROUPS
    assert new["model"]["embedding"] == {"_target_": "pinn_cli.models.options.EmbeddingOptions",
                                         "features": 0, "sigma": 1.0}
    assert new["model"]["rwf"] == {"_target_": "pinn_cli.models.options.RWFOptions", "enabled": False}
    assert migrate(new) == new
    today = {"_target_": "pinn_cli.models.mlp.MLP", "depth": 2, "rwf": None, "embedding": None}
    assert migrate({"model": today})["model"] == today        # no factorization: not a flat key


def test_a_resume_may_differ_in_recording_probes_but_not_in_those_that_shape_the_steps():
    """A checkpoint from before the shipped diagnostics gained the field map resumes under
    today's; an SNR probe with other batches (the step's gradients are split by it) or a phase
    action does not."""
    snr = {"_target_": "pinn_cli.diagnostics.probes.SNRProbe", "batches": 4, "every": 10}
    field_map = {"_target_": "pinn_cli.diagnostics.field_map.FieldMapProbe", "every": 1000}

    def yaml(diagnostics):
        return OmegaConf.to_yaml({"diagnostics": diagnostics, "seed": 0, **LEGACY_GROUPS})

    old = yaml({"metrics": True, "snr": snr})
    check_resumable(old, yaml({"metrics": True, "snr": snr, "field_map": field_map}))
    check_resumable(old, yaml({"metrics": True, "snr": {**snr, "at": None, "live": True}}))
    check_resumable(yaml({"metrics": True, "snr": snr, "field_map": field_map}), old)
    for changed in ({"metrics": True, "snr": {**snr, "batches": 8}},
                    {"metrics": True, "snr": {**snr, "on_total_diffusion": "stop"}},
                    {"metrics": False, "snr": snr}):
        with pytest.raises(ConfigError, match="diagnostics differs"):
            check_resumable(old, yaml(changed))


OLD = Path(__file__).resolve().parent / "data" / "run_folder_2026_12_07"   # written by 84f2b3a


@pytest.fixture
def old_run(tmp_path):
    """A copy of a run folder written before the run folder, assembly and engine redesign
    (Helmholtz, 2 x 8, 20 steps, checkpoints at 10 and 20; its diagnostics had no field map)."""
    import shutil
    return Path(shutil.copytree(OLD, tmp_path / "old"))


def test_an_older_run_folder_loads_and_its_network_gives_its_recorded_error(old_run, ref_cache):
    import pinn_cli
    from pinn_cli.runfile import read_attrs
    net = pinn_cli.load(old_run)
    assert net.step == 20 and net.outputs == ("u",)
    final = read_attrs(RunFolder(old_run).run_file)["final_rel_l2"]
    assert net.errors(ref_cache)["u"] == pytest.approx(final, rel=1e-6)
    assert pinn_cli.load(old_run, checkpoint="best").step == 15


def test_an_older_run_folder_resumes_to_the_steps_of_an_uninterrupted_run(old_run, tmp_path, ref_cache):
    """Resumed from its step-20 checkpoint to 30 steps with today's code (and today's shipped
    diagnostics, which record a field map more), the network equals a fresh 30-step run of
    today's code bit for bit: the steps are computed as they were."""
    import torch
    from hydra import compose, initialize_config_module
    from pinn_cli.cli.argv import with_resume
    from pinn_cli.training import checkpoint
    from pinn_cli.training.trainer import run

    def train(folder, *extra):
        overrides = with_resume([*extra, f"reference_cache={ref_cache}", "device=cpu", "iterations=30"])
        with initialize_config_module("pinn_cli.conf", version_base=None):
            cfg = compose("train", overrides=[o for o in overrides if not o.startswith("hydra.")])
        return run(cfg, folder)

    assert train(tmp_path / "resumed", f"resume={old_run}")["status"] == "done"
    saved = [o for o in RunFolder(old_run).saved_overrides() if not o.startswith("iterations=")]
    assert train(tmp_path / "fresh", *saved)["status"] == "done"
    a, b = (checkpoint.load(RunFolder(tmp_path / f).last, "cpu")["model"] for f in ("resumed", "fresh"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_reads_its_folder_as_hydra_does_quotes_included(old_run, tmp_path):
    """resume='a folder' (Hydra's quoting, needed for spaces) names the folder, not a path with
    quotes in it; a resume whose settings differ names the folder given."""
    import shutil
    from pinn_cli.cli.argv import with_resume
    spaced = Path(shutil.copytree(old_run, tmp_path / "my run"))
    for arg in (f"resume='{spaced}'", f'resume="{spaced}"', f"resume={spaced}"):
        argv = with_resume([arg, "iterations=30"])
        kept = [o for o in RunFolder(old_run).saved_overrides() if not o.startswith("iterations=")]
        assert argv == kept + [arg, "iterations=30"]
    saved = RunFolder(old_run).hydra_file("config").read_text()
    with pytest.raises(ConfigError, match=f"resume='{spaced}' is not allowed: expected a run with "
                                          "this run's seed"):
        check_resumable(saved, saved.replace("seed: 0", "seed: 1"), spaced)


def test_a_resume_with_fewer_iterations_than_its_checkpoint_is_refused(old_run, tmp_path, ref_cache):
    """resume=RUN iterations=10 on a 20-step checkpoint would train nothing and exit 0: refused
    before any file is written."""
    from hydra import compose, initialize_config_module
    from pinn_cli.cli.argv import with_resume
    from pinn_cli.training.trainer import run
    overrides = with_resume([f"resume={old_run}", f"reference_cache={ref_cache}", "iterations=10"])
    with initialize_config_module("pinn_cli.conf", version_base=None):
        cfg = compose("train", overrides=overrides)
    with pytest.raises(ConfigError, match="iterations=10 is not allowed: expected at least the 20 steps"):
        run(cfg, tmp_path / "new")
    assert not (tmp_path / "new" / "run.h5").exists()
