"""Seeing a dataset before training on it (like the paper's Fig. 9e-h).

The figure shows a grid of training images beside a scatter of the training labels coloured by what
they show (2D, 2D rim, 1D, 0D; 2D bumps in magenta as in Fig. 9h), the N x N frame outlined and
held-out regions shaded. Training writes and logs it at start (``diffcomp.callbacks``);
``python -m diffcomp.preview data=<name>`` draws it without training.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from diffcomp.data.canvas import CanvasSpec, LabelSet, render_set
from diffcomp.data.regions import DIMENSIONS
from diffcomp.data.render import image_grid
from diffcomp.files import save_figure

COLOURS = {"2d": "tab:green", "rim": "tab:olive", "1d": "tab:blue", "0d": "gold"}
NAMES = {"2d": "2D", "rim": "2D rim", "1d": "1D", "0d": "0D"}


def dataset_figure(spec: CanvasSpec, title: str = "", examples: int = 16, seed: int = 0) -> Figure:
    """The preview figure of a spec's training set."""
    label_set = spec.label_set
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    ax_img, ax_lab = fig.subplots(1, 2)
    count = len(label_set.labels)
    pick = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[: min(examples, count)].sort().values
    chosen = LabelSet(label_set.labels[pick], label_set.part[pick], label_set.dimension[pick])
    ax_img.imshow(image_grid(render_set(spec, chosen).cpu(), columns=4).numpy(), cmap="gray", vmin=0, vmax=255)
    ax_img.set_title(f"{len(pick)} of {count} training images")
    ax_img.axis("off")

    labels = label_set.labels.numpy()
    point = max(1.0, 300.0 / max(count, 1) ** 0.5)
    for code, dim in enumerate(DIMENSIONS):
        for index, part in enumerate(spec.effective_parts):
            mask = ((label_set.dimension == code) & (label_set.part == index)).numpy()
            if mask.any():
                colour = "magenta" if (part.kind == "bump" and dim == "2d") else COLOURS[dim]
                ax_lab.scatter(
                    labels[mask, 0],
                    labels[mask, 1],
                    s=point,
                    c=colour,
                    label=f"{NAMES[dim]} {part.kind} ({mask.sum()})",
                    linewidths=0,
                )
    n = spec.size
    ax_lab.add_patch(Rectangle((0.5, 0.5), n, n, fill=False, ec="black", lw=1))
    lo, hi = 1 - spec.margin - 0.5, n + spec.margin + 0.5
    if spec.holdout is not None:
        axis = torch.linspace(lo, hi, 400)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1)
        held = spec.holdout.contains(grid.reshape(-1, 2)).reshape(400, 400).numpy()
        shade = ListedColormap([(0, 0, 0, 0), (1, 0, 0, 0.25)])
        ax_lab.imshow(held, extent=(lo, hi, hi, lo), cmap=shade, interpolation="nearest")
    ax_lab.set_xlim(lo, hi)
    ax_lab.set_ylim(hi, lo)  # pixel (1, 1) at the top left, as in the images
    ax_lab.set_aspect("equal")
    ax_lab.set_xlabel("mu_x")
    ax_lab.set_ylabel("mu_y")
    ax_lab.legend(loc="upper right", fontsize=7, markerscale=4)
    ax_lab.set_title("training labels" + (" (red: held-out region)" if spec.holdout is not None else ""))
    fig.suptitle(title, fontsize=10)
    return fig


def save_preview(spec: CanvasSpec, path: Path, title: str = "") -> Path:
    """Write :func:`dataset_figure` to ``path``."""
    return save_figure(dataset_figure(spec, title), path, dpi=110)


class DatasetPreviewCallback(L.Callback):
    """Writes ``dataset.png`` into the run directory at the start of training and logs it, for any
    datamodule that can draw itself (``save_preview(path)``)."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / "dataset.png"

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        save = getattr(trainer.datamodule, "save_preview", None)
        if save is None:
            return
        save(self.path)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="data/preview", images=[str(self.path)], step=0)
