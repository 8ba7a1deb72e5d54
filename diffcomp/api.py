"""The notebook API: render images, build a dataset, load a finished run, sample from it, score samples.

>>> import diffcomp.api as dc
>>> images = dc.render_images([[16, 16], [5, 20]], size=32, sigma=1.0)     # [2, 32, 32] in [0, 255]
>>> data = dc.build_dataset(size=16, sigma=1.0, increment=0.5)             # a set-up CanvasDataModule
>>> run = dc.load_run("outputs/runs/2026-11-23/13-00-29")                  # a finished run directory
>>> samples = run.sample([[3, 4], [10, 12]], sampler="ddim", steps=50)
>>> dc.score(samples, [[3, 4], [10, 12]])                                  # {'eval/acc': ..., ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from diffcomp.data.datamodule import CanvasDataModule
from diffcomp.data.render import render
from diffcomp.eval.callback import score_samples
from diffcomp.results import read_record


def _labels(labels: Sequence | Tensor) -> Tensor:
    return torch.as_tensor(labels, dtype=torch.float32).reshape(-1, 2)


def render_images(
    labels: Sequence | Tensor,
    size: int = 32,
    sigma: float = 1.0,
    kind: str = "bump",
    periodic: bool = False,
    sigma_y: float | None = None,
) -> Tensor:
    """Images [B, size, size] in [0, 255] for labels ``(mu_x, mu_y)`` in pixel coordinates."""
    return render(_labels(labels), size, sigma, sigma if sigma_y is None else sigma_y, kind=kind, periodic=periodic)


def build_dataset(**options) -> CanvasDataModule:
    """A set-up datamodule on the CPU: ``.train_images`` [M,1,N,N] in [-1,1], ``.train_labels`` [M,2].

    Options are those of ``conf/data/*.yaml`` (``size``, ``sigma``, ``increment``, ``fraction`` ...).
    """
    datamodule = CanvasDataModule(**options)
    datamodule.setup("fit")
    return datamodule


@dataclass
class FinishedRun:
    """A finished run directory: its config, record and trained model (EMA weights when used)."""

    path: Path
    config: DictConfig
    record: dict | None
    module: "object"

    def sample(
        self, labels: Sequence | Tensor, sampler: str = "ddim", steps: int = 100, seed: int = 0, layer: str | None = None
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Generate one image per label; with ``layer`` also return that layer's activations [B, D]."""
        images, acts = self.module.generate(_labels(labels), sampler=sampler, steps=steps, seed=seed, capture=layer)
        return (images.cpu(), acts.cpu()) if layer else images.cpu()

    @property
    def metrics(self) -> dict:
        return (self.record or {}).get("metrics", {})


def load_run(path: str | Path, device: str | None = None) -> FinishedRun:
    """Load a run directory written by ``python -m diffcomp.run`` (its ``.hydra/config.yaml`` and ``model.pt``)."""
    from diffcomp.train import build_module

    path = Path(path)
    config_file = path / ".hydra" / "config.yaml"
    if not config_file.exists():
        raise FileNotFoundError(f"{path} is not a run directory: {config_file} is missing")
    cfg = OmegaConf.load(config_file)
    module = build_module(cfg)
    weights = path / "model.pt"
    if not weights.exists():
        raise FileNotFoundError(f"{weights} is missing: the run did not finish")
    module.model.load_state_dict(torch.load(weights, map_location="cpu"))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    module = module.to(device).eval()
    return FinishedRun(path, cfg, read_record(path), module)


def score(
    images: Tensor, labels: Sequence | Tensor, readout: str = "darkest", period: float | None = None
) -> dict[str, float]:
    """Appendix A.3 accuracy (overall, x, y) and failure-mode fractions of ``images`` for ``labels``."""
    return score_samples(images, _labels(labels), readout, period)
