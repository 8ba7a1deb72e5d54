"""Accuracy per evaluation section: the section figure and table that Fig. 4c-f and Fig. 10 draw from
sweeps over ``data.name`` with the cross held out, and the rows of sweeps that hold out a band or
square (Figs. 11, 12)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report.gates import gate_note
from diffcomp.report.numbers import count_range_text, finite_values, range_text
from diffcomp.report.samples import choose_tiles, has_tiles, last_tiles
from diffcomp.report.tables import markdown_table, save_figure
from diffcomp.results import Record, load_records

# The cross's sections (diffcomp.data.regions.Holdout.sections) as the section figure shows them.
CROSS_SECTIONS = ("id", "vertical", "horizontal", "intersection")  # the sample rows' tiles, in this order
ACCURACY_AXES = [("acc_x", "x", "#4C72B0"), ("acc_y", "y", "#DD8452"), ("acc", "joint", "#55A868")]
SECTION_SHORT = {"vertical": "vert", "horizontal": "horiz", "intersection": "inter"}
SECTION_COLOURS = {
    "id": "#777777",
    "vertical": "#4C72B0",
    "horizontal": "#DD8452",
    "intersection": "#C44E52",
    "ood": "#C44E52",
}


def section_sizes(record: Record) -> dict[str, int]:
    """Evaluation labels per section (``all``, ``id``, ``ood``, the cross's parts), as the evaluation
    counted them (``eval/<section>/n``); ``all`` is the N x N integer grid of appendix A.3."""
    out = {"all": int(record.data["size"]) ** 2} if record.data.get("size") else {}
    suffix = "/n"
    for key, value in record.metrics.items():
        if key.startswith("eval/") and key.endswith(suffix) and key.count("/") == 2:
            section = key[len("eval/") : -len(suffix)]
            if section not in ("train", "one_feature"):
                out[section] = int(value)
    return out


def samples_first(row: dict) -> tuple:
    """Sort key of ``{dir, seed}`` rows: the lowest seed that saved samples comes first."""
    return (not has_tiles(row["dir"]), row["seed"])


def held_out_runs(sweep_dir: Path, holdout_type: str) -> list[dict]:
    """One row per complete job that holds out a ``holdout_type`` region (Figs. 11, 12): dir, record,
    metrics, data kind, place, width W, seed, held-out share of the 2D grid, training images."""
    out = []
    for record in load_records(sweep_dir):
        holdout = record.data.get("holdout") or {}
        if holdout.get("type") != holdout_type or "eval/acc" not in record.metrics:
            continue
        out.append(
            {
                "dir": record.job_dir,
                "record": record,
                "metrics": record.metrics,
                "data": str(record.data.get("kind") or record.data.get("name")),
                "place": str(record.setting("data.holdout.place") or "interior"),
                "width": math.nan if holdout.get("width") is None else float(holdout["width"]),
                "seed": int(record.seed or 0),
                "held_out": record.data.get("held_out_2d_fraction"),
                "images": record.data.get("images"),
            }
        )
    return out


def runs_by_model(sweep_dir: Path) -> dict[str, list[Record]]:
    """Complete runs grouped by their dataset's name (``data.name``), seeds in order."""
    groups: dict[str, list[Record]] = {}
    for record in load_records(sweep_dir):
        groups.setdefault(str(record.data.get("name") or "?"), []).append(record)
    for runs in groups.values():
        runs.sort(key=lambda r: (r.seed is None, r.seed if isinstance(r.seed, (int, float)) else 0))
    return groups


def ordered(groups: dict, known: dict) -> list[str]:
    """The known models in their paper order, then any others alphabetically."""
    return [m for m in known if m in groups] + sorted(m for m in groups if m not in known)


def metric_values(runs: list[Record], key: str) -> np.ndarray:
    """The finite values of one metric over the runs (seeds)."""
    return finite_values(r.metrics.get(key) for r in runs)


def section_prefix(section: str) -> str:
    """The metrics' prefix of an evaluation section (``all``: the overall metrics)."""
    return "eval/" if section == "all" else f"eval/{section}/"


def draw_sample_rows(
    subfig, groups: dict, models: list[str], labels: dict, want: Iterable[str], per_model: int = 8
) -> None:
    """One row of final samples per model (its first seed with samples), tiles grouped by section: each
    tile framed in its section's colour, red ticks outside it marking the target mu_x (top) and mu_y
    (left). Each row is one montage image, so the tiles stay large whatever the figure's width."""
    from matplotlib.patches import Rectangle

    rows = []
    for model in models:
        run = next((r for r in groups[model] if has_tiles(r.job_dir)), None)
        tiles = None if run is None else last_tiles(run.job_dir)
        if tiles is not None:
            rows.append((model, run, tiles))
    if not rows:
        return
    axes = subfig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (model, run, tiles) in zip(axes, rows):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        size = tiles.size
        picks = choose_tiles(len(tiles), tiles.sections, want, per_model)
        gap = max(3, size // 4)
        montage = np.ones((size + 2 * gap, per_model * (size + gap) + gap))
        for c, (i, _) in enumerate(picks):
            x0 = gap + c * (size + gap)
            montage[gap : gap + size, x0 : x0 + size] = tiles.images[i] / 255.0
        ax.imshow(montage, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        for c, (i, section) in enumerate(picks):
            x0, y0 = gap + c * (size + gap) - 0.5, gap - 0.5
            colour = SECTION_COLOURS.get(section, "#333333")
            ax.add_patch(Rectangle((x0 - 0.3, y0 - 0.3), size + 0.6, size + 0.6, fill=False, edgecolor=colour, lw=1.6))
            mx, my = (float(v) for v in tiles.labels[i])
            tick = gap * 0.6
            ax.plot([x0 + mx - 0.5] * 2, [y0 - tick, y0 - 0.4], color="red", lw=1.8, solid_capstyle="butt")
            ax.plot([x0 - tick, x0 - 0.4], [y0 + my - 0.5] * 2, color="red", lw=1.8, solid_capstyle="butt")
            ax.text(
                x0 + size / 2,
                y0 + size + gap * 0.35,
                f"{SECTION_SHORT.get(section, section)} ({mx:g},{my:g})",
                fontsize=6.5,
                color=colour,
                ha="center",
                va="top",
            )
        ax.set_ylabel(
            f"{labels.get(model, model)}\nseed {run.seed}, step {tiles.step}",
            fontsize=7.5,
            rotation=0,
            ha="right",
            va="center",
        )


def draw_bar_panels(
    subfig, groups: dict, models: list[str], labels: dict, sections: list[tuple[str, str]], sizes: dict
) -> None:
    """Per section: per model, x / y / joint accuracy (mean over seeds; whiskers min-max; dots seeds)."""
    axes = subfig.subplots(1, len(sections), sharey=True, squeeze=False)[0]
    width = 0.26
    for ax, (section, title) in zip(axes, sections):
        for m, model in enumerate(models):
            for a, (key, axis_name, colour) in enumerate(ACCURACY_AXES):
                vals = metric_values(groups[model], section_prefix(section) + key)
                x = m + (a - 1) * width
                if vals.size == 0:
                    ax.text(x, 0.02, "n/a", rotation=90, fontsize=6, ha="center", va="bottom", color="#999999")
                    continue
                ax.bar(x, vals.mean(), width * 0.92, color=colour, label=axis_name if m == 0 else None)
                if vals.size > 1:
                    ax.errorbar(
                        x,
                        vals.mean(),
                        yerr=[[vals.mean() - vals.min()], [vals.max() - vals.mean()]],
                        color="black",
                        lw=0.9,
                        capsize=2,
                    )
                    ax.plot(np.full(vals.size, x), vals, ".", color="black", ms=2.5)
        n = sizes.get(section)
        ax.set_title(title + (f"\n{n} label{'' if n == 1 else 's'}" if n is not None else ""), fontsize=9)
        ax.set_xticks(range(len(models)), [labels.get(m, m) for m in models], fontsize=8)
        ax.set_xlim(-0.6, max(len(models), 2) - 0.4)
        ax.grid(axis="y", alpha=0.3)
        ax.axhline(1.0, color="#bbbbbb", lw=0.6)
    axes[0].set_ylabel("accuracy")
    axes[0].set_ylim(0, 1.2)
    axes[0].set_yticks(np.linspace(0, 1, 6))
    axes[0].legend(
        frameon=False, fontsize=7.5, loc="upper left", ncols=3, handlelength=1.0, columnspacing=0.8, borderaxespad=0.2
    )


def section_figure(
    sweep_dir: Path,
    out_path: Path,
    labels: dict,
    sections: list[tuple[str, str]],
    title: str,
    scale: str,
    want: tuple[str, ...] = CROSS_SECTIONS,
    per_model: int = 8,
) -> tuple[Path | None, dict, list[str]]:
    """The bars of ``sections`` per model over one row of samples per model (tiles from the sections
    in ``want``); returns the PNG path (None without records), the runs by model and the model order."""
    groups = runs_by_model(sweep_dir)
    models = ordered(groups, labels)
    if not models:
        return None, groups, models
    sizes = section_sizes(groups[models[0]][0])
    seeds = count_range_text(len(groups[m]) for m in models)
    sample_rows = sum(1 for m in models if any(has_tiles(r.job_dir) for r in groups[m]))
    width = max(2.2 * len(sections) + 1.0, 8.0)
    bars_h = 2.9
    samples_h = sample_rows * (width - 1.2) / per_model * 1.1  # montage rows keep the tiles' aspect
    fig = Figure(figsize=(width, bars_h + samples_h + 0.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[bars_h, max(samples_h, 0.01)]) if sample_rows else (fig, None)
    draw_bar_panels(top, groups, models, labels, sections, sizes)
    if bottom is not None:
        draw_sample_rows(bottom, groups, models, labels, want, per_model)
        bottom.suptitle(
            "final samples (first seed); red ticks: target mu_x (top), mu_y (left); frame colour: section", fontsize=8
        )
    fig.suptitle(
        f"{title}\nscale={scale}, {seeds} seed(s) per model; bars: mean over seeds, whiskers: min-max, dots: seeds",
        fontsize=9.5,
    )
    note = gate_note(r for runs in groups.values() for r in runs)
    return save_figure(fig, out_path, note), groups, models


def section_table(
    groups: dict,
    models: list[str],
    labels: dict,
    sections: list[tuple[str, str]],
    sizes: dict,
    paper: dict | None = None,
) -> list[str]:
    """One row per model and section: labels, x / y / joint accuracy (mean (min-max, n) over seeds)."""
    header = ["model", "section", "labels", "acc x", "acc y", "acc (joint)"] + (["paper (Sec. 3.2)"] if paper else [])
    rows = []
    for model in models:
        for section, _title in sections:
            cells = [range_text(metric_values(groups[model], section_prefix(section) + k)) for k, _, _ in ACCURACY_AXES]
            row = [labels.get(model, model), section, sizes.get(section, "-"), *cells]
            rows.append(row + ([paper.get((model, section), "")] if paper else []))
    return markdown_table(header, rows)


def failure_mode_cells(runs: list[Record]) -> list[str]:
    """Share of samples with no / one / several features (mean (min-max, n) over seeds)."""
    return [
        range_text(metric_values(runs, f"eval/frac_{k}")) for k in ("no_feature", "one_feature", "several_features")
    ]
