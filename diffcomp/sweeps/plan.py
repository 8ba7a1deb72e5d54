"""Planning the jobs of a sweep: expand, compose, validate, describe, list, report.

The sweeper plugin plans every job before launching any, so one bad combination costs nothing but
a message. Nothing here knows a diffcomp config: what makes a job valid, and what a listing shows
about it, is the app's validator (``hydra.sweeper.validate``), so the sweeper serves any Hydra app.
(Only a job the launcher lost is judged by the ``results.json`` a diffcomp job writes.)
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import shlex
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import RangeSweep
from hydra.errors import CompactHydraException, HydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from diffcomp.config.sweep import clean_range, format_value
from diffcomp.files import atomic_path

log = logging.getLogger(__name__)
MANIFEST_NAME = "jobs.txt"

Validator = Callable[[DictConfig], "dict | None"]


class SweepError(CompactHydraException):
    """A sweep this sweeper cannot plan; compact, so Hydra prints the message without a traceback."""


class SweepValidationError(SweepError):
    """Some jobs of a sweep are invalid; nothing was launched."""

    def __init__(self, invalid: Sequence[InvalidJob], total: int):
        self.invalid, self.total = list(invalid), total
        lines = "\n".join(f"  {job.line()}" for job in self.invalid)
        super().__init__(f"{len(self.invalid)} of {total} jobs are invalid; nothing was launched:\n{lines}")

    @property
    def only_rejected(self) -> bool:
        """Every job composed and the validator refused it: the user's config error, not a bug."""
        return all(job.rejected for job in self.invalid)


class SweepFailures(RuntimeError):
    """Some jobs of a sweep failed at run time; the others finished and kept their results."""


@dataclass
class JobPlan:
    index: int
    overrides: list[str]
    output_dir: str  # "" when it is only known at launch (a subdir naming the launcher's job id)
    summary: dict = field(default_factory=dict)


@dataclass
class InvalidJob:
    index: int
    overrides: list[str]
    error: Exception
    rejected: bool  # True: composed, then refused by the validator; False: not composed, or a validator bug

    def line(self) -> str:
        return f"job {self.index} [{shown(self.overrides)}]: {one_line(verdict(self.error) or self.error)}"


def verdict(error: BaseException | None) -> ValueError | None:
    """The ``ValueError`` that rejects a job, also when wrapped (Hydra's ``instantiate`` wraps what
    a constructor raises); None if the error is no verdict on the job (a bug of the validator)."""
    while error is not None and not isinstance(error, ValueError):
        error = error.__cause__
    return error


def shown(overrides: Sequence[str]) -> str:
    """A job's overrides as a person reads them: ``dry_run`` is the sweep's switch, not the job's."""
    return " ".join(o for o in overrides if not o.startswith("dry_run=")) or "(no overrides)"


def one_line(error: BaseException) -> str:
    """An error's message on one line; the type is kept where the message alone may not say it (KeyError),
    and the first line of its cause where Hydra keeps the reason there (``Key 'x' is not in struct``)."""
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if not (text and isinstance(error, (ValueError, HydraException))):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    cause = str(error.__cause__).strip().splitlines() if error.__cause__ is not None else []
    return f"{text} ({cause[0].strip()})" if cause and cause[0].strip() not in text else text


def sweep_values(override) -> list[str]:
    """The ``key=value`` strings of one parsed override; a float ``range`` counts in integers."""
    key = override.get_key_element()
    if not override.is_sweep_override():
        return [f"{key}={override.get_value_element_as_str()}"]
    if not override.is_discrete_sweep():
        raise SweepError(
            f"{override.input_line or key}: only lists and ranges can be swept here (intervals need an optimising sweeper)"
        )
    value = override.value()
    if isinstance(value, RangeSweep) and not value.shuffle:
        return [f"{key}={format_value(v)}" for v in clean_range(value.start, value.stop, value.step)]
    return [f"{key}={v}" for v in override.sweep_string_iterator()]


def expand_overrides(overrides) -> list[list[str]]:
    """The cartesian product of parsed overrides, formed as Hydra's BasicSweeper forms it.

    A later override of a key replaces an earlier one in its place, which is how command-line
    arguments (given after ``hydra.sweeper.params``) win over params.
    """
    axes: dict[str, list[str]] = {}
    for override in overrides:
        axes[override.get_key_element()] = sweep_values(override)
    return [list(job) for job in itertools.product(*axes.values())]


@contextmanager
def hydra_config_of(cfg: DictConfig) -> Iterator[None]:
    """``${hydra:...}`` resolves against the job's own config, as in Hydra's ``run_job``."""
    instance = HydraConfig.instance()
    previous = instance.cfg
    instance.set_config(cfg)
    try:
        yield
    finally:
        instance.cfg = previous


def output_dir_of(cfg: DictConfig, index: int) -> str:
    """Where the launcher will put job ``index`` (``""`` if that depends on the launch itself)."""
    with read_write(cfg.hydra.job), open_dict(cfg.hydra.job):
        cfg.hydra.job.num = index
    try:
        with hydra_config_of(cfg):
            sweep_dir = Path(str(OmegaConf.select(cfg, "hydra.sweep.dir"))).absolute()
            return str(sweep_dir / str(OmegaConf.select(cfg, "hydra.sweep.subdir")))
    except Exception:
        return ""


