"""``hydra/launcher=parallel``: how many jobs run at once, option checks, the pool, and a real sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from support import TINY, compose_config, run_diffcomp

from hydra_plugins.diffcomp_launcher import parallel_launcher
from hydra_plugins.diffcomp_launcher.parallel_launcher import ParallelLauncher, job_slots

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("cores", "threads", "jobs", "expected"),
    [(2, 1, None, 2), (2, 2, None, 1), (16, 3, None, 5), (16, 1, 3, 3), (1, 1, None, 1), (16, 16, None, 1)],
)
def test_jobs_at_once_fill_the_cores_without_oversubscribing(cores, threads, jobs, expected):
    assert job_slots(threads, jobs, cores=cores) == expected
    assert expected * threads <= cores


@pytest.mark.parametrize(
    ("threads", "jobs", "field", "allowed"),
    [
        (0, None, "hydra.launcher.threads_per_job=0", "allowed an integer 1..2"),
        (3, None, "hydra.launcher.threads_per_job=3", "allowed an integer 1..2"),
        ("two", None, "hydra.launcher.threads_per_job=two", "allowed an integer 1..2"),
        (1.5, None, "hydra.launcher.threads_per_job=1.5", "allowed an integer 1..2"),
        (1, 0, "hydra.launcher.jobs=0", "allowed null (= 2) or an integer 1..2"),
        (1, 3, "hydra.launcher.jobs=3", "allowed null (= 2) or an integer 1..2"),
        (2, 2, "hydra.launcher.jobs=2", "allowed null (= 1) or an integer 1..1"),
        (1, True, "hydra.launcher.jobs=True", "allowed null"),
    ],
)
def test_a_bad_option_names_the_field_and_what_is_allowed(threads, jobs, field, allowed):
    with pytest.raises(ValueError) as info:
        job_slots(threads, jobs, cores=2)
    assert str(info.value).startswith(f"{field} is invalid: {allowed}")


def test_the_profile_composes_to_the_pool_launcher():
    launcher = compose_config(["hydra/launcher=parallel"], return_hydra_config=True).hydra.launcher
    assert launcher._target_ == "hydra_plugins.diffcomp_launcher.parallel_launcher.ParallelLauncher"
    assert launcher.threads_per_job == 1 and launcher.jobs is None and launcher.gpus_per_node == 0
    assert launcher.submitit_folder.endswith("/.submitit/%j")


class FakeJob:
    """A submitted job that ends after ``polls`` looks at it; ``fail``: it ends without a result."""

    def __init__(self, idx: int, polls: int, fail: bool, log: list):
        self.idx, self.polls, self.fail, self.log = idx, polls, fail, log
        self.job_id = str(1000 + idx)
        self.cancelled = False

    def done(self) -> bool:
        self.polls -= 1
        if self.polls < 0 and ("end", self.idx) not in self.log:
            self.log.append(("end", self.idx))
        return self.polls < 0 or self.cancelled

    def results(self):
        if self.fail:
            raise RuntimeError("the process died")
        return [f"return of {self.idx}"]

    def cancel(self, check: bool = True) -> None:
        self.cancelled = True


def fake_launcher(monkeypatch, tmp_path, polls: list[int], fail=(), jobs=2, interrupt_after=None):
    """A launcher whose jobs are FakeJobs: the pool loop alone, without processes."""
    monkeypatch.setattr(parallel_launcher, "usable_cores", lambda: 2)
    launcher = ParallelLauncher(threads_per_job=1, jobs=jobs, submitit_folder=str(tmp_path / "%j"))
    launcher.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    log, made = [], []
    sleeps = [0]

    def submit(executor, overrides, idx, state):
        log.append(("start", idx))
        made.append(FakeJob(idx, polls[len(made)], len(made) in fail, log))
        return made[-1]

    def sleep(_):
        sleeps[0] += 1
        if interrupt_after is not None and sleeps[0] >= interrupt_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(launcher, "_executor", lambda: None)
    monkeypatch.setattr(launcher, "_submit", submit)
    monkeypatch.setattr(parallel_launcher.time, "sleep", sleep)
    return launcher, log, made


def test_the_pool_starts_the_next_job_as_soon_as_one_ends(monkeypatch, tmp_path):
    # Job 0 is slow: jobs 2 and 3 start on the core job 1 frees, while job 0 still runs (not batch by batch).
    launcher, log, _ = fake_launcher(monkeypatch, tmp_path, polls=[10, 1, 1, 1])
    returns = launcher.launch([["a=0"], ["a=1"], ["a=2"], ["a=3"]], initial_job_idx=0)
    assert returns == ["return of 0", "return of 1", "return of 2", "return of 3"]
    assert log.index(("start", 2)) < log.index(("end", 0)) and log.index(("start", 3)) < log.index(("end", 0))
    running = 0
    for event, _ in log:
        running += 1 if event == "start" else -1
        assert running <= 2


def test_a_job_that_dies_leaves_the_others_running(monkeypatch, tmp_path):
    launcher, log, _ = fake_launcher(monkeypatch, tmp_path, polls=[1, 3, 1], fail={0})
    returns = launcher.launch([["a=0"], ["a=1"], ["a=2"]], initial_job_idx=5)
    assert returns == [None, "return of 6", "return of 7"]  # None: the sweeper judges job 0 by its record


def test_ctrl_c_stops_the_running_jobs_and_starts_no_more(monkeypatch, tmp_path):
    launcher, log, made = fake_launcher(monkeypatch, tmp_path, polls=[50, 50, 1], interrupt_after=3)
    with pytest.raises(KeyboardInterrupt):
        launcher.launch([["a=0"], ["a=1"], ["a=2"]], initial_job_idx=0)
    assert [j.idx for j in made] == [0, 1] and all(j.cancelled for j in made)


# --- a real sweep -------------------------------------------------------------------------------------


def cli(*args, env_extra=None, timeout=600):
    return run_diffcomp(*args, env_extra=env_extra, timeout=timeout)


def test_a_bad_option_stops_the_launch_before_anything_runs(tmp_path):
    sweep = tmp_path / "sweep"
    ran = cli(
        "-m",
        "hydra/launcher=parallel",
        "hydra.launcher.threads_per_job=0",
        "lambda=0.5,1.0",
        f"hydra.sweep.dir={sweep}",
    )
    assert ran.returncode == 2, ran.stderr[-2000:]
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "hydra.launcher.threads_per_job=0 is invalid: allowed an integer 1.." in errors[0]
    assert "Traceback" not in ran.stderr and not sweep.exists()


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def most_at_once(intervals) -> int:
    """The largest number of [start, end] intervals that overlap (touching ends do not)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@pytest.mark.skipif(parallel_launcher.usable_cores() < 2, reason="two jobs at once need two cores")
