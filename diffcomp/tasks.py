"""Running one job: validate, describe (dry run), skip if already done, run the task, write the record.

A task is named by its config node (``conf/task/<name>.yaml``): ``prepare`` (optional) checks the
job and builds what is cheap (``prepare(cfg) -> object with .summary``, or a summary dict), ``fn``
runs it (``fn(cfg, out_dir[, prepared]) -> dict`` with ``metrics`` and optionally ``timings``,
``device``, ``history`` ...), and ``uses`` lists the top-level config keys the task reads. Only those
enter the record's ``config`` and its hash, so editing a training setting never invalidates a
finished percolation job. This module owns the record around the task, so every task gets the same
``results.json``, skip-on-rerun, job ownership (a second launch skips what another process runs) and
failure handling.
"""

from __future__ import annotations

import inspect
import logging
import os
import traceback
from pathlib import Path

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from diffcomp.config.checks import number, require
from diffcomp.logging_setup import log_outcome, scoped_config
from diffcomp.ownership import JobLock, claim, owner_of
from diffcomp.results import (
    RECORD_NAME,
    config_hash,
    gate_result,
    is_complete,
    new_record,
    now,
    read_record,
    write_json_atomic,
)
from diffcomp.sweeps.plan import JobPlan, print_plan

log = logging.getLogger(__name__)


def _job_context() -> tuple[Path, list[str], bool]:
    """The job's output directory, its task overrides, and whether it runs inside a multirun."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return Path.cwd(), [], False
    hc = HydraConfig.get()
    multirun = hc.mode is not None and hc.mode.name == "MULTIRUN"
    return Path(hc.runtime.output_dir), list(hc.overrides.task), multirun


def swept_values(cfg: DictConfig, overrides: list[str]) -> dict:
    """The values the job's overrides set, read back from its composed config (a config group's
    choice by name: ``data=bump`` -> ``bump``), for the record's ``params``: so that no reader of a
    record parses an override string. Deletions (``~key``) set nothing."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    values = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_delete():
            continue
        key = override.key_or_group
        if key in choices:
            values[key] = choices[key]
            continue
        value = OmegaConf.select(cfg, key, default=None)
        values[key] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return values


# What prepare_job built, by job config: a sweep validates every job up front in the launching
# process, and when the jobs then run in that same process (the basic launcher) each reuses it.
_PREPARED: dict[str, tuple] = {}


def prepare_job(cfg: DictConfig):
    """Validate the job (raising ConfigError naming the field) and build what its task prepares.

    Returns ``(prepared, summary)``; ``prepared`` is handed to the task so nothing is built twice.
    """
    key = OmegaConf.to_yaml(cfg)
    if key not in _PREPARED:
        _PREPARED[key] = _prepare(cfg)
    return _PREPARED[key]


def _prepare(cfg: DictConfig):
    task = cfg.get("task")
    require(
        task is not None and task.get("fn"),
        "task",
        None if task is None else dict(task),
        "a task config with fn (conf/task/)",
    )
    if "lambda" in cfg and "lambda" in (task.get("uses") or []):
        number(cfg, "lambda", lo=0, hi=1, lo_open=True, prefix="")
    if "seed" in cfg:  # every job records its seed; the range is what numpy (and so Lightning) seeds with
        seed = cfg.seed
        ok = isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32
        require(ok, "seed", seed, f"an integer in [0, {2**32 - 1}]")
    gate = cfg.get("gate")
    if gate is not None:  # the validity gate is read after training: check it before any starts
        metric = gate.get("metric")
        require(isinstance(metric, str) and metric, "gate.metric", metric, "a metric name such as eval/train_score")
        number(gate, "threshold", lo=0, hi=1, prefix="gate")
    if not task.get("prepare"):
        return None, {"task": task.name}
    prepared = get_method(task.prepare)(cfg)
    summary = getattr(prepared, "summary", prepared if isinstance(prepared, dict) else {})
    return prepared, {"task": task.name, **summary}


def validate_job(cfg: DictConfig) -> dict:
    """Called by the sweeper on every job before any runs (``hydra.sweeper.validate`` in conf/config.yaml):
    raises if ``cfg`` is invalid, else returns what a dry run lists about the job."""
    return prepare_job(cfg)[1]


