"""Figs. 4g, 5a-b: accuracy against the share of 2D bumps kept, without and with complete 1D stripes.

The paper's point is the contrast between the two panels: with stripes of every x and y, a small share
of 2D (compositional) examples already gives high accuracy, in and out of the held-out centre square;
without them accuracy falls as the 2D data thins. Each panel shows overall, ID and OOD accuracy against
the percentage of 2D bumps kept (log axis: the swept shares span decades), the red dashed lines of Fig.
5a-b at 0, 60 and 100 %, and on the top axis the number of 2D training images behind each share.

``runs_table`` is shared with ``experiments/data_efficiency/figure.py`` (the same sweep plus N).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.sweeps.aggregate import load_records

DPI = 110
NAME = "few_compositional_examples"
THRESHOLDS = (0.0, 0.6, 1.0)
CURVES = [
    ("eval/acc", "overall", "black", "o"),
    ("eval/id/acc", "ID", "#4C72B0", "s"),
    ("eval/ood/acc", "OOD (centre square)", "#DD8452", "^"),
]


def scale_of(sweep_dir: Path) -> str:
    """The ``scale=`` choice saved in ``multirun.yaml`` ("unknown" without one)."""
    try:
        from omegaconf import OmegaConf

        return str(
            OmegaConf.select(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"), "hydra.runtime.choices.scale")
            or "unknown"
        )
    except Exception:
        return "unknown"


def _part_fraction(parts: list, index: int, default: float) -> float:
    try:
        return float(parts[index].get("fraction", default))
    except (IndexError, AttributeError, TypeError, ValueError):
        return default


def runs_table(sweep_dir: Path):
    """One row per complete run: N, the 2D share kept (``f2d``), the stripes share (``stripes``),
    seed, image counts from the record's dataset summary, and every numeric ``eval/*`` metric.

    The shares are read from the resolved config (``data.parts``), so runs launched with other
    override spellings still sort into the right arm."""
    import pandas as pd

    rows = []
    for run_dir, record in load_records(sweep_dir):
        config = record.get("config") or {}
        data = config.get("data") or {}
        parts = data.get("parts") or []
        dataset = record.get("dataset") or {}
        row = {
            "dir": str(run_dir),
            "N": int(data.get("size") or dataset.get("N") or 0),
            "f2d": _part_fraction(parts, 0, 1.0),
            "stripes": _part_fraction(parts, 1, 0.0),
            "seed": record.get("seed", config.get("seed")),
            "images": dataset.get("images"),
            "n2d": dataset.get("2d", 0) if dataset else None,  # absent from the summary: no 2D images
            "held_out": dataset.get("held_out_2d_fraction"),
        }
        for key, value in (record.get("metrics") or {}).items():
            if key.startswith("eval/") and isinstance(value, (int, float)) and math.isfinite(value):
                row[key] = float(value)
        rows.append(row)
    return pd.DataFrame(rows)


def arm_name(stripes: float) -> str:
    """``2D only`` / ``2D + 1D stripes`` (with the share when the stripes are subsampled too)."""
    if stripes <= 0:
        return "2D only"
    return "2D + 1D stripes" if stripes >= 1 else f"2D + {stripes:.0%} of the 1D stripes"


def stat(values) -> str:
    """``mean`` for one seed, ``mean (min-max, n=k)`` for several, ``-`` for none."""
    vals = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if vals.size == 0:
        return "-"
    if vals.size == 1:
        return f"{vals[0]:.2f}"
    return f"{vals.mean():.2f} ({vals.min():.2f}-{vals.max():.2f}, n={vals.size})"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Two panels (one per stripes arm) of accuracy against the 2D share, and a markdown table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    table = runs_table(sweep_dir)
    if table.empty:
        return []
    scale = scale_of(sweep_dir)
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
        ax.set_title(f"{arm_name(arm)}" + (f" ({note})" if note else ""), fontsize=9.5)
    axes[0].set_ylabel("accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8.5)
    n_seeds = table.groupby(["stripes", "f2d"]).size()
    seeds = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else f"{n_seeds.min()}-{n_seeds.max()}"
    N = ", ".join(str(n) for n in sorted(table["N"].unique()))
    held = table["held_out"].dropna()
    held_txt = f", centre {held.iloc[0]:.0%} of the 2D grid held out" if len(held) else ""
    fig.suptitle(
        f"Few compositional examples (Figs. 4g, 5a-b): N={N}{held_txt}\n"
        f"scale={scale}, {seeds} seed(s) per point (mean; whiskers min-max); red dashed: 0, 60, 100 %",
        fontsize=9.5,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{NAME}.png"
    fig.savefig(png, dpi=DPI)

    lines = [
        f"# {NAME} (Figs. 4g, 5a-b), scale={scale}",
        "",
        f"Final accuracy against the share of 2D bumps kept, N={N}{held_txt}; mean (min-max, n seeds) over seeds, one value when one seed.",
        "",
        "| arm | 2D kept | 2D images | all images | acc | ID acc | OOD acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        part = table[table["stripes"] == arm]
        for share in sorted(part["f2d"].unique()):
            rows = part[part["f2d"] == share]
            n2d = ", ".join(str(int(v)) for v in sorted(rows["n2d"].dropna().unique()))
            images = ", ".join(str(int(v)) for v in sorted(rows["images"].dropna().unique()))
            cells = [stat(rows[k]) if k in rows else "-" for k, *_ in CURVES]
            lines.append(
                f"| {arm_name(arm)} | {_pct(share)} | {n2d or '-'} | {images or '-'} | " + " | ".join(cells) + " |"
            )
    lines += ["", "Smallest 2D share whose mean overall accuracy reaches 60 %:", ""]
    for arm in arms:
        part = table[table["stripes"] == arm]
        means = part.groupby("f2d")["eval/acc"].mean() if "eval/acc" in part else None
        reached = [s for s, v in (means.items() if means is not None else []) if v >= 0.6]
        lines.append(
            f"* {arm_name(arm)}: "
            + (_pct(min(reached)) if reached else f"not reached (largest tried {_pct(part['f2d'].max())})")
        )
    md = out_dir / f"{NAME}.md"
    md.write_text("\n".join(lines) + "\n")
    return [png, md]
