"""Planning the jobs of a run or sweep: expand, compose, validate, describe, list.

Used by the sweeper plugin before anything is launched and by :func:`diffcomp.tasks.run_job` for
a single run, so both paths validate and describe a job the same way.
"""

from __future__ import annotations

import itertools
import json
import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from omegaconf import DictConfig, OmegaConf

from diffcomp.config.errors import ConfigError
from diffcomp.config.sweep import clean_range, format_value
from diffcomp.config.validation import validate_config

log = logging.getLogger(__name__)
MANIFEST_NAME = "jobs.txt"


class SweepValidationError(ValueError):
    """Some jobs of a sweep are invalid; nothing was launched."""


class SweepFailures(RuntimeError):
    """Some jobs of a sweep failed at run time; the others finished and kept their results."""


@dataclass
class JobPlan:
    index: int
    overrides: list[str]
    output_dir: str
    summary: dict = field(default_factory=dict)


def expand_overrides(overrides) -> list[list[str]]:
    """The cartesian product of parsed Hydra overrides, with float ranges expanded cleanly."""
    axes = []
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ConfigError(key, override.get_value_element_as_str(), "a list or range sweep (intervals need an optimising sweeper)")
            value = override.value()
            if type(value).__name__ == "RangeSweep" and not getattr(value, "shuffle", False):
                values = [f"{key}={format_value(v)}" for v in clean_range(value.start, value.stop, value.step)]
            else:
                values = [f"{key}={v}" for v in override.sweep_string_iterator()]
            axes.append(values)
        else:
            axes.append([f"{key}={override.get_value_element_as_str()}"])
    return [list(job) for job in itertools.product(*axes)]


def job_summary(cfg: DictConfig) -> dict:
    """The resolved parameters a researcher checks before launching (sigma, d, lambda, N, ...)."""
    task = cfg.task.name
    if task != "diffusion":
        return {"task": task}
    data = cfg.data
    from diffcomp.data.canvas import CanvasSpec
    from diffcomp.data.datamodule import spec_options

    spec = CanvasSpec.from_options(**spec_options(data))
    return {
        "data": data.name,
        "N": spec.size,
        "sigma": spec.sigma_x if spec.sigma_x == spec.sigma_y else [spec.sigma_x, spec.sigma_y],
        "d": spec.increment_x if spec.increment_x == spec.increment_y else [spec.increment_x, spec.increment_y],
        "lambda": cfg["lambda"],
        "images": spec.num_training_labels(),
    }


def output_dir_of(cfg: DictConfig, index: int, multirun: bool) -> str:
    """Where the job will write, as Hydra will compute it."""
    if not multirun:
        return str(OmegaConf.select(cfg, "hydra.run.dir"))
    OmegaConf.set_readonly(cfg.hydra, False)
    cfg.hydra.job.num = index
    sweep_dir = Path(str(OmegaConf.select(cfg, "hydra.sweep.dir"))).absolute()
    return str(sweep_dir / str(OmegaConf.select(cfg, "hydra.sweep.subdir")))


def plan_jobs(jobs: Sequence[Sequence[str]], compose: Callable[[Sequence[str]], DictConfig]) -> list[JobPlan]:
    """Compose and validate every job; raise one error listing all invalid jobs, else return plans."""
    plans, problems = [], []
    for index, overrides in enumerate(jobs):
        try:
            cfg = compose(overrides)
            validate_config(cfg)
            plans.append(JobPlan(index, list(overrides), output_dir_of(cfg, index, True), job_summary(cfg)))
        except Exception as error:  # noqa: BLE001 - every kind of bad job is reported together
            problems.append(f"  job {index} [{' '.join(overrides)}]: {error}")
    if problems:
        raise SweepValidationError(
            f"{len(problems)} of {len(jobs)} jobs are invalid; nothing was launched:\n" + "\n".join(problems)
        )
    return plans


def format_plan(plans: Sequence[JobPlan]) -> str:
    lines = [f"{len(plans)} job(s):"]
    for plan in plans:
        params = ", ".join(f"{k}={v}" for k, v in plan.summary.items())
        shown = [o for o in plan.overrides if not o.startswith("dry_run=")]
        lines.append(f"  [{plan.index}] {' '.join(shown) or '(no overrides)'}")
        lines.append(f"       {params}")
        lines.append(f"       -> {plan.output_dir}")
    return "\n".join(lines)


def print_plan(plans: Sequence[JobPlan], sweep_dir: Path | None = None) -> None:
    header = f"dry run: nothing will be trained (sweep dir {sweep_dir})" if sweep_dir else "dry run: nothing will be trained"
    print(header)
    print(format_plan(plans))


def write_manifest(plans: Sequence[JobPlan], sweep_dir: Path) -> Path:
    """One line of overrides per job (``slurm/array.sbatch`` runs line ``$SLURM_ARRAY_TASK_ID + 1``).

    Each line is shell-quoted (``shlex``), so a value with brackets or spaces survives the script's
    word splitting; ``dry_run`` is left out, so the lines run the jobs themselves.
    """
    path = Path(sweep_dir) / MANIFEST_NAME
    lines = [shlex.join(o for o in p.overrides if not o.startswith("dry_run=")) for p in plans]
    path.write_text("".join(line + "\n" for line in lines))
    (Path(sweep_dir) / "jobs.json").write_text(json.dumps([p.__dict__ for p in plans], indent=2))
    return path


def _job_failed(plan: JobPlan, ret) -> bool:
    """A job failed when its return says so, or when it returned nothing (lost by the launcher)
    and its record isn't complete."""
    if ret is None:
        from diffcomp.results import read_record

        record = read_record(Path(plan.output_dir))
        return not record or record.get("status") != "complete"
    status = getattr(ret, "status", None)
    value = getattr(ret, "_return_value", None)
    return (status is not None and status.name == "FAILED") or (isinstance(value, dict) and value.get("status") == "failed")


def report_failures(plans: Sequence[JobPlan], returns: Sequence) -> None:
    """Summarise a finished sweep; raise :class:`SweepFailures` naming the failed jobs, if any."""
    returns = list(returns) + [None] * (len(plans) - len(returns))
    failed = [
        f"  job {plan.index} [{' '.join(plan.overrides)}] -> {plan.output_dir}" for plan, ret in zip(plans, returns) if _job_failed(plan, ret)
    ]
    log.info("sweep finished: %d job(s), %d failed", len(plans), len(failed))
    if failed:
        raise SweepFailures(f"{len(failed)} of {len(plans)} jobs failed (the others completed):\n" + "\n".join(failed))
