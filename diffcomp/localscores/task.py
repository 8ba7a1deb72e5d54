"""Task ``local_scores``: train one denoiser on k-bump scenes, ask it for more bumps, report per k.

``python -m diffcomp.run task=local_scores task.model=global,local task.regime=all,one -m`` runs
the 2 x 2 design of Bradley et al. (arXiv 2509.16447): regime ``all`` is their experiment 1 (every
location labelled), ``one`` their experiment 2 (one random bump labelled), and ``local`` x ``one``
their experiment 3 (locality enforced by the architecture). Afterwards
``python -m diffcomp.localscores.figures <sweep dir>`` overlays the four accuracy-vs-k curves.

All parameters live under ``cfg.task`` (``conf/task/local_scores.yaml``); the job's ``trainer``
(accelerator, precision, progress bar ...) and ``logger`` nodes are used when present.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from diffcomp.config.errors import require
from diffcomp.diffusion.module import DiffusionModule
from diffcomp.diffusion.sampling import SAMPLERS
from diffcomp.localscores.callback import DirectionProbe, LengthGeneralisationCallback
from diffcomp.localscores.datamodule import LocalScoresDataModule
from diffcomp.localscores.global_unet import POOLINGS, SetConditionedUNet
from diffcomp.localscores.local_denoiser import LocalDenoiser
from diffcomp.localscores.scenes import COMPOSITIONS, REGIMES, SceneSpec, distinguishable_separation
from diffcomp.results import device_name
from diffcomp.logging_setup import build_logger, finish_logger, route_lightning_logs
from diffcomp.model.unet import UNet
from diffcomp.theory import checks

log = logging.getLogger(__name__)

MODELS = ("global", "local")


def scene_spec(task: DictConfig) -> SceneSpec:
    return SceneSpec(int(task.size), float(task.sigma), int(task.min_separation), int(task.margin), str(task.composition))


def layer_names(task: DictConfig) -> tuple[str, ...]:
    """Layers the direction probe may read for the configured model (``output`` always)."""
    if task.model == "global":
        return ("output", *UNet.STAGE_NAMES, "middle")
    return ("output", *(f"block{i + 1}" for i in range(int(task.depth))))


def validate(cfg: DictConfig) -> DictConfig:
    """Check every parameter (whole job config or task node), naming the field; returns the task node."""
    task = checks.task_node(cfg)
    model = checks.choice(task, "model", MODELS)
    checks.choice(task, "regime", REGIMES)
    checks.choice(task, "composition", COMPOSITIONS)
    size = int(checks.number(task, "size", lo=4, hi=256, integer=True))
    if model == "global":
        require(size % 8 == 0, "task.size", size, "a multiple of 8 for the global model (the UNet pools three times)")
    checks.number(task, "sigma", lo=0, lo_open=True)
    separation = int(checks.number(task, "min_separation", lo=1, hi=size, integer=True))
    margin = int(checks.number(task, "margin", lo=0, hi=(size - 1) // 2, integer=True))
    train_counts = [int(k) for k in checks.numbers(task, "train_counts", lo=1, integer=True)]
    eval_counts = [int(k) for k in checks.numbers(task, "eval_counts", lo=1, integer=True)]
    most = max(train_counts + eval_counts)
    k_max = int(checks.number(task, "max_conditions", lo=1, integer=True))
    require(k_max >= most, "task.max_conditions", k_max, f"an integer >= the largest count {most}")
    composition, sigma = str(task.composition), float(task.sigma)
    ink_threshold = float(checks.number(task, "ink_threshold", lo=0, hi=1, lo_open=True, hi_open=True))
    needed = distinguishable_separation(sigma, composition, ink_threshold)
    require(
        separation >= needed, "task.min_separation", separation,
        f"an integer >= {needed}: closer {composition}-composed bumps of sigma={sigma:g} merge into one dark component",
    )
    capacity = SceneSpec(size, sigma, separation, margin).lattice_capacity()
    require(
        most <= capacity // 2, "task.min_separation", separation,
        f"a separation leaving room for {most} bumps: at most {capacity} fit on the {size - 2 * margin}-cell-wide "
        f"placement grid, and random placement needs twice the count",
    )
    checks.number(task, "train_scenes", lo=1, integer=True)
    checks.number(task, "batch_size", lo=1, hi=task.train_scenes, integer=True)
    checks.number(task, "eval_batch_size", lo=1, integer=True)
    checks.number(task, "samples_per_count", lo=1, integer=True)
    checks.number(task, "grid_per_count", lo=1, integer=True)
    checks.number(task, "steps", lo=1, integer=True)
    checks.number(task, "lr", lo=0, lo_open=True)
    checks.number(task, "weight_decay", lo=0)
    checks.number(task, "warmup_steps", lo=0, integer=True)
    timesteps = int(checks.number(task, "timesteps", lo=1, integer=True))
    checks.number(task, "beta_start", lo=0, hi=1, lo_open=True, hi_open=True)
    checks.number(task, "beta_end", lo=task.beta_start, hi=1, lo_open=True, hi_open=True)
    checks.choice(task, "sampler", SAMPLERS)
    checks.number(task, "sample_steps", lo=1, hi=timesteps, integer=True)
    encoding = int(checks.number(task, "encoding_dim", lo=2, integer=True))
    require(encoding % 2 == 0, "task.encoding_dim", encoding, "an even integer >= 2")
    if model == "global":
        channels = checks.numbers(task, "channels", lo=1, integer=True, length=4)
        checks.number(task, "bottleneck", lo=1, integer=True)
        heads = int(checks.number(task, "heads", lo=1, integer=True))
        require(all(c % heads == 0 for c in channels), "task.heads", heads, f"a divisor of every width in {list(channels)}")
        checks.choice(task, "set_pooling", POOLINGS)
    else:
        checks.number(task, "width", lo=1, integer=True)
        checks.number(task, "depth", lo=0, integer=True)
        checks.number(task, "cond_sigma", lo=0, lo_open=True)
        checks.number(task, "cond_radius", lo=0, integer=True)
    checks.number(task, "tolerance", lo=0, lo_open=True)
    locations = task.get("direction_locations")
    if locations is not None:
        ok = isinstance(locations, (list, tuple)) or OmegaConf.is_list(locations)
        ok = ok and all(
            (OmegaConf.is_list(p) or isinstance(p, (list, tuple))) and len(p) == 2
            and all(checks.is_number(v) and 1 <= v <= size for v in p) for p in locations
        )
        require(ok, "task.direction_locations", locations, f"null (corners) or a list of [x, y] pairs in [1, {size}]")
    checks.number(task, "direction_t", lo=0, hi=timesteps - 1, integer=True)
    checks.number(task, "direction_samples", lo=1, integer=True)
    checks.choice(task, "direction_layer", layer_names(task))
    seed = task.get("seed")
    if seed is not None:
        checks.number(task, "seed", lo=0, integer=True)
    return task


def build_model(task: DictConfig) -> torch.nn.Module:
    """The configured denoiser (``global``: set-conditioned UNet; ``local``: bounded receptive field)."""
    if task.model == "global":
        return SetConditionedUNet(
            int(task.size), [int(c) for c in task.channels], int(task.bottleneck), int(task.encoding_dim),
            int(task.heads), str(task.set_pooling),
        )
    return LocalDenoiser(
        int(task.size), int(task.width), int(task.depth), int(task.encoding_dim), float(task.cond_sigma), int(task.cond_radius)
    )


def direction_locations(task: DictConfig, spec: SceneSpec) -> torch.Tensor:
    """The configured probe locations, or the four corners of the placement grid (the farthest apart)."""
    if task.get("direction_locations") is not None:
        return torch.tensor([[float(v) for v in p] for p in task.direction_locations])
    lo, hi = float(spec.low), float(spec.high)
    return torch.tensor([[lo, lo], [hi, lo], [lo, hi], [hi, hi]])


def _job_seed(cfg: DictConfig, task: DictConfig) -> int:
    if task.get("seed") is not None:
        return int(task.seed)
    root = cfg.get("seed") if cfg is not task else None
    return int(root) if root is not None else 0


def _trainer_options(cfg: DictConfig, task: DictConfig) -> dict:
    node = cfg.get("trainer") if cfg is not task else None
    options = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    options.setdefault("enable_model_summary", False)
    options.setdefault("log_every_n_steps", 20)
    return options


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Train, evaluate per k, draw the figures; returns ``metrics``, ``timings``, ``device`` and details."""
    task = validate(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    route_lightning_logs()
    seed = _job_seed(cfg, task)
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision("high")

    spec = scene_spec(task)
    k_max = int(task.max_conditions)
    datamodule = LocalScoresDataModule(
        spec, list(task.train_counts), list(task.eval_counts), k_max, str(task.regime), int(task.train_scenes),
        int(task.samples_per_count), int(task.batch_size), int(task.eval_batch_size), seed,
    )
    model = build_model(task)
    module = DiffusionModule(
        model, timesteps=int(task.timesteps), beta_start=float(task.beta_start), beta_end=float(task.beta_end),
        lr=float(task.lr), weight_decay=float(task.weight_decay), warmup_steps=int(task.warmup_steps),
        sampler=str(task.sampler), sample_steps=int(task.sample_steps), probe_layer=None, sample_seed=seed,
    )
    label = f"{task.model} / regime {task.regime}"
    probe = DirectionProbe(direction_locations(task, spec), k_max, int(task.direction_t), int(task.direction_samples), str(task.direction_layer), seed)
    evaluation = LengthGeneralisationCallback(
        out_dir, task.train_counts, label, float(task.tolerance), float(task.ink_threshold), probe, int(task.grid_per_count)
    )
    logger = build_logger(cfg, out_dir) if cfg is not task else None
    trainer = L.Trainer(
        **_trainer_options(cfg, task),
        max_steps=int(task.steps),
        max_epochs=-1,
        callbacks=[evaluation],
        logger=logger if logger is not None else False,
        enable_checkpointing=False,
        default_root_dir=str(out_dir),
        limit_val_batches=0,  # evaluate once, after training
        num_sanity_val_steps=0,
    )
    try:
        started = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        train_seconds = time.perf_counter() - started
        loss = trainer.callback_metrics.get("train/loss")  # validation resets callback_metrics
        trainer.limit_val_batches = 1.0
        started = time.perf_counter()
        trainer.validate(module, datamodule=datamodule, verbose=False)
        eval_seconds = time.perf_counter() - started
        torch.save(model.state_dict(), out_dir / "model.pt")
    finally:
        finish_logger(logger)
    device = trainer.strategy.root_device
    details = {"parameters": sum(p.numel() for p in model.parameters())}
    if isinstance(model, LocalDenoiser):
        details["receptive_radius"] = model.receptive_radius()
    return {
        "metrics": {**evaluation.latest, "train/final_loss": float(loss) if loss is not None else math.nan},
        "per_count": {str(k): v for k, v in evaluation.per_k.items()},
        "cosines": evaluation.cosines.tolist() if evaluation.cosines is not None else None,
        "model": details,
        "timings": {
            "train_seconds": train_seconds,
            "train_steps": trainer.global_step,
            "train_images_per_second": trainer.global_step * int(task.batch_size) / max(train_seconds, 1e-9),
            "sample_seconds": evaluation.sample_seconds,
            "eval_seconds": eval_seconds,
        },
        "device": device_name(device),
    }

