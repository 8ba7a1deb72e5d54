"""The one training path: every diffusion job (canvas datasets, local-scores scenes) runs here.

The config names the parts (``_target_``): ``data`` (a LightningDataModule), ``model`` (the noise
predictor), ``diffusion`` (the :class:`~diffcomp.diffusion.module.DiffusionModule` around it),
``eval.callback`` and ``analysis`` (Lightning callbacks that score evaluations). This module only
checks the config, builds those parts, runs the Trainer for a budget of optimizer steps and returns
what the job's record keeps. Because every diffusion job comes through here, every job resumes from
``checkpoints/last.ckpt`` (a requeued or restarted job ends at the configured number of steps),
writes the same record and logs the same way.

:func:`prepare` is the cheap half (validation and the datamodule, whose training set is built once
and cached); :func:`run` is the expensive half and reuses what ``prepare`` built.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import EarlyStopping, EMAWeightAveraging
from omegaconf import DictConfig, OmegaConf

from diffcomp.checkpointing import LastCheckpoint, resume_point, trainer_plugins
from diffcomp.config.checks import ConfigError, choice, number, optional_number, require
from diffcomp.data.preview import DatasetPreviewCallback
from diffcomp.diffusion.sampling import SAMPLERS
from diffcomp.files import atomic_path
from diffcomp.logging_setup import build_logger, finish_logger, quiet_library_warnings, route_lightning_logs
from diffcomp.model.capture import AUTO, auto_layer, map_side
from diffcomp.progress import StepProgressBar
from diffcomp.results import device_name

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What :func:`prepare` built: the datamodule (its training set cached) and the job's summary."""

    datamodule: L.LightningDataModule
    summary: dict


def check_training(cfg: DictConfig) -> None:
    """The ``diffusion``, ``train`` and ``eval`` fields the training path reads, named as users set them."""
    d, t, e = cfg.diffusion, cfg.train, cfg.eval
    timesteps = int(number(d, "timesteps", lo=1, integer=True, prefix="diffusion"))
    number(d, "beta_start", lo=0, hi=1, lo_open=True, hi_open=True, prefix="diffusion")
    number(d, "beta_end", lo=d.beta_start, hi=1, lo_open=True, hi_open=True, prefix="diffusion")
    number(t, "batch_size", lo=1, integer=True, prefix="train")
    number(t, "lr", lo=0, lo_open=True, prefix="train")
    number(t, "weight_decay", lo=0, prefix="train")
    number(t, "warmup_steps", lo=0, integer=True, prefix="train")
    steps = optional_number(t, "steps", lo=1, integer=True, prefix="train")
    epochs = optional_number(t, "epochs", lo=1, integer=True, prefix="train")
    require(
        (steps is None) != (epochs is None),
        "train.steps",
        steps,
        f"an integer >= 1 with train.epochs=null, or null with train.epochs set (now train.epochs={epochs})",
    )
    optional_number(t, "target_accuracy", lo=0, hi=1, lo_open=True, prefix="train")
    optional_number(t.divergence, "max_loss", lo=0, lo_open=True, prefix="train.divergence")
    number(t.divergence, "after_steps", lo=0, integer=True, prefix="train.divergence")
    ema = t.get("ema_decay")
    require(
        ema is None or (isinstance(ema, (int, float)) and 0 <= ema < 1),
        "train.ema_decay",
        ema,
        "null (off) or a number in [0, 1)",
    )
    choice(e, "sampler", SAMPLERS, prefix="eval")
    sample_steps = e.get("steps")
    require(
        isinstance(sample_steps, int) and 1 <= sample_steps <= timesteps,
        "eval.steps",
        sample_steps,
        f"an integer in [1, diffusion.timesteps={timesteps}]",
    )
    number(e, "batch_size", lo=1, integer=True, prefix="eval")
    number(e, "train_samples", lo=0, integer=True, prefix="eval")
    number(e, "loss_draws", lo=1, integer=True, prefix="eval")
    optional_number(e, "every_n_steps", lo=1, integer=True, prefix="eval")
    require(isinstance(e.get("at_start"), bool), "eval.at_start", e.get("at_start"), "true or false")
    check_precision(cfg.trainer.get("precision"))


def check_probe(cfg: DictConfig) -> None:
    """``eval.probe_layer`` names a layer of the model, or ``auto`` finds the stage whose map is
    ``eval.probe_map_size`` per side at this canvas (``capture.auto_layer``): checked before training."""
    e = cfg.eval
    model_class = get_class(cfg.model._target_)
    layers = getattr(model_class, "LAYERS", ())
    probe = e.get("probe_layer")
    side = int(number(e, "probe_map_size", lo=1, integer=True, prefix="eval")) if "probe_map_size" in e else 4
    if probe is None or not trains(cfg):  # nothing trained, nothing probed (see run)
        return
    require(
        probe == AUTO or probe in layers,
        "eval.probe_layer",
        probe,
        f"null, {AUTO} or one of " + (", ".join(layers) or "(none for this model)"),
    )
    if probe == AUTO and hasattr(model_class, "map_sizes"):
        size = int(cfg.model.image_size)
        sizes = model_class.map_sizes(size)
        first = next(iter(sizes.values()))  # the first encoder stage has the largest encoder map
        require(
            auto_layer(sizes, side) is not None,
            "eval.probe_map_size",
            side,
            f"a side <= {first}, the first encoder map at data.size={size} (maps: "
            + ", ".join(f"{name} {n}" for name, n in sizes.items())
            + ")",
        )


