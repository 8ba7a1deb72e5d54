"""The diffusion task: build data, model and trainer from the config, train, evaluate, report.

Called by :func:`diffcomp.tasks.run_job` with the resolved config and the job's output directory.
Training resumes from ``checkpoints/last.ckpt`` when one exists (a requeued or restarted job), so
it always ends at the configured number of steps.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import EMAWeightAveraging
from omegaconf import DictConfig, OmegaConf

from diffcomp.checkpointing import LastCheckpoint, trainer_plugins
from diffcomp.analysis.callback import RepresentationCallback
from diffcomp.data.preview import DatasetPreviewCallback
from diffcomp.diffusion.module import DiffusionModule
from diffcomp.eval.callback import EvaluationCallback
from diffcomp.results import device_name
from diffcomp.logging_setup import build_logger, finish_logger, route_lightning_logs

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig):
    return instantiate(cfg.data, _convert_="all")


def build_module(cfg: DictConfig) -> DiffusionModule:
    model = instantiate(cfg.model, _convert_="all")
    d, t, e = cfg.diffusion, cfg.train, cfg.eval
    return DiffusionModule(
        model,
        timesteps=d.timesteps,
        beta_start=d.beta_start,
        beta_end=d.beta_end,
        lr=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_steps,
        sampler=e.sampler,
        sample_steps=e.steps,
        probe_layer=e.probe_layer,
        sample_seed=cfg.seed,
        compile=t.compile,
        channels_last=t.channels_last,
        clip_x0=e.clip_x0,
    )


def training_budget(cfg: DictConfig, datamodule) -> dict:
    """Trainer limits: ``train.epochs`` of this dataset, or with ``train.constant_batches`` the
    number of batches that many epochs of the full (lambda=1) dataset take, whatever lambda is."""
    t = cfg.train
    if t.constant_batches:
        return {"max_steps": int(t.epochs * datamodule.batches_per_epoch(full=True)), "max_epochs": -1}
    return {"max_epochs": int(t.epochs), "max_steps": -1}


def train_diffusion(cfg: DictConfig, out_dir: Path) -> dict:
    """Train and evaluate one model; returns the record's ``metrics``, ``timings`` and ``device``."""
    route_lightning_logs()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision("high")
    datamodule = build_datamodule(cfg)
    module = build_module(cfg)
    evaluation = EvaluationCallback(out_dir, grid_size=cfg.eval.grid_size)
    last = out_dir / "checkpoints" / "last.ckpt"
    checkpoint = LastCheckpoint(last)  # each epoch end, and on SLURM's time-out/preemption signal
    callbacks = [DatasetPreviewCallback(out_dir), evaluation, checkpoint]
    if cfg.train.ema_decay:
        callbacks.append(EMAWeightAveraging(decay=cfg.train.ema_decay))
    analysis = None
    if cfg.analysis.enabled and cfg.eval.probe_layer:
        options = {k: v for k, v in OmegaConf.to_container(cfg.analysis, resolve=True).items() if k != "enabled"}
        analysis = RepresentationCallback(out_dir, seed=cfg.seed, **options)
        callbacks.append(analysis)
    logger = build_logger(cfg, out_dir)
    every = cfg.eval.every_n_epochs
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        **training_budget(cfg, datamodule),
        callbacks=callbacks,
        logger=logger if logger is not None else False,
        enable_checkpointing=False,  # LastCheckpoint owns last.ckpt
        plugins=trainer_plugins(),
        default_root_dir=str(out_dir),
        check_val_every_n_epoch=every if every else None,
        limit_val_batches=1.0 if every else 0,
        num_sanity_val_steps=0,
    )
    resume = str(last) if last.exists() else None
    if resume:
        log.info("resuming from %s", resume)
    try:
        started = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        train_seconds = time.perf_counter() - started
        images_seen = trainer.global_step * datamodule.batch_size
        final_loss = _final_loss(trainer)  # read now: validation resets callback_metrics
        if not every:  # validation was switched off during fit; the final evaluation needs it back
            trainer.limit_val_batches = 1.0
        trainer.validate(module, datamodule=datamodule, verbose=False)
        torch.save(module.model.state_dict(), out_dir / "model.pt")
    finally:
        finish_logger(logger)
    device = trainer.strategy.root_device
    return {
        "metrics": {**evaluation.latest, **(analysis.latest if analysis else {}), "train/final_loss": final_loss},
        "history": evaluation.history,
        "analysis_history": analysis.history if analysis else [],
        "timings": {
            "train_seconds": train_seconds,
            "train_steps": trainer.global_step,
            "train_images_per_second": images_seen / max(train_seconds, 1e-9) if not resume else None,
            "sample_seconds": evaluation.sample_seconds,
        },
        "device": device_name(device),
        "dataset": {"name": datamodule.name, "num_images": datamodule.spec.num_training_labels()},
        "checkpoint": str(last),
        "resumed_from": {"checkpoint": resume, "step": checkpoint.resumed_step} if resume else None,
    }


def _final_loss(trainer: L.Trainer) -> float | None:
    value = trainer.callback_metrics.get("train/loss")
    return float(value) if value is not None else None
