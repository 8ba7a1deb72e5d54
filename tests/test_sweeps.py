"""Sweeps through hydra-submitit-launcher (local processes), the SLURM launcher's config, the
manifest for ``slurm/array.sbatch``, and kill-and-resume with the signal SLURM/submitit send."""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from support import TINY, compose_config, run_diffcomp

from diffcomp.tasks import run_job

REPO = Path(__file__).resolve().parent.parent


def job_env() -> dict:
    """One thread per job process: 2 shared cores and parallel jobs thrash otherwise."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}


def run_cli(*args, timeout=300, **kwargs):
    return run_diffcomp(*args, env_extra={"OMP_NUM_THREADS": "1"}, timeout=timeout, **kwargs)


def records(sweep_dir: Path) -> dict[str, dict]:
    """Job records by the job's last override (the swept one)."""
    found = {}
    for path in sweep_dir.glob("*/results.json"):
        record = json.loads(path.read_text())
        found[record["overrides"][-1]] = record
    return found


def test_slurm_launcher_composes_where_and_what_separately():
    cfg = compose_config(["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    # Our launcher is hydra-submitit-launcher's SLURM launcher, able to detach; waiting stays the default.
    # (compared by name: Hydra's plugin discovery may import the plugin modules a second time)
    from hydra.utils import get_class

    bases = [f"{c.__module__}.{c.__qualname__}" for c in get_class(launcher._target_).__mro__]
    assert "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in bases
    assert launcher.detach is False
    assert launcher.setup[0] == "unset CUDA_VISIBLE_DEVICES"
    assert launcher.gpus_per_node == 1 and launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0
    other = compose_config(
        [
            "hydra/launcher=slurm",
            "hydra/launcher/cluster@hydra.launcher=localhost",
            "hydra/launcher/resources@hydra.launcher=cpu",
        ],
        return_hydra_config=True,
    )
    assert other.hydra.launcher.partition == "debug" and other.hydra.launcher.gpus_per_node is None
    assert other.hydra.overrides.task == []  # hydra overrides: no effect on output dir names or config hashes
    local = compose_config(["hydra/launcher=local"], return_hydra_config=True).hydra.launcher
    assert local._target_.endswith("submitit_launcher.LocalLauncher") and local.gpus_per_node == 0


def test_every_job_is_validated_before_any_is_submitted_to_slurm(tmp_path):
    # No cluster needed: the sweeper refuses before the launcher submits anything.
    result = run_cli("-m", "hydra/launcher=slurm", "data.sigma=0.5,-1", "lambda=0.5", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2, result.stderr
    assert "1 of 2 jobs are invalid; nothing was launched" in result.stderr
    assert not (tmp_path / ".submitit").exists() and not (tmp_path / "jobs.txt").exists()


def test_manifest_lines_run_by_array_sbatch_land_in_the_sweeps_own_directories(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("-m", *TINY, "data.sigma=0.5,1.0", f"hydra.sweep.dir={sweep}", "hydra.sweeper.manifest_only=true")
    assert result.returncode == 0, result.stderr
    assert "sbatch --array=0-1 slurm/array.sbatch" in result.stdout
    plans = json.loads((sweep / "jobs.json").read_text())
    lines = (sweep / "jobs.txt").read_text().splitlines()
    assert [shlex.split(line) for line in lines] == [plan["overrides"] for plan in plans]
    assert not [p for p in sweep.iterdir() if p.is_dir()], "manifest_only launches nothing"
    # Run the script outside SLURM with a stand-in python that dry-runs the job and says where it writes.
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} "$@" dry_run=true\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**job_env(), "SLURM_ARRAY_TASK_ID": "1", "SLURM_SUBMIT_DIR": str(REPO), "DIFFCOMP_PYTHON": str(fake)}
    ran = subprocess.run(
        ["bash", str(REPO / "slurm" / "array.sbatch"), str(sweep)], capture_output=True, text=True, timeout=120, env=env
    )
    assert ran.returncode == 0, ran.stderr
    assert f"-> {plans[1]['output_dir']}\n" in ran.stdout


def test_local_launcher_runs_the_others_past_a_failing_job_and_a_rerun_redoes_only_it(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=local", *TINY, "train.lr=0.001,0.003,1e30", f"hydra.sweep.dir={sweep}"]
    first = run_cli(*args)
    assert first.returncode != 0 and "1 of 3 jobs failed (the others completed)" in first.stderr
    done = records(sweep)
    assert {k: r["status"] for k, r in done.items()} == {
        "train.lr=0.001": "complete",
        "train.lr=0.003": "complete",
        "train.lr=1e+30": "failed",
    }
    assert "Diverged" in done["train.lr=1e+30"]["error"]
    assert len((sweep / "aggregate" / "results.csv").read_text().splitlines()) == 4  # the sweep ended with its table
    time.sleep(1)  # records carry second-resolution times
    second = run_cli(*args)
    assert second.returncode != 0
    again = records(sweep)
    for key in ("train.lr=0.001", "train.lr=0.003"):
        assert again[key]["started"] == done[key]["started"], "a complete job is skipped"
    assert again["train.lr=1e+30"]["started"] != done["train.lr=1e+30"]["started"], "a failed job is redone"
    assert len([p for p in (sweep / ".submitit").iterdir() if "_" in p.name or p.name.isdigit()]) >= 6


LOCAL_SCORES_TINY = [
    "experiment=local_scores",
    "data.train_scenes=64",
    "data.samples_per_count=1",
    "train.batch_size=16",
    "eval.batch_size=32",
    "train.warmup_steps=1",
    "diffusion.timesteps=50",
    "eval.steps=2",
    "model.width=8",
    "model.depth=1",
    "model.encoding_dim=8",
    "eval.callback.direction_samples=2",
    "eval.callback.direction_t=40",
    "eval.callback.locality_requests=0",
    "logger=csv",
    "trainer.enable_progress_bar=false",
]


@pytest.mark.parametrize("job_args", [[*TINY, "train.batch_size=4"], LOCAL_SCORES_TINY], ids=["bumps", "local_scores"])
def test_training_stopped_by_the_requeue_signal_resumes_to_the_configured_steps(tmp_path, job_args):
    """The kill SLURM/submitit deliver (USR2 before the time limit): save, stop; a rerun resumes.
    Every diffusion job (bumps, local-scores scenes) goes through the one training path, so both do."""
    out = tmp_path / "run"
    args = [*job_args, "train.steps=80"]
    job = subprocess.Popen(
        [sys.executable, "-m", "diffcomp.run", *args, f"hydra.run.dir={out}"],
        cwd=REPO,
        env=job_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and job.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGUSR2)
    log, _ = job.communicate(timeout=120)
    assert job.returncode == 128 + signal.SIGUSR2, log[-3000:]
    assert "received SIGUSR2" in log
    stopped = json.loads((out / "results.json").read_text())
    assert stopped["status"] == "interrupted" and "Preempted" in stopped["error"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in job_env(): more threads than free cores slows tiny models tenfold
    try:
        record = run_job(compose_config(args), out_dir=out)  # the requeued run (in-process: one start-up less)
    finally:
        torch.set_num_threads(threads)
    assert record["status"] == "complete"
    assert record["timings"]["train_steps"] == 80
    assert 0 < record["resumed_from"]["step"] < 80
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL, "the handler is restored after training"


def test_a_job_the_launcher_lost_is_judged_by_its_record(tmp_path):
    """A crashed task has no return value: its record (or the lack of one) decides."""
    from diffcomp.results import write_json_atomic
    from diffcomp.sweeps.plan import JobPlan, SweepFailures, report_failures

    plans = [JobPlan(0, ["lambda=0.5"], str(tmp_path / "a")), JobPlan(1, ["lambda=1.0"], str(tmp_path / "b"))]
    write_json_atomic(tmp_path / "a" / "results.json", {"status": "complete"})
    with pytest.raises(SweepFailures, match="1 of 2 jobs failed") as info:
        report_failures(plans, [None, None])
    assert "lambda=1.0" in str(info.value) and "lambda=0.5" not in str(info.value)