def check_precision(precision) -> None:
    """``trainer.precision`` checked against the values Lightning's Trainer accepts (its own lists)."""
    from typing import get_args

    from lightning.fabric.plugins.precision import precision as lp

    names = get_args(lp._PRECISION_INPUT_STR)
    aliases = get_args(lp._PRECISION_INPUT_STR_ALIAS) + get_args(lp._PRECISION_INPUT_INT)
    require(
        precision is None or (not isinstance(precision, bool) and precision in names + aliases),
        "trainer.precision",
        precision,
        f"one of {', '.join(names)} (or the short forms {', '.join(dict.fromkeys(map(str, aliases)))})",
    )


def check_component(node: DictConfig | None, prefix: str, root: DictConfig | None = None) -> None:
    """Let a configured class check its own node (``validate_config``), before anything is built."""
    if node is None or node.get("_target_") is None:
        return
    try:
        cls = get_class(node._target_)
    except Exception as error:
        raise ValueError(f"{prefix}._target_={node._target_!r} cannot be imported: {error}") from error
    if hasattr(cls, "validate_config"):
        cls.validate_config(node, prefix, root=root)


def build(node: DictConfig, **kwargs):
    """``instantiate`` a configured part; a ConfigError raised inside reaches the caller as itself
    (not wrapped in Hydra's InstantiationException), so the message names the field."""
    try:
        return instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise


def prepare(cfg: DictConfig) -> Prepared:
    """Validate the job and build its datamodule (no tensors yet); raises ConfigError naming the field."""
    check_training(cfg)
    datamodule = build(cfg.data)
    check_component(cfg.model, "model", cfg)
    check_probe(cfg)  # after the model's own checks: it reads the validated canvas size
    check_component(cfg.eval.get("callback"), "eval.callback", cfg)
    check_component(cfg.get("analysis"), "analysis", cfg)
    summary = {**datamodule.summary(), "lambda": cfg.get("lambda"), **budget(cfg, datamodule)}
    return Prepared(datamodule, summary)


NOT_TRAINED = {  # what a job of a model with nothing to train records about the parts it skipped
    "training": "skipped: the model has no parameters (0 steps)",
    "analysis": "skipped: the model has no layers to probe (eval.probe_layer ignored)",
}


def trains(cfg: DictConfig) -> bool:
    """Whether the configured model has anything to train (``model=ideal``, the training set's optimal
    denoiser, has not: its job evaluates it at step 0, without representation analysis)."""
    return bool(getattr(get_class(cfg.model._target_), "TRAINS", True))


