"""Figure of experiment=lesion_width (appendix C.3, Fig. 11): a vertical band of mu_x held out of 2D SOS.

Why: the paper reads the decay of accuracy in the band with the band's width as "the model
interpolates little". Interpolating across the band is a statement about the x coordinate (mu_y is
seen at every value outside the band), so beside the overall, in-distribution and held-out (OOD)
accuracy the figure shows the OOD x-accuracy, and the final sample grids of the narrowest and the
widest band with the tiles whose requested label lies in the band outlined. Everything comes from the
records and the saved sample arrays; nothing is re-trained or re-sampled.

Outputs: ``lesion_width.png`` and ``lesion_width.md``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report import gates, history, numbers, samples, sections, tables

NAME = "lesion_width"
CURVES = (  # (metric, label, colour, line style)
    ("eval/acc", "overall", "black", "-"),
    ("eval/id/acc", "ID (outside the band)", "tab:blue", "-"),
    ("eval/ood/acc", "OOD (in the band)", "tab:red", "-"),
    ("eval/ood/acc_x", "OOD, x only (interpolation)", "tab:red", "--"),
)


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Accuracy against band width, the extreme bands' samples, and the table; [] without records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    rows = sections.held_out_runs(sweep_dir, "band")
    if not rows:
        return []
    scale = history.scale_of(sweep_dir)
    by_width: dict[float, list[dict]] = defaultdict(list)
    for r in rows:
        by_width[r["width"]].append(r)
    widths = sorted(by_width)
    data = rows[0]["record"].data
    size, step = int(data["size"]), float(data["increment_x"])
    seeds = sorted({len(v) for v in by_width.values()})

    fig = Figure(figsize=(10, 3.9), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.25, 1, 1])
    ax = fig.add_subplot(grid[0, 0])
    span = (widths[-1] - widths[0]) or 1.0
    for i, (key, label, colour, ls) in enumerate(CURVES):
        mean, err = numbers.error_bars([r["metrics"].get(key) for r in by_width[w]] for w in widths)
        if not np.isfinite(mean).any():
            continue
        x = np.asarray(widths) + (i - (len(CURVES) - 1) / 2) * 0.012 * span  # keep the error bars apart
        ax.errorbar(x, mean, yerr=err, color=colour, ls=ls, marker="o", ms=4, capsize=2, lw=1.3, label=label)
        if max(seeds) > 1:
            for xi, w in zip(x, widths):
                values = [numbers.number(r["metrics"].get(key)) for r in by_width[w]]
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
        top.set_xticks(widths, [numbers.percent_text(s) for s in shares], fontsize=6)
        top.set_xlabel("share of the 2D grid held out", fontsize=7)

    for k, w in enumerate([widths[0], widths[-1]] if len(widths) > 1 else widths[:1]):
        r = min(by_width[w], key=sections.samples_first)
        m = r["metrics"]
        ood, ood_x = numbers.number(m.get("eval/ood/acc")), numbers.number(m.get("eval/ood/acc_x"))
        title = (
            f"{'narrowest' if k == 0 else 'widest'} band, width {w:g} (seed {r['seed']})\n"
            f"OOD acc {ood:.2f}, OOD acc_x {ood_x:.2f}; red: in the band"
        )
        samples.held_out_sample_panel(fig.add_subplot(grid[0, 1 + k]), r["dir"], title)
    fig.suptitle(f"Fig. 11: a vertical band of μ_x held out of 2D SOS, scale={scale}", fontsize=10)

    png = tables.save_figure(fig, out_dir / f"{NAME}.png", gates.gate_note(r["record"] for r in rows))

    lines = [
        f"Scale: {scale}. 2D SOS on a {size}×{size} canvas, grid d = {step:g}; a vertical band of μ_x centred on the canvas held out "
        "of training (its 2D compositions removed); accuracy on the integer evaluation grid, mean ± std (n seeds).",
        "",
    ]
    table = []
    for w in widths:
        share = by_width[w][0]["held_out"]
        cells = [
            numbers.stats_text(numbers.stats([r["metrics"].get(k) for r in by_width[w]]))
            for k in ("eval/acc", "eval/id/acc", "eval/ood/acc", "eval/ood/acc_x", "eval/ood/acc_y")
        ]
        table.append([f"{w:g}", numbers.percent_text(share), by_width[w][0]["images"], *cells])
    header = ["band width", "2D grid held out", "training images", "accuracy", "ID accuracy", "OOD accuracy"]
    lines += tables.markdown_table([*header, "OOD acc_x", "OOD acc_y"], table)
    return [png, tables.write_lines(out_dir / f"{NAME}.md", lines)]
