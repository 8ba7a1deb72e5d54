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

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report import gates, history, numbers, samples, sections, tables

NAME = "region_composition"
PANELS = (("bump", "interior", "c"), ("sos", "interior", "d"), ("bump", "exterior", "e"), ("sos", "exterior", "f"))
CURVES = (
    ("eval/ood/acc", "OOD (in the square)", "tab:red", "-"),
    ("eval/id/acc", "ID (outside)", "tab:blue", "-"),
    ("eval/ood/acc_x", "OOD, x only", "tab:red", ":"),
    ("eval/ood/acc_y", "OOD, y only", "tab:red", "--"),
)


def _panel(ax, group: dict[float, list[dict]], title: str) -> None:
    widths = sorted(group)
    if not widths:
        ax.text(0.5, 0.5, "no complete runs", ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.4")
    span = (widths[-1] - widths[0]) if len(widths) > 1 else 1.0
    for key, label, colour, ls in CURVES:
        mean, err = numbers.error_bars([r["metrics"].get(key) for r in group[w]] for w in widths)
        if not len(mean) or not np.isfinite(mean).any():
            continue
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
                values = [numbers.number(r["metrics"].get(key)) for r in group[w]]
                if len(values) > 1:
                    ax.plot([xi] * len(values), values, ".", color=colour, ms=3, alpha=0.5)
    shares = [group[w][0]["held_out"] for w in widths]
    if widths and all(isinstance(s, (int, float)) for s in shares):
        for w, s in zip(widths, shares):
            ax.annotate(
                numbers.percent_text(s),
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
    rows = sections.held_out_runs(sweep_dir, "square")
    if not rows:
        return []
    scale = history.scale_of(sweep_dir)
    groups: dict[tuple[str, str], dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r["data"], r["place"])][r["width"]].append(r)
    data = rows[0]["record"].data
    size, step = int(data["size"]), float(data["increment_x"])
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
    paths = [tables.save_figure(fig, out_dir / f"{NAME}.png", gates.gate_note(r["record"] for r in rows))]

    present = [(k, p, letter) for k, p, letter in PANELS if groups.get((k, p))]
    aspect = samples.grid_aspect(min(rows, key=sections.samples_first)["dir"])  # the grids' height over width
    sample_fig = Figure(figsize=(2.6 * max(len(present), 1), 2.6 * aspect + 0.8), layout="constrained")
    for i, (kind, place, letter) in enumerate(present):
        w = max(groups[(kind, place)])
        r = min(groups[(kind, place)][w], key=sections.samples_first)
        samples.held_out_sample_panel(
            sample_fig.add_subplot(1, len(present), i + 1),
            r["dir"],
            f"({letter}) {'bump' if kind == 'bump' else 'SOS'} {place}, W = {w:g}\n"
            f"OOD acc {numbers.number(r['metrics'].get('eval/ood/acc')):.2f} (seed {r['seed']})",
        )
    sample_fig.suptitle(
        f"last samples at the widest W (red: requested inside the held-out square); scale={scale}", fontsize=9
    )
    paths.append(tables.save_figure(sample_fig, out_dir / f"{NAME}_samples.png"))

    lines = [
        f"Scale: {scale}. A W×W square of 2D compositions held out of training, centred (interior) or at the "
        f"bottom-right corner (exterior), {size}×{size} canvas, grid d = {step:g}; accuracy on the integer evaluation "
        "grid, mean ± std (n seeds).",
        "",
    ]
    table = []
    for kind, place, _ in PANELS:
        for w in sorted(groups.get((kind, place), {})):
            group = groups[(kind, place)][w]
            cells = [
                numbers.stats_text(numbers.stats([r["metrics"].get(k) for r in group]))
                for k in ("eval/id/acc", "eval/ood/acc", "eval/ood/acc_x", "eval/ood/acc_y", "eval/acc")
            ]
            held = numbers.percent_text(group[0]["held_out"])
            table.append(["bump" if kind == "bump" else "SOS", place, f"{w:g}", held, group[0]["images"], *cells])
    header = ["data", "place", "W", "2D grid held out", "training images", "ID accuracy", "OOD accuracy"]
    lines += tables.markdown_table([*header, "OOD acc_x", "OOD acc_y", "overall"], table)
    paths.append(tables.write_lines(out_dir / f"{NAME}.md", lines))
    return paths
