"""Real SLURM runs (``pytest -m slurm``): start a cluster first with ``slurm/local-cluster.sh``.

Skipped when ``sinfo`` is missing or the cluster is down, except under CI (``CI=true``), where
``.ci/run`` starts the cluster and a cluster that is not there is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from support import TINY

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def job_env() -> dict:
    """sbatch exports this environment to the jobs: one thread each on the shared cores."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def partition() -> str:
    """The default partition of a responding cluster with an idle or mixed node."""
    problem = None
    if shutil.which("sinfo") is None:
        problem = "sinfo not found (install slurm-wlm; start slurm/local-cluster.sh)"
    else:
        try:
            info = subprocess.run(["sinfo", "-h", "-o", "%P %a %T"], capture_output=True, text=True, timeout=20)
            answer = info.stderr.strip() or info.stdout.strip()
            rows = [line.split() for line in info.stdout.splitlines() if line.strip()] if info.returncode == 0 else []
        except subprocess.TimeoutExpired:
            answer, rows = "sinfo got no answer in 20 s", []
        usable = [
            r for r in rows if len(r) == 3 and r[1] == "up" and r[2].rstrip("*~#").startswith(("idle", "mix", "alloc"))
        ]
        if not usable:
            problem = f"the SLURM cluster is down or has no usable node ({answer}); start slurm/local-cluster.sh"
        else:
            default = [r for r in usable if r[0].endswith("*")] or usable
            return default[0][0].rstrip("*")
    if IN_CI:
        pytest.fail(f"CI must run the SLURM tests: {problem}")
    pytest.skip(problem)


def launcher_overrides(partition: str) -> list[str]:
    return [
        "hydra/launcher=slurm",
        "hydra/launcher/resources@hydra.launcher=cpu",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=2",
        "hydra.launcher.timeout_min=20",
    ]


def test_a_sweep_is_one_array_job_and_every_record_arrives(partition, tmp_path):
    sweep = tmp_path / "sweep"
    started = time.time()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            "-m",
            *launcher_overrides(partition),
            *TINY,
            "data.sigma=0.5,1.0",
            "lambda=0.5,1.0",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env=job_env(),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    submitted = [p for p in (sweep / ".submitit").iterdir() if p.is_dir() and p.name != "%j"]
    array_ids = {p.name.split("_")[0] for p in submitted}
    assert len(array_ids) == 1, f"one array job expected, got {sorted(p.name for p in submitted)}"
    script = next((sweep / ".submitit").glob("*/*_submission.sh")).read_text()
    assert (
        "#SBATCH --array=0-3" in script
        and "#SBATCH --signal=USR2@" in script
        and "unset CUDA_VISIBLE_DEVICES" in script
    )
    plans = json.loads((sweep / "jobs.json").read_text())
    for plan in plans:
        record = json.loads((Path(plan["output_dir"]) / "results.json").read_text())
        assert record["status"] == "complete", plan["output_dir"]
        assert record["timings"]["train_steps"] > 0
    table = pd.read_csv(sweep / "aggregate" / "results.csv")  # written by the sweep's aggregate callback
    assert len(table) == 4 and set(table["status"]) == {"complete"}
    assert sorted(zip(table["data.sigma"], table["lambda"])) == [(0.5, 0.5), (0.5, 1.0), (1.0, 0.5), (1.0, 1.0)]
    print(f"4-job SLURM sweep took {time.time() - started:.0f} s")


def test_a_preempted_task_is_requeued_by_submitit_and_resumes(partition, tmp_path):
    """USR2 (what SLURM sends before the time limit or on preemption) to the running task: submitit
    requeues it, training resumes from last.ckpt and ends at the configured step count."""
    sweep = tmp_path / "sweep"
    # 800 steps of 4 images: long enough (tens of seconds) that the signal lands
    # while the task trains, however fast the machine
    args = [*TINY, "train.steps=800", "train.batch_size=4"]
    launch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            "-m",
            *launcher_overrides(partition),
            *args,
            "lambda=1.0",
            f"hydra.sweep.dir={sweep}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=job_env(),
    )
    try:
        deadline = time.time() + 300
        while not list(sweep.glob("*/checkpoints/last.ckpt")) and launch.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        task = next(
            p.name for p in (sweep / ".submitit").iterdir() if p.is_dir() and re.fullmatch(r"\d+(_\d+)?", p.name)
        )  # one job: no array
        if launch.poll() is not None:
            pytest.fail("the sweep ended before it could be signalled:\n" + launch.communicate()[0][-4000:])
        subprocess.run(["scancel", "--signal=USR2", task], check=True, timeout=30)
        output, _ = launch.communicate(timeout=600)
    finally:
        if launch.poll() is None:  # leave no launcher or job behind
            launch.kill()
            for job in (sweep / ".submitit").iterdir():
                if re.fullmatch(r"\d+(_\d+)?", job.name):
                    subprocess.run(["scancel", job.name], timeout=30)
    assert launch.returncode == 0, output[-4000:]
    record = json.loads(next(sweep.glob("*/results.json")).read_text())
    assert record["status"] == "complete"
    assert record["timings"]["train_steps"] == 800
    assert record["resumed_from"] and 0 < record["resumed_from"]["step"] < 800
    log = "".join(p.read_text() for p in (sweep / ".submitit").glob(f"{task}/*_log.*"))
    assert "Requeued" in log or "requeue" in log.lower()


