"""Accuracy evaluation as a Lightning callback, run at every validation (at a cadence and at the end).

Receives the samples that ``DiffusionModule.validation_step`` generated (an
:class:`~diffcomp.eval.contract.EvaluationPass`), scores them with
:mod:`diffcomp.eval.readout`, logs ``eval/*`` metrics (per section when the dataset holds regions
out), counts failure modes (no feature / one / several), scores the samples at the fixed sample of
training labels (``eval/train/*``, :mod:`diffcomp.eval.training`), records the held-out denoising
loss and the training loss of the interval before, saves a grid of samples (``samples/step_<k>.png``)
and the same tiles as arrays for figures (``samples/step_<k>.npz``, :mod:`diffcomp.eval.samples_file`),
and keeps the history of every evaluation for the run's record.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor

from diffcomp.data.canvas import evaluation_sections
from diffcomp.data.render import image_grid
from diffcomp.eval.contract import EvaluationPass, EvaluatorCallback
from diffcomp.eval.readout import READOUTS, accuracy, axis_errors, read_centres
from diffcomp.eval.samples_file import (
    SECTION_PREFIX,
    gray_levels,
    sample_arrays_path,
    sample_grid_path,
    write_sample_arrays,
)
from diffcomp.eval.training import training_scores
from diffcomp.files import atomic_path

log = logging.getLogger(__name__)


def score_samples(
    images: Tensor,
    labels: Tensor,
    readout: str = "darkest",
    period: float | None = None,
    sections: dict[str, Tensor] | None = None,
    kind: str = "bump",
) -> dict[str, float]:
    """Accuracy (overall and per section, each for x, y and both) and failure-mode fractions."""
    result = read_centres(images, method=readout, periodic=period is not None, kind=kind)
    labels = labels.to(result.centres.dtype)
    metrics = {f"eval/{k}": v for k, v in accuracy(result.centres, labels, period).items()}
    for name, mask in (sections or {}).items():
        mask = mask.to(torch.bool).cpu()
        if mask.any():
            for k, v in accuracy(result.centres[mask], labels[mask], period).items():
                metrics[f"eval/{name}/{k}"] = v
            metrics[f"eval/{name}/n"] = int(mask.sum())  # how many evaluation labels the section holds
    counts = result.feature_counts
    total = max(len(counts), 1)
    metrics["eval/frac_no_feature"] = (counts == 0).sum().item() / total
    metrics["eval/frac_one_feature"] = (counts == 1).sum().item() / total
    metrics["eval/frac_several_features"] = (counts > 1).sum().item() / total
    metrics.update(one_feature_errors(result.centres, labels, counts, period))
    return metrics


# Bins of the position error max(|dx|, |dy|) of the samples that show exactly one feature: [0, 1) is
# correct (appendix A.3), [1, 2) an off-by-one read-out, beyond that a bump in the wrong place.
ERROR_BINS = ((0.0, 1.0, "lt1"), (1.0, 2.0, "1to2"), (2.0, 4.0, "2to4"), (4.0, float("inf"), "ge4"))


def one_feature_errors(centres: Tensor, labels: Tensor, counts: Tensor, period: float | None) -> dict[str, float]:
    """The distribution of position errors among one-feature samples (``eval/one_feature/*``): the
    preprint's phase B is "one bump in the wrong place", and a near miss of one pixel is a read-out's
    rounding, not a disordered manifold; the shares per :data:`ERROR_BINS` and the median tell them apart."""
    one = (counts == 1).cpu()
    if not one.any():
        return {}
    error = axis_errors(centres[one], labels[one], period).max(dim=1).values
    out = {"eval/one_feature/err_median": error.median().item(), "eval/one_feature/n": int(one.sum())}
    for lo, hi, name in ERROR_BINS:
        out[f"eval/one_feature/err_{name}"] = ((error >= lo) & (error < hi)).double().mean().item()
    return out


def loss_metrics(losses: Tensor | None, sections: dict[str, Tensor]) -> dict[str, float]:
    """Held-out denoising loss overall and per section."""
    if losses is None:
        return {}
    out = {"eval/loss": losses.mean().item()}
    for name, mask in sections.items():
        mask = mask.to(torch.bool).cpu()
        if mask.any():
            out[f"eval/{name}/loss"] = losses[mask].mean().item()
    return out


def grid_picks(count: int, grid_size: int) -> Tensor:
    """Which of ``count`` evaluation labels the sample grid shows: ``grid_size`` spread evenly (int64)."""
    return torch.linspace(0, count - 1, min(grid_size, count)).round().long()


class EvaluationCallback(EvaluatorCallback):
    """Scores every evaluation pass; see the module docstring.

    Args:
        out_dir: where sample grids are written (``samples/step_<k>.png`` and ``.npz``).
        readout: ``darkest`` (appendix A.3) or ``profile`` (:mod:`diffcomp.eval.readout`).
        grid_size: how many samples the grid shows (spread evenly over the evaluation labels).
    """

    def __init__(self, out_dir: str | Path, readout: str = "darkest", grid_size: int = 64):
        super().__init__()
        if readout not in READOUTS:
            from diffcomp.config.errors import ConfigError

            raise ConfigError("eval.readout", readout, "one of " + ", ".join(READOUTS))
        self.out_dir = Path(out_dir)
        self.readout = readout
        self.grid_size = grid_size
        self._train_started: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self._train_started = time.perf_counter()

    def on_evaluation(self, trainer: L.Trainer, pl_module, evaluation: EvaluationPass) -> None:
        samples = evaluation.samples
        labels, images, _ = samples.cat()
        dm = trainer.datamodule
        sections = evaluation_sections(dm.spec, labels)
        metrics = score_samples(images, labels, self.readout, dm.period, sections, dm.spec.eval_kind)
        metrics.update(loss_metrics(samples.loss_per_label(), sections))
        if evaluation.training.labels:
            metrics.update(training_scores(evaluation.training.cat()[1], dm.train_sample, dm.spec, self.readout))
        metrics["eval/sample_seconds"] = self.sample_seconds
        for key, value in metrics.items():
            pl_module.log(key, value, prog_bar=key == "eval/acc")
        if evaluation.train_loss is not None:
            metrics["train/interval_loss"] = evaluation.train_loss
            pl_module.log("train/interval_loss", evaluation.train_loss)
        self.latest = metrics
        # wall_seconds: since this process began training (compilation and evaluations included), for
        # accuracy-against-time curves; None for an evaluation before training.
        wall = None if self._train_started is None else time.perf_counter() - self._train_started
        entry = {"step": trainer.global_step, "epoch": trainer.current_epoch, "wall_seconds": wall}
        self.history.append({**entry, **metrics})
        loss = f", held-out loss {metrics['eval/loss']:.4f}" if "eval/loss" in metrics else ""
        if "eval/train_score" in metrics:
            loss += f", training-label score {metrics['eval/train_score']:.3f}"
        log.info(
            "step %d: accuracy %.3f (x %.3f, y %.3f)%s, sampling %.1fs",
            trainer.global_step,
            metrics["eval/acc"],
            metrics["eval/acc_x"],
            metrics["eval/acc_y"],
            loss,
            self.sample_seconds,
        )
        self._save_grid(trainer, images, labels, sections)

    def _save_grid(self, trainer: L.Trainer, images: Tensor, labels: Tensor, sections: dict[str, Tensor]) -> None:
        """The grid as a PNG (people, W&B) and its tiles as arrays (figures), the same grey levels in both."""
        from matplotlib.image import imsave

        pick = grid_picks(len(images), self.grid_size)
        tiles = images[pick].float()
        step = trainer.global_step
        arrays = {
            "images": gray_levels(tiles.numpy()),  # uint8 [K, N, N]: what imsave below makes of them
            "labels": labels[pick].numpy().astype(np.float32),
            "index": pick.numpy().astype(np.int64),
            **{SECTION_PREFIX + name: mask.to(torch.bool).cpu()[pick].numpy() for name, mask in sections.items()},
        }
        write_sample_arrays(sample_arrays_path(self.out_dir, step), **arrays)
        path = sample_grid_path(self.out_dir, step)
        with atomic_path(path) as tmp:  # a reader (the logger below, a person) never meets half a PNG
            imsave(tmp, image_grid(tiles).numpy(), cmap="gray", vmin=0, vmax=255, format="png")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="eval/samples", images=[str(path)], step=step)
