"""The LightningDataModule for every canvas dataset: renders on the training device, serves batches.

Train batches are ``(images [B,1,N,N] in [-1,1], labels [B,2])``. Validation batches are
``(labels [B,2], images [B,1,N,N])`` at the evaluation labels: the model samples its own image for
each label (see ``DiffusionModule``), and the ground-truth image gives a held-out denoising loss. A
second validation loader serves ``(labels,)`` of a fixed sample of the *training* labels
(:func:`training_sample`), so every evaluation also scores the model on its own training distribution.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from diffcomp.data.batches import DeviceBatches
from diffcomp.data.canvas import CanvasSpec, evaluation_labels, render_images, render_set, training_sample
from diffcomp.data.render import to_model_range

log = logging.getLogger(__name__)


class CanvasDataModule(L.LightningDataModule):
    """Builds a :class:`CanvasSpec` dataset once per process, on the trainer's device.

    Args:
        name: the config name of the variant (for records and logs).
        batch_size: training minibatch size; eval_batch_size: labels sampled per validation step.
        train_samples: how many training labels every evaluation also samples (0: none).
        seed: shuffling seed of the training batches and of the training-label sample.
        **spec: the :class:`CanvasSpec` options (``kind``, ``size``, ``sigma``, ``sigma_x`` ...).
    """

    def __init__(
        self,
        name: str = "bump",
        batch_size: int = 128,
        eval_batch_size: int = 256,
        train_samples: int = 0,
        seed: int = 0,
        **spec,
    ):
        super().__init__()
        from diffcomp.config.errors import require

        require(isinstance(batch_size, int) and batch_size >= 1, "train.batch_size", batch_size, "an integer >= 1")
        require(
            isinstance(eval_batch_size, int) and eval_batch_size >= 1,
            "eval.batch_size",
            eval_batch_size,
            "an integer >= 1",
        )
        require(
            isinstance(train_samples, int) and train_samples >= 0,
            "eval.train_samples",
            train_samples,
            "an integer >= 0 (0: no training-distribution score)",
        )
        self.name = name
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.spec = CanvasSpec.from_options(**spec)
        self.train_sample = training_sample(self.spec.label_set, train_samples, seed)
        self.train_images = self.train_labels = self.eval_labels = self.eval_images = None

    @property
    def label_set(self):
        return self.spec.label_set

    @property
    def period(self) -> float | None:
        """The canvas period for wrapped distances (torus data), else None."""
        return float(self.spec.size) if self.spec.periodic else None

    def summary(self) -> dict:
        """The dataset in a few numbers (dry runs, records, the console's one-line summary)."""
        s = self.spec
        return {
            "data": self.name,
            "N": s.size,
            "sigma": s.sigma_x if s.sigma_x == s.sigma_y else [s.sigma_x, s.sigma_y],
            "d": s.increment_x if s.increment_x == s.increment_y else [s.increment_x, s.increment_y],
            "images": s.num_training_labels(),
            **s.summary(),
        }

    def record(self) -> dict:
        """The record's ``data`` section: the variant's name and its resolved spec (:meth:`CanvasSpec.record`)."""
        return {"name": self.name, **self.spec.record()}

    def describe(self) -> str:
        """One line for the console."""
        info = self.summary()
        parts = ", ".join(f"{k} {v}" for k, v in info.items() if k in ("2d", "rim", "1d", "0d"))
        held = (
            f", {100 * info['held_out_2d_fraction']:.1f} % of the 2D grid held out"
            if "held_out_2d_fraction" in info
            else ""
        )
        return f"dataset {self.name}: {info['images']} images of {info['N']}x{info['N']} ({parts}){held}"

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def setup(self, stage: str | None = None) -> None:
        device = self._device()
        if self.train_labels is None or self.train_labels.device != device:
            labels = self.label_set.labels
            self.train_images = to_model_range(render_set(self.spec, self.label_set, device=device))
            self.train_labels = labels.to(device=device, dtype=torch.float32)
            self.eval_labels = evaluation_labels(self.spec).to(device=device, dtype=torch.float32)
            self.eval_images = to_model_range(
                render_images(self.spec, self.eval_labels, device=device, kind=self.spec.eval_kind)
            )

    def train_dataloader(self) -> DeviceBatches:
        return DeviceBatches((self.train_images, self.train_labels), self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> DeviceBatches | list[DeviceBatches]:
        evaluation = DeviceBatches((self.eval_labels, self.eval_images), self.eval_batch_size)
        if not len(self.train_sample.labels):
            return evaluation
        labels = self.train_sample.labels.to(device=self.eval_labels.device, dtype=torch.float32)
        return [evaluation, DeviceBatches((labels,), self.eval_batch_size)]

    def save_preview(self, path: Path, title: str = "") -> Path:
        """``dataset.png``: example images beside the training labels by visibility class (Fig. 9e-h)."""
        from diffcomp.data.preview import save_preview

        return save_preview(self.spec, path, title or self.describe())
