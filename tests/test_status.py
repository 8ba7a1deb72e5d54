"""How a sweep stands: records beside SLURM states, and the command that finishes the sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from diffcomp.results import write_json_atomic
from diffcomp.sweeps import status as status_module
from diffcomp.sweeps.status import sweep_status

SLURM_LAUNCHER = {
    "_target_": "hydra_plugins.diffcomp_launcher.diffcomp_launcher.DiffcompSlurmLauncher",
    "partition": "gpu",
    "cpus_per_task": 8,
    "mem_gb": 32,
    "gpus_per_node": 1,
    "timeout_min": 480,
}


def make_sweep(root: Path, records: dict[int, dict | None], launcher: dict | None, tasks: bool = True) -> Path:
    """A sweep of len(records) planned jobs; records[i] None: the job never wrote one."""
    plans = [
        {"index": i, "overrides": [f"lambda=0.{i + 1}"], "output_dir": str(root / f"lambda=0.{i + 1}")} for i in records
    ]
    (root).mkdir(parents=True, exist_ok=True)
    (root / "jobs.json").write_text(json.dumps(plans))
    for i, record in records.items():
        if record is not None:
            write_json_atomic(Path(plans[i]["output_dir"]) / "results.json", record)
    hydra = {"overrides": {"task": ["lambda=0.1,0.2,0.3,0.4,0.5", "experiment=percolation"]}}
    if launcher:
        hydra["launcher"] = launcher
    OmegaConf.save(OmegaConf.create({"hydra": hydra}), root / "multirun.yaml")
    if tasks:
        write_json_atomic(root / "slurm.json", {"arrays": ["77"], "tasks": {str(i): f"77_{i}" for i in records}})
    return root


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def slurm(monkeypatch):
    states = {}
    monkeypatch.setattr(status_module, "slurm_states", lambda arrays: dict(states))
    return states


def test_each_job_is_read_from_its_record_and_its_slurm_state(tmp_path, slurm):
    slurm.update({"77_1": "RUNNING", "77_4": "PENDING"})
    records = {
        0: {"status": "complete"},
        1: {"status": "running"},
        2: {"status": "running"},  # SLURM no longer runs it: killed before it could write
        3: {"status": "failed", "error": "FloatingPointError: training loss became nan at step 7"},
        4: None,
        5: None,
        6: {"status": "interrupted", "error": "Preempted: stopped by SIGUSR2 at step 40"},
    }
    status = sweep_status(make_sweep(tmp_path / "s", records, SLURM_LAUNCHER))
    assert [job.state for job in status.jobs] == [
        "complete",
        "running",
        "lost",
        "failed",
        "pending",
        "not started",
        "interrupted",
    ]
    assert status.counts() == {
        "complete": 1,
        "running": 1,
        "pending": 1,
        "failed": 1,
        "interrupted": 1,
        "lost": 1,
        "not started": 1,
    }
    text = status.text()
    assert "FloatingPointError: training loss became nan" in text and "[SLURM RUNNING]" in text
    command = status.resubmit_command()
    # exactly the jobs neither complete nor still running or queued, with the sweep's own resources
    assert command.startswith(
        "sbatch --array=2,3,5,6 --partition=gpu --cpus-per-task=8 --mem=32G --gpus-per-node=1 --time=480 "
    )
    assert command.endswith(f"slurm/array.sbatch {tmp_path / 's'}")


def test_a_finished_sweep_needs_no_command(tmp_path, slurm):
    status = sweep_status(
        make_sweep(tmp_path / "s", {0: {"status": "complete"}, 1: {"status": "complete"}}, SLURM_LAUNCHER)
    )
    assert status.resubmit_command() is None and "every job is complete" in status.text()


def test_a_local_sweep_is_finished_by_running_it_again(tmp_path, slurm):
    status = sweep_status(
        make_sweep(
            tmp_path / "s", {0: {"status": "complete"}, 1: {"status": "failed", "error": "x"}}, None, tasks=False
        )
    )
    assert status.jobs[1].state == "failed"
    assert (
        status.resubmit_command()
        == f"python -m diffcomp.run -m lambda=0.1,0.2,0.3,0.4,0.5 experiment=percolation hydra.sweep.dir={tmp_path / 's'}"
    )


def test_the_command_reports_and_exits_nonzero_until_done(tmp_path, slurm, capsys):
    from diffcomp.cli.status import main

    sweep = make_sweep(tmp_path / "s", {0: {"status": "complete"}, 1: None}, SLURM_LAUNCHER)
    assert main([str(sweep)]) == 1 and "1 not started" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nothing")])


def test_the_slurm_launcher_can_detach_and_then_leaves_aggregation_to_the_cluster(tmp_path):
    from support import compose_config

    from diffcomp.sweeps.aggregate import AggregateCallback

    cfg = compose_config(["hydra/launcher=slurm", "hydra.launcher.detach=true"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("DiffcompSlurmLauncher") and cfg.hydra.launcher.detach is True
    assert (
        compose_config(["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher.detach is False
    )  # waits by default
    write_json_atomic(
        tmp_path / "job" / "results.json",
        {"status": "complete", "overrides": ["lambda=1.0"], "metrics": {"eval/acc": 1.0}},
    )
    config = OmegaConf.create(
        {"dry_run": False, "hydra": {"sweep": {"dir": str(tmp_path)}, "launcher": {"detach": True}}}
    )
    AggregateCallback().on_multirun_end(config=config)
    assert not (tmp_path / "aggregate").exists()  # the dependent SLURM job aggregates, not the launching process


def test_a_running_record_is_running_only_while_a_live_process_owns_the_job(tmp_path, slurm):
    """A local job (no SLURM) whose record says running: running while its lock is held, interrupted
    once its owner is gone (lock free, or the named pid dead on this host), and then counted as left."""
    import platform

    from diffcomp.ownership import LOCK_NAME, claim

    sweep = make_sweep(tmp_path / "s", {0: {"status": "running", "host": "h", "pid": 1}}, None, tasks=False)
    job_dir = Path(status_module.sweep_status(sweep).jobs[0].output_dir)
    lock = claim(job_dir)
    try:
        held = sweep_status(sweep)
        assert held.jobs[0].state == "running" and held.unfinished() == []
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        orphaned = {"host": platform.node(), "pid": int(dead.stdout), "started": "x"}
        (job_dir / LOCK_NAME).write_text(json.dumps(orphaned))  # the lock held, but by a pid that has exited
        assert sweep_status(sweep).jobs[0].state == "interrupted"
    finally:
        lock.release()
    freed = sweep_status(sweep)
    assert freed.jobs[0].state == "interrupted" and [job.index for job in freed.unfinished()] == [0]
    assert "h:1" in freed.jobs[0].error and "to finish the 1 job(s) left" in freed.text()


def test_an_unreadable_record_is_named_and_counted_among_the_jobs_left(tmp_path, slurm):
    sweep = make_sweep(tmp_path / "s", {0: {"status": "complete"}, 1: None}, None, tasks=False)
    broken = Path(json.loads((sweep / "jobs.json").read_text())[1]["output_dir"]) / "results.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"status": "compl')  # a half-written record (by hand, or a copy cut short)
    status = sweep_status(sweep)
    assert status.jobs[1].state == "unreadable" and "JSONDecodeError" in status.jobs[1].error
    assert status.counts() == {"complete": 1, "unreadable": 1} and [j.index for j in status.unfinished()] == [1]


def test_a_job_killed_with_sigkill_reads_interrupted_and_is_left_to_finish(tmp_path):
    """A real local sweep killed with kill -9 mid-training: its record still says running, but no
    process owns the job any more, so status says interrupted and counts it among the jobs left."""
    from support import TINY

    sweep = tmp_path / "sweep"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}
    launch = subprocess.Popen(
        [sys.executable, "-m", "diffcomp.run", "-m", *TINY, "train.steps=5000", f"hydra.sweep.dir={sweep}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and launch.poll() is None:
            if (sweep / "jobs.json").exists() and sweep_status(sweep).jobs[0].state == "running":
                break
            time.sleep(0.2)
        running = sweep_status(sweep)
        assert running.jobs[0].state == "running" and running.unfinished() == []
    finally:
        launch.kill()  # SIGKILL: nothing in the process runs, its record stays "running"
        launch.wait(timeout=30)
    killed = sweep_status(sweep)
    record = json.loads((Path(killed.jobs[0].output_dir) / "results.json").read_text())
    assert record["status"] == "running" and record["pid"] == launch.pid
    assert killed.jobs[0].state == "interrupted" and f":{launch.pid}" in killed.jobs[0].error
    assert [job.index for job in killed.unfinished()] == [0] and "to finish the 1 job(s) left" in killed.text()
