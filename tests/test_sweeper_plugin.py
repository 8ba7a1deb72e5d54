"""diffcomp's sweeper as a Hydra plugin for any app: Hydra's own sweeper suites, a sweep declared in
``hydra.sweeper.params``, the app's validator and one-line config errors.

The app is ``sweeper_app/`` (two numbers and a string, a validator of its own), so these tests need
no diffcomp model and show the sweeper assumes nothing about diffcomp configs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, LauncherTestSuite

from diffcomp.config.errors import ConfigError
from diffcomp.sweeps.plan import SweepError, SweepFailures, SweepValidationError

TESTS = Path(__file__).resolve().parent
APP = TESTS / "sweeper_app" / "app.py"
pytestmark = pytest.mark.filterwarnings("ignore:Future Hydra versions will no longer change working directory")


@pytest.fixture(autouse=True)
def hydra_default_version_base():
    """Hydra's suites expect the default of an app that names no ``version_base`` (jobs change
    directory); a ``compose(version_base="1.3")`` earlier in this process changed that default."""
    from hydra.version import VersionBase, __compat_version__

    previous = VersionBase.instance().getbase()
    VersionBase.instance().setbase(__compat_version__)
    yield
    VersionBase.instance().version_base = previous  # the instance hydra_restore_singletons put back


@pytest.mark.parametrize("launcher_name, overrides", [("basic", ["hydra/sweeper=diffcomp"])])
class TestHydrasLauncherSuite(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    "launcher_name, overrides", [("basic", ["hydra/sweeper=diffcomp", "hydra.sweeper.max_batch_size=2"])]
)
class TestHydrasBatchedSweeperSuite(BatchedSweeperTestSuite):
    pass


def sweep(runner, overrides, sweep_dir, config="config", task=None):
    """Run ``sweeper_app`` in-process as ``-m overrides``: (batches of job returns, the jobs that ran,
    the sweep directory's entries as name -> text of a file or None for a folder; the runner deletes it)."""
    ran = []

    def record(cfg):
        ran.append((cfg.a, cfg.b, cfg.c))
        return task(cfg) if task else (cfg.a, cfg.b, cfg.c)

    with runner(
        calling_file=str(APP),
        calling_module=None,
        task_function=record,
        config_path="conf",
        config_name=config,
        overrides=list(overrides),
        temp_dir=sweep_dir,
    ) as done:
        entries = {p.name: None if p.is_dir() else p.read_text() for p in Path(sweep_dir).iterdir()}
        return done.returns, ran, entries


def job_overrides(returns):
    return [r.overrides for batch in returns for r in batch]


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_params_of_an_experiment_sweep_in_batches_with_clean_float_ranges(hydra_sweep_runner, tmp_path):
    returns, ran, entries = sweep(hydra_sweep_runner, ["experiment=grid", "hydra.sweeper.max_batch_size=4"], tmp_path)
    assert [len(batch) for batch in returns] == [4, 2]
    assert job_overrides(returns) == [
        [f"a={a}", f"b={b}", "experiment=grid"] for a in (1, 2) for b in ("0.1", "0.2", "0.3")
    ]
    assert ran == [(a, b, "x") for a in (1, 2) for b in (0.1, 0.2, 0.3)]  # 0.3 exactly, and no 0.4
    assert sorted(name for name, text in entries.items() if text is None) == [str(i) for i in range(6)]


@pytest.mark.usefixtures("hydra_restore_singletons")
@pytest.mark.parametrize(
    "arguments",
    [
        [],  # params alone
        ["c=z"],  # the command line sets a params key: it wins, in the key's place
        ["a=5,6,7"],  # a command-line sweep replaces a params sweep
        ["b=0.25,0.75"],  # a new axis multiplies the params' product
        ["+d=1,2", "c=z", "a=3"],
    ],
)
def test_params_and_command_line_combine_exactly_as_in_hydras_basic_sweeper(hydra_sweep_runner, tmp_path, arguments):
    overrides = ["experiment=lists", *arguments]
    basic, basic_ran, _ = sweep(
        hydra_sweep_runner, ["hydra/sweeper=basic", *overrides], tmp_path / "basic", config="plain"
    )
    ours, ours_ran, _ = sweep(
        hydra_sweep_runner, ["hydra/sweeper=diffcomp", *overrides], tmp_path / "diffcomp", config="plain"
    )
    assert job_overrides(ours) == job_overrides(basic) and ours_ran == basic_ran
    if arguments == ["a=5,6,7"]:
        assert job_overrides(ours) == [[f"a={a}", f"c={c}", "experiment=lists"] for a in (5, 6, 7) for c in "xy"]


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_jobs_the_validator_rejects_fail_the_sweep_before_any_runs_one_line_each(hydra_sweep_runner, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        sweep(hydra_sweep_runner, ["experiment=grid", "a=1,3"], tmp_path)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: 3 of 6 jobs are invalid; nothing was launched:" in err
    assert "  job 3 [a=3 b=0.1 experiment=grid]: a=3 is invalid: allowed an integer <= 2\n" in err
    assert len([line for line in err.splitlines() if line.startswith("  job ")]) == 3
    assert not any(tmp_path.iterdir()), "nothing is launched or written"


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_rejection_wrapped_by_hydras_instantiate_is_still_a_one_line_config_error(
    hydra_sweep_runner, tmp_path, capsys
):
    with pytest.raises(SystemExit) as info:
        sweep(hydra_sweep_runner, ["b=0.5,2", "hydra.sweeper.validate=sweeper_app.app.validate_by_building"], tmp_path)
    assert info.value.code == 2
    assert "\n  job 1 [b=2]: b=2 is invalid: allowed a number in (0, 1)\n" in capsys.readouterr().err


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_hydra_full_error_raises_the_validation_error_with_its_cause(hydra_sweep_runner, tmp_path, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(SweepValidationError) as info:
        sweep(hydra_sweep_runner, ["b=0.5,2"], tmp_path)
    assert [job.index for job in info.value.invalid] == [1] and isinstance(info.value.__cause__, ConfigError)


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_job_hydra_cannot_compose_fails_the_hydra_way_naming_every_such_job(hydra_sweep_runner, tmp_path):
    # Raised (as BasicSweeper raises it), so an in-process caller catches an Exception, not SystemExit.
    with pytest.raises(SweepValidationError, match=r"2 of 2 jobs are invalid") as info:
        sweep(hydra_sweep_runner, ["nokey=1,2"], tmp_path)
    assert "job 1 [nokey=2]: Could not override 'nokey'" in str(info.value)
    assert not any(tmp_path.iterdir())


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_validator_that_crashes_is_a_bug_raised_not_a_config_error(hydra_sweep_runner, tmp_path):
    with pytest.raises(
        SweepValidationError, match=r"job 0 \[a=1\]: ConfigAttributeError: Key 'd' is not in struct"
    ) as info:
        sweep(hydra_sweep_runner, ["a=1,2", "hydra.sweeper.validate=sweeper_app.app.broken_validate"], tmp_path)
    assert not info.value.only_rejected and not any(tmp_path.iterdir())


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_dry_run_lists_every_job_with_the_validators_summary_and_runs_nothing(hydra_sweep_runner, tmp_path, capsys):
    returns, ran, entries = sweep(hydra_sweep_runner, ["experiment=grid", "dry_run=true"], tmp_path)
    out = capsys.readouterr().out
    assert returns == [] and ran == []
    assert "6 job(s):" in out and "  [5] a=2 b=0.3 experiment=grid\n       a=2, b=0.3, c=x\n" in out
    assert f"-> {tmp_path}/5" in out and entries == {}


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_manifest_only_writes_every_job_and_runs_none(hydra_sweep_runner, tmp_path):
    returns, ran, entries = sweep(
        hydra_sweep_runner, ["experiment=grid", "c=with space", "hydra.sweeper.manifest_only=true"], tmp_path
    )
    assert returns == [] and ran == []
    lines = entries["jobs.txt"].splitlines()
    # Shell-quoted lines of Hydra overrides (a space stays escaped for Hydra's parser).
    assert [shlex.split(line) for line in lines] == [
        [f"a={a}", f"b={b}", "experiment=grid", "c=with\\ space"] for a in (1, 2) for b in ("0.1", "0.2", "0.3")
    ]
    assert None not in entries.values(), "no job directory"


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_a_failing_job_does_not_stop_the_others_and_is_reported_at_the_end(hydra_sweep_runner, tmp_path):
    def task(cfg):
        if cfg.a == 2:
            raise RuntimeError("boom")
        return cfg.a

    with pytest.raises(SweepFailures, match=r"1 of 3 jobs failed \(the others completed\)") as info:
        sweep(hydra_sweep_runner, ["a=2,1,0", "hydra.sweeper.max_batch_size=1"], tmp_path, task=task)
    assert "job 0 [a=2]" in str(info.value)
    assert {p.name for p in tmp_path.iterdir() if p.is_dir()} == {"0", "1", "2"}


@pytest.mark.usefixtures("hydra_restore_singletons")
@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["hydra.sweeper.validate=sweeper_app.nowhere.validate"],
            "hydra.sweeper.validate=sweeper_app.nowhere.validate is invalid",
        ),
        (["a=interval(1,2)"], r"a=interval\(1,2\): only lists and ranges can be swept"),
    ],
)
def test_a_sweep_it_cannot_plan_is_refused_with_the_setting_named(hydra_sweep_runner, tmp_path, overrides, message):
    with pytest.raises(SweepError, match=message):
        sweep(hydra_sweep_runner, overrides, tmp_path)


def run_app(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "sweeper_app.app", "-m", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS,
        env={**os.environ, **env},
    )


def test_the_command_line_reports_config_errors_in_one_line_each_with_exit_status_2(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_app("a=1,3", "b=0.5,2", f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: 3 of 4 jobs are invalid; nothing was launched:",
        "  job 1 [a=1 b=2]: b=2 is invalid: allowed a number in (0, 1)",
        "  job 2 [a=3 b=0.5]: a=3 is invalid: allowed an integer <= 2",
        "  job 3 [a=3 b=2]: b=2 is invalid: allowed a number in (0, 1)",
    ]
    assert "ran" not in result.stdout and not sweep_dir.exists()
    full = run_app("a=1,3", f"hydra.sweep.dir={sweep_dir}", HYDRA_FULL_ERROR="1")
    assert full.returncode not in (0, 2) and "Traceback" in full.stderr and "SweepValidationError" in full.stderr


def test_the_planning_module_knows_no_diffcomp_config():
    code = "import sys, diffcomp.sweeps.plan; print(sorted(m for m in sys.modules if m.startswith(('diffcomp.data', 'diffcomp.config.validation', 'torch'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