def budget(cfg: DictConfig, datamodule) -> dict:
    """Trainer limits: ``train.steps`` optimizer steps whatever the dataset's size (so every lambda of
    a sweep sees the same number of batches, as Sec. 3.3 / D.2 require), or ``train.epochs`` epochs
    of this dataset. ``loss_window``: the steps the reported training loss averages over."""
    t, every = cfg.train, cfg.eval.get("every_n_steps")
    if not trains(cfg):
        return {"max_steps": 0, "max_epochs": -1, "steps": 0, "loss_window": 1}
    if t.get("steps") is not None:
        steps = int(t.steps)
        limits = {"max_steps": steps, "max_epochs": -1}
    else:
        steps = int(t.epochs) * math.ceil(datamodule.summary()["images"] / int(t.batch_size))
        limits = {"max_epochs": int(t.epochs), "max_steps": -1}
    return {**limits, "steps": steps, "loss_window": int(every) if every else max(1, steps // 10)}


def build_callbacks(cfg: DictConfig, out_dir: Path) -> dict[str, L.Callback]:
    """The job's callbacks by role; evaluation and analysis come from config."""
    callbacks = {
        "preview": DatasetPreviewCallback(out_dir),
        "evaluation": build(cfg.eval.callback, out_dir=out_dir),
        "checkpoint": LastCheckpoint(out_dir / "checkpoints" / "last.ckpt"),
    }
    analysis = cfg.get("analysis")
    if analysis is not None and analysis.get("_target_") and cfg.eval.get("probe_layer") and trains(cfg):
        callbacks["analysis"] = build(analysis, out_dir=out_dir)
    if cfg.train.get("target_accuracy"):
        # Lightning's EarlyStopping by threshold alone: stop at the first evaluation reaching it.
        callbacks["target"] = EarlyStopping(
            monitor="eval/acc",
            mode="max",
            stopping_threshold=float(cfg.train.target_accuracy),
            patience=2**31,
            check_on_train_epoch_end=False,
        )
    if cfg.train.get("ema_decay") and trains(cfg):
        callbacks["ema"] = EMAWeightAveraging(decay=cfg.train.ema_decay)
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks["progress"] = StepProgressBar()
    return callbacks


def run(cfg: DictConfig, out_dir: Path, prepared: Prepared | None = None) -> dict:
    """Train and evaluate one model; returns the record's ``metrics``, ``history``, ``timings`` ..."""
    prepared = prepared or prepare(cfg)
    datamodule = prepared.datamodule
    quiet_library_warnings()
    route_lightning_logs()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision("high")
    limits = budget(cfg, datamodule)
    model = build(cfg.model)
    fixed = {} if trains(cfg) else {"probe_layer": None, "compile": False}  # no layers to probe or compile
    module = build(cfg.diffusion, model=model, loss_window=limits["loss_window"], **fixed)
    callbacks = build_callbacks(cfg, out_dir)
    evaluation, checkpoint = callbacks["evaluation"], callbacks["checkpoint"]
    logger = build_logger(cfg, out_dir)
    every = cfg.eval.get("every_n_steps")
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        max_steps=limits["max_steps"],
        max_epochs=limits["max_epochs"],
        callbacks=list(callbacks.values()),
        logger=logger if logger is not None else False,
        enable_checkpointing=False,  # LastCheckpoint owns last.ckpt
        plugins=trainer_plugins(),
        default_root_dir=str(out_dir),
        check_val_every_n_epoch=None if every else 1,
        val_check_interval=int(every) if every else None,
        limit_val_batches=1.0 if every else 0,
        num_sanity_val_steps=0,
    )
    resume, fallback = resume_point(checkpoint.path)  # last.ckpt, else previous.ckpt, else step 0
    log.info(datamodule.describe())
    try:
        if resume:
            log.info("resuming from %s", resume)
        elif cfg.eval.at_start:
            _validate(trainer, module, datamodule)  # step 0: the untrained model (Fig. 2e)
        if trains(cfg):
            # weights_only: a checkpoint is tensors and plain containers; unpickling it runs no code
            trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, weights_only=True)
        else:
            log.info("%s: nothing to train, evaluated as it is (%s)", cfg.model._target_, NOT_TRAINED["analysis"])
        # over every process of the job: a run resumed at its last step keeps its training time
        train_seconds = module.train_seconds()
        # the final evaluation, unless the cadence just ran it in this process (a job resumed at its
        # last step has that evaluation in its restored history but not its metrics: it evaluates again)
        if not evaluation.latest or evaluation.history[-1]["step"] != trainer.global_step:
            _validate(trainer, module, datamodule)
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save(module.model.state_dict(), tmp)
    finally:
        finish_logger(logger)
    analysis = callbacks.get("analysis")
    images_seen = trainer.global_step * datamodule.batch_size  # since step 0, in as many processes as it took
    metrics = {**evaluation.latest, **(analysis.latest if analysis else {})}
    # the last interval's mean, carried by the checkpoint when this process trained no step itself
    metrics["train/final_loss"] = evaluation.latest.get("train/interval_loss")
    return {
        "metrics": metrics,
        "history": evaluation.history,
        "analysis_history": analysis.history if analysis else [],
        **evaluation.record_sections(),  # the Evaluator contract (diffcomp.eval.contract)
        "timings": {
            "train_seconds": train_seconds,
            "train_steps": trainer.global_step,
            "train_images_per_second": images_seen / max(train_seconds, 1e-9),
            "sample_seconds": evaluation.sample_seconds,
            "evaluation_seconds": module.clock.evaluation_seconds,
        },
        "device": device_name(trainer.strategy.root_device),
        "data": datamodule.record(),  # the dataset resolved per axis, with its image counts
        "budget": limits,  # the training budget: steps (or epochs), and the training-loss window
        "checkpoint": str(checkpoint.path),
        # the layer the representation analysis read (``auto`` resolved) and its map's side
        "probe": {"layer": module.probe_layer, "map_side": map_side(model, module.probe_layer)},
        "resumed_from": (
            {"checkpoint": str(resume) if resume else None, "step": checkpoint.resumed_step or 0, "fallback": fallback}
            if resume or fallback
            else None
        ),
        **({} if trains(cfg) else {"notes": dict(NOT_TRAINED)}),
    }


def _validate(trainer: L.Trainer, module, datamodule) -> None:
    """One evaluation pass outside the fit's cadence (at step 0, or the final one)."""
    during_fit = trainer.limit_val_batches
    trainer.limit_val_batches = 1.0
    try:
        trainer.validate(module, datamodule=datamodule, verbose=False)
    finally:
        trainer.limit_val_batches = during_fit
