"""Standard plots of a sweep's table (one row per run): a metric against one swept parameter with a
line per value of another, and a heat map over two parameters (the shape of the paper's Fig. 6e:
accuracy over sigma x lambda).

Built on ``matplotlib.figure.Figure`` (no pyplot state, no GUI backend), like
:mod:`diffcomp.analysis.figures`. Rows that repeat a point (seeds, parameters not plotted) are
averaged; lines show their spread as error bars. Every function writes one PNG and returns its path.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from diffcomp.files import save_figure

_DPI = 110


def slug(name: str) -> str:
    """A file-name-safe form of a column name (``eval/acc`` -> ``eval_acc``)."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("_")


def _save(fig: Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=_DPI)


def _averaged_over(table: pd.DataFrame, keep: list[str], params: list[str]) -> str:
    rest = [p for p in params if p not in keep and table[p].nunique(dropna=False) > 1]
    return f" (mean over {', '.join(rest)})" if rest else ""


def metric_lines(table: pd.DataFrame, metric: str, x: str, hue: str | None, path: Path, params: list[str] = ()) -> Path:
    """``metric`` against ``x``, one line per value of ``hue`` (mean and spread of repeated points)."""
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    groups = table.groupby(hue, dropna=False, sort=True) if hue else [(None, table)]
    for value, part in groups:
        stats = part.groupby(x, sort=True)[metric].agg(["mean", "std", "count"]).reset_index()
        spread = stats["std"].where(stats["count"] > 1)
        label = None if hue is None else f"{hue}={value[0] if isinstance(value, tuple) else value}"
        ax.errorbar(stats[x], stats["mean"], yerr=spread.fillna(0).to_numpy(), marker="o", ms=4, capsize=2, label=label)
    ax.set(xlabel=x, ylabel=metric, title=f"{metric} vs {x}{_averaged_over(table, [x, hue], list(params))}")
    ax.title.set_fontsize(9)
    if hue:
        ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def metric_heatmap(table: pd.DataFrame, metric: str, x: str, y: str, path: Path, params: list[str] = ()) -> Path:
    """Mean ``metric`` over the grid of ``y`` (rows) by ``x`` (columns), each cell annotated."""
    grid = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean").sort_index().sort_index(axis=1)
    values = grid.to_numpy(dtype=float)
    fig = Figure(
        figsize=(1.2 + 0.6 * max(len(grid.columns), 3), 1.2 + 0.45 * max(len(grid.index), 3)), layout="constrained"
    )
    ax = fig.add_subplot()
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(
        range(len(grid.columns)), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.columns], fontsize=8
    )
    ax.set_yticks(
        range(len(grid.index)), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index], fontsize=8
    )
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color="white" if v < middle else "black")
    ax.set(xlabel=x, ylabel=y, title=f"{metric}{_averaged_over(table, [x, y], list(params))}")
    ax.title.set_fontsize(9)
    fig.colorbar(image, ax=ax, label=metric)
    return _save(fig, path)
