"""Figs. 4g, 5a-b: accuracy against the share of 2D bumps kept, without and with complete 1D stripes.

The paper's point is the contrast between the two panels: with stripes of every x and y, a small share
of 2D (compositional) examples already gives high accuracy, in and out of the held-out centre square;
without them accuracy falls as the 2D data thins. Each panel shows overall, ID and OOD accuracy against
the percentage of 2D bumps kept (log axis: the swept shares span decades), the red dashed lines of Fig.
5a-b at 0, 60 and 100 %, and on the top axis the number of 2D training images behind each share.

The runs' table (:func:`diffcomp.report.mixture.mixture_runs_table`) is shared with
``experiments/data_efficiency/figure.py`` (the same sweep plus N).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report import gates, history, mixture, numbers, tables
from diffcomp.results import load_records
from diffcomp.sweeps import efficiency

NAME = "few_compositional_examples"
THRESHOLDS = (0.0, 0.6, 1.0)
CURVES = [
    ("eval/acc", "overall", "black", "o"),
    ("eval/id/acc", "ID", "#4C72B0", "s"),
    ("eval/ood/acc", "OOD (centre square)", "#DD8452", "^"),
]


def _pct(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Two panels (one per stripes arm) of accuracy against the 2D share, and a markdown table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    table = mixture.mixture_runs_table(sweep_dir)
    if table.empty:
        return []
    scale = history.scale_of(sweep_dir, default="unknown")
    arms = sorted(table["stripes"].unique())
    fig = Figure(figsize=(4.6 * max(len(arms), 1) + 0.4, 3.9), layout="constrained")
    axes = fig.subplots(1, len(arms), sharey=True, squeeze=False)[0]
    for ax, arm in zip(axes, arms):
        part = table[table["stripes"] == arm].sort_values("f2d")
        shares = sorted(part["f2d"].unique())
        x = 100 * np.array(shares)
        for level in THRESHOLDS:
            ax.axhline(level, color="#d62728", ls="--", lw=0.9, alpha=0.7)
        for key, label, colour, marker in CURVES:
            if key not in part:
                continue
            grouped = [part.loc[part["f2d"] == s, key].dropna().to_numpy() for s in shares]
            keep = [i for i, g in enumerate(grouped) if g.size]
            if not keep:
                continue
            mean = np.array([grouped[i].mean() for i in keep])
            lo = np.array([grouped[i].min() for i in keep])
            hi = np.array([grouped[i].max() for i in keep])
            ax.errorbar(
                x[keep],
                mean,
                yerr=[mean - lo, hi - mean],
                color=colour,
                marker=marker,
                ms=5,
                lw=1.4,
                capsize=2,
                label=label,
            )
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
        ax.set_xlim(x.min() / 1.5, x.max() * 1.5) if len(x) else None
        ax.set_ylim(-0.05, 1.08)
        ax.set_xlabel("2D bumps kept (% of the in-distribution 2D grid)")
        ax.grid(alpha=0.25)
        top = ax.secondary_xaxis("top")
        counts = [part.loc[part["f2d"] == s, "n2d"].dropna() for s in shares]
        top.set_xticks(x, [f"{round(c.mean())}" if len(c) else "?" for c in counts], fontsize=8)
        top.minorticks_off()
        top.set_xlabel("2D training images", fontsize=8)
        other = (part["images"] - part["n2d"]).dropna().round().unique()
        note = "" if arm <= 0 else (f"+ {int(other[0])} 1D/0D images" if len(other) == 1 else "+ 1D/0D images")
        ax.set_title(f"{mixture.arm_name(arm)}" + (f" ({note})" if note else ""), fontsize=9.5)
    axes[0].set_ylabel("accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8.5)
    seeds = numbers.count_range_text(table.groupby(["stripes", "f2d"]).size())
    N = ", ".join(str(n) for n in sorted(table["N"].unique()))
    held = table["held_out"].dropna()
    held_txt = f", centre {held.iloc[0]:.0%} of the 2D grid held out" if len(held) else ""
    fig.suptitle(
        f"Few compositional examples (Figs. 4g, 5a-b): N={N}{held_txt}\n"
        f"scale={scale}, {seeds} seed(s) per point (mean; whiskers min-max); red dashed: 0, 60, 100 %",
        fontsize=9.5,
    )
    png = tables.save_figure(fig, out_dir / f"{NAME}.png", gates.gate_note(load_records(sweep_dir)))

    lines = [
        f"# {NAME} (Figs. 4g, 5a-b), scale={scale}",
        "",
        f"Final accuracy against the share of 2D bumps kept, N={N}{held_txt}; mean (min-max, n seeds) over seeds, one value when one seed.",
        "",
    ]
    table_rows = []
    for arm in arms:
        part = table[table["stripes"] == arm]
        for share in sorted(part["f2d"].unique()):
            rows = part[part["f2d"] == share]
            n2d = ", ".join(str(int(v)) for v in sorted(rows["n2d"].dropna().unique()))
            images = ", ".join(str(int(v)) for v in sorted(rows["images"].dropna().unique()))
            cells = [numbers.range_text(rows[k]) if k in rows else "-" for k, *_ in CURVES]
            table_rows.append([mixture.arm_name(arm), _pct(share), n2d or "-", images or "-", *cells])
    lines += tables.markdown_table(
        ["arm", "2D kept", "2D images", "all images", "acc", "ID acc", "OOD acc"], table_rows
    )
    lines += ["", "Smallest 2D share whose mean overall accuracy reaches 60 %:", ""]
    for arm in arms:
        part = table[table["stripes"] == arm]
        smallest = efficiency.smallest_share_reaching(part, 0.6)
        lines.append(
            f"* {mixture.arm_name(arm)}: "
            + (_pct(smallest) if smallest is not None else f"not reached (largest tried {_pct(part['f2d'].max())})")
        )
    return [png, tables.write_lines(out_dir / f"{NAME}.md", lines)]