def test_array_sbatch_runs_manifest_lines_into_the_sweeps_directories(partition, tmp_path):
    sweep = tmp_path / "sweep"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            "-m",
            *TINY,
            "lambda=0.5,1.0",
            f"hydra.sweep.dir={sweep}",
            "hydra.sweeper.manifest_only=true",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=job_env(),
    )
    assert made.returncode == 0, made.stderr[-3000:]
    ran = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--array=0-1",
            f"--partition={partition}",
            "--gpus-per-node=0",
            "--cpus-per-task=1",
            "--mem=2G",
            f"--output={sweep}/slurm-%A_%a.out",
            "slurm/array.sbatch",
            str(sweep),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env=job_env(),
    )
    assert ran.returncode == 0, ran.stderr + "".join(p.read_text()[-2000:] for p in sweep.glob("slurm-*.out"))
    for plan in json.loads((sweep / "jobs.json").read_text()):
        assert json.loads((Path(plan["output_dir"]) / "results.json").read_text())["status"] == "complete"


def launch_detached(partition: str, sweep: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.time()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcomp.run",
            "-m",
            *launcher_overrides(partition),
            "hydra.launcher.detach=true",
            *args,
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=job_env(),
    )
    return done, time.time() - started


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)


def cancel_all(sweep: Path) -> None:
    record = json.loads((sweep / "slurm.json").read_text()) if (sweep / "slurm.json").exists() else {}
    for job in [*record.get("arrays", []), record.get("aggregate")]:
        if job:
            subprocess.run(["scancel", str(job)], timeout=30)


def test_a_detached_sweep_returns_at_once_and_a_dependent_job_aggregates_it(partition, tmp_path):
    from diffcomp.sweeps.status import sweep_status

    sweep = tmp_path / "sweep"
    try:
        done, seconds = launch_detached(partition, sweep, *TINY, "lambda=0.5,1.0")
        assert done.returncode == 0, done.stderr[-3000:]
        print(f"detached submission returned in {seconds:.1f} s")
        assert seconds < 90 and "python -m diffcomp.status" in done.stdout  # no waiting for the 2 jobs
        submitted = json.loads((sweep / "slurm.json").read_text())
        assert submitted["detached"] and len(submitted["arrays"]) == 1 and submitted["aggregate"]
        assert not (sweep / "aggregate").exists()  # not aggregated by the launching process
        wait_for(lambda: (sweep / "aggregate" / "results.csv").exists(), 600, "the aggregation job's table")
        table = pd.read_csv(sweep / "aggregate" / "results.csv")
        assert len(table) == 2 and set(table["status"]) == {"complete"}
        assert sweep_status(sweep).counts() == {"complete": 2}
    finally:
        cancel_all(sweep)


def test_status_reports_a_cancelled_job_and_its_resubmit_command_finishes_it(partition, tmp_path):
    from diffcomp.sweeps.status import sweep_status

    sweep = tmp_path / "sweep"
    try:
        # two jobs long enough (tens of seconds) to be cancelled while they train
        done, _ = launch_detached(partition, sweep, *TINY, "train.steps=1500", "train.batch_size=4", "lambda=0.5,1.0")
        assert done.returncode == 0, done.stderr[-3000:]
        first = json.loads((sweep / "jobs.json").read_text())[0]
        wait_for(lambda: (Path(first["output_dir"]) / "results.json").exists(), 300, "job 0 to start")
        task = json.loads((sweep / "slurm.json").read_text())["tasks"]["0"]
        subprocess.run(["scancel", task], check=True, timeout=30)
        wait_for(lambda: sweep_status(sweep).jobs[0].state not in ("running", "pending"), 300, "job 0 to stop")
        status = sweep_status(sweep)
        assert status.jobs[0].state in ("interrupted", "lost", "failed"), status.text()
        print(status.text())
        cli = subprocess.run(
            [sys.executable, "-m", "diffcomp.status", str(sweep)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env=job_env(),
        )
        assert cli.returncode == 1 and "sbatch --array=0" in cli.stdout
        wait_for(lambda: sweep_status(sweep).jobs[1].state == "complete", 600, "job 1 to complete")
        command = sweep_status(sweep).resubmit_command()
        assert command.startswith("sbatch --array=0 ") and "slurm/array.sbatch" in command
        resubmitted = subprocess.run(
            [*command.split()[:1], "--wait", *command.split()[1:]],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=REPO,
            env=job_env(),
        )
        assert resubmitted.returncode == 0, resubmitted.stderr
        final = sweep_status(sweep)
        assert final.counts() == {"complete": 2} and final.resubmit_command() is None, final.text()
    finally:
        cancel_all(sweep)