def _call_task(cfg: DictConfig, out_dir: Path, prepared) -> dict:
    fn = get_method(cfg.task.fn)
    if prepared is not None and len(inspect.signature(fn).parameters) >= 3:
        return fn(cfg, out_dir, prepared)
    return fn(cfg, out_dir)


def run_job(cfg: DictConfig, out_dir: Path | None = None) -> dict | None:
    """Run the job described by ``cfg``; returns its record (None for a dry run).

    In a multirun a failing job writes a ``failed`` record and returns it, so the sweep goes on; a
    single run re-raises after writing the record. The job's directory is owned by one process at a
    time (:mod:`diffcomp.ownership`): a job another live process owns is left alone, and the returned
    ``{"status": "skipped", "owner": "host:pid"}`` tells the sweep's summary.
    """
    context_dir, overrides, multirun = _job_context()
    out_dir = Path(out_dir or context_dir)
    prepared, summary = prepare_job(cfg)
    _PREPARED.pop(OmegaConf.to_yaml(cfg), None)  # the job owns it now (and frees it when done)
    if cfg.get("dry_run", False):
        print_plan([JobPlan(0, overrides, str(out_dir), summary)])
        return None
    lock = JobLock(None, out_dir) if _secondary_rank() else claim(out_dir)
    if lock is None:
        return _skipped(out_dir, overrides)
    with lock:
        return _run_owned(cfg, out_dir, overrides, prepared, multirun)


def _secondary_rank() -> bool:
    """A process that Lightning (DDP) or ``srun`` started beside rank 0 runs rank 0's job: it claims nothing."""
    return any(os.environ.get(key, "0") != "0" for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"))


def _skipped(out_dir: Path, overrides: list[str]) -> dict:
    """Another live process owns the job (a second launch on the same sweep): leave it to its owner."""
    owner = owner_of(out_dir)
    who = str(owner) if owner else "another process"
    print(f"skipped: owned by {who} (another launch runs it): {out_dir}")
    return {"status": "skipped", "owner": who, "output_dir": str(out_dir), "overrides": overrides}


def _run_owned(cfg: DictConfig, out_dir: Path, overrides: list[str], prepared, multirun: bool) -> dict:
    """The job, once this process owns its directory: skip it if complete, else run it and write its record."""
    resolved = scoped_config(cfg)
    previous = read_record(out_dir)
    if is_complete(previous, config_hash(resolved)):
        log.info("already complete, skipping: %s", out_dir / RECORD_NAME)
        print(f"already complete (delete {out_dir / RECORD_NAME} to redo): {out_dir}")
        return previous
    record = new_record(resolved, overrides, cfg.get("seed"), swept_values(cfg, overrides))
    write_json_atomic(out_dir / RECORD_NAME, record)
    try:
        outcome = _call_task(cfg, out_dir, prepared)
        record.update(outcome)
        gate = cfg.get("gate")
        record["gate"] = gate_result(
            OmegaConf.to_container(gate, resolve=True) if gate else None, record.get("metrics", {})
        )
        record["status"] = "complete"
        if not cfg.task.get("logs_itself", False):
            log_outcome(cfg, out_dir, record.get("metrics", {}))
    except Exception as error:
        record["status"] = "failed"
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc()
        log.error("job failed: %s", record["error"])
        if not multirun:
            raise
    except BaseException as stop:  # preempted, timed out, interrupted: resumable, so neither done nor failed
        record["status"] = "interrupted"
        record["error"] = f"{type(stop).__name__}: {stop}"
        raise
    finally:
        record["finished"] = now()
        write_json_atomic(out_dir / RECORD_NAME, record)
    print(f"[{record['status']}] {headline(record.get('metrics', {}))}\n  outputs: {out_dir}")
    return record


HEADLINE = (
    "eval/acc",
    "eval/acc_x",
    "eval/acc_y",
    "eval/frac_one_feature",
    "eval/loss",
    "repr/participation_ratio",
    "repr/betti0",
    "repr/betti1",
    "repr/betti2",
    "repr/torus_verdict",
    "eval/match_in",
    "eval/match_out",
)


def headline(metrics: dict, fallback: int = 8) -> str:
    """The few numbers a person reads first (the record holds them all)."""
    keys = [k for k in HEADLINE if k in metrics] or list(metrics)[:fallback]
    return ", ".join(f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys)
