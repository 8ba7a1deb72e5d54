"""Figures of the length-generalisation experiment: accuracy against k, and sample grids.

Each job draws its own curve (``accuracy_vs_k.png``) and samples (``samples_by_k.png``); for a sweep
over the model and the regime, :func:`compare_sweep` reads every complete ``results.json`` below the
sweep directory and draws one curve per model/regime (the experiment's figure).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from diffcomp.data.render import image_grid
from diffcomp.files import save_figure

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


def plot_sample_grid(images: torch.Tensor, conditions: torch.Tensor, path: Path, per_count: int = 8) -> None:
    """A row per requested k (its first ``per_count`` samples), requested locations marked in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    requested = (conditions[:, :, 2] > 0.5).sum(dim=1)
    counts = sorted(set(requested.tolist()))
    n = images.shape[-1]
    picks = []
    for k in counts:
        rows = torch.nonzero(requested == k)[:, 0][:per_count]
        picks.append(torch.cat([rows, rows.new_full((per_count - len(rows),), -1)]))
    order = torch.cat(picks)
    blank = torch.full((1, n, n), 128.0)
    tiles = torch.cat([images.float(), blank])[order]  # -1 picks the grey blank
    grid = image_grid(tiles, columns=per_count).numpy()
    fig, ax = plt.subplots(figsize=(1.0 * per_count, 1.0 * len(counts) + 0.3))
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
    for record_path in sorted(Path(sweep_dir).rglob("results.json")):
        record = json.loads(record_path.read_text())
        config = record.get("config") or {}
        data, model = config.get("data") or {}, config.get("model") or {}
        if record.get("status") != "complete" or "regime" not in data:
            continue
        label = f"{str(model.get('_target_', '?')).rsplit('.', 1)[-1]} / regime {data.get('regime')}"
        if label in curves:
            label = f"{label} ({record_path.parent.name})"
        curves[label] = per_k_from_metrics(record.get("metrics", {}), metric)
        train_counts.update(data.get("train_counts") or [])
    if not curves:
        raise FileNotFoundError(f"no complete local_scores results.json below {sweep_dir}")
    path = Path(out) if out else Path(sweep_dir) / f"local_scores_{metric}_vs_k.png"
    plot_accuracy_vs_k(curves, sorted(train_counts), path, metric.replace("_", " "), fraction=metric != "count_error")
    return path
