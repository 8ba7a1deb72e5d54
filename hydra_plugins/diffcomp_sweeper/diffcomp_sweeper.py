"""Hydra sweeper plugin of diffcomp (Hydra only loads plugins from the ``hydra_plugins`` package).

It is the basic cartesian sweeper with three changes, all delegated to :mod:`diffcomp.config`:
float ``range(...)`` sweeps expand to clean values; every job is composed and validated before any
is launched (one bad combination fails the whole launch, naming the job and the field); and
``dry_run=true`` lists the jobs instead of launching them. A job that fails at run time is recorded
and reported at the end, without stopping the others; even a launcher that loses a job (a crashed
SLURM task) only costs that job's return, and the report then reads the jobs' records.
``hydra.sweeper.manifest_only=true`` validates and writes ``jobs.txt`` for ``slurm/array.sbatch``
without launching anything.
"""


import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


@dataclass
class DiffcompSweeperConf:
    _target_: str = "hydra_plugins.diffcomp_sweeper.diffcomp_sweeper.DiffcompSweeper"
    max_batch_size: Optional[int] = None
    # Validate and write <sweep dir>/jobs.txt (for slurm/array.sbatch), launch nothing.
    manifest_only: bool = False


ConfigStore.instance().store(group="hydra/sweeper", name="diffcomp", node=DiffcompSweeperConf, provider="diffcomp")


class DiffcompSweeper(BasicSweeper):
    def __init__(self, max_batch_size: Optional[int] = None, manifest_only: bool = False) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self.manifest_only = manifest_only

    def sweep(self, arguments: List[str]) -> Any:
        from diffcomp.config.jobs import SweepFailures, expand_overrides, plan_jobs, report_failures, write_manifest

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = expand_overrides(parser.parse_overrides(arguments))
        compose = lambda overrides: self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))  # noqa: E731
        plans = plan_jobs(jobs, compose)  # raises, listing every invalid job, before anything runs
        sweep_dir = Path(self.config.hydra.sweep.dir)
        if self.config.get("dry_run", False):
            from diffcomp.config.jobs import print_plan

            print_plan(plans, sweep_dir)
            return []
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        manifest = write_manifest(plans, sweep_dir)
        if self.manifest_only:
            print(f"{len(plans)} job(s) validated; manifest {manifest}\nsubmit with: sbatch --array=0-{len(plans) - 1} slurm/array.sbatch {sweep_dir}")
            return []
        batch_size = self.max_batch_size or len(jobs)
        returns = []
        for first in range(0, len(jobs), batch_size):
            batch = jobs[first : first + batch_size]
            try:
                returns.append(self.launcher.launch(batch, initial_job_idx=first))
            except Exception as error:  # noqa: BLE001 - a lost job must not stop the next batches
                log.error(
                    "the launcher failed on jobs %d-%d (%s: %s); jobs already on a cluster keep running, and "
                    "their records (python -m diffcomp.aggregate) tell how each ended", first, first + len(batch) - 1, type(error).__name__, error,
                )
                returns.append([None] * len(batch))
        flat = [r for batch in returns for r in batch]
        try:
            report_failures(plans, flat)
        except SweepFailures:
            # Hydra skips on_multirun_end when the sweep raises: run it (the aggregate table) first.
            self.hydra_context.callbacks.on_multirun_end(config=self.config, config_name=self.config.hydra.job.config_name)
            raise
        return returns
