"""``hydra/launcher=parallel``: a local sweep as a pool of ``cores // threads_per_job`` job processes.

hydra-submitit-launcher's local launcher starts every job of a batch at once, each with as many
threads as the machine has cores: on a laptop the jobs then fight over the cores (two 2-thread
trainings on 2 cores run 10-15 times slower each). This launcher keeps ``jobs`` processes running,
each with ``threads_per_job`` threads (OMP/MKL thread counts set in its environment, which torch
reads at start-up), so jobs x threads never exceeds the cores, and starts the next job as soon as
one ends, so one slow job leaves no core idle. Each job is a submitit local job running the plain
launcher's ``__call__`` (the Hydra job in its own ``hydra.sweep.subdir``, with requeue on time-out);
the sweeper's validation, skip of finished jobs, failure report and the aggregation callback are
untouched. Only the pool loop and the option checks are written here.
"""

import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, filter_overrides

from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher

log = logging.getLogger(__name__)
# The environment variables that size a job's thread pools (torch/OpenMP, MKL, OpenBLAS).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_POOL_ONLY = ("threads_per_job", "jobs")
POLL_S = 0.25
# How long a stopped launch waits for its running jobs to write their records and exit.
STOP_WAIT_S = 60.0
CONFIG_ERROR_EXIT = 2  # as the sweeper's: a bad option is the user's config error


@dataclass
class DiffcompParallelConf(LocalQueueConf):
    _target_: str = "hydra_plugins.diffcomp_launcher.parallel_launcher.ParallelLauncher"
    # Threads of each job process (OMP_NUM_THREADS / MKL_NUM_THREADS in its environment).
    threads_per_job: Any = 1
    # Jobs running at once; null: cores // threads_per_job (at least 1).
    jobs: Any = None


ConfigStore.instance().store(
    group="hydra/launcher", name="diffcomp_parallel", node=DiffcompParallelConf, provider="diffcomp"
)


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask: taskset, cgroups cpusets), else all."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _whole(value: Any) -> int | None:
    """An int given as an int (not a bool, not 1.5, not "2"), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def job_slots(threads_per_job: Any = 1, jobs: Any = None, cores: int | None = None) -> int:
    """How many jobs run at once; ValueError naming the field and its allowed range.

    ``jobs x threads_per_job <= cores`` always: more threads than cores slows every job many times over.
    """
    cores = usable_cores() if cores is None else cores
    threads = _whole(threads_per_job)
    if threads is None or not 1 <= threads <= cores:
        raise ValueError(
            f"hydra.launcher.threads_per_job={threads_per_job} is invalid: allowed an integer 1..{cores} "
            f"(this machine lets the launch use {cores} cores)"
        )
    most = max(1, cores // threads)
    if jobs is None:
        return most
    count = _whole(jobs)
    if count is None or not 1 <= count <= most:
        raise ValueError(
            f"hydra.launcher.jobs={jobs} is invalid: allowed null (= {most}) or an integer 1..{most} "
            f"(cores {cores} // threads_per_job {threads}; more would oversubscribe the cores)"
        )
    return count


class ParallelLauncher(LocalLauncher):
    """See the module docstring."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        try:  # checked when Hydra builds the launcher: before the sweep is planned or any job runs
            self.jobs = job_slots(self.params.get("threads_per_job", 1), self.params.get("jobs"))
        except ValueError as invalid:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            sys.stderr.write(f"error: {invalid}; nothing was launched\n")
            raise SystemExit(CONFIG_ERROR_EXIT) from None
        self.threads = int(self.params.get("threads_per_job", 1))

    def _executor(self):
        """submitit's local executor with the plain launcher's parameters (less the pool's own)."""
        import submitit
        from omegaconf import OmegaConf

        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor = submitit.AutoExecutor(cluster="local", folder=self.params["submitit_folder"])
        skip = {"submitit_folder", *_POOL_ONLY}
        executor.update_parameters(
            **{k if k in shared else f"local_{k}": v for k, v in self.params.items() if k not in skip}
        )
        return executor

    def _submit(self, executor, overrides: Sequence[str], idx: int, state):
        """Start one job; the controller process copies this process's environment when it starts."""
        saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update({name: str(self.threads) for name in THREAD_VARIABLES})
        try:
            job = executor.submit(self, list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", state)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        log.info("\t#%d started (job %s): %s", idx, job.job_id, " ".join(filter_overrides(overrides)))
        return job

    @staticmethod
    def _result(job, idx: int) -> JobReturn | None:
        """The job's return; None when its process died without one (the sweeper then reads its record)."""
        try:
            return job.results()[0]
        except Exception as error:
            log.error("\t#%d (job %s) ended without a result: %s", idx, job.job_id, str(error).splitlines()[0])
            return None

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn | None]:
        from pathlib import Path

        from hydra.core.singleton import Singleton

        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        executor = self._executor()
        state = Singleton.get_state()
        waiting = list(enumerate(job_overrides))
        running: dict[int, Any] = {}
        returns: list[JobReturn | None] = [None] * len(job_overrides)
        log.info(
            "%d job(s), %d at a time with %d thread(s) each (%d cores); sweep dir %s",
            len(job_overrides),
            self.jobs,
            self.threads,
            usable_cores(),
            sweep_dir,
        )
        try:
            while waiting or running:
                while waiting and len(running) < self.jobs:
                    pos, overrides = waiting.pop(0)
                    running[pos] = self._submit(executor, overrides, initial_job_idx + pos, state)
                for pos in [p for p, job in running.items() if job.done()]:
                    returns[pos] = self._result(running.pop(pos), initial_job_idx + pos)
                time.sleep(POLL_S)
        except BaseException:  # Ctrl-C (or a bug here): stop the running jobs, each leaves its record
            _stop(running.values())
            raise
        return returns


def _stop(jobs) -> None:
    """Interrupt running jobs as submitit does (SIGINT to each job's controller, which stops its task)
    and wait for them, so none outlives the launch; each writes its record, resumed by the next launch."""
    jobs = [job for job in jobs if not job.done()]
    if not jobs:
        return
    log.warning("stopping %d running job(s): %s", len(jobs), ", ".join(job.job_id for job in jobs))
    for job in jobs:
        job.cancel(check=False)
    deadline = time.monotonic() + STOP_WAIT_S
    while any(not job.done() for job in jobs) and time.monotonic() < deadline:
        time.sleep(POLL_S)
