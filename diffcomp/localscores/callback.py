"""Scoring every evaluation pass of the length-generalisation experiment (a Lightning callback).

Receives the samples ``DiffusionModule.validation_step`` generated for the evaluation requests (an
:class:`~diffcomp.eval.contract.EvaluationPass`),
scores them per requested k with :mod:`diffcomp.localscores.matching`, adds the condition-direction
cosines of :mod:`diffcomp.localscores.directions`, logs everything, and redraws the figures.

Logged keys: ``eval/k<k>/{match,recall,count_error,exact_count}`` per k; ``eval/{match,recall,
count_error}_{in,out}`` averaged over the trained counts (in) and the untrained ones (out);
``directions/{mean_abs_cos,max_abs_cos}``; ``locality/{pixels,conditions}/t<t>`` and ``/mean``: how
local the trained score is against the noise level (the related-work note's claim that networks are
approximately locally conditional, more so at high noise), beside ``locality_ideal/{pixels,conditions}/t<t>``
(the same measures of the training set's exact optimal denoiser, :mod:`diffcomp.diffusion.ideal`) and
``locality/loss_weight/t<t>`` (``abar/(1 - abar)``, how much the epsilon-loss weighs the clean-image
error there: where it is tiny, training barely shapes the output); ``eval/train/match``, ``eval/train/k<k>/match``
and ``eval/train_score`` (the lowest per-k value): the model's score on a fixed sample of its own
training scenes, requested with their training conditions (:func:`answers_training_scene`).

Beside ``samples_by_k.png`` it writes the grid's samples as arrays, ``samples_by_k.npz`` (rewritten at
every evaluation, like the PNG; :func:`grid_arrays`): ``images`` uint8 [K, N, N] (the grey levels of
:func:`diffcomp.eval.samples_file.gray_levels`), ``labels`` float32 [K, max_conditions, 3] (each
sample's requested condition set, rows ``(mu_x, mu_y, mask)``, padded with mask 0) and ``index`` int64
[K] (its position among the evaluation requests), K = up to ``grid_per_count`` samples per requested k,
by k then request order, without the grid's blank slots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from diffcomp.diffusion.ideal import IdealDenoiser
from diffcomp.diffusion.schedule import clean_image_weight
from diffcomp.eval.contract import EvaluationPass, EvaluatorCallback
from diffcomp.eval.samples_file import SAMPLES_BY_K_ARRAYS, gray_levels, write_sample_arrays
from diffcomp.localscores.directions import condition_directions, cosine_matrix, off_diagonal_summary
from diffcomp.localscores.figures import picks_by_count, plot_accuracy_vs_k, plot_cosines, plot_sample_grid
from diffcomp.localscores.locality import (
    LocalityCurve,
    conditional_locality,
    locality_metrics,
    pixel_locality,
    plot_locality,
    timestep_grid,
)
from diffcomp.localscores.matching import answers_training_scene, per_count_metrics, score_scenes

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


def training_metrics(right: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """``eval/train/match`` over the sampled training scenes, per bump count k, and the lowest per-k value."""
    metrics = {"eval/train/match": float(right.mean()), "eval/train/n": int(len(right))}
    for k in np.unique(counts):
        metrics[f"eval/train/k{int(k)}/match"] = float(right[counts == k].mean())
    metrics["eval/train_score"] = min(float(right[counts == k].mean()) for k in np.unique(counts))
    return metrics


def summarise(per_k: dict[int, dict[str, float]], train_counts) -> dict[str, float]:
    """Flat metrics: every per-k value, and means over trained (``in``) and untrained (``out``) k."""
    metrics = {f"eval/k{k}/{name}": value for k, row in per_k.items() for name, value in row.items() if name != "n"}
    trained = set(int(k) for k in train_counts)
    for part, ks in (("in", [k for k in per_k if k in trained]), ("out", [k for k in per_k if k not in trained])):
        for name in ("match", "recall", "count_error"):
            metrics[f"eval/{name}_{part}"] = float(np.mean([per_k[k][name] for k in ks])) if ks else float("nan")
    return metrics


def grid_picks(conditions: torch.Tensor, per_count: int) -> torch.Tensor:
    """The requests ``plot_sample_grid`` shows: the first ``per_count`` of each requested k, by k (int64)."""
    picks = picks_by_count(conditions, per_count)
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)


def grid_arrays(images: torch.Tensor, conditions: torch.Tensor, per_count: int) -> dict[str, np.ndarray]:
    """The arrays of ``samples_by_k.npz`` (see the module docstring)."""
    pick = grid_picks(conditions, per_count)
    return {
        "images": gray_levels(images[pick].float().numpy()),
        "labels": conditions[pick].numpy().astype(np.float32),
        "index": pick.numpy().astype(np.int64),
    }


class LengthGeneralisationCallback(EvaluatorCallback):
    """See the module docstring; built from ``eval.callback`` of ``eval=local_scores``.

    Args:
        out_dir: where ``accuracy_vs_k.png``, ``samples_by_k.png`` and ``cosines.png`` go.
        tolerance, ink_threshold: the matching rule (:func:`score_scenes`).
        grid_per_count: samples per k shown in the grid.
        direction_locations: condition-direction probe locations ``[[x, y], ...]``; null: the
            placement grid's four corners. direction_t, direction_samples, direction_layer: the probe's
            timestep, noise inputs averaged, and the layer read (``output`` = predicted noise).
        seed: the probe's noise seed.
    """

    def __init__(
        self,
        out_dir: str | Path,
        tolerance: float = 1.0,
        ink_threshold: float = 0.5,
        grid_per_count: int = 8,
        direction_locations=None,
        direction_t: int = 800,
        direction_samples: int = 32,
        direction_layer: str = "output",
        locality_requests: int = 4,
        locality_timesteps: int = 6,
        locality_pixel_radius: int = 2,
        locality_condition_radius: int = 3,
        locality_ideal: bool = True,
        ideal_label_width: float = 1.0,
        seed: int = 0,
    ):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.tolerance = tolerance
        self.ink_threshold = ink_threshold
        self.per_count = grid_per_count
        self.direction_options = dict(
            locations=direction_locations,
            t=int(direction_t),
            num_noise=int(direction_samples),
            layer=direction_layer,
            seed=int(seed),
        )
        self.locality_options = dict(
            requests=int(locality_requests),
            timesteps=int(locality_timesteps),
            pixel_radius=locality_pixel_radius,
            condition_radius=locality_condition_radius,
            ideal=bool(locality_ideal),
            ideal_label_width=float(ideal_label_width),
            seed=int(seed),
        )
        self.locality: dict = {}
        self.ideal_locality: dict = {}  # the training set's ideal denoiser, measured once (it never changes)
        self.loss_weight: dict = {}
        self.per_k: dict[int, dict[str, float]] = {}
        self.cosines: torch.Tensor | None = None

    @classmethod
    def validate_config(cls, node, prefix: str = "eval.callback", root=None) -> None:
        """Check the callback's options and those that depend on the data and the model."""
        from hydra.utils import get_class

        from diffcomp.config.checks import number, require
        from diffcomp.localscores.scenes import distinguishable_separation

        number(node, "tolerance", lo=0, lo_open=True, prefix=prefix)
        ink = float(number(node, "ink_threshold", lo=0, hi=1, lo_open=True, hi_open=True, prefix=prefix))
        number(node, "grid_per_count", lo=1, integer=True, prefix=prefix)
        number(node, "direction_samples", lo=1, integer=True, prefix=prefix)
        number(node, "locality_requests", lo=0, integer=True, prefix=prefix)
        number(node, "locality_timesteps", lo=1, integer=True, prefix=prefix)
        number(node, "locality_pixel_radius", lo=0, prefix=prefix)
        number(node, "locality_condition_radius", lo=0, prefix=prefix)
        number(node, "ideal_label_width", lo=0, prefix=prefix)
        require(
            isinstance(node.get("locality_ideal"), bool),
            f"{prefix}.locality_ideal",
            node.get("locality_ideal"),
            "true or false",
        )
        if root is None:
            return
        number(node, "direction_t", lo=0, hi=int(root.diffusion.timesteps) - 1, integer=True, prefix=prefix)
        model = get_class(root.model._target_)
        layers = ("output", *layer_names(model, root.model))
        require(
            node.get("direction_layer") in layers,
            f"{prefix}.direction_layer",
            node.get("direction_layer"),
            "one of " + ", ".join(layers),
        )
        size, data = int(root.data.size), root.data
        locations = node.get("direction_locations")
        if locations is not None:
            ok = all(len(p) == 2 and all(isinstance(v, (int, float)) and 1 <= v <= size for v in p) for p in locations)
            require(
                ok,
                f"{prefix}.direction_locations",
                locations,
                f"null (corners) or a list of [x, y] pairs in [1, {size}]",
            )
        needed = distinguishable_separation(float(data.sigma), str(data.composition), ink)
        require(
            int(data.min_separation) >= needed,
            "data.min_separation",
            data.min_separation,
            f"an integer >= {needed}: closer {data.composition}-composed bumps of sigma={data.sigma:g} merge into one dark component",
        )

    def _probe(self, trainer: L.Trainer) -> DirectionProbe:
        dm, options = trainer.datamodule, dict(self.direction_options)
        locations = options.pop("locations")
        if locations is None:  # the four corners of the placement grid: the farthest apart
            lo, hi = float(dm.spec.low), float(dm.spec.high)
            locations = [[lo, lo], [hi, lo], [lo, hi], [hi, hi]]
        return DirectionProbe(torch.tensor([[float(v) for v in p] for p in locations]), dm.max_conditions, **options)

    def on_evaluation(self, trainer: L.Trainer, pl_module, evaluation: EvaluationPass) -> None:
        samples, dm = evaluation.samples, trainer.datamodule
        label = f"{type(pl_module.model).__name__} / regime {dm.regime}"
        conditions, images, _ = samples.cat()
        scores = score_scenes(images.numpy(), conditions.numpy(), self.tolerance, self.ink_threshold)
        self.per_k = per_count_metrics(scores)
        metrics = summarise(self.per_k, dm.train_counts)
        if evaluation.training.labels:
            train_conditions, train_images, _ = evaluation.training.cat()
            train_scores = score_scenes(
                train_images.numpy(), train_conditions.numpy(), self.tolerance, self.ink_threshold
            )
            right = answers_training_scene(train_scores, dm.regime, dm.train_counts)
            metrics.update(training_metrics(right, dm.train_scene_counts[dm.train_sample].numpy()))
        p = self._probe(trainer)
        dirs = condition_directions(pl_module.model, p.locations, p.max_conditions, p.t, p.num_noise, p.layer, p.seed)
        self.cosines = cosine_matrix(dirs)
        metrics.update({f"directions/{k}": v for k, v in off_diagonal_summary(self.cosines).items()})
        plot_cosines(self.cosines, self.out_dir / "cosines.png", f"{label} ({p.layer}, t={p.t})")
        metrics.update(self._measure_locality(trainer, pl_module, label))
        losses = samples.loss_per_label()
        if losses is not None:
            metrics["eval/loss"] = losses.mean().item()
        metrics["eval/sample_seconds"] = self.sample_seconds
        for key, value in metrics.items():
            pl_module.log(key, value)
        if evaluation.train_loss is not None:
            metrics["train/interval_loss"] = evaluation.train_loss
        self.latest = metrics
        self.history.append({"step": trainer.global_step, **metrics})
        log.info(
            "step %d: match per k %s (in %.3f, out %.3f)",
            trainer.global_step,
            {k: round(v["match"], 3) for k, v in self.per_k.items()},
            metrics["eval/match_in"],
            metrics["eval/match_out"],
        )
        plot_accuracy_vs_k(
            {label: {k: v["match"] for k, v in self.per_k.items()}}, dm.train_counts, self.out_dir / "accuracy_vs_k.png"
        )
        plot_sample_grid(images, conditions, self.out_dir / "samples_by_k.png", self.per_count)
        write_sample_arrays(self.out_dir / SAMPLES_BY_K_ARRAYS, **grid_arrays(images, conditions, self.per_count))

    def _measure_locality(self, trainer: L.Trainer, pl_module, label: str) -> dict[str, float]:
        """Pixel and conditional locality against the timestep, on multi-bump evaluation requests."""
        o, dm = self.locality_options, trainer.datamodule
        if not o["requests"]:
            return {}
        several = torch.nonzero(dm.eval_conditions[:, :, 2].sum(dim=1) >= 2)[:, 0][: o["requests"]]
        if len(several) == 0:
            return {}
        images, conditions = dm.eval_images[several], dm.eval_conditions[several]
        schedule = pl_module.schedule  # on the module's device
        steps = timestep_grid(schedule.num_steps, o["timesteps"])
        self.locality = {
            "pixels": pixel_locality(
                pl_module.model, images, conditions, schedule, steps, radius=o["pixel_radius"], seed=o["seed"]
            ),
            "conditions": conditional_locality(
                pl_module.model, images, conditions, schedule, steps, radius=o["condition_radius"], seed=o["seed"]
            ),
        }
        weight = clean_image_weight(schedule)[steps].tolist()
        self.loss_weight = {"timesteps": steps, "values": weight}
        if (
            o["ideal"]
            and [int(t) for t in self.ideal_locality.get("pixels", LocalityCurve([], [], 0)).timesteps] != steps
        ):
            self.ideal_locality = ideal_locality(dm, schedule, images, conditions, steps, o)
        plot_locality(
            self.locality, self.out_dir / "locality_vs_t.png", schedule, label, self.ideal_locality, (steps, weight)
        )
        metrics = {**locality_metrics(self.locality), **locality_metrics(self.ideal_locality, "locality_ideal")}
        return {**metrics, **{f"locality/loss_weight/t{t}": w for t, w in zip(steps, weight)}}

    def record_sections(self) -> dict:
        """What the run's record keeps beyond the flat metrics."""
        return {
            "per_count": {str(k): v for k, v in self.per_k.items()},
            "cosines": self.cosines.tolist() if self.cosines is not None else None,
            "locality": curve_records(self.locality),
            "locality_ideal": {
                **curve_records(self.ideal_locality),
                "label_width": self.locality_options["ideal_label_width"],
            }
            if self.ideal_locality
            else {},
            "locality_loss_weight": dict(self.loss_weight, formula="abar / (1 - abar)"),
        }


