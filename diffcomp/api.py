"""The notebook API: render images, build a dataset, load a finished run, sample from it, score samples.

>>> import diffcomp.api as dc
>>> images = dc.render_images([[16, 16], [5, 20]], size=32, sigma=1.0)     # [2, 32, 32] in [0, 255]
>>> data = dc.build_dataset(size=16, sigma=1.0, increment=0.5)             # a set-up CanvasDataModule
>>> run = dc.load_run("outputs/runs/2026-11-23/13-00-29")                  # a finished run directory
>>> samples = run.sample([[3, 4], [10, 12]], sampler="ddim", steps=50)
>>> dc.score(samples, [[3, 4], [10, 12]])                                  # {'eval/acc': ..., ...}
>>> run.evaluate(sampler="ddim", steps=50, clip_x0=False)                  # re-evaluate with another sampler
>>> print(dc.sweep_status("outputs/sweeps/fig6e").text())                  # how a sweep stands
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from diffcomp.data.datamodule import CanvasDataModule
from diffcomp.data.render import render
from diffcomp.eval.callback import score_samples
from diffcomp.runs import FinishedRun, as_labels, load_run
from diffcomp.sweeps.status import sweep_status

__all__ = ["FinishedRun", "build_dataset", "load_run", "render_images", "score", "sweep_status"]


def render_images(
    labels: Sequence | Tensor,
    size: int = 32,
    sigma: float = 1.0,
    kind: str = "bump",
    periodic: bool = False,
    sigma_y: float | None = None,
) -> Tensor:
    """Images [B, size, size] in [0, 255] for labels ``(mu_x, mu_y)`` in pixel coordinates."""
    return render(as_labels(labels), size, sigma, sigma if sigma_y is None else sigma_y, kind=kind, periodic=periodic)


def build_dataset(**options) -> CanvasDataModule:
    """A set-up datamodule on the CPU: ``.train_images`` [M,1,N,N] in [-1,1], ``.train_labels`` [M,2].

    Options are those of ``conf/data/*.yaml`` (``size``, ``sigma``, ``increment``, ``fraction`` ...).
    """
    datamodule = CanvasDataModule(**options)
    datamodule.setup("fit")
    return datamodule


def score(
    images: Tensor, labels: Sequence | Tensor, readout: str = "darkest", period: float | None = None, kind: str = "bump"
) -> dict[str, float]:
    """Appendix A.3 accuracy (overall, x, y) and failure-mode fractions of ``images`` for ``labels``."""
    return score_samples(images, as_labels(labels), readout, period, kind=kind)
