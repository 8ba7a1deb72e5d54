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


def scoped_config(cfg: DictConfig) -> dict:
    """The parts of the config the job's task uses (``task.uses``): what its W&B run records."""
    uses = list(cfg.get("task", {}).get("uses") or cfg.keys())
    return {
        k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
        for k in uses
        if k in cfg
    }


def build_logger(cfg: DictConfig, out_dir: Path):
    """Instantiate ``cfg.logger`` (a Lightning logger config, or ``null``) for the job in ``out_dir``."""
    if cfg.get("logger") is None or cfg.logger.get("kind") in (None, "none"):
        return None
    kind = cfg.logger.kind
    options = OmegaConf.to_container(cfg.logger, resolve=True)
    options.pop("kind")
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        # a new version_<k> folder per (re)start: a resumed job appends a file instead of deleting the old one
        return CSVLogger(save_dir=str(out_dir), name="csv", **options)
    if kind == "wandb":
        return _wandb_logger(cfg, out_dir, options)
    raise ValueError(f"logger.kind={kind!r} is invalid: allowed wandb, csv, none")


def _wandb_logger(cfg: DictConfig, out_dir: Path, options: dict):
    """Lightning's WandbLogger for the job; online, it connects now, and a tracker it cannot reach
    within ``init_timeout`` seconds leaves the job logging offline (one warning says how to sync):
    a job's science never depends on the tracker."""
    from lightning.pytorch.loggers import WandbLogger

    ident = run_identity(out_dir)
    os.environ.setdefault("WANDB_SILENT", "true")
    mode = os.environ.get("WANDB_MODE", options.pop("mode", "offline"))
    options.pop("mode", None)
    timeout = float(options.pop("init_timeout", 30))
    group = options.pop("group", None) or ident["group"]

    def make(mode: str):
        import wandb

        logger = WandbLogger(
            save_dir=str(out_dir),
            name=ident["name"],
            group=group,
            id=ident["id"],
            resume="allow",
            mode=mode,
            config=scoped_config(cfg),
            settings=wandb.Settings(init_timeout=timeout),
            **options,
        )
        # Lightning passes anonymous=None to wandb.init, which wandb answers with a deprecation
        # warning on every run; the setting does nothing, so it is not passed at all.
        logger._wandb_init.pop("anonymous", None)
        return logger

    logger = make(mode)
    if mode != "online":
        return logger
    try:
        _ = logger.experiment  # wandb.init: the one call that needs the network
    except Exception as error:  # wandb raises CommError, UsageError, TimeoutError ... for an unreachable server
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=1)
        wandb.teardown()  # the failed init keeps the run id in wandb's service; the offline run reuses it
        logging.getLogger(__name__).warning(
            "W&B is unreachable (%s: %s); logging offline instead: sync later with `wandb sync %s`",
            type(error).__name__,
            str(error).splitlines()[0][:200] if str(error) else "",
            Path(out_dir) / "wandb" / "offline-run-*",
        )
        logger = make("offline")
    return logger


def finish_logger(logger) -> None:
    """Close the job's W&B run so the next job of an in-process multirun starts its own."""
    if logger is None:
        return
    if type(logger).__name__ == "WandbLogger":
        import wandb

        if wandb.run is not None:
            wandb.finish()


# Library warnings about the libraries' own internals, not about the user's run (filtered at their source).
_INTERNAL_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's pytree helper on torch >= 2.10
    r"The number of training batches .* is smaller than the logging interval",  # budgets in steps span epochs
    r".*does not have many workers which may be a bottleneck",  # data live on the device: no workers by design
)


def quiet_library_warnings() -> None:
    """Silence the few library warnings that say nothing about the user's run."""
    import warnings

    for pattern in _INTERNAL_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


class _DropAdvertising(logging.Filter):
    """Lightning prints a product tip on every Trainer; it is noise in a sweep's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def route_lightning_logs() -> None:
    """Send Lightning's messages through the root (Hydra's) handlers only, at WARNING and above:
    once, instead of twice from Lightning's own stream handler, and without its start-up chatter
    (the accelerator it found is in the record's ``device``)."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.WARNING)
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
