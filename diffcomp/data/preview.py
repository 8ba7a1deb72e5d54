"""Seeing a dataset before training on it (like the paper's Fig. 9e-h).

``python -m diffcomp.data.preview data=<name> [overrides]`` writes ``dataset.png``: a grid of
training images beside a scatter of the training labels coloured by what they show (2D, 2D rim,
1D, 0D; 2D bumps in magenta as in Fig. 9h), the N x N frame outlined and held-out regions shaded.
Training writes and logs the same figure at start (:class:`DatasetPreviewCallback`).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from diffcomp.data.canvas import CanvasSpec, LabelSet, render_set
from diffcomp.data.regions import DIMENSIONS

COLOURS = {"2d": "tab:green", "rim": "tab:olive", "1d": "tab:blue", "0d": "gold"}
NAMES = {"2d": "2D", "rim": "2D rim", "1d": "1D", "0d": "0D"}


def dataset_figure(spec: CanvasSpec, label_set: LabelSet, title: str = "", examples: int = 16, seed: int = 0):
    """The preview figure (a matplotlib Figure) of a built label set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from diffcomp.eval.callback import image_grid

    fig, (ax_img, ax_lab) = plt.subplots(1, 2, figsize=(11, 5.2))
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
                name = f"{NAMES[dim]} {part.kind}"
                ax_lab.scatter(labels[mask, 0], labels[mask, 1], s=point, c=colour, label=f"{name} ({mask.sum()})", linewidths=0)
    n = spec.size
    ax_lab.add_patch(Rectangle((0.5, 0.5), n, n, fill=False, ec="black", lw=1))
    lo, hi = 1 - spec.margin - 0.5, n + spec.margin + 0.5
    if spec.holdout is not None:
        grid = torch.stack(torch.meshgrid(torch.linspace(lo, hi, 400), torch.linspace(lo, hi, 400), indexing="xy"), dim=-1)
        held = spec.holdout.contains(grid.reshape(-1, 2)).reshape(400, 400).numpy()
        ax_lab.imshow(held, extent=(lo, hi, hi, lo), cmap=matplotlib.colors.ListedColormap([(0, 0, 0, 0), (1, 0, 0, 0.25)]), interpolation="nearest")
    ax_lab.set_xlim(lo, hi)
    ax_lab.set_ylim(hi, lo)  # pixel (1, 1) at the top left, as in the images
    ax_lab.set_aspect("equal")
    ax_lab.set_xlabel("mu_x")
    ax_lab.set_ylabel("mu_y")
    ax_lab.legend(loc="upper right", fontsize=7, markerscale=4)
    ax_lab.set_title("training labels" + (" (red: held out)" if spec.holdout is not None else ""))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_preview(datamodule, path: Path, title: str = "") -> Path:
    import matplotlib.pyplot as plt

    if datamodule.label_set is None:
        datamodule.setup("fit")
    fig = dataset_figure(datamodule.spec, _on_cpu(datamodule.label_set), title or datamodule.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _on_cpu(label_set: LabelSet) -> LabelSet:
    return LabelSet(label_set.labels.cpu(), label_set.part.cpu(), label_set.dimension.cpu())


class DatasetPreviewCallback(L.Callback):
    """Writes ``dataset.png`` into the run directory at the start of training and logs it."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / "dataset.png"

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        dm = trainer.datamodule
        save_preview(dm, self.path, f"{dm.name}: {len(dm.label_set.labels)} images")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="data/preview", images=[str(self.path)], step=0)


def main() -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from diffcomp.run import CONFIG_DIR

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
    def preview(cfg) -> None:
        from diffcomp.config.validation import validate_config

        validate_config(cfg)
        datamodule = instantiate(cfg.data, _convert_="all")
        out = Path(HydraConfig.get().runtime.output_dir) / "dataset.png"
        save_preview(datamodule, out, f"data={cfg.data.name}")
        print(f"dataset {cfg.data.name}: {len(datamodule.label_set.labels)} training images; preview: {out}")

    preview()


if __name__ == "__main__":
    main()
