"""Experiment loggers: W&B (offline unless ``WANDB_MODE`` says otherwise), CSV, or none.

Every job of a multirun gets its own W&B run, named after its overrides and grouped by the sweep
directory (the same for every job of one sweep, on a laptop or across a SLURM array). The run id is
derived from the output directory, so a requeued job *resumes* its W&B run instead of forking one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def run_identity(out_dir: Path) -> dict[str, str | None]:
    """Name, group and stable id of the job writing to ``out_dir``."""
    from hydra.core.hydra_config import HydraConfig

    name, group = out_dir.name, None
    if HydraConfig.initialized():
        hc = HydraConfig.get()
        name = hc.job.override_dirname or out_dir.name
        if hc.mode is not None and hc.mode.name == "MULTIRUN":
            group = Path(hc.sweep.dir).name
    run_id = hashlib.sha1(str(out_dir.resolve()).encode()).hexdigest()[:12]
    return {"name": name, "group": group, "id": run_id}


def build_logger(cfg: DictConfig, out_dir: Path):
    """Instantiate ``cfg.logger`` (a Lightning logger config, or ``null``) for the job in ``out_dir``."""
    if cfg.get("logger") is None or cfg.logger.get("kind") in (None, "none"):
        return None
    kind = cfg.logger.kind
    options = OmegaConf.to_container(cfg.logger, resolve=True)
    options.pop("kind")
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(out_dir), name="csv", version="", **options)
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        ident = run_identity(out_dir)
        os.environ.setdefault("WANDB_SILENT", "true")
        mode = os.environ.get("WANDB_MODE", options.pop("mode", "offline"))
        options.pop("mode", None)
        return WandbLogger(
            save_dir=str(out_dir),
            name=ident["name"],
            group=options.pop("group", None) or ident["group"],
            id=ident["id"],
            resume="allow",
            mode=mode,
            config=OmegaConf.to_container(cfg, resolve=True),
            **options,
        )
    raise ValueError(f"logger.kind={kind!r} is invalid: allowed wandb, csv, none")


def finish_logger(logger) -> None:
    """Close the job's W&B run so the next job of an in-process multirun starts its own."""
    if logger is None:
        return
    if type(logger).__name__ == "WandbLogger":
        import wandb

        if wandb.run is not None:
            wandb.finish()


class _DropAdvertising(logging.Filter):
    """Lightning prints a product tip on every Trainer; it is noise in a sweep's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def route_lightning_logs() -> None:
    """Send Lightning's messages through the root (Hydra's) handlers only: once on the console, and
    into the job's log file, instead of twice from Lightning's own stream handler."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropAdvertising())


def log_outcome(cfg: DictConfig, out_dir: Path, metrics: dict) -> None:
    """Log a finished task's scalars and its figures (``out_dir/*.png``) to the configured logger.

    For tasks that run no Lightning Trainer of their own (the theory tasks), so that every task's
    results reach W&B the same way: one run per job, grouped by sweep.
    """
    logger = build_logger(cfg, out_dir)
    if logger is None:
        return
    try:
        numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        logger.log_metrics(numbers, step=0)
        if hasattr(logger, "log_image"):
            for path in sorted(Path(out_dir).glob("*.png")):
                logger.log_image(key=f"figures/{path.stem}", images=[str(path)], step=0)
        logger.save()
    finally:
        finish_logger(logger)
