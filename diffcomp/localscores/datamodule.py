"""The LightningDataModule of the length-generalisation experiment.

Train batches are ``(images [B, 1, N, N] in [-1, 1], conditions [B, K, 3])``: a fixed set of
``train_scenes`` scenes with k drawn evenly from ``train_counts``, labelled per ``regime``.
Validation batches are ``(conditions [B, K, 3],)``: ``samples_per_count`` requests for every k in
``eval_counts``, every location given (the question is always "draw these k bumps"), sorted by k.
``DiffusionModule.validation_step`` samples one image per request.

Both sets are drawn on the CPU from seeded generators (streams ``[seed, 0]`` for training,
``[seed, 1]`` for evaluation), so they are the same on every device, then moved to the trainer's
device once and served by :class:`diffcomp.data.batches.DeviceBatches`.
"""

from __future__ import annotations

import logging

import lightning as L
import torch

from diffcomp.data.batches import DeviceBatches
from diffcomp.data.render import to_model_range
from diffcomp.localscores.scenes import SceneSpec, balanced_counts, condition_sets, make_scenes, render_scenes, sample_locations

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
    """See the module docstring; ``spec`` holds the canvas and placement rules."""

    def __init__(
        self,
        spec: SceneSpec,
        train_counts=(1, 2, 3),
        eval_counts=(1, 2, 3, 4, 5, 6),
        max_conditions: int = 6,
        regime: str = "all",
        train_scenes: int = 6000,
        samples_per_count: int = 64,
        batch_size: int = 64,
        eval_batch_size: int = 128,
        seed: int = 0,
    ):
        super().__init__()
        self.spec = spec
        self.train_counts = [int(k) for k in train_counts]
        self.eval_counts = [int(k) for k in eval_counts]
        self.max_conditions = max_conditions
        self.regime = regime
        self.train_scenes = train_scenes
        self.samples_per_count = samples_per_count
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.train_images = self.train_conditions = self.eval_conditions = self.eval_images = None

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
            self.train_images = to_model_range(images)
            self.eval_images, self.eval_conditions = evaluation_scenes(
                self.spec, self.eval_counts, self.samples_per_count, self.max_conditions, self.seed
            )
            log.info(
                "local scores: %d training scenes (k in %s, regime %s), %d evaluation requests (k in %s)",
                self.train_scenes, self.train_counts, self.regime, len(self.eval_conditions), self.eval_counts,
            )
        self.train_images = self.train_images.to(device)
        self.train_conditions = self.train_conditions.to(device)
        self.eval_conditions = self.eval_conditions.to(device)

    def train_dataloader(self) -> DeviceBatches:
        return DeviceBatches((self.train_images, self.train_conditions), self.batch_size, shuffle=True, seed=self.seed, drop_last=True)

    def val_dataloader(self) -> DeviceBatches:
        return DeviceBatches((self.eval_conditions,), self.eval_batch_size)
