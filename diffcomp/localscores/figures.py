"""Figures of the length-generalisation experiment: accuracy against k, and sample grids.

Each job draws its own curve (``accuracy_vs_k.png``) and samples (``samples_by_k.png``); for a sweep
over the model and the regime, :func:`compare_sweep` reads every complete ``results.json`` below the
sweep directory and draws one curve per model/regime (the experiment's figure).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from diffcomp.data.render import image_grid
from diffcomp.files import save_figure
from diffcomp.results import load_records

_PER_K = re.compile(r"^eval/k(\d+)/(\w+)$")


def per_k_from_metrics(metrics: Mapping[str, float], name: str = "match") -> dict[int, float]:
    """``{k: value}`` of ``eval/k<k>/<name>`` entries of a flat metrics dict."""
    out = {}
    for key, value in metrics.items():
        found = _PER_K.match(key)
        if found and found.group(2) == name:
            out[int(found.group(1))] = float(value)
    return dict(sorted(out.items()))


def plot_accuracy_vs_k(
    curves: Mapping[str, Mapping[int, float]],
    train_counts,
    path: Path,
    ylabel: str = "one-to-one match",
    fraction: bool = True,
) -> None:
    """One line per model/regime; the trained counts are shaded; ``fraction`` fixes the y range to [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    if len(train_counts):
        ax.axvspan(min(train_counts) - 0.5, max(train_counts) + 0.5, color="0.9", label="trained k")
    for label, curve in curves.items():
        ks = sorted(curve)
        ax.plot(ks, [curve[k] for k in ks], marker="o", label=label)
    ax.set_xlabel("requested bumps k")
    ax.set_ylabel(ylabel)
    if fraction:
        ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def picks_by_count(conditions: torch.Tensor, per_count: int) -> list[torch.Tensor]:
    """The requests the sample grid shows: per requested k (in order), the first ``per_count`` of them."""
    requested = (conditions[:, :, 2] > 0.5).sum(dim=1)
    return [torch.nonzero(requested == k)[:, 0][:per_count] for k in sorted(set(requested.tolist()))]


def draw_sample_grid(ax, images: torch.Tensor, conditions: torch.Tensor, per_count: int = 8) -> None:
    """On ``ax``: a row per requested k (its first ``per_count`` samples), requested locations marked in
    red. ``images`` [B, N, N] in 0..255, ``conditions`` [B, max_conditions, 3] (mu_x, mu_y, mask)."""
    counts = sorted(set((conditions[:, :, 2] > 0.5).sum(dim=1).tolist()))
    n = images.shape[-1]
    rows = picks_by_count(conditions, per_count)  # one grid row per k, padded with blanks (-1)
    order = torch.cat([torch.cat([r, r.new_full((per_count - len(r),), -1)]) for r in rows])
    blank = torch.full((1, n, n), 128.0)
    tiles = torch.cat([images.float(), blank])[order]  # -1 picks the grey blank
    grid = image_grid(tiles, columns=per_count).numpy()
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    for slot, index in enumerate(order.tolist()):
        if index < 0:
            continue
        r, c = divmod(slot, per_count)
        cond = conditions[index]
        on = cond[:, 2] > 0.5
        ax.scatter(
            c * (n + 1) + cond[on, 0] - 1, r * (n + 1) + cond[on, 1] - 1, s=6, c="red", marker="x", linewidths=0.6
        )
    ax.set_yticks([r * (n + 1) + n / 2 for r in range(len(counts))], [f"k={k}" for k in counts])
    ax.set_xticks([])


def plot_sample_grid(images: torch.Tensor, conditions: torch.Tensor, path: Path, per_count: int = 8) -> None:
    """:func:`draw_sample_grid` as its own picture (``samples_by_k.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = len(set((conditions[:, :, 2] > 0.5).sum(dim=1).tolist()))
    fig, ax = plt.subplots(figsize=(1.0 * per_count, 1.0 * counts + 0.3))
    draw_sample_grid(ax, images, conditions, per_count)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_cosines(cosines: torch.Tensor, path: Path, title: str = "") -> None:
    """Heat map of the condition directions' cosine similarities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 2.8))
    image = ax.imshow(cosines.numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    fig.colorbar(image, ax=ax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("condition j")
    ax.set_ylabel("condition i")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def compare_sweep(sweep_dir: Path, out: Path | None = None, metric: str = "match") -> Path:
    """One accuracy-vs-k curve per (model, regime, ...) job found below ``sweep_dir``."""
    curves, train_counts = {}, set()
    for record in load_records(sweep_dir):
        if "regime" not in record.data:
            continue
        label = f"{str(record.setting('model._target_', '?')).rsplit('.', 1)[-1]} / regime {record.data['regime']}"
        if label in curves:
            label = f"{label} ({record.job_dir.name})"
        curves[label] = per_k_from_metrics(record.metrics, metric)
        train_counts.update(record.data.get("train_counts") or [])
    if not curves:
        raise FileNotFoundError(f"no complete local_scores results.json below {sweep_dir}")
    path = Path(out) if out else Path(sweep_dir) / f"local_scores_{metric}_vs_k.png"
    plot_accuracy_vs_k(curves, sorted(train_counts), path, metric.replace("_", " "), fraction=metric != "count_error")
    return path
