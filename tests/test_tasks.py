"""Running one job: a task's record and hash hold what the task uses; user errors are one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import compose_config

from diffcomp.results import config_hash
from diffcomp.tasks import scoped_config, validate_job

REPO = Path(__file__).resolve().parent.parent


def digest(overrides):
    return config_hash(scoped_config(compose_config(overrides)))


@pytest.mark.parametrize("task", ["percolation", "identity_mapping"])
def test_a_theory_job_is_not_invalidated_by_a_training_setting(task):
    assert digest([f"task={task}"]) == digest([f"task={task}", "train.lr=1", "data.sigma=3", "model.bottleneck=7"])
    assert digest([f"task={task}"]) != digest(
        [f"task={task}", f"task.{'size=16' if task == 'percolation' else 'lr=0.01'}"]
    )
    assert set(scoped_config(compose_config([f"task={task}"]))) == {"task", "logger"}


def test_a_diffusion_job_is_invalidated_by_what_it_trains_with():
    assert digest([]) != digest(["train.lr=0.1"])
    assert digest([]) != digest(["data.sigma=0.5"])
    assert digest([]) == digest(["trainer.enable_progress_bar=false"])  # how it runs, not what


def test_validation_returns_the_summary_a_dry_run_lists():
    summary = validate_job(compose_config(["data=sos_stripes", "data.size=16"]))
    assert summary["task"] == "diffusion" and summary["data"] == "sos_stripes" and summary["max_steps"] == 2400
    assert {"2d", "rim", "1d", "0d", "images", "held_out_2d_fraction"} <= set(summary)


def run_cli(*args, full_error: bool = False):
    env = {**os.environ, "WANDB_MODE": "disabled"}
    env.pop("HYDRA_FULL_ERROR", None)
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "diffcomp.run", *args, "hydra.run.dir=" + str(REPO / "outputs" / "_test_cli")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_config_error_is_one_line_naming_the_field_with_exit_code_2():
    done = run_cli("data.sigma=-1")
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: data.sigma=-1 is invalid: allowed a finite number > 0"]
    assert "Traceback" not in done.stdout + done.stderr


def test_hydra_full_error_keeps_the_traceback():
    done = run_cli("train.lr=-1", full_error=True)
    assert done.returncode != 0 and "Traceback" in done.stderr and "train.lr=-1 is invalid" in done.stderr


def test_a_job_builds_its_data_spec_once(monkeypatch, tmp_path, tiny_overrides):
    """Validation, the dry-run summary and training share one CanvasSpec and one training set."""
    from diffcomp.data.canvas import CanvasSpec
    from diffcomp.tasks import run_job

    built = []
    original = CanvasSpec.from_options.__func__

    def counting(cls, *args, **kwargs):
        built.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CanvasSpec, "from_options", classmethod(counting))
    cfg = compose_config([*tiny_overrides, "analysis=none"])
    validate_job(cfg)  # what the sweeper does before launching
    run_job(cfg, out_dir=tmp_path)  # the same process then runs the job
    assert len(built) == 1


def test_the_quick_default_console_is_short_and_free_of_warnings(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run(
        [sys.executable, "-m", "diffcomp.run", "scale=smoke", f"hydra.run.dir={tmp_path}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [
        line
        for line in (done.stdout + done.stderr).replace("\r", "\n").splitlines()
        if line.strip() and "training" not in line
    ]
    assert len(lines) <= 8, lines  # the dataset, each evaluation's headline, the outcome and where it is
    assert not [line for line in lines if "warn" in line.lower() or "Traceback" in line], lines
    assert any(line.startswith("dataset bump:") for line in lines) and any(str(tmp_path) in line for line in lines)