def task_config(cfg: DictConfig) -> DictConfig:
    """The config the task function will receive: the job's, without the ``hydra`` node."""
    job = copy.deepcopy(cfg)
    with read_write(job), open_dict(job):
        del job["hydra"]
    return job


def plan_jobs(
    jobs: Sequence[Sequence[str]], compose: Callable[[Sequence[str]], DictConfig], validate: Validator | None = None
) -> list[JobPlan]:
    """Compose and validate every job; raise one error listing all invalid jobs, else return plans.

    ``validate(cfg)`` gets what the task will get and returns the job's summary for listings, or
    raises: the app decides what is valid, so one bad job is found before any is launched. A
    ``ValueError`` (such as diffcomp's ``ConfigError``), raised or the cause of what is raised,
    rejects the job; any other exception is a bug of the validator, not the user's mistake.
    """
    plans, invalid = [], []
    for index, overrides in enumerate(jobs):
        overrides = list(overrides)
        try:
            cfg = compose(overrides)
            output_dir = output_dir_of(cfg, index)
        except Exception as error:
            invalid.append(InvalidJob(index, overrides, error, rejected=False))
            continue
        summary = {}
        if validate is not None:
            try:
                with hydra_config_of(cfg):
                    summary = dict(validate(task_config(cfg)) or {})
            except Exception as error:
                invalid.append(InvalidJob(index, overrides, error, rejected=verdict(error) is not None))
                continue
        plans.append(JobPlan(index, overrides, output_dir, summary))
    if invalid:
        raise SweepValidationError(invalid, len(jobs)) from invalid[0].error
    return plans


def format_plan(plans: Sequence[JobPlan]) -> str:
    lines = [f"{len(plans)} job(s):"]
    for plan in plans:
        lines.append(f"  [{plan.index}] {shown(plan.overrides)}")
        if plan.summary:
            lines.append("       " + ", ".join(f"{k}={v}" for k, v in plan.summary.items()))
        lines.append(f"       -> {plan.output_dir or '(decided at launch)'}")
    return "\n".join(lines)


def print_plan(plans: Sequence[JobPlan], sweep_dir: Path | None = None) -> None:
    header = f"dry run: nothing will run (sweep dir {sweep_dir})" if sweep_dir else "dry run: nothing will run"
    print(header)
    print(format_plan(plans))


def write_manifest(plans: Sequence[JobPlan], sweep_dir: Path) -> Path:
    """One line of overrides per job (``slurm/array.sbatch`` runs line ``$SLURM_ARRAY_TASK_ID + 1``).

    Each line is shell-quoted (``shlex``), so a value with brackets or spaces survives the script's
    word splitting; ``dry_run`` is left out, so the lines run the jobs themselves.
    """
    path = Path(sweep_dir) / MANIFEST_NAME
    lines = [shlex.join(o for o in p.overrides if not o.startswith("dry_run=")) for p in plans]
    with atomic_path(path) as tmp:  # two launches of one sweep write the same plan: never a torn one
        tmp.write_text("".join(line + "\n" for line in lines))
    with atomic_path(Path(sweep_dir) / "jobs.json") as tmp:
        tmp.write_text(json.dumps([p.__dict__ for p in plans], indent=2, default=str))
    return path


def _job_failed(plan: JobPlan, ret) -> bool:
    """A job failed when its return says so, or when it returned nothing (lost by the launcher)
    and its record isn't complete."""
    if ret is None:
        from diffcomp.results import UnreadableRecord, load_record_of

        try:
            record = load_record_of(Path(plan.output_dir)) if plan.output_dir else None
        except UnreadableRecord:
            record = None
        return record is None or record.status != "complete"
    status = getattr(ret, "status", None)
    value = getattr(ret, "_return_value", None)
    return (status is not None and status.name == "FAILED") or (
        isinstance(value, dict) and value.get("status") == "failed"
    )


def _skipped_by(ret) -> str | None:
    """The owner (``host:pid``) of a job this launch skipped because another process runs it, else None."""
    value = getattr(ret, "_return_value", None)
    return value.get("owner") if isinstance(value, dict) and value.get("status") == "skipped" else None


def report_failures(plans: Sequence[JobPlan], returns: Sequence) -> None:
    """Summarise a finished sweep; raise :class:`SweepFailures` naming the failed jobs, if any.

    Jobs skipped because another launch owns them are counted apart, neither done nor failed."""
    returns = list(returns) + [None] * (len(plans) - len(returns))
    failed = [
        f"  job {plan.index} [{' '.join(plan.overrides)}] -> {plan.output_dir}"
        for plan, ret in zip(plans, returns)
        if _job_failed(plan, ret)
    ]
    skipped = [(plan, _skipped_by(ret)) for plan, ret in zip(plans, returns) if _skipped_by(ret)]
    log.info(
        "sweep finished: %d job(s), %d failed%s",
        len(plans),
        len(failed),
        f", {len(skipped)} skipped (owned by another launch, which finishes them)" if skipped else "",
    )
    for plan, owner in skipped:
        log.info("  job %d [%s] skipped: owned by %s", plan.index, " ".join(plan.overrides), owner)
    if failed:
        raise SweepFailures(f"{len(failed)} of {len(plans)} jobs failed (the others completed):\n" + "\n".join(failed))
