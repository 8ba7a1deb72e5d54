"""Config composition, sweep expansion with clean lambda values, dry runs and bad-input messages."""

import re
import subprocess
import sys

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from support import compose_config

from diffcomp.config.errors import ConfigError
from diffcomp.config.paths import CONFIG_DIR
from diffcomp.config.sweep import clean_range
from diffcomp.sweeps.plan import expand_overrides, verdict
from diffcomp.tasks import validate_job


def test_clean_range_has_exact_decimal_values_and_excludes_the_stop():
    assert clean_range(0.1, 1, 0.1) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert clean_range(0.05, 0.2, 0.05) == [0.05, 0.1, 0.15]
    assert clean_range(1, 4) == [1, 2, 3]
    assert clean_range(0.5, 2.0, 0.5) == [0.5, 1.0, 1.5]


def test_the_mission_sweep_expands_to_27_jobs_with_clean_lambda():
    parser = OverridesParser.create()
    jobs = expand_overrides(parser.parse_overrides(["data.sigma=0.1,0.5,1.0", "lambda=range(0.1,1,0.1)"]))
    assert len(jobs) == 27
    lambdas = sorted({job[1] for job in jobs})
    assert lambdas == [f"lambda=0.{k}" for k in range(1, 10)]
    assert {job[0] for job in jobs} == {"data.sigma=0.1", "data.sigma=0.5", "data.sigma=1.0"}


def test_a_later_override_of_a_key_replaces_the_earlier_in_its_place():
    # hydra.sweeper.params come first, then the command line: as in Hydra's BasicSweeper.
    parser = OverridesParser.create()
    jobs = expand_overrides(parser.parse_overrides(["lambda=range(0.1,0.3,0.1)", "data.sigma=0.1,0.5", "lambda=0.5"]))
    assert jobs == [["lambda=0.5", "data.sigma=0.1"], ["lambda=0.5", "data.sigma=0.5"]]


def rejection(overrides) -> ConfigError:
    """The ConfigError that rejects a job, as the sweeper finds it (Hydra's instantiate may wrap it)."""
    with pytest.raises(Exception) as info:
        validate_job(compose_config(overrides))
    error = verdict(info.value)
    assert isinstance(error, ConfigError), info.value
    return error


def listed(stdout: str) -> list[dict]:
    """The summaries of a dry-run listing, as dicts of strings."""
    return [
        dict(kv.split("=", 1) for kv in line.strip().split(", "))
        for line in stdout.splitlines()
        if line.startswith("       ") and "=" in line and "->" not in line
    ]


def test_default_config_composes_to_the_quick_experiment():
    cfg = compose_config()
    assert cfg.task.name == "diffusion" and cfg.data.size == 16 and cfg["lambda"] == 1.0
    validate_job(cfg)


def test_paper_experiment_selects_the_paper_scale():
    cfg = compose_config(["experiment=paper"])
    assert (cfg.data.size, cfg.data.sigma, cfg.data.increment) == (32, 1.0, 0.1)
    assert list(cfg.model.channels) == [64, 128, 256, 256]


@pytest.mark.parametrize(
    "override,field,allowed",
    [
        ("data.sigma=0", "data.sigma", "> 0"),
        ("data.sigma=-1", "data.sigma", "> 0"),
        ("data.sigma_x=-0.5", "data.sigma_x", "> 0"),
        ("lambda=0", "lambda", "(0, 1]"),
        ("lambda=1.5", "lambda", "(0, 1]"),
        ("data.increment=0", "data.increment", "(0, 16]"),
        ("data.increment=-0.1", "data.increment", "(0, 16]"),
        ("data.size=4", "data.size", ">= 8"),
        ("eval.steps=5000", "eval.steps", "[1, diffusion.timesteps=250]"),  # the quick default has T=250
        ("seed=abc", "seed", "an integer in [0, 4294967295]"),
        ("trainer.precision=bogus", "trainer.precision", "bf16-mixed"),
        ("eval.probe_layer=layer4", "eval.probe_layer", "null, auto or one of down1"),
        ("eval.probe_map_size=0", "eval.probe_map_size", "an integer in [1, inf)"),
        ("eval.probe_map_size=16", "eval.probe_map_size", "a side <= 8, the first encoder map at data.size=16"),
    ],
)
def test_bad_input_names_the_field_and_the_allowed_range(override, field, allowed):
    error = rejection([override])
    assert error.field == field
    assert allowed in str(error)


