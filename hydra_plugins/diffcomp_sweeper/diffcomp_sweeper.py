"""diffcomp's Hydra sweeper (Hydra finds plugins only under ``hydra_plugins``), usable by any Hydra app.

It is Hydra's basic cartesian sweeper, ``hydra.sweeper.params`` and the command line combined exactly
as there, plus what long sweeps need; the planning is :mod:`diffcomp.sweeps.plan`, which knows no app:

* float ``range(...)`` sweeps expand to clean values (0.3, not 0.30000000000000004);
* every job is composed and passed to ``hydra.sweeper.validate`` (the app's function) before any is
  launched: one bad combination fails the whole launch, with every bad job on one line;
* ``dry_run=true`` (in an app that has the key) lists the jobs instead of launching them, and
  ``hydra.sweeper.manifest_only=true`` writes ``jobs.txt`` for ``slurm/array.sbatch`` instead;
* a job that fails at run time is reported at the end, without stopping the others.
"""

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# A rejected job is a config error: its own message, exit status 2, no traceback (unless HYDRA_FULL_ERROR=1).
CONFIG_ERROR_EXIT = 2


@dataclass
class DiffcompSweeperConf:
    _target_: str = "hydra_plugins.diffcomp_sweeper.diffcomp_sweeper.DiffcompSweeper"
    max_batch_size: int | None = None
    # Sweep declared in the config ({key: "a,b,c" or "range(...)"}); the command line wins per key.
    params: dict[str, str] | None = None
    # Dotted path of fn(job cfg) -> summary dict, raising ValueError on an invalid job; null: composing is the check.
    validate: str | None = None
    # Validate and write <sweep dir>/jobs.txt (for slurm/array.sbatch), launch nothing.
    manifest_only: bool = False


ConfigStore.instance().store(group="hydra/sweeper", name="diffcomp", node=DiffcompSweeperConf, provider="diffcomp")


class DiffcompSweeper(BasicSweeper):
    """BasicSweeper's expansion, launching and return value; planning and failure reports of its own."""

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        validate: str | None = None,
        manifest_only: bool = False,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.validate = validate
        self.manifest_only = manifest_only

    def _validator(self):
        if not self.validate:
            return None
        from hydra.utils import get_method

        from diffcomp.sweeps.plan import SweepError, one_line

        try:
            return get_method(self.validate)
        except Exception as error:  # a typo in the path must name the setting
            raise SweepError(
                f"hydra.sweeper.validate={self.validate} is invalid: allowed the dotted path of a function ({one_line(error)})"
            ) from error

    def _compose(self, overrides: Sequence[str]) -> DictConfig:
        return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))

    def sweep(self, arguments: list[str]) -> Any:
        # Imported here: Hydra imports every plugin module in every app of the environment.
        from diffcomp.sweeps.plan import (
            SweepFailures,
            SweepValidationError,
            expand_overrides,
            plan_jobs,
            print_plan,
            report_failures,
            write_manifest,
        )

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = expand_overrides(parser.parse_overrides(self._parse_config() + list(arguments)))
        try:
            plans = plan_jobs(jobs, self._compose, self._validator())
        except SweepValidationError as invalid:
            # A job Hydra cannot compose (or a validator's bug) fails the Hydra way: raised, as in
            # BasicSweeper, so callers in-process catch it. Jobs the app rejects are the user's config
            # errors: one line each, exit status 2.
            if not invalid.only_rejected or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            sys.stderr.write(f"error: {invalid}\n")
            raise SystemExit(CONFIG_ERROR_EXIT) from None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        if self.config.get("dry_run", False):
            print_plan(plans, sweep_dir)
            return []
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            probe = sweep_dir / ".writable"
            probe.touch()
            probe.unlink()
        except OSError as error:  # a file in the way, no permission, a read-only disk: before anything runs
            sys.stderr.write(
                f"error: hydra.sweep.dir={sweep_dir} cannot be used: {error.strerror or error}"
                + (" (a file of that name exists)" if sweep_dir.is_file() else "")
                + "; nothing was launched\n"
            )
            raise SystemExit(CONFIG_ERROR_EXIT) from None
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        manifest = write_manifest(plans, sweep_dir)
        if self.manifest_only:
            print(
                f"{len(plans)} job(s) validated; manifest {manifest}\nsubmit with: sbatch --array=0-{len(plans) - 1} slurm/array.sbatch {sweep_dir}"
            )
            return []
        returns: list[Any] = []
        first = 0
        for batch in self.split_overrides_to_chunks(jobs, self.max_batch_size if jobs else 1):
            try:
                returns.append(self.launcher.launch(batch, initial_job_idx=first))
            except Exception as error:
                log.error(
                    "the launcher failed on jobs %d-%d (%s: %s); jobs already on a cluster keep running, and "
                    "their records (python -m diffcomp.aggregate) tell how each ended",
                    first,
                    first + len(batch) - 1,
                    type(error).__name__,
                    error,
                )
                returns.append([None] * len(batch))
            first += len(batch)
        if getattr(self.launcher, "detached", False):
            return returns  # submitted and left to run: a job on the cluster aggregates the sweep when it ends
        try:
            report_failures(plans, [r for batch in returns for r in batch])
        except SweepFailures:
            # Hydra skips on_multirun_end when the sweep raises: run it (the aggregate table) first.
            self.hydra_context.callbacks.on_multirun_end(
                config=self.config, config_name=self.config.hydra.job.config_name
            )
            raise
        return returns
