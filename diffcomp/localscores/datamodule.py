"""The LightningDataModule of the length-generalisation experiment.

Train batches are ``(images [B, 1, N, N] in [-1, 1], conditions [B, K, 3])``: a fixed set of
``train_scenes`` scenes with k drawn evenly from ``train_counts``, labelled per ``regime``.
Validation batches are ``(conditions [B, K, 3], images [B, 1, N, N])``: ``samples_per_count``
requests for every k in ``eval_counts``, every location given (the question is always "draw these k
bumps"), sorted by k, with their ground-truth scenes (for the held-out denoising loss).
``DiffusionModule.validation_step`` samples one image per request. A second validation loader
serves ``(conditions,)`` of a fixed sample of the *training* scenes (``train_samples``, evenly per
trained k), so every evaluation also scores the model on its own training distribution.

Both sets are drawn on the CPU from seeded generators (streams ``[seed, 0]`` for training,
``[seed, 1]`` for evaluation), so they are the same on every device, then moved to the trainer's
device once and served by :class:`diffcomp.data.batches.DeviceBatches`.
"""

from __future__ import annotations

import logging

import lightning as L
import torch

from diffcomp.config.checks import choice, number, numbers, require
from diffcomp.data.batches import DeviceBatches
from diffcomp.data.render import to_model_range
from diffcomp.localscores.scenes import (
    COMPOSITIONS,
    REGIMES,
    SceneSpec,
    balanced_counts,
    condition_sets,
    make_scenes,
    render_scenes,
    sample_locations,
)

log = logging.getLogger(__name__)


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + stream)


def evaluation_scenes(spec: SceneSpec, eval_counts, samples_per_count: int, max_conditions: int, seed: int):
    """Ground-truth images [M, N, N] and fully labelled conditions [M, K, 3] of the evaluation requests."""
    generator = _generator(seed, 1)
    counts = torch.tensor([k for k in eval_counts for _ in range(samples_per_count)], dtype=torch.long)
    locations, valid = sample_locations(counts, max_conditions, spec, generator)
    return render_scenes(locations, valid, spec), condition_sets(locations, valid, "all")


class LocalScoresDataModule(L.LightningDataModule):
    """Scenes of k bumps conditioned on their locations (``data=scenes``); see the module docstring.

    Args (the ``data`` config's keys, checked here with their ``data.*`` names):
        name: the variant's name for records. size, sigma, min_separation, margin, composition: the
        :class:`SceneSpec`. train_counts / eval_counts: bumps per training scene / per request.
        max_conditions: K, the padded condition slots. regime: ``all`` or ``one`` labelled bump.
        train_scenes: the fixed training set's size. samples_per_count: evaluation requests per k.
        batch_size, eval_batch_size, seed: batches and the scene streams' seed.
    """

    def __init__(
        self,
        name: str = "scenes",
        size: int = 16,
        sigma: float = 1.0,
        min_separation: int = 4,
        margin: int = 1,
        composition: str = "min",
        train_counts=(1, 2, 3),
        eval_counts=(1, 2, 3, 4, 5, 6),
        max_conditions: int = 6,
        regime: str = "all",
        train_scenes: int = 6000,
        samples_per_count: int = 64,
        batch_size: int = 64,
        eval_batch_size: int = 128,
        train_samples: int = 0,
        seed: int = 0,
    ):
        super().__init__()
        options = dict(
            size=size,
            sigma=sigma,
            min_separation=min_separation,
            margin=margin,
            composition=composition,
            train_counts=list(train_counts),
            eval_counts=list(eval_counts),
            max_conditions=max_conditions,
            regime=regime,
            train_scenes=train_scenes,
            samples_per_count=samples_per_count,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            train_samples=train_samples,
        )
        validate_options(options)
        self.name = name
        self.spec = SceneSpec(int(size), float(sigma), int(min_separation), int(margin), str(composition))
        self.train_counts = [int(k) for k in train_counts]
        self.eval_counts = [int(k) for k in eval_counts]
        self.max_conditions = int(max_conditions)
        self.regime = regime
        self.train_scenes = int(train_scenes)
        self.samples_per_count = int(samples_per_count)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        self.train_samples = int(train_samples)
        self.seed = int(seed)
        self.train_images = self.train_conditions = self.eval_conditions = self.eval_images = None
        self.train_scene_counts = self.train_sample = None  # bumps per training scene; the sampled scenes

    def summary(self) -> dict:
        return {
            "data": self.name,
            "N": self.spec.size,
            "sigma": self.spec.sigma,
            "images": self.train_scenes,
            "train_counts": self.train_counts,
            "eval_counts": self.eval_counts,
            "regime": self.regime,
        }

    def record(self) -> dict:
        """The record's ``data`` section: the scenes' resolved settings and counts."""
        return {
            "name": self.name,
            "size": self.spec.size,
            "sigma_x": self.spec.sigma,
            "sigma_y": self.spec.sigma,
            "images": self.train_scenes,
            "train_counts": self.train_counts,
            "eval_counts": self.eval_counts,
            "regime": self.regime,
        }

    def describe(self) -> str:
        return (
            f"dataset {self.name}: {self.train_scenes} scenes of {self.spec.size}x{self.spec.size} with k in "
            f"{self.train_counts} bumps (regime {self.regime}); {len(self.eval_counts) * self.samples_per_count} requests, k in {self.eval_counts}"
        )

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def setup(self, stage: str | None = None) -> None:
        device = self._device()
        if self.train_images is not None and self.train_images.device == device:
            return
        if self.train_images is None:
            generator = _generator(self.seed, 0)
            counts = balanced_counts(self.train_counts, self.train_scenes, generator)
            images, self.train_conditions = make_scenes(counts, self.max_conditions, self.spec, self.regime, generator)
            self.train_scene_counts = counts
            self.train_sample = training_sample(counts, self.train_samples, self.seed)
            self.train_images = to_model_range(images)
            eval_images, self.eval_conditions = evaluation_scenes(
                self.spec, self.eval_counts, self.samples_per_count, self.max_conditions, self.seed
            )
            self.eval_images = to_model_range(eval_images)
        self.train_images = self.train_images.to(device)
        self.train_conditions = self.train_conditions.to(device)
        self.eval_conditions = self.eval_conditions.to(device)
        self.eval_images = self.eval_images.to(device)

    def train_dataloader(self) -> DeviceBatches:
        return DeviceBatches(
            (self.train_images, self.train_conditions), self.batch_size, shuffle=True, seed=self.seed, drop_last=True
        )

    def val_dataloader(self) -> DeviceBatches | list[DeviceBatches]:
        evaluation = DeviceBatches((self.eval_conditions, self.eval_images), self.eval_batch_size)
        if not len(self.train_sample):
            return evaluation
        sample = self.train_sample.to(self.train_conditions.device)
        return [evaluation, DeviceBatches((self.train_conditions[sample],), self.eval_batch_size)]