def test_a_lambda_that_leaves_no_image_is_rejected():
    validate_job(compose_config(["data.size=8", "data.increment=4", "lambda=0.25"]))  # 1 of 4 images
    assert re.search(
        r"lambda=0.2 is invalid.*at least one of 4 images",
        str(rejection(["data.size=8", "data.increment=4", "lambda=0.2"])),
    )


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "diffcomp.run", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("arg", ["data=nonexistent", "experiment=nonexistent", "data=bump,nonexistent"])
def test_an_unknown_group_choice_is_one_line_naming_what_exists(arg):
    result = run_cli("-m", arg, "dry_run=true")
    assert result.returncode == 2
    group = arg.split("=")[0]
    assert result.stderr.strip().splitlines() == [
        f"error: {group}=nonexistent: there is no such {group}; allowed: "
        + ", ".join(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")))
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["a_file", "a_file/below"])
def test_an_unusable_sweep_directory_is_one_line_and_launches_nothing(tmp_path, where):
    (tmp_path / "a_file").write_text("not a directory")
    result = run_cli("-m", "train.steps=2", f"hydra.sweep.dir={tmp_path / where}")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: hydra.sweep.dir={tmp_path / where} cannot be used")
    assert "nothing was launched" in lines[0]


def test_dry_run_of_the_mission_sweep_lists_27_jobs_with_clean_values(tmp_path):
    result = run_cli(
        "-m", "data.sigma=0.1,0.5,1.0", "lambda=range(0.1,1,0.1)", "dry_run=true", f"hydra.sweep.dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    assert "27 job(s):" in result.stdout
    assert "0.30000000000000004" not in result.stdout and "0.7000000000000001" not in result.stdout
    assert any(
        {"N": "16", "sigma": "0.5", "d": "1.0", "lambda": "0.3", "images": "76"}.items() <= job.items()
        for job in listed(result.stdout)
    )
    assert f"{tmp_path}/data.sigma=1.0,lambda=0.9" in result.stdout
    assert not any(tmp_path.iterdir()), "a dry run must not create job directories"


def test_an_invalid_job_fails_the_whole_sweep_before_anything_runs(tmp_path):
    result = run_cli("-m", "data.sigma=0.5,-1", "lambda=0.5", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2, result.stderr
    assert "1 of 2 jobs are invalid; nothing was launched" in result.stderr
    assert "job 1 [data.sigma=-1 lambda=0.5]: data.sigma=-1" in result.stderr
    assert not any(tmp_path.iterdir()), "no job directory, no jobs.txt"


def test_a_sweeps_config_errors_are_one_line_per_job_with_exit_status_2(tmp_path):
    result = run_cli("-m", "data.sigma=-1,1,0", "dry_run=true", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: 2 of 3 jobs are invalid; nothing was launched:"
    assert lines[1].startswith("  job 0 [data.sigma=-1]: data.sigma=-1 is invalid") and "allowed" in lines[1]
    assert lines[2].startswith("  job 2 [data.sigma=0]: data.sigma=0 is invalid") and "> 0" in lines[2]
    assert len(lines) == 3 and "job(s):" not in result.stdout


def test_the_sweeper_validates_diffcomp_jobs_through_the_configured_function():
    assert compose_config(return_hydra_config=True).hydra.sweeper.validate == "diffcomp.tasks.validate_job"
    assert isinstance(validate_job(compose_config(["data.sigma=0.5", "lambda=0.5"])), dict)  # the dry-run summary
    assert rejection(["data.sigma=-1"]).field == "data.sigma"  # raised, or the cause of what is raised


def test_single_run_dry_run_prints_the_resolved_job(tmp_path):
    result = run_cli("dry_run=true", "data.sigma=0.5", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr
    assert "1 job(s):" in result.stdout
    assert {"data": "bump", "N": "16", "sigma": "0.5", "d": "1.0", "lambda": "1.0", "images": "256"}.items() <= listed(
        result.stdout
    )[0].items()
    assert not (tmp_path / "run" / "results.json").exists()


def test_long_override_lists_still_give_valid_unique_directory_names():
    from diffcomp.config.resolvers import MAX_DIRNAME, job_dirname

    short = "data.sigma=0.5,lambda=0.3"
    assert job_dirname(short) == short
    long_a = ",".join(f"model.key{i}=value{i}" for i in range(40))
    long_b = long_a.replace("value39", "value40")
    assert len(job_dirname(long_a)) <= MAX_DIRNAME < 255
    assert job_dirname(long_a) != job_dirname(long_b) and job_dirname(long_a) == job_dirname(long_a)
