"""Scoring every evaluation pass of the length-generalisation experiment (a Lightning callback).

Reads the samples ``DiffusionModule.validation_step`` generated for the evaluation requests,
scores them per requested k with :mod:`diffcomp.localscores.matching`, adds the condition-direction
cosines of :mod:`diffcomp.localscores.directions`, logs everything, and redraws the figures.

Logged keys: ``eval/k<k>/{match,recall,count_error,exact_count}`` per k; ``eval/{match,recall,
count_error}_{in,out}`` averaged over the trained counts (in) and the untrained ones (out);
``directions/{mean_abs_cos,max_abs_cos}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from diffcomp.localscores.directions import condition_directions, cosine_matrix, off_diagonal_summary
from diffcomp.localscores.figures import plot_accuracy_vs_k, plot_cosines, plot_sample_grid
from diffcomp.localscores.matching import per_count_metrics, score_scenes

log = logging.getLogger(__name__)


@dataclass
class DirectionProbe:
    """Where and how to measure condition directions (see :func:`condition_directions`)."""

    locations: torch.Tensor  # [M, 2]
    max_conditions: int
    t: int
    num_noise: int = 32
    layer: str = "output"
    seed: int = 0


def summarise(per_k: dict[int, dict[str, float]], train_counts) -> dict[str, float]:
    """Flat metrics: every per-k value, and means over trained (``in``) and untrained (``out``) k."""
    metrics = {f"eval/k{k}/{name}": value for k, row in per_k.items() for name, value in row.items() if name != "n"}
    trained = set(int(k) for k in train_counts)
    for part, ks in (("in", [k for k in per_k if k in trained]), ("out", [k for k in per_k if k not in trained])):
        for name in ("match", "recall", "count_error"):
            metrics[f"eval/{name}_{part}"] = float(np.mean([per_k[k][name] for k in ks])) if ks else float("nan")
    return metrics


class LengthGeneralisationCallback(L.Callback):
    """See the module docstring.

    Args:
        out_dir: where ``accuracy_vs_k.png``, ``samples_by_k.png`` and ``cosines.png`` go.
        train_counts: the k seen in training (for the in/out split and the shading).
        label: the curve's name in the figure (model and regime).
        tolerance, ink_threshold: the matching rule (:func:`score_scenes`).
        directions: the direction probe, or None to skip it.
        per_count: samples per k shown in the grid.
    """

    def __init__(
        self,
        out_dir: str | Path,
        train_counts,
        label: str = "",
        tolerance: float = 1.0,
        ink_threshold: float = 0.5,
        directions: DirectionProbe | None = None,
        per_count: int = 8,
    ):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.train_counts = [int(k) for k in train_counts]
        self.label = label
        self.tolerance = tolerance
        self.ink_threshold = ink_threshold
        self.directions = directions
        self.per_count = per_count
        self.latest: dict[str, float] = {}
        self.per_k: dict[int, dict[str, float]] = {}
        self.cosines: torch.Tensor | None = None
        self.history: list[dict] = []
        self.sample_seconds: float | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not pl_module.eval_samples.labels:
            return
        self.sample_seconds = pl_module.eval_samples.seconds
        conditions, images, _ = pl_module.eval_samples.cat()
        scores = score_scenes(images.numpy(), conditions.numpy(), self.tolerance, self.ink_threshold)
        self.per_k = per_count_metrics(scores)
        metrics = summarise(self.per_k, self.train_counts)
        if self.directions is not None:
            p = self.directions
            dirs = condition_directions(pl_module.model, p.locations, p.max_conditions, p.t, p.num_noise, p.layer, p.seed)
            self.cosines = cosine_matrix(dirs)
            metrics.update({f"directions/{k}": v for k, v in off_diagonal_summary(self.cosines).items()})
            plot_cosines(self.cosines, self.out_dir / "cosines.png", f"{self.label} ({p.layer}, t={p.t})")
        metrics["eval/sample_seconds"] = self.sample_seconds
        for key, value in metrics.items():
            pl_module.log(key, value)
        self.latest = metrics
        self.history.append({"step": trainer.global_step, **metrics})
        log.info(
            "step %d: match per k %s (in %.3f, out %.3f)", trainer.global_step,
            {k: round(v["match"], 3) for k, v in self.per_k.items()}, metrics["eval/match_in"], metrics["eval/match_out"],
        )
        curves = {self.label or "model": {k: v["match"] for k, v in self.per_k.items()}}
        plot_accuracy_vs_k(curves, self.train_counts, self.out_dir / "accuracy_vs_k.png")
        plot_sample_grid(images, conditions, self.out_dir / "samples_by_k.png", self.per_count)
