"""Validation of a composed job config, run before any compute (single run, sweep, dry run).

Each check names the config key and the allowed range (:class:`ConfigError`). Tasks other than
diffusion validate themselves: their module may define ``validate(cfg)``.
"""

from __future__ import annotations

import importlib

from omegaconf import DictConfig

from diffcomp.config.errors import ConfigError, require


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value outside its meaning."""
    lam = cfg.get("lambda")
    require(isinstance(lam, (int, float)) and not isinstance(lam, bool) and 0 < lam <= 1, "lambda", lam, "a fraction in (0, 1]")
    task = cfg.task
    if task.name == "diffusion":
        validate_diffusion(cfg)
        return
    module_name, _, _ = str(task.fn).rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError("task.fn", task.fn, "an importable function path") from error
    if hasattr(module, "validate"):
        module.validate(cfg)


def validate_diffusion(cfg: DictConfig) -> None:
    from diffcomp.data.datamodule import spec_options
    from diffcomp.data.canvas import CanvasSpec
    from diffcomp.diffusion.sampling import SAMPLERS
    from diffcomp.eval.readout import READOUTS
    from diffcomp.model.unet import UNet

    CanvasSpec.from_options(**spec_options(cfg.data)).validate()
    size = cfg.data.size
    require(size % 8 == 0, "data.size", size, "a multiple of 8 (the UNet pools three times)")
    model = cfg.model
    channels = list(model.channels)
    require(len(channels) == 4 and all(isinstance(c, int) and c > 0 for c in channels), "model.channels", channels, "4 positive integers")
    require(model.heads >= 1 and all(c % model.heads == 0 for c in channels), "model.heads", model.heads, f"a divisor of every width in {channels}")
    require(model.encoding_dim >= 2 and model.encoding_dim % 2 == 0, "model.encoding_dim", model.encoding_dim, "an even integer >= 2")
    d = cfg.diffusion
    require(isinstance(d.timesteps, int) and d.timesteps >= 1, "diffusion.timesteps", d.timesteps, "an integer >= 1")
    require(0 < d.beta_start < d.beta_end < 1, "diffusion.beta_start", d.beta_start, f"0 < beta_start < beta_end={d.beta_end} < 1")
    t = cfg.train
    require(t.batch_size >= 1, "train.batch_size", t.batch_size, "an integer >= 1")
    require(t.lr > 0, "train.lr", t.lr, "a number > 0")
    require(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "a number >= 0")
    require(t.epochs >= 1, "train.epochs", t.epochs, "an integer >= 1")
    require(t.ema_decay is None or 0 <= t.ema_decay < 1, "train.ema_decay", t.ema_decay, "null (off) or a number in [0, 1)")
    e = cfg.eval
    require(e.sampler in SAMPLERS, "eval.sampler", e.sampler, "one of " + ", ".join(SAMPLERS))
    require(1 <= e.steps <= d.timesteps, "eval.steps", e.steps, f"an integer in [1, diffusion.timesteps={d.timesteps}]")
    require(e.every_n_epochs is None or e.every_n_epochs >= 0, "eval.every_n_epochs", e.every_n_epochs, "null/0 (only at the end) or an integer >= 1")
    require(e.batch_size >= 1, "eval.batch_size", e.batch_size, "an integer >= 1")
    require(cfg.data.readout in READOUTS, "data.readout", cfg.data.readout, "one of " + ", ".join(READOUTS))
    allowed = (*UNet.STAGE_NAMES, "middle")
    require(e.probe_layer is None or e.probe_layer in allowed, "eval.probe_layer", e.probe_layer, "null or one of " + ", ".join(allowed))
