"""Percolation of bump datasets: the largest connected cluster's mass ratio over lambda (Sec. 3.3, D.1).

Why: the paper argues that a diffusion model builds a faithful 2D manifold only once the training
images form one large connected cluster, two images being connected when their overlap
(:mod:`diffcomp.theory.overlap`) exceeds a threshold. This module simulates that graph on the
paper's setup - the 1 024 pixel-centred labels of the d = 1 grid on a 32 x 32 canvas, of which a
fraction lambda is kept - and reports, per sigma and threshold, the mean fraction of the kept points
in the largest cluster (Fig. 6c at threshold 0.005, Fig. 13 at several, Fig. 14b at 0.05) and the
lambda beyond which that mean stays at or above 1/2 (``lambda_half``).

The kept points are exactly the training subsets of the experiments: those of
:func:`diffcomp.data.labels.nested_subsample`, nested across lambda and identical across sigma for
one seed (D.2). Because they are nested, one pass per seed serves every lambda: an edge appears at
the first lambda keeping both its ends, and Kruskal's union-find over the minimum spanning forest of
those appearance times (the forest has the same components as the whole graph at every lambda)
gives the largest cluster at all lambdas at once; the overlap matrix is computed once per sigma.

Thresholds. At a given sigma a threshold decides which neighbours count. With appendix A.5's overlap
``||sqrt(a*b)||_2 / ||a||_2`` (the default; ``exp(-r^2 / 16 sigma^2)`` in the continuum) sigma = 0.3's
neighbours at distance 1, sqrt 2, 2, sqrt 5, sqrt 8 and 3 overlap 0.35, 0.12, 0.062, 0.022, 0.0039 and
0.0014: the paper's 0.005 (Fig. 6c) connects every neighbour within distance sqrt 5 (20 of them), so
sigma = 0.3 percolates early (lambda_half 0.19 at 32 x 32, 0.16 at 16 x 16); 0.1 leaves the 8-neighbour
lattice (site percolation threshold 0.407), 0.2 the 4-neighbour one (0.593), 0.4 no edge. The default spread
0.001 / 0.005 / 0.01 / 0.05 / 0.1 contains the paper's 0.005 and 0.05 (Fig. 14b) and reaches Fig. 13's
"given a large enough threshold overlap, some datasets with small sigma never percolate" at sigma = 0.1
(and at sigma = 0.3 from 0.35 on).

Measured with the defaults (5 seeds, 21 lambdas 0.02 .. 1, the "sqrt" overlap; the whole task ~4 s
with figures on the 2-core development CPU), ``lambda_half`` (``<= 0.02``: already reached at the
smallest lambda; ``never``: not even at lambda = 1)::

    sigma  overlap(d=1)  thr 0.001  thr 0.005  thr 0.01  thr 0.05  thr 0.1
    0.1    5.3e-06       never      never      never     never     never
    0.3    0.35          0.137      0.188      0.188     0.288     0.400
    0.5    0.77          0.036      0.050      0.053     0.109     0.137
    1      0.94          <= 0.02    <= 0.02    <= 0.02   0.021     0.028
    1.5    0.97          <= 0.02    <= 0.02    <= 0.02   <= 0.02   <= 0.02
    2      0.98          <= 0.02    <= 0.02    <= 0.02   <= 0.02   <= 0.02

With the earlier ``||a*b||_2 / ||a*a||_2`` reading (``normalization=self``, the square of this one in the
continuum) sigma = 0.3 at 0.005 kept only the 8-neighbour lattice and read lambda_half 0.40; on a finer
lambda grid (0.02 steps) the "sqrt" value is 0.176 at 32 x 32 and 0.158 at 16 x 16.
sigma = 0.1 never connects (its unit-neighbour overlap is 5e-6), as the paper's D.1 notes.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from diffcomp.config import checks
from diffcomp.config.errors import ConfigError
from diffcomp.data.labels import label_grid, nested_subsample
from diffcomp.files import atomic_path, save_figure
from diffcomp.theory.overlap import FORMULAS, NORMALIZATIONS, ink_images, overlap_curve, overlap_matrix

# thresholds the paper's figures use, named in the figure's panel titles
PAPER_FIGURES = {0.005: "Fig. 6c", 0.05: "Fig. 14b"}


def grid_overlaps(size: int, sigma: float, grid_step: float = 1.0, normalization: str = "sqrt") -> np.ndarray:
    """Overlap matrix [M, M] of all bumps on the grid ``mu = k * grid_step`` (rows ordered as ``label_grid``)."""
    labels = label_grid(size, grid_step, grid_step)
    return overlap_matrix(ink_images(labels, size, sigma), normalization)


def largest_cluster_fraction(adjacency: np.ndarray) -> float:
    """Size of the largest connected component of an undirected boolean graph [m, m], divided by m.

    The definition itself; :func:`nested_mass_ratios` computes the same for nested subsets at once.
    """
    m = len(adjacency)
    if m == 0:
        return float("nan")
    _, component = connected_components(csr_matrix(adjacency), directed=False)
    return float(np.bincount(component).max() / m)


def arrival_groups(count: int, fractions: Sequence[float], seed: int) -> np.ndarray:
    """For each of ``count`` grid points, the index of the first of the increasing ``fractions`` whose
    :func:`nested_subsample` keeps it (``len(fractions)`` if none does) [count].

    Raises if the subsets are not nested, since everything downstream relies on it.
    """
    everything = torch.arange(count)
    group = np.full(count, len(fractions))
    sizes = []
    for g in reversed(range(len(fractions))):
        kept = nested_subsample(everything, float(fractions[g]), int(seed)).numpy()
        group[kept] = g
        sizes.append(len(kept))
    if not np.array_equal(np.cumsum(np.bincount(group, minlength=len(fractions) + 1))[:-1], sizes[::-1]):
        raise RuntimeError("nested_subsample no longer returns nested subsets; the percolation sweep assumes it")
    return group


def nested_mass_ratios(edges: tuple[np.ndarray, np.ndarray], group: np.ndarray, groups: int) -> np.ndarray:
    """Largest-cluster mass ratio [groups] of the nested point sets ``{group <= g}``, g = 0 .. groups - 1.

    ``edges`` = (i, j) with i < j lists the graph's edges once. An edge exists from the first set
    holding both ends; Kruskal's union-find on the minimum spanning forest of those appearance
    times merges the clusters in the order the growing sets do.
    """
    i, j = edges
    m = len(group)
    born = np.maximum(group[i], group[j])
    present = born < groups
    weights = born[present].astype(float) + 1.0  # 1-based: scipy drops zero-weight entries
    forest = minimum_spanning_tree(csr_matrix((weights, (i[present], j[present])), shape=(m, m))).tocoo()
    order = np.argsort(forest.data, kind="stable")
    a, b, appear = forest.row[order], forest.col[order], forest.data[order].astype(int) - 1

    parent, size = np.arange(m), np.ones(m, dtype=int)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    kept = np.cumsum(np.bincount(group, minlength=groups + 1))[:groups]
    ratios, largest, e = np.full(groups, np.nan), 1, 0
    for g in range(groups):
        while e < len(appear) and appear[e] == g:
            ra, rb = root(a[e]), root(b[e])
            if ra != rb:
                if size[ra] < size[rb]:
                    ra, rb = rb, ra
                parent[rb] = ra
                size[ra] += size[rb]
                largest = max(largest, int(size[ra]))
            e += 1
        if kept[g] > 0:
            ratios[g] = largest / kept[g]
    return ratios


def mass_ratios(overlaps: np.ndarray, fractions: Sequence[float], seeds: Sequence[int], threshold: float) -> np.ndarray:
    """Largest-cluster mass ratio [len(fractions), len(seeds)]: edges where overlap > threshold.

    For each seed the kept points are the nested subsets of :func:`nested_subsample` (any order of
    ``fractions``; the answer is in the order given).
    """
    fractions = np.asarray(fractions, dtype=float)
    order = np.argsort(fractions, kind="stable")
    edges = np.nonzero(np.triu(overlaps > threshold, k=1))
    out = np.empty((len(fractions), len(seeds)))
    for k, seed in enumerate(seeds):
        group = arrival_groups(len(overlaps), fractions[order], int(seed))
        out[order, k] = nested_mass_ratios(edges, group, len(fractions))
    return out


def mass_ratio_sweep(
    sigmas: Sequence[float],
    fractions: Sequence[float],
    seeds: Sequence[int],
    thresholds: Sequence[float],
    size: int = 32,
    grid_step: float = 1.0,
    normalization: str = "sqrt",
) -> np.ndarray:
    """Mass ratios [thresholds, sigmas, fractions, seeds]; one overlap matrix per sigma, then one pass per seed."""
    out = np.empty((len(thresholds), len(sigmas), len(fractions), len(seeds)))
    for s, sigma in enumerate(sigmas):
        overlaps = grid_overlaps(size, float(sigma), grid_step, normalization)
        for t, threshold in enumerate(thresholds):
            out[t, s] = mass_ratios(overlaps, fractions, seeds, float(threshold))
    return out


def half_crossing(fractions: Sequence[float], ratio: Sequence[float], level: float = 0.5) -> float:
    """The lambda beyond which ``ratio`` stays at or above ``level`` (its last upward crossing,
    linearly interpolated); NaN if it is below ``level`` at the largest lambda.

    If ``ratio`` is at or above ``level`` everywhere, the smallest lambda is returned (the crossing
    lies at or below it; :func:`crossing_label` writes it as such). The last rather than the first
    crossing, because a handful of kept points can form one cluster by chance: the ratio of a tiny
    subset is not the onset of percolation. Expects increasing ``fractions``.
    """
    x, y = np.asarray(fractions, dtype=float), np.asarray(ratio, dtype=float)
    below = np.flatnonzero(~(y >= level))
    if len(below) == 0:
        return float(x[0])
    i = int(below[-1])
    if i == len(y) - 1:
        return float("nan")
    return float(x[i] + (level - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))


def crossing_label(fractions: Sequence[float], ratio: Sequence[float], level: float = 0.5) -> str:
    """:func:`half_crossing` as text for a table: ``0.412``, ``<= 0.02`` (reached at the smallest
    lambda), ``never`` (not at lambda = 1) or ``> 0.8`` (not at the largest lambda, below 1)."""
    x, y = np.asarray(fractions, dtype=float), np.asarray(ratio, dtype=float)
    value = half_crossing(x, y, level)
    if math.isnan(value):
        return "never" if x[-1] >= 1.0 else f"> {x[-1]:g}"
    if np.all(y >= level):
        return f"<= {value:g}"
    return f"{value:.3f}"


def crossing_table(
    fractions: Sequence[float],
    ratios: np.ndarray,
    sigmas: Sequence[float],
    thresholds: Sequence[float],
    level: float = 0.5,
    unit_overlaps: Sequence[float] | None = None,
) -> str:
    """Markdown table of :func:`crossing_label` (rows sigma, columns threshold) of the seed-mean ratio.

    ``ratios`` is :func:`mass_ratio_sweep`'s [thresholds, sigmas, fractions, seeds]; the optional
    ``unit_overlaps`` (one per sigma) become a column, since they explain the rows.
    """
    mean = np.asarray(ratios).mean(axis=3)
    head = ["σ"] + (["overlap at d = 1"] if unit_overlaps is not None else [])
    head += [f"thr {t:g}" + (f" ({PAPER_FIGURES[t]})" if t in PAPER_FIGURES else "") for t in thresholds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s, sigma in enumerate(sigmas):
        row = [f"{sigma:g}"] + ([f"{unit_overlaps[s]:.2g}"] if unit_overlaps is not None else [])
        row += [crossing_label(fractions, mean[t, s], level) for t in range(len(thresholds))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def plot_overlap_curves(
    increments, curves: dict, thresholds: Sequence[float], path: Path, normalization: str = "sqrt"
) -> None:
    """Fig. 6b: overlap against increment, one line per sigma, thresholds dashed and labelled (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    floor = 1e-6
    for sigma, values in curves.items():
        ax.plot(increments, np.maximum(values, floor), label=f"σ = {sigma:g}")
    for threshold in thresholds:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
        ax.annotate(
            f"{threshold:g}",
            (1.0, threshold),
            xycoords=("axes fraction", "data"),
            xytext=(2, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="gray",
        )
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.set_yscale("log")
    ax.set_ylim(floor, None)
    ax.set_xlabel("increment d (neighbour shift along x, pixels)")
    ax.set_ylabel("overlap " + FORMULAS[normalization])
    ax.set_title("dashed: threshold overlaps", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_mass_ratios(fractions, ratios: np.ndarray, sigmas, thresholds, path: Path, level: float = 0.5) -> None:
    """Fig. 6c / 13 / 14b: seed-mean largest-cluster mass ratio over lambda (band: ± std over seeds),
    a panel per threshold on a grid of at most three columns, one shared legend, ``lambda_half`` marked."""
    import matplotlib.pyplot as plt

    n = len(thresholds)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(max(3.6 * cols, 6.5), 3.1 * rows + (0 if n < rows * cols else 0.5)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(sigmas)))
    for t, threshold in enumerate(thresholds):
        ax = axes.flat[t]
        for s, sigma in enumerate(sigmas):
            mean, std = ratios[t, s].mean(axis=1), ratios[t, s].std(axis=1)
            ax.plot(
                fractions, mean, marker="o", markersize=2.5, linewidth=1.2, color=colours[s], label=f"σ = {sigma:g}"
            )
            ax.fill_between(fractions, mean - std, mean + std, color=colours[s], alpha=0.18, linewidth=0)
            crossing = half_crossing(fractions, mean, level)
            if not math.isnan(crossing) and not np.all(mean >= level):
                ax.plot(crossing, level, "|", color=colours[s], markersize=10, markeredgewidth=2)
        ax.axhline(level, color="gray", linestyle=":", linewidth=0.8)
        ax.set_ylim(-0.02, 1.02)
        figure = f" ({PAPER_FIGURES[threshold]})" if threshold in PAPER_FIGURES else ""
        ax.set_title(f"threshold overlap {threshold:g}{figure}", fontsize=9)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("λ (fraction of the grid kept)")
    for ax in axes[:, 0]:
        ax.set_ylabel("largest cluster mass ratio")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    legend = {"fontsize": 8, "title": f"bar: λ½ (mean ≥ {level:g} beyond it)", "title_fontsize": 7}
    if n < rows * cols:  # an empty grid cell holds the legend
        axes.flat[n].legend(handles, labels, loc="center", **legend)
        axes.flat[n].set_visible(True)
        axes.flat[n].axis("off")
        fig.tight_layout()
    else:  # a row below the panels
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), **legend)
        fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    save_figure(fig, path, dpi=120)
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
        raise ConfigError(
            "task.lambdas", list(fractions), f"fractions in [1/{points}, 1] (the grid has {points} points)"
        )
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
    """Task entry: overlap curves, the mass-ratio sweep, ``lambda_half``; figures, arrays and the
    crossing table (``lambda_half.md``, ``lambda_half.csv``) in ``out_dir``.

    Returns ``{"metrics": {...flat scalars...}, "timings": {...}, "crossings": [...rows...]}``.
    """
    task = validate(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sigmas = [float(s) for s in checks.numbers(task, "sigmas")]
    fractions = sorted({float(x) for x in checks.numbers(task, "lambdas")})
    seeds = [int(s) for s in checks.numbers(task, "seeds")]
    thresholds = [float(t) for t in checks.numbers(task, "thresholds")]
    size, normalization, level = int(task.size), str(task.normalization), float(task.level)

    start = time.perf_counter()
    count = math.floor(task.increment_max / task.increment_step + 1e-9) + 1
    increments = np.arange(count) * float(task.increment_step)
    curves = {s: overlap_curve(increments, s, size, task.get("reference"), normalization) for s in sigmas}
    unit = [float(overlap_curve([1.0], s, size, (size + 1) // 2, normalization)[0]) for s in sigmas]
    curve_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ratios = mass_ratio_sweep(sigmas, fractions, seeds, thresholds, size, float(task.grid_step), normalization)
    sweep_seconds = time.perf_counter() - start

    metrics: dict = {}
    rows = []
    crossings = np.empty((len(thresholds), len(sigmas)))
    for t, threshold in enumerate(thresholds):
        for s, sigma in enumerate(sigmas):
            mean = ratios[t, s].mean(axis=1)
            crossings[t, s] = half_crossing(fractions, mean, level)
            metrics[f"lambda_half/{_key(sigma, threshold)}"] = crossings[t, s]
            metrics[f"mass_ratio_at_max_lambda/{_key(sigma, threshold)}"] = float(mean[-1])
            rows.append(
                {
                    "sigma": sigma,
                    "threshold": threshold,
                    "lambda_half": crossings[t, s],
                    "label": crossing_label(fractions, mean, level),
                    "mass_ratio_at_min_lambda": float(mean[0]),
                    "mass_ratio_at_max_lambda": float(mean[-1]),
                }
            )
    for sigma, value in zip(sigmas, unit):
        metrics[f"overlap_unit_neighbour/{_key(sigma)}"] = value

    with atomic_path(out_dir / "percolation.npz") as tmp:
        np.savez(
            tmp,
            sigmas=sigmas,
            lambdas=fractions,
            seeds=seeds,
            thresholds=thresholds,
            mass_ratio=ratios,
            lambda_half=crossings,
            increments=increments,
            overlap=np.stack([curves[s] for s in sigmas]),
        )
    title = (
        f"λ½: the λ beyond which the mean (over {len(seeds)} seeds) largest-cluster mass ratio stays ≥ {level:g}; "
        f"λ from {fractions[0]:g} to {fractions[-1]:g}, {size}×{size} grid, '{normalization}' overlap.\n\n"
    )
    with atomic_path(out_dir / "lambda_half.md") as tmp:
        tmp.write_text(title + crossing_table(fractions, ratios, sigmas, thresholds, level, unit))
    with atomic_path(out_dir / "lambda_half.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_overlap_curves(increments, curves, thresholds, out_dir / "overlap_vs_increment.png", normalization)
    plot_mass_ratios(fractions, ratios, sigmas, thresholds, out_dir / "mass_ratio_vs_lambda.png", level)
    return {
        "metrics": metrics,
        "timings": {"overlap_curves_s": curve_seconds, "mass_ratio_sweep_s": sweep_seconds},
        "crossings": rows,
    }
