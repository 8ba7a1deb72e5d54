"""Running one job: validate, describe (dry run), skip if already done, run the task, write the record.

Every task (the diffusion training and the theory companions) is a function ``fn(cfg, out_dir)``
returning a dict with ``metrics`` (flat scalars) and optionally ``timings``, ``device``, ``history``
and any other JSON-serialisable sections; this module owns the record around it, so every task gets
the same ``results.json``, skip-on-rerun and failure handling.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from diffcomp.config.jobs import JobPlan, job_summary, print_plan
from diffcomp.config.validation import validate_config
from diffcomp.logging_setup import log_outcome
from diffcomp.results import RECORD_NAME, config_hash, is_complete, new_record, now, read_record, write_json_atomic

log = logging.getLogger(__name__)


def _job_context() -> tuple[Path, list[str], bool]:
    """The job's output directory, its task overrides, and whether it runs inside a multirun."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return Path.cwd(), [], False
    hc = HydraConfig.get()
    multirun = hc.mode is not None and hc.mode.name == "MULTIRUN"
    return Path(hc.runtime.output_dir), list(hc.overrides.task), multirun


def run_job(cfg: DictConfig, out_dir: Path | None = None) -> dict | None:
    """Run the job described by ``cfg``; returns its record (None for a dry run).

    In a multirun a failing job writes a ``failed`` record and returns it, so the sweep goes on; a
    single run re-raises after writing the record.
    """
    context_dir, overrides, multirun = _job_context()
    out_dir = Path(out_dir or context_dir)
    validate_config(cfg)
    if cfg.get("dry_run", False):
        print_plan([JobPlan(0, overrides, str(out_dir), job_summary(cfg))])
        return None
    resolved = OmegaConf.to_container(cfg, resolve=True)
    previous = read_record(out_dir)
    if is_complete(previous, config_hash(resolved)):
        log.info("already complete, skipping: %s", out_dir / RECORD_NAME)
        print(f"already complete (delete {out_dir / RECORD_NAME} to redo): {out_dir}")
        return previous
    record = new_record(resolved, overrides, cfg.get("seed"))
    write_json_atomic(out_dir / RECORD_NAME, record)
    try:
        outcome = get_method(cfg.task.fn)(cfg, out_dir)
        record.update(outcome)
        record["status"] = "complete"
        if not cfg.task.get("logs_itself", False):
            log_outcome(cfg, out_dir, record.get("metrics", {}))
    except Exception as error:  # noqa: BLE001 - recorded, then re-raised or reported by the sweeper
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
    print(f"[{record['status']}] {out_dir}\n  {headline(record.get('metrics', {}))}\n  record: {out_dir / RECORD_NAME}")
    return record


HEADLINE = ("eval/acc", "eval/acc_x", "eval/acc_y", "eval/frac_one_feature", "repr/participation_ratio",
            "repr/probe_r2_x", "repr/probe_r2_y", "repr/betti0", "repr/betti1", "repr/betti2", "repr/torus_verdict")


def headline(metrics: dict, fallback: int = 8) -> str:
    """The few numbers a person reads first (the record holds them all)."""
    keys = [k for k in HEADLINE if k in metrics] or list(metrics)[:fallback]
    return ", ".join(f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys)
