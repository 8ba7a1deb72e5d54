"""PNG figures of a representation analysis (paper Fig. 2, 3 and 8 style).

Figures are built on ``matplotlib.figure.Figure`` objects, not ``pyplot``: no global state, no GUI
backend, safe to call from a training callback or a worker thread. Every function writes one PNG and
returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.analysis.torus_tests import IDEALS, STATISTICS, TESTS, VERDICT_STATISTICS
from diffcomp.files import save_figure

_DPI = 110
_COLOURS = {"data": "tab:green", "clifford": "tab:orange", "3d": "tab:blue"}


def _save(fig: Figure, path: str | Path) -> Path:
    return save_figure(fig, path, dpi=_DPI)


def plot_pca_spectrum(eigenvalues: np.ndarray, path: str | Path, n_show: int = 15) -> Path:
    """Top eigenvalues as variance ratios with their cumulative sum."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    ratio = lam[:n_show] / lam.sum() if lam.sum() > 0 else lam[:n_show]
    fig = Figure(figsize=(4.5, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ranks = np.arange(1, len(ratio) + 1)
    ax.bar(ranks, ratio, color="tab:gray", label="per PC")
    ax.plot(ranks, np.cumsum(ratio), "o-", color="tab:red", ms=3, label="cumulative")
    ax.set(xlabel="PC", ylabel="explained variance ratio", ylim=(0, 1.02), title="PCA eigenspectrum")
    ax.legend(frameon=False, fontsize=8)
    return _save(fig, path)


def plot_pca_projections(
    projections: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    pairs: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 3), (2, 3)),
) -> Path:
    """2-D PC projections (rows: coloured by x, by y). PCs (1,3) and (2,4) hold the rings in the paper."""
    pairs = tuple(p for p in pairs if max(p) < projections.shape[1]) or ((0, min(1, projections.shape[1] - 1)),)
    fig = Figure(figsize=(3.0 * len(pairs), 5.8), layout="constrained")
    for row, (axis, name) in enumerate(((0, "x"), (1, "y"))):
        for col, (i, j) in enumerate(pairs):
            ax = fig.add_subplot(2, len(pairs), row * len(pairs) + col + 1)
            sc = ax.scatter(projections[:, i], projections[:, j], c=labels[:, axis], s=3, cmap="twilight")
            ax.set(xlabel=f"PC{i + 1}", ylabel=f"PC{j + 1}", xticks=[], yticks=[])
            ax.set_aspect("equal", adjustable="datalim")
            if col == len(pairs) - 1:
                fig.colorbar(sc, ax=ax, label=f"mu_{name}")
    return _save(fig, path)


def plot_embedding_3d(embedding: np.ndarray, labels: np.ndarray, path: str | Path, title: str = "UMAP") -> Path:
    """3-D scatter of an embedding, coloured by x (left) and by y (right)."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    for k, name in enumerate(("x", "y")):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        sc = ax.scatter(*embedding[:, :3].T, c=labels[:, k], s=3, cmap="twilight")
        ax.set_title(f"{title}, coloured by mu_{name}", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        fig.colorbar(sc, ax=ax, shrink=0.6)
    return _save(fig, path)


def plot_persistence_diagram(
    diagrams: list[np.ndarray],
    path: str | Path,
    thresholds: tuple[float, ...] | None = None,
    window: float | None = None,
) -> Path:
    """Birth-death diagram per homology dimension; infinite deaths drawn on a top line.

    With the Betti rule's per-dimension ``thresholds`` and ``window``: an H_d bar above its dimension's
    dashed line and born left of the window's end counts (deaths beyond the dotted window line are
    read as the window).
    """
    finite = [d[np.isfinite(d[:, 1])] for d in diagrams]
    top = max([float(f[:, 1].max()) for f in finite if len(f)] + [window or 0.0, 1e-9]) * 1.1
    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, top], [0, top], color="k", lw=0.8)
    for dim, cut in enumerate(thresholds or ()):
        ax.plot([0, top], [cut, top + cut], "--", color=f"C{dim}", lw=0.8, label=f"H{dim} cut")
    if window is not None:
        ax.axhline(window, color="k", lw=0.8, ls=":", label="window")
    for dim, dgm in enumerate(diagrams):
        deaths = np.where(np.isfinite(dgm[:, 1]), dgm[:, 1], top)
        ax.scatter(dgm[:, 0], deaths, s=10, alpha=0.7, label=f"H{dim}")
    ax.axhline(top, color="gray", lw=0.6, ls=":")
    ax.set(xlabel="birth", ylabel="death", title="persistence")
    ax.set(xlim=(-0.02 * top, top * 1.02), ylim=(-0.02 * top, top * 1.05))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_torus_tests(result: dict, path: str | Path, bins: int = 30) -> Path:
    """Histograms of the test statistics: data vs the ideal Clifford and 3-D tori (rows: tests).

    Columns: the paper's per-PC cosines, the principal-angle cosines, the paper's r (eq. 3).
    """
    fig = Figure(figsize=(10, 8), layout="constrained")
    titles = {"orth": "orthogonality |cos| of PCs", "pcos": "principal-angle cosines", "par": "parallelism r"}
    for col, stat in enumerate(STATISTICS):
        pooled = np.concatenate([result[s][t][stat] for s in IDEALS + ("data",) for t in TESTS])
        top = 1.0 if stat != "par" else max(1.0, float(np.quantile(pooled, 0.999)) if len(pooled) else 1.0)
        edges = np.linspace(0, top, bins + 1)
        for row, test in enumerate(TESTS):
            ax = fig.add_subplot(len(TESTS), len(STATISTICS), row * len(STATISTICS) + col + 1)
            for source in IDEALS + ("data",):  # data last, on top
                values = np.clip(result[source][test][stat], 0, top)
                style = dict(histtype="step", lw=1.5, color=_COLOURS[source], label=source)
                ax.hist(values, bins=edges, density=True, **style)
            w = result.get("wasserstein", {})
            note = ", ".join(f"W_{i}={w[f'{stat}_{test}_{i}']:.2f}" for i in IDEALS if f"{stat}_{test}_{i}" in w)
            ax.set_title(f"{test[0]}-on-{test[1]}: {titles[stat]}\n{note}", fontsize=8)
            ax.set_yticks([])
            if row == 0 and col == 0:
                ax.legend(frameon=False, fontsize=7)
    used = " + ".join(VERDICT_STATISTICS)
    fig.suptitle(f"torus tests, verdict ({used}): {result.get('verdict', '?')}", fontsize=10)
    return _save(fig, path)
