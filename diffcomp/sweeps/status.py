"""How a sweep stands: each job's record beside its SLURM state, and how to finish the sweep.

A sweep directory holds the plan (``jobs.json``: every job's index, overrides and output directory,
written before anything is launched), each job's ``results.json`` and, for SLURM launches,
``slurm.json`` (the array's job ids). A job is

* ``complete``, ``failed`` (with its error line) or ``interrupted`` (stopped by a signal, resumable):
  what its record says;
* ``running``: its record says so and a live process owns the job (:mod:`diffcomp.ownership`), or
  SLURM still runs it;
* ``interrupted`` too when its record says running but no process owns the job any more (killed
  before it could write, e.g. ``kill -9``: the lock is free, or its owner's pid is dead on this host);
* ``lost``: its record says running, nothing owns it and SLURM no longer runs it (e.g. ``scancel``
  after the grace time): resumable from its last checkpoint, like an interrupted job;
* ``unreadable``: its record exists but cannot be read (truncated, edited by hand);
* ``pending`` or ``not started``: no record yet, queued in SLURM or not.

The command that finishes the sweep resubmits exactly the jobs that are not complete (failed,
interrupted, lost, unreadable, not started) as array tasks of ``slurm/array.sbatch`` over the sweep's own
``jobs.txt``: task ``i`` runs job ``i`` in its own directory, so complete jobs are left alone and
interrupted ones resume.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from diffcomp.ownership import owner_of
from diffcomp.results import Record, UnreadableRecord, load_record_of

STATES = ("complete", "running", "pending", "failed", "interrupted", "lost", "unreadable", "not started")
SLURM_RECORD = "slurm.json"
ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED")


@dataclass
class JobState:
    index: int
    overrides: list[str]
    output_dir: str
    state: str
    error: str | None = None
    slurm: str | None = None  # the SLURM state when one is known (PENDING, RUNNING, ...)
    task: str | None = None  # the SLURM task id (<array>_<index>)


@dataclass
class SweepStatus:
    sweep_dir: Path
    jobs: list[JobState]
    launcher: dict = field(default_factory=dict)  # the sweep's SLURM launcher config (resources for resubmission)
    command_overrides: list[str] = field(default_factory=list)  # the sweep's own command-line overrides

    def counts(self) -> dict[str, int]:
        counted = Counter(job.state for job in self.jobs)
        return {state: counted[state] for state in STATES if counted[state]}

    def unfinished(self) -> list[JobState]:
        """The jobs a resubmission must run: neither complete nor still running or queued."""
        return [job for job in self.jobs if job.state not in ("complete", "running", "pending")]

    def resubmit_command(self) -> str | None:
        """``sbatch --array=<indices> ... slurm/array.sbatch <sweep dir>``, or None when nothing is left."""
        todo = self.unfinished()
        if not todo:
            return None
        launcher = self.launcher
        if not launcher:  # not a SLURM sweep: the same sweep again, which skips the complete jobs
            return f"python -m diffcomp.run -m {' '.join(self.command_overrides)} hydra.sweep.dir={self.sweep_dir}"
        options = [f"--array={','.join(str(job.index) for job in todo)}"]
        for key, flag in (
            ("partition", "--partition"),
            ("account", "--account"),
            ("qos", "--qos"),
            ("cpus_per_task", "--cpus-per-task"),
        ):
            if launcher.get(key) is not None:
                options.append(f"{flag}={launcher[key]}")
        if launcher.get("mem_gb") is not None:
            options.append(f"--mem={launcher['mem_gb']}G")
        if launcher:
            options.append(f"--gpus-per-node={launcher.get('gpus_per_node') or 0}")
        if launcher.get("timeout_min") is not None:
            options.append(f"--time={int(launcher['timeout_min'])}")
        options.append(f"--output={self.sweep_dir}/.submitit/resubmitted_%A_%a.out")
        return f"sbatch {' '.join(options)} slurm/array.sbatch {self.sweep_dir}"

    def text(self) -> str:
        """The status a researcher reads: counts, every problem with its error, the command to finish."""
        counts = self.counts()
        lines = [f"{self.sweep_dir}: {len(self.jobs)} job(s): " + ", ".join(f"{n} {s}" for s, n in counts.items())]
        for job in self.jobs:
            if job.state == "complete":
                continue
            slurm = f" [SLURM {job.slurm}]" if job.slurm else ""
            lines.append(f"  [{job.index}] {job.state}{slurm}: {' '.join(job.overrides)}")
            if job.error:
                lines.append(f"       {job.error}")
        command = self.resubmit_command()
        if command:
            lines.append(
                f"to finish the {len(self.unfinished())} job(s) left (complete ones are skipped, interrupted ones resume):"
            )
            lines.append(f"  {command}")
        elif counts.get("complete") == len(self.jobs):
            lines.append("every job is complete")
        return "\n".join(lines)


def slurm_states(arrays: list[str]) -> dict[str, str]:
    """``{task id: state}`` of the arrays' tasks that SLURM still knows (``squeue``; ``sacct`` too,
    when the cluster keeps accounting). Empty without SLURM."""
    states: dict[str, str] = {}
    if not arrays:
        return states
    if shutil.which("sacct"):
        done = _run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(arrays)])
        for line in done.splitlines():
            task, _, state = line.partition("|")
            if task and state:
                states[task.strip()] = state.split()[0]
    if shutil.which("squeue"):
        for line in _run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(arrays)]).splitlines():
            parts = line.split()
            if len(parts) == 2:
                states[parts[0]] = parts[1]
    return states


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def sweep_status(sweep_dir: str | Path) -> SweepStatus:
    """The status of every planned job of a sweep (see the module docstring)."""
    sweep_dir = Path(sweep_dir)
    plan_file = sweep_dir / "jobs.json"
    if not plan_file.exists():
        raise FileNotFoundError(f"{sweep_dir} holds no sweep plan (jobs.json): is it a sweep directory?")
    plans = json.loads(plan_file.read_text())
    slurm = _read_json(sweep_dir / SLURM_RECORD)
    tasks = slurm.get("tasks", {})
    states = slurm_states(slurm.get("arrays", []))
    jobs = []
    for plan in plans:
        index, task = int(plan["index"]), tasks.get(str(plan["index"]))
        slurm_state = states.get(task) if task else None
        state, error = _job_state(Path(plan["output_dir"]), slurm_state in ACTIVE, task is not None)
        jobs.append(JobState(index, list(plan["overrides"]), plan["output_dir"], state, error, slurm_state, task))
    return SweepStatus(sweep_dir, jobs, *_launch_of(sweep_dir))


def _job_state(out_dir: Path, slurm_alive: bool, on_slurm: bool) -> tuple[str, str | None]:
    """A job's state and the error line status prints for it (see the module docstring)."""
    try:
        record = load_record_of(out_dir) or Record({})
    except UnreadableRecord as error:
        return "unreadable", f"{error} (a rerun redoes the job)"
    status = record.status
    if status in ("complete", "failed", "interrupted"):
        return status, record.error if status != "complete" else None
    if status != "running":
        return ("pending" if slurm_alive else "not started"), None
    if slurm_alive or owner_of(out_dir) is not None:
        return "running", None
    if on_slurm:
        return "lost", "its record says running but SLURM no longer runs it (killed before it could write)"
    writer = f" ({record.get('host')}:{record.get('pid')})" if record.get("host") and record.get("pid") else ""
    return "interrupted", f"its record says running but its process{writer} is gone (killed before it could write)"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _launch_of(sweep_dir: Path) -> tuple[dict, list[str]]:
    """The SLURM launcher's config of a sweep (empty for other launchers) and its command-line overrides."""
    saved = sweep_dir / "multirun.yaml"
    if not saved.exists():
        return {}, []
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(saved)
    overrides = [
        str(o)
        for o in (OmegaConf.select(cfg, "hydra.overrides.task") or [])
        if not str(o).startswith("hydra.sweep.dir=")
    ]
    launcher = OmegaConf.select(cfg, "hydra.launcher")
    if launcher is None or "Slurm" not in str(launcher.get("_target_", "")):
        return {}, overrides
    return OmegaConf.to_container(launcher, resolve=False), overrides
