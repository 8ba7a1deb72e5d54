"""The LightningDataModule for every canvas dataset: renders on the training device, serves batches.

Train batches are ``(images [B,1,N,N] in [-1,1], labels [B,2])``; validation batches are the
evaluation labels alone (the model samples images for them; see ``DiffusionModule``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import lightning as L
import torch

from diffcomp.data.batches import DeviceBatches
from diffcomp.data.canvas import CanvasSpec, evaluation_labels, render_set, training_set
from diffcomp.data.render import to_model_range

log = logging.getLogger(__name__)


class CanvasDataModule(L.LightningDataModule):
    """Builds a :class:`CanvasSpec` dataset once per process, on the trainer's device.

    Args:
        name: the config name of the variant (for records and logs).
        batch_size: training minibatch size; eval_batch_size: labels sampled per validation step.
        readout: how evaluation reads feature centres (``darkest`` or ``profile``).
        seed: shuffling seed of the training batches.
        **spec: the :class:`CanvasSpec` options (``kind``, ``size``, ``sigma``, ``sigma_x`` ...).
    """

    NON_SPEC_OPTIONS = ("name", "batch_size", "eval_batch_size", "readout", "seed")

    def __init__(
        self,
        name: str = "bump",
        batch_size: int = 128,
        eval_batch_size: int = 256,
        readout: str = "darkest",
        seed: int = 0,
        **spec,
    ):
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.readout = readout
        self.seed = seed
        self.spec = CanvasSpec.from_options(**spec)
        self.spec.validate()
        self.train_images = self.train_labels = self.eval_labels = self.label_set = None

    @property
    def period(self) -> float | None:
        """The canvas period for wrapped distances (torus data), else None."""
        return float(self.spec.size) if self.spec.periodic else None

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def setup(self, stage: str | None = None) -> None:
        device = self._device()
        if self.train_labels is None or self.train_labels.device != device:
            self.label_set = training_set(self.spec)
            labels = self.label_set.labels
            self.train_images = to_model_range(render_set(self.spec, self.label_set, device=device))
            self.train_labels = labels.to(device=device, dtype=torch.float32)
            self.eval_labels = evaluation_labels(self.spec).to(device=device, dtype=torch.float32)
            log.info("dataset %s: %d training images of %dx%d on %s", self.name, len(labels), self.spec.size, self.spec.size, device)

    def train_dataloader(self) -> DeviceBatches:
        return DeviceBatches((self.train_images, self.train_labels), self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> DeviceBatches:
        return DeviceBatches((self.eval_labels,), self.eval_batch_size)

    def batches_per_epoch(self, full: bool = False) -> int:
        """Training batches in one epoch; with ``full``, of the lambda=1 dataset (constant-batch budgets)."""
        spec = replace(self.spec, fraction=1.0) if full else self.spec
        return -(-spec.num_training_labels() // self.batch_size)


def spec_options(data_config) -> dict:
    """The :class:`CanvasSpec` options of a ``data`` config node (its datamodule-only keys removed)."""
    from omegaconf import OmegaConf

    options = OmegaConf.to_container(data_config, resolve=True) if not isinstance(data_config, dict) else dict(data_config)
    for key in ("_target_", *CanvasDataModule.NON_SPEC_OPTIONS):
        options.pop(key, None)
    return options