def training_sample(counts: torch.Tensor, total: int, seed: int) -> torch.Tensor:
    """Indices of ``ceil(total / len(ks))`` training scenes per bump count k (all of a rarer k), in
    training order: a fixed sample (seeded stream ``[seed, 2]``), the same at every evaluation."""
    ks = counts.unique()
    if total <= 0 or not len(ks):
        return torch.zeros(0, dtype=torch.long)
    rank = torch.randperm(len(counts), generator=_generator(seed, 2))
    share = -(-total // len(ks))
    return torch.cat([rank[counts[rank] == k][:share] for k in ks]).sort().values


def validate_options(o: dict) -> None:
    """Check the scene options, naming each ``data.*`` field and its allowed range."""
    size = int(number(o, "size", lo=4, hi=256, integer=True, prefix="data"))
    choice(o, "composition", COMPOSITIONS, prefix="data")
    choice(o, "regime", REGIMES, prefix="data")
    number(o, "sigma", lo=0, lo_open=True, prefix="data")
    separation = int(number(o, "min_separation", lo=1, hi=size, integer=True, prefix="data"))
    margin = int(number(o, "margin", lo=0, hi=(size - 1) // 2, integer=True, prefix="data"))
    train_counts = [int(k) for k in numbers(o, "train_counts", lo=1, integer=True, prefix="data")]
    eval_counts = [int(k) for k in numbers(o, "eval_counts", lo=1, integer=True, prefix="data")]
    most = max(train_counts + eval_counts)
    k_max = int(number(o, "max_conditions", lo=1, integer=True, prefix="data"))
    require(k_max >= most, "data.max_conditions", k_max, f"an integer >= the largest count {most}")
    capacity = SceneSpec(size, float(o["sigma"]), separation, margin).lattice_capacity()
    require(
        most <= capacity // 2,
        "data.min_separation",
        separation,
        f"a separation leaving room for {most} bumps: at most {capacity} fit on the {size - 2 * margin}-cell-wide "
        f"placement grid, and random placement needs twice the count",
    )
    scenes = int(number(o, "train_scenes", lo=1, integer=True, prefix="data"))
    number(o, "batch_size", lo=1, hi=scenes, integer=True, prefix="train")
    number(o, "eval_batch_size", lo=1, integer=True, prefix="eval")
    number(o, "samples_per_count", lo=1, integer=True, prefix="data")
    number(o, "train_samples", lo=0, integer=True, prefix="eval")
