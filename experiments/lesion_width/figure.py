"""Figure of experiment=lesion_width (appendix C.3, Fig. 11): a vertical band of mu_x held out of 2D SOS.

Why: the paper reads the decay of accuracy in the band with the band's width as "the model
interpolates little". Interpolating across the band is a statement about the x coordinate (mu_y is
seen at every value outside the band), so beside the overall, in-distribution and held-out (OOD)
accuracy the figure shows the OOD x-accuracy, and the final sample grids of the narrowest and the
widest band with the tiles whose requested label lies in the band outlined. Everything comes from the
records and the saved sample grids; nothing is re-trained or re-sampled.

Outputs: ``lesion_width.png`` and ``lesion_width.md``.
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

NAME = "lesion_width"
DPI = 110
GRID_COLUMNS = 8  # diffcomp.data.render.image_grid's default, which the evaluation's sample grid uses
CURVES = (  # (metric, label, colour, line style)
    ("eval/acc", "overall", "black", "-"),
    ("eval/id/acc", "ID (outside the band)", "tab:blue", "-"),
    ("eval/ood/acc", "OOD (in the band)", "tab:red", "-"),
    ("eval/ood/acc_x", "OOD, x only (interpolation)", "tab:red", "--"),
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
    """One row per complete job: band width, seed, config, metrics, held-out share, job directory."""
    out = []
    for job_dir, record in load_records(sweep_dir):
        config = record.get("config") or {}
        holdout = (config.get("data") or {}).get("holdout") or {}
        metrics = record.get("metrics") or {}
        if holdout.get("type") != "band" or "eval/acc" not in metrics:
            continue
        width = holdout.get("width")
        out.append(
            {
                "dir": job_dir,
                "config": config,
                "metrics": metrics,
                "width": float(width) if width is not None else 6 * int(config["data"].get("size", 32)) / 32,
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


def sample_panel(ax, row: dict, title: str) -> bool:
    """The job's last sample grid; tiles requested inside the held-out region outlined in red.

    The evaluation callback shows ``grid_size`` samples picked evenly over the evaluation labels
    (``linspace(0, M - 1, k)``, rounded) in rows of ``GRID_COLUMNS``; the outlines rely on that and
    are left out whenever the picture's shape says otherwise.
    """
    found = sorted((row["dir"] / "samples").glob("step_*.png"))
    ax.set_xticks([])
    ax.set_yticks([])
    if not found:
        ax.set_title(title + "\n(no samples)", fontsize=8)
        return False
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
    return True


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Accuracy against band width, the extreme bands' samples, and the table; [] without records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    rows = runs(sweep_dir)
    if not rows:
        return []
    scale = scale_of(sweep_dir)
    by_width: dict[float, list[dict]] = defaultdict(list)
    for r in rows:
        by_width[r["width"]].append(r)
    widths = sorted(by_width)
    data = rows[0]["config"]["data"]
    size, step = int(data["size"]), float(data.get("increment_x") or data["increment"])
    seeds = sorted({len(v) for v in by_width.values()})

    fig = Figure(figsize=(10, 3.9), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.25, 1, 1])
    ax = fig.add_subplot(grid[0, 0])
    span = (widths[-1] - widths[0]) or 1.0
    for i, (key, label, colour, ls) in enumerate(CURVES):
        stats = [_stats([r["metrics"].get(key) for r in by_width[w]]) for w in widths]
        mean = np.array([s[0] for s in stats])
        if not np.isfinite(mean).any():
            continue
        err = np.array([s[1] if math.isfinite(s[1]) else 0.0 for s in stats])
        x = np.asarray(widths) + (i - (len(CURVES) - 1) / 2) * 0.012 * span  # keep the error bars apart
        ax.errorbar(x, mean, yerr=err, color=colour, ls=ls, marker="o", ms=4, capsize=2, lw=1.3, label=label)
        if max(seeds) > 1:
            for xi, w in zip(x, widths):
                values = [_num(r["metrics"].get(key)) for r in by_width[w]]
                ax.plot([xi] * len(values), values, ".", color=colour, ms=3, alpha=0.5)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"band width (pixels of μ_x; canvas {size}, grid d = {step:g})", fontsize=8)
    ax.set_ylabel("accuracy", fontsize=8)
    ax.set_title(
        f"accuracy against the held-out band's width\nmean ± std over {'/'.join(map(str, seeds))} seed(s)", fontsize=9
    )
    ax.legend(fontsize=7, loc="best")
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)
    shares = [by_width[w][0]["held_out"] for w in widths]
    if all(isinstance(s, (int, float)) for s in shares):
        top = ax.secondary_xaxis("top")
        top.set_xticks(widths, [f"{100 * s:.1f}%" for s in shares], fontsize=6)
        top.set_xlabel("share of the 2D grid held out", fontsize=7)

    for k, w in enumerate([widths[0], widths[-1]] if len(widths) > 1 else widths[:1]):
        r = min(by_width[w], key=_shown_first)
        m = r["metrics"]
        ood, ood_x = _num(m.get("eval/ood/acc")), _num(m.get("eval/ood/acc_x"))
        title = (
            f"{'narrowest' if k == 0 else 'widest'} band, width {w:g} (seed {r['seed']})\n"
            f"OOD acc {ood:.2f}, OOD acc_x {ood_x:.2f}; red: in the band"
        )
        sample_panel(fig.add_subplot(grid[0, 1 + k]), r, title)
    fig.suptitle(f"Fig. 11: a vertical band of μ_x held out of 2D SOS, scale={scale}", fontsize=10)

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{NAME}.png"
    fig.savefig(png, dpi=DPI)

    lines = [
        f"Scale: {scale}. 2D SOS on a {size}×{size} canvas, grid d = {step:g}; a vertical band of μ_x centred on the canvas held out "
        "of training (its 2D compositions removed); accuracy on the integer evaluation grid, mean ± std (n seeds).",
        "",
        "| band width | 2D grid held out | training images | accuracy | ID accuracy | OOD accuracy | OOD acc_x | OOD acc_y |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in widths:
        share = by_width[w][0]["held_out"]
        cells = [
            _fmt(_stats([r["metrics"].get(k) for r in by_width[w]]))
            for k in ("eval/acc", "eval/id/acc", "eval/ood/acc", "eval/ood/acc_x", "eval/ood/acc_y")
        ]
        share_text = f"{100 * share:.1f}%" if isinstance(share, (int, float)) else "-"
        lines.append(f"| {w:g} | {share_text} | {by_width[w][0]['images']} | " + " | ".join(cells) + " |")
    md = out_dir / f"{NAME}.md"
    md.write_text("\n".join(lines) + "\n")
    return [png, md]