def test_a_sweep_runs_two_jobs_at_once_with_one_thread_each_and_a_failure_stays_alone(tmp_path):
    sweep = tmp_path / "sweep"
    good = "train.lr=0.001,0.002,0.003"
    base = [
        "-m",
        "hydra/launcher=parallel",
        "hydra.launcher.jobs=2",
        *TINY,
        "train.steps=30",
        f"hydra.sweep.dir={sweep}",
    ]
    # The launch's own environment says 2 threads: each job must get threads_per_job (1) all the same.
    first = cli(*base, "train.lr=1e30,0.001,0.002,0.003", env_extra={"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"})
    assert first.returncode != 0 and "1 of 4 jobs failed (the others completed)" in first.stderr, first.stderr[-3000:]
    assert "4 job(s), 2 at a time with 1 thread(s) each" in first.stdout + first.stderr
    records = {}
    for path in sweep.glob("*/results.json"):
        record = json.loads(path.read_text())
        records[record["overrides"][-1]] = record
    assert {k: r["status"] for k, r in records.items()} == {
        "train.lr=1e+30": "failed",
        "train.lr=0.001": "complete",
        "train.lr=0.002": "complete",
        "train.lr=0.003": "complete",
    }
    assert "Diverged" in records["train.lr=1e+30"]["error"]
    for key in ("train.lr=0.001", "train.lr=0.002", "train.lr=0.003"):
        assert records[key]["device"] == "cpu (1 threads)", records[key]["device"]
    spans = [(_time(r["started"]), _time(r["finished"])) for r in records.values()]
    assert most_at_once(spans) == 2, spans
    assert len((sweep / "aggregate" / "results.csv").read_text().splitlines()) == 5  # the sweep ended with its table
    # A second launch of the finished jobs skips every one of them.
    second = cli(*base, good)
    assert second.returncode == 0, second.stderr[-3000:]
    for path in sweep.glob("*/results.json"):
        record, before = json.loads(path.read_text()), records[json.loads(path.read_text())["overrides"][-1]]
        if before["status"] == "complete":
            assert (record["started"], record["finished"]) == (before["started"], before["finished"]), "skipped"
    logs = [p.read_text() for p in (sweep / ".submitit").glob("*/*_log.out")]
    assert sum("already complete" in log for log in logs) == 3  # the jobs' own output is in their submitit logs


@pytest.mark.skipif(parallel_launcher.usable_cores() < 2, reason="two jobs at once need two cores")
def test_ctrl_c_leaves_each_running_job_a_resumable_record_and_no_process(tmp_path):
    """Ctrl-C in the terminal (SIGINT to the launch's process group): each running job records itself
    interrupted beside its last.ckpt, the waiting job never starts, and no job process outlives the launch."""
    import signal
    import time

    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=parallel", "hydra.launcher.jobs=2", *TINY, "train.steps=5000"]
    launch = subprocess.Popen(
        [sys.executable, "-m", "diffcomp.run", *args, "train.lr=0.001,0.002,0.003", f"hydra.sweep.dir={sweep}"],
        cwd=REPO,
        env={**os.environ, "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while len(list(sweep.glob("*/checkpoints/last.ckpt"))) < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert len(list(sweep.glob("*/checkpoints/last.ckpt"))) == 2, "two jobs train at once"
        os.killpg(launch.pid, signal.SIGINT)
        launch.wait(timeout=60)
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
    records = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    assert [r["status"] for r in records] == ["interrupted", "interrupted"]
    time.sleep(2)  # the jobs' processes are reaped by now
    left = subprocess.run(["pgrep", "-s", str(launch.pid)], capture_output=True, text=True).stdout.split()
    assert not left, f"processes left running: {left}"
