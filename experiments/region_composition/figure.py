"""Figure of experiment=region_composition (appendix C.4, Fig. 12c-f): a W x W square of compositions
held out in the interior or at the bottom-right corner (exterior) of the label space, bumps vs SOS.

Why: the paper's claim is a contrast of four curves - bump accuracy in the held-out square decays
slowly inside and fast outside, SOS stays high in both - so the four panels keep the paper's order
(c bump interior, d SOS interior, e bump exterior, f SOS exterior) on one accuracy scale, with the
in-distribution accuracy beside the held-out (OOD) one so that a drop in OOD accuracy is not read
where the model fails everywhere. A second picture shows the last samples of the widest W per panel
with the tiles requested inside the square outlined. Records and saved sample grids only.

Outputs: ``region_composition.png``, ``region_composition_samples.png``, ``region_composition.md``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from omegaconf import OmegaConf

from diffcomp.sweeps.aggregate import load_records

NAME = "region_composition"
DPI = 110
GRID_COLUMNS = 8  # diffcomp.data.render.image_grid's default, which the evaluation's sample grid uses
PANELS = (("bump", "interior", "c"), ("sos", "interior", "d"), ("bump", "exterior", "e"), ("sos", "exterior", "f"))
CURVES = (
    ("eval/ood/acc", "OOD (in the square)", "tab:red", "-"),
    ("eval/id/acc", "ID (outside)", "tab:blue", "-"),
    ("eval/ood/acc_x", "OOD, x only", "tab:red", ":"),
    ("eval/ood/acc_y", "OOD, y only", "tab:red", "--"),
)


def scale_of(sweep_dir: Path) -> str:
    """The ``scale=`` choice saved in the sweep's multirun.yaml ('?' when unreadable)."""
    try:
        return str(
            OmegaConf.select(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"), "hydra.runtime.choices.scale") or "?"
        )
    except Exception:
        return "?"


def runs(sweep_dir: Path) -> list[dict]:
    """One row per complete job: data kind, place, W, seed, config, metrics, held-out share."""
    out = []
    for job_dir, record in load_records(sweep_dir):
        config = record.get("config") or {}
        data = config.get("data") or {}
        holdout = data.get("holdout") or {}
        metrics = record.get("metrics") or {}
        if holdout.get("type") != "square" or "eval/acc" not in metrics:
            continue
        width = holdout.get("width")
        out.append(
            {
                "dir": job_dir,
                "config": config,
                "metrics": metrics,
                "data": str(data.get("kind") or data.get("name")),
                "place": str(holdout.get("place") or "interior"),
                "width": float(width) if width is not None else 6 * int(data.get("size", 32)) / 32,
                "seed": int(config.get("seed", record.get("seed", 0)) or 0),
                "held_out": (record.get("dataset") or {}).get("held_out_2d_fraction"),
                "images": (record.get("dataset") or {}).get("images"),
            }
        )
    return out


def _num(value) -> float:
    """A metric as a float; NaN when it is missing or not a number (null in the record)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _stats(values) -> tuple[float, float, int]:
    values = np.asarray([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)
    if not len(values):
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan, len(values)


def _fmt(stats: tuple[float, float, int]) -> str:
    mean, sd, n = stats
    if n == 0:
        return "-"
    return f"{mean:.3f} ± {sd:.3f} ({n})" if math.isfinite(sd) else f"{mean:.3f} ({n})"


def _evaluation_in_region(config: dict) -> np.ndarray | None:
    """For each evaluation label (the N x N integer grid, mu_x fastest), whether the holdout holds it."""
    try:
        from diffcomp.data.labels import axis_values, integer_grid
        from diffcomp.data.regions import make_holdout

        data = config["data"]
        size = int(data["size"])
        dx = float(data.get("increment_x") or data["increment"])
        dy = float(data.get("increment_y") or data["increment"])
        holdout = make_holdout(dict(data["holdout"]), size, axis_values(dx, size, dx), axis_values(dy, size, dy))
        return None if holdout is None else holdout.contains(integer_grid(size)).numpy()
    except Exception:
        return None


def _shown_first(row: dict) -> tuple:
    """Which seed's samples to show: the lowest seed that has a sample grid."""
    return (not any((row["dir"] / "samples").glob("step_*.png")), row["seed"])


def sample_panel(ax, row: dict, title: str) -> None:
    """The job's last sample grid; tiles requested inside the held-out square outlined in red.

    The evaluation callback shows ``grid_size`` samples picked evenly over the evaluation labels
    (``linspace(0, M - 1, k)``, rounded) in rows of ``GRID_COLUMNS``; the outlines rely on that and
    are left out whenever the picture's shape says otherwise.
    """
    found = sorted((row["dir"] / "samples").glob("step_*.png"))
    ax.set_xticks([])
    ax.set_yticks([])
    if not found:
        ax.set_title(title + "\n(no samples)", fontsize=8)
        return
    image = imread(found[-1])
    ax.imshow(image[..., 0] if image.ndim == 3 else image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    size = int(row["config"]["data"]["size"])
    inside = _evaluation_in_region(row["config"])
    count = min(int((row["config"].get("eval") or {}).get("grid_size", 64)), size * size)
    rows = -(-count // GRID_COLUMNS)
    if inside is not None and image.shape[:2] == (rows * (size + 1), GRID_COLUMNS * (size + 1)):
        picks = np.round(np.linspace(0, size * size - 1, count)).astype(int)
        for slot, index in enumerate(picks):
            if inside[index]:
                r, c = divmod(slot, GRID_COLUMNS)
                ax.add_patch(
                    Rectangle((c * (size + 1) - 0.5, r * (size + 1) - 0.5), size, size, fill=False, ec="red", lw=1.0)
                )
    ax.set_title(title, fontsize=8)


def _panel(ax, group: dict[float, list[dict]], title: str) -> None:
    widths = sorted(group)
    if not widths:
        ax.text(0.5, 0.5, "no complete runs", ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.4")
    span = (widths[-1] - widths[0]) if len(widths) > 1 else 1.0
    for key, label, colour, ls in CURVES:
        stats = [_stats([r["metrics"].get(key) for r in group[w]]) for w in widths]
        mean = np.array([s[0] for s in stats])
        if not len(mean) or not np.isfinite(mean).any():
            continue
        err = np.array([s[1] if math.isfinite(s[1]) else 0.0 for s in stats])
        main = key in ("eval/ood/acc", "eval/id/acc")
        shift = {"eval/ood/acc": -0.012, "eval/id/acc": 0.012}.get(key, 0.0) * span  # keep the error bars apart
        x = np.asarray(widths) + shift
        ax.errorbar(
            x,
            mean,
            yerr=err if main else None,
            color=colour,
            ls=ls,
            marker="o" if main else None,
            ms=4,
            capsize=2,
            lw=1.4 if main else 0.9,
            alpha=1.0 if main else 0.7,
            label=label,
        )
        if main:
            for xi, w in zip(x, widths):
                values = [_num(r["metrics"].get(key)) for r in group[w]]
                if len(values) > 1:
                    ax.plot([xi] * len(values), values, ".", color=colour, ms=3, alpha=0.5)
    shares = [group[w][0]["held_out"] for w in widths]
    if widths and all(isinstance(s, (int, float)) for s in shares):
        for w, s in zip(widths, shares):
            ax.annotate(
                f"{100 * s:.1f}%",
                (w, 0.0),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=6,
                color="0.4",
            )
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """The four panels, the widest-W samples and the table; [] without complete records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    rows = runs(sweep_dir)
    if not rows:
        return []
    scale = scale_of(sweep_dir)
    groups: dict[tuple[str, str], dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r["data"], r["place"])][r["width"]].append(r)
    data = rows[0]["config"]["data"]
    size, step = int(data["size"]), float(data.get("increment_x") or data["increment"])
    seeds = sorted({len(v) for g in groups.values() for v in g.values()})

    fig = Figure(figsize=(8.6, 6.4), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    for ax, (kind, place, letter) in zip(axes.flat, PANELS):
        _panel(ax, groups.get((kind, place), {}), f"({letter}) {'bump' if kind == 'bump' else 'SOS'}, {place}")
    for ax in axes[-1]:
        ax.set_xlabel(f"held-out square width W (pixels; canvas {size}, grid d = {step:g})", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy", fontsize=8)
    handles, labels = [], []
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        axes[0, 0].legend(handles, labels, fontsize=7, loc="lower left")
    fig.suptitle(
        f"Fig. 12: a W×W square of compositions held out, interior vs corner (exterior); scale={scale}\n"
        f"mean ± std over {'/'.join(map(str, seeds))} seed(s); grey %: share of the 2D training grid held out",
        fontsize=9,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{NAME}.png"]
    fig.savefig(paths[0], dpi=DPI)

    present = [(k, p, letter) for k, p, letter in PANELS if groups.get((k, p))]
    count = int((rows[0]["config"].get("eval") or {}).get("grid_size", 64))
    aspect = -(-min(count, size * size) // GRID_COLUMNS) / GRID_COLUMNS  # the grids' height over width
    samples = Figure(figsize=(2.6 * max(len(present), 1), 2.6 * aspect + 0.8), layout="constrained")
    for i, (kind, place, letter) in enumerate(present):
        w = max(groups[(kind, place)])
        r = min(groups[(kind, place)][w], key=_shown_first)
        m = r["metrics"]
        sample_panel(
            samples.add_subplot(1, len(present), i + 1),
            r,
            f"({letter}) {'bump' if kind == 'bump' else 'SOS'} {place}, W = {w:g}\n"
            f"OOD acc {_num(m.get('eval/ood/acc')):.2f} (seed {r['seed']})",
        )
    samples.suptitle(
        f"last samples at the widest W (red: requested inside the held-out square); scale={scale}", fontsize=9
    )
    paths.append(out_dir / f"{NAME}_samples.png")
    samples.savefig(paths[-1], dpi=DPI)

    lines = [
        f"Scale: {scale}. A W×W square of 2D compositions held out of training, centred (interior) or at the "
        f"bottom-right corner (exterior), {size}×{size} canvas, grid d = {step:g}; accuracy on the integer evaluation "
        "grid, mean ± std (n seeds).",
        "",
        "| data | place | W | 2D grid held out | training images | ID accuracy | OOD accuracy | OOD acc_x | OOD acc_y | overall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, place, _ in PANELS:
        for w in sorted(groups.get((kind, place), {})):
            group = groups[(kind, place)][w]
            share = group[0]["held_out"]
            share_text = f"{100 * share:.1f}%" if isinstance(share, (int, float)) else "-"
            cells = [
                _fmt(_stats([r["metrics"].get(k) for r in group]))
                for k in ("eval/id/acc", "eval/ood/acc", "eval/ood/acc_x", "eval/ood/acc_y", "eval/acc")
            ]
            lines.append(
                f"| {'bump' if kind == 'bump' else 'SOS'} | {place} | {w:g} | {share_text} | {group[0]['images']} | "
                + " | ".join(cells)
                + " |"
            )
    paths.append(out_dir / f"{NAME}.md")
    paths[-1].write_text("\n".join(lines) + "\n")
    return paths
