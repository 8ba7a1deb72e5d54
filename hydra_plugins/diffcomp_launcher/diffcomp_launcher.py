"""diffcomp's SLURM launcher: hydra-submitit-launcher's, able to return once the array is submitted.

With ``hydra.launcher.detach=true`` (recommended on clusters) the launch submits the sweep as one
array job, submits a small job that aggregates the sweep and draws its figure when the array ends
(``--dependency=afterany``), records the job ids in ``<sweep dir>/slurm.json`` and returns in seconds:
closing the laptop or the login session loses nothing, and ``python -m diffcomp.status <sweep dir>``
follows the sweep. With ``detach=false`` (the default) it waits for the tasks as the plain launcher
does, and still records the ids. Everything else (the executor's parameters, requeue on time-out,
each task running its Hydra job) is the plain launcher's.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

log = logging.getLogger(__name__)
SLURM_RECORD = "slurm.json"
_LAUNCHER_ONLY = ("detach", "aggregate_timeout_min")


@dataclass
class DiffcompSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.diffcomp_launcher.diffcomp_launcher.DiffcompSlurmLauncher"
    # Return as soon as the array is submitted; a dependent job aggregates the sweep when it ends.
    detach: bool = False
    # Time limit of that aggregation job.
    aggregate_timeout_min: int = 30


ConfigStore.instance().store(group="hydra/launcher", name="diffcomp_slurm", node=DiffcompSlurmConf, provider="diffcomp")


def _executor(params: dict, folder: str):
    """A submitit SLURM executor from the launcher's parameters (the names the plain launcher uses:
    the shared queue keys as they are, the others with submitit's ``slurm_`` prefix)."""
    import submitit
    from omegaconf import OmegaConf

    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor = submitit.AutoExecutor(
        cluster="slurm", folder=folder, slurm_max_num_timeout=params.get("max_num_timeout", 0)
    )
    skip = {"submitit_folder", "max_num_timeout", *_LAUNCHER_ONLY}
    executor.update_parameters(**{k if k in shared else f"slurm_{k}": v for k, v in params.items() if k not in skip})
    return executor


class DiffcompSlurmLauncher(SlurmLauncher):
    """See the module docstring."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.detach = bool(self.params.get("detach", False))
        self.detached = False  # set once a detached launch has submitted: the sweeper then reports no failures

    def launch(self, job_overrides, initial_job_idx: int) -> "list[JobReturn]":
        from hydra.core.singleton import Singleton

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        executor = _executor(self.params, self.params["submitit_folder"])
        indices = [initial_job_idx + i for i in range(len(job_overrides))]
        state = Singleton.get_state()
        arguments = [(list(o), "hydra.sweep.dir", i, f"job_id_for_{i}", state) for o, i in zip(job_overrides, indices)]
        jobs = executor.map_array(self, *zip(*arguments))
        record = _read_record(sweep_dir)
        record.setdefault("tasks", {}).update({str(i): job.job_id for i, job in zip(indices, jobs)})
        record["arrays"] = sorted({job.job_id.split("_")[0] for job in jobs} | set(record.get("arrays", [])))
        log.info("submitted %d job(s) as SLURM array %s", len(jobs), ", ".join(record["arrays"]))
        if not self.detach:
            _write_record(sweep_dir, record)
            return [job.results()[0] for job in jobs]
        record["aggregate"] = self._submit_aggregation(sweep_dir, record["arrays"])
        record["detached"] = True
        _write_record(sweep_dir, record)
        self.detached = True
        print(
            f"submitted {len(jobs)} job(s) as SLURM array {', '.join(record['arrays'])}; job {record['aggregate']} "
            f"aggregates the sweep when it ends.\nfollow it with: python -m diffcomp.status {sweep_dir}"
        )
        return [JobReturn(overrides=list(o), status=JobStatus.UNKNOWN) for o in job_overrides]

    def _submit_aggregation(self, sweep_dir: Path, arrays: list[str]) -> str:
        """A one-CPU job that runs after every task of the array, however each ended."""
        from diffcomp.sweeps.aggregate import finish_sweep

        params = {k: v for k, v in self.params.items() if k not in ("gpus_per_node", "gres", "array_parallelism")}
        params.update(
            cpus_per_task=1,
            mem_gb=4,
            timeout_min=int(self.params.get("aggregate_timeout_min", 30)),
            name="diffcomp-aggregate",
        )
        extra = dict(params.get("additional_parameters") or {})
        extra["dependency"] = "afterany:" + ":".join(arrays)
        params["additional_parameters"] = extra
        executor = _executor(params, str(sweep_dir / ".submitit" / "%j"))
        return executor.submit(finish_sweep, str(sweep_dir)).job_id


def _read_record(sweep_dir: Path) -> dict:
    path = sweep_dir / SLURM_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_record(sweep_dir: Path, record: dict) -> None:
    from diffcomp.results import write_json_atomic

    write_json_atomic(sweep_dir / SLURM_RECORD, record)
