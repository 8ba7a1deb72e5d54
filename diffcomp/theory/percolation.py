"""Percolation of bump datasets: the largest connected cluster's mass ratio over lambda (Sec. 3.3, D.1).

Why: the paper argues that a diffusion model builds a faithful 2D manifold only once the training
images form one large connected cluster, two images being connected when their overlap
(:mod:`diffcomp.theory.overlap`) exceeds a threshold. This module simulates that graph on the
paper's setup - the 1 024 pixel-centred labels of the d = 1 grid on a 32 x 32 canvas, of which a
fraction lambda is kept (the count :func:`~diffcomp.data.labels.nested_subsample` keeps, so the
simulated subsets are exactly the training subsets of the experiments) - and reports, per sigma, the mean fraction of the kept points in
the largest cluster (Fig. 6c at threshold 0.005, Fig. 14b at 0.05) and where it first crosses 1/2.

The subsets come from :func:`diffcomp.data.labels.nested_subsample`, so they are nested across
lambda and identical across sigma for one seed, as in the experiments (D.2). The overlap matrix is
computed once per sigma and sliced, so the whole Fig. 6c grid takes seconds on a CPU.

Measured (5 seeds, lambda = 0.1 .. 1.0, "self" normalisation; "norm" gives the same numbers here):
the mean ratio first reaches 1/2 at lambda = NaN / 0.139 / <=0.1 / <=0.1 / <=0.1 for
sigma = 0.1 / 0.5 / 1 / 1.5 / 2 at threshold 0.005, and NaN / 0.186 / <=0.1 ... at 0.05: sigma = 0.1
never connects (its unit-neighbour overlap is 2e-11), as the paper's D.1 notes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from omegaconf import DictConfig
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from diffcomp.config.errors import ConfigError
from diffcomp.data.labels import label_grid, nested_subsample
from diffcomp.theory import checks
from diffcomp.theory.overlap import NORMALIZATIONS, ink_images, overlap_curve, overlap_matrix


def grid_overlaps(size: int, sigma: float, grid_step: float = 1.0, normalization: str = "self") -> np.ndarray:
    """Overlap matrix [M, M] of all bumps on the grid ``mu = k * grid_step`` (rows ordered as ``label_grid``)."""
    labels = label_grid(size, grid_step, grid_step)
    return overlap_matrix(ink_images(labels, size, sigma), normalization)


def largest_cluster_fraction(adjacency: np.ndarray) -> float:
    """Size of the largest connected component of an undirected boolean graph [m, m], divided by m."""
    m = len(adjacency)
    if m == 0:
        return float("nan")
    _, component = connected_components(csr_matrix(adjacency), directed=False)
    return float(np.bincount(component).max() / m)


def mass_ratios(
    overlaps: np.ndarray, fractions: Sequence[float], seeds: Sequence[int], threshold: float
) -> np.ndarray:
    """Largest-cluster mass ratio [len(fractions), len(seeds)]: edges where overlap > threshold.

    For each seed the kept points are the nested prefix of one random ranking of the grid.
    """
    adjacency = overlaps > threshold
    everything = torch.arange(len(overlaps))
    out = np.empty((len(fractions), len(seeds)))
    for j, seed in enumerate(seeds):
        for i, fraction in enumerate(fractions):
            keep = nested_subsample(everything, float(fraction), int(seed)).numpy()
            out[i, j] = largest_cluster_fraction(adjacency[np.ix_(keep, keep)])
    return out


def mass_ratio_sweep(
    sigmas: Sequence[float],
    fractions: Sequence[float],
    seeds: Sequence[int],
    thresholds: Sequence[float],
    size: int = 32,
    grid_step: float = 1.0,
    normalization: str = "self",
) -> np.ndarray:
    """Mass ratios [thresholds, sigmas, fractions, seeds]; one overlap matrix per sigma, then slices."""
    out = np.empty((len(thresholds), len(sigmas), len(fractions), len(seeds)))
    for s, sigma in enumerate(sigmas):
        overlaps = grid_overlaps(size, float(sigma), grid_step, normalization)
        for t, threshold in enumerate(thresholds):
            out[t, s] = mass_ratios(overlaps, fractions, seeds, float(threshold))
    return out


def half_crossing(fractions: Sequence[float], ratio: Sequence[float], level: float = 0.5) -> float:
    """The first lambda where ``ratio`` reaches ``level``, linearly interpolated; NaN if it never does.

    If the first lambda already reaches it, that lambda is returned (the crossing lies at or below it).
    """
    x, y = np.asarray(fractions, dtype=float), np.asarray(ratio, dtype=float)
    above = np.flatnonzero(y >= level)
    if len(above) == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))


def plot_overlap_curves(increments, curves: dict, thresholds: Sequence[float], path: Path, normalization: str = "self") -> None:
    """Fig. 6b: overlap against increment, one line per sigma, thresholds dashed (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    floor = 1e-6
    for sigma, values in curves.items():
        ax.plot(increments, np.maximum(values, floor), label=f"σ = {sigma:g}")
    for threshold in thresholds:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.set_yscale("log")
    ax.set_ylim(floor, None)
    ax.set_xlabel("increment d (neighbour shift along x, pixels)")
    ax.set_ylabel("overlap ‖a∗b‖₂ / " + ("‖a∗a‖₂" if normalization == "self" else "‖a‖₂"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_mass_ratios(fractions, ratios: np.ndarray, sigmas, thresholds, path: Path) -> None:
    """Fig. 6c / 14b: mean (± std over seeds) largest-cluster mass ratio over lambda, a panel per threshold."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(thresholds), figsize=(4.5 * len(thresholds), 3.8), squeeze=False)
    for t, (ax, threshold) in enumerate(zip(axes[0], thresholds)):
        for s, sigma in enumerate(sigmas):
            mean, std = ratios[t, s].mean(axis=1), ratios[t, s].std(axis=1)
            ax.errorbar(fractions, mean, yerr=std, marker="o", markersize=3, capsize=2, label=f"σ = {sigma:g}")
        ax.axhline(0.5, color="gray", linestyle=":", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("λ (fraction of the 32×32 grid)")
        ax.set_ylabel("largest cluster mass ratio")
        ax.set_title(f"threshold overlap {threshold:g}")
        ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def validate(cfg: DictConfig) -> DictConfig:
    """Check every parameter of the task (whole job config or task node); returns the task node."""
    task = checks.task_node(cfg)
    checks.numbers(task, "sigmas", lo=0, lo_open=True)
    fractions = checks.numbers(task, "lambdas", lo=0, hi=1, lo_open=True)
    checks.numbers(task, "seeds", lo=0, integer=True)
    checks.numbers(task, "thresholds", lo=0)
    size = checks.number(task, "size", lo=2, hi=256, integer=True)
    step = checks.number(task, "grid_step", lo=0, hi=size, lo_open=True)
    points = len(label_grid(size, step, step))
    if min(fractions) * points < 1:
        raise ConfigError("task.lambdas", list(fractions), f"fractions in [1/{points}, 1] (the grid has {points} points)")
    checks.number(task, "increment_max", lo=0, hi=size)
    checks.number(task, "increment_step", lo=0, lo_open=True)
    if task.get("reference") is not None:
        checks.number(task, "reference", lo=-size, hi=2 * size)
    checks.number(task, "level", lo=0, hi=1, lo_open=True)
    checks.choice(task, "normalization", NORMALIZATIONS)
    return task


def _key(sigma: float, threshold: float | None = None) -> str:
    return f"sigma{sigma:g}" + ("" if threshold is None else f"_thr{threshold:g}")


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Task entry: overlap curves, the mass-ratio sweep, half-crossings; figures and arrays in ``out_dir``.

    Returns ``{"metrics": {...flat scalars...}, "timings": {...}}`` as :mod:`diffcomp.tasks` expects.
    """
    task = validate(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sigmas = [float(s) for s in checks.numbers(task, "sigmas")]
    fractions = [float(x) for x in checks.numbers(task, "lambdas")]
    seeds = [int(s) for s in checks.numbers(task, "seeds")]
    thresholds = [float(t) for t in checks.numbers(task, "thresholds")]
    size, normalization, level = int(task.size), str(task.normalization), float(task.level)

    start = time.perf_counter()
    count = math.floor(task.increment_max / task.increment_step + 1e-9) + 1
    increments = np.arange(count) * float(task.increment_step)
    curves = {s: overlap_curve(increments, s, size, task.get("reference"), normalization) for s in sigmas}
    curve_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ratios = mass_ratio_sweep(sigmas, fractions, seeds, thresholds, size, float(task.grid_step), normalization)
    sweep_seconds = time.perf_counter() - start

    metrics: dict = {}
    crossings = np.empty((len(thresholds), len(sigmas)))
    for t, threshold in enumerate(thresholds):
        for s, sigma in enumerate(sigmas):
            mean = ratios[t, s].mean(axis=1)
            crossings[t, s] = half_crossing(fractions, mean, level)
            metrics[f"lambda_half/{_key(sigma, threshold)}"] = crossings[t, s]
            metrics[f"mass_ratio_at_max_lambda/{_key(sigma, threshold)}"] = float(mean[-1])
    for sigma in sigmas:
        metrics[f"overlap_unit_neighbour/{_key(sigma)}"] = float(
            overlap_curve([1.0], sigma, size, (size + 1) // 2, normalization)[0]
        )

    np.savez(
        out_dir / "percolation.npz",
        sigmas=sigmas, lambdas=fractions, seeds=seeds, thresholds=thresholds,
        mass_ratio=ratios, lambda_half=crossings,
        increments=increments, overlap=np.stack([curves[s] for s in sigmas]),
    )
    plot_overlap_curves(increments, curves, thresholds, out_dir / "overlap_vs_increment.png", normalization)
    plot_mass_ratios(fractions, ratios, sigmas, thresholds, out_dir / "mass_ratio_vs_lambda.png")
    return {
        "metrics": metrics,
        "timings": {"overlap_curves_s": curve_seconds, "mass_ratio_sweep_s": sweep_seconds},
    }