def curve_records(curves: dict[str, LocalityCurve]) -> dict:
    """The record's form of locality curves: per measure its timesteps, mean, std and radius."""
    return {
        name: {"timesteps": c.timesteps.tolist(), "mean": c.mean.tolist(), "std": c.std.tolist(), "radius": c.radius}
        for name, c in curves.items()
    }


def ideal_locality(dm, schedule, images, conditions, steps: list[int], o: dict) -> dict[str, LocalityCurve]:
    """Both locality measures of the training set's exact optimal denoiser, on the same requests, noise
    and pixels as the trained model's: what the training loss's optimum itself reads (issue 19)."""
    ideal = IdealDenoiser(int(dm.spec.size), label_width=o["ideal_label_width"])
    ideal.memorise(dm.train_images, dm.train_conditions, schedule.alpha_bars)
    return {
        "pixels": pixel_locality(ideal, images, conditions, schedule, steps, radius=o["pixel_radius"], seed=o["seed"]),
        "conditions": conditional_locality(
            ideal, images, conditions, schedule, steps, radius=o["condition_radius"], seed=o["seed"]
        ),
    }


def layer_names(model_class, node) -> tuple[str, ...]:
    """Layers of the configured model that the direction probe may read (besides ``output``)."""
    if hasattr(model_class, "LAYERS") and model_class.LAYERS:
        return tuple(model_class.LAYERS)
    return tuple(f"block{i + 1}" for i in range(int(node.get("depth", 0))))
