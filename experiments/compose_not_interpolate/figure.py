"""Fig. 4c-f: x, y and joint accuracy per section of the held-out cross, per model, with samples.

The paper's argument rests on *which* coordinate is right *where*: a model that composes but cannot
interpolate gets the coordinate outside the cut right and the one inside it wrong in each arm of the
cross, and both wrong in the intersection. So the figure shows three bars (x, y, joint) per model
and section, and under them one row of final samples per model, picked from the sections with the
target marked, because a bar cannot tell a missing stripe from a misplaced one.

Only records and sample PNGs are read (no model is loaded), so ``draw`` works on partial sweeps and
runs in seconds. ``experiments/rim_compositions/figure.py`` reuses the helpers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.sweeps.aggregate import load_records

DPI = 110
NAME = "compose_not_interpolate"

# data.name -> legend label, in the paper's order (Fig. 4: 2D, 1D, 2D+1D).
MODELS = {"sos": "2D (SOS)", "stripes": "1D (stripes)", "sos_stripes": "2D+1D"}
SECTIONS = [
    ("id", "in-distribution"),
    ("vertical", "vertical: mu_x in cut"),
    ("horizontal", "horizontal: mu_y in cut"),
    ("intersection", "intersection"),
]
AXES = [("acc_x", "x", "#4C72B0"), ("acc_y", "y", "#DD8452"), ("acc", "joint", "#55A868")]
SHORT = {"vertical": "vert", "horizontal": "horiz", "intersection": "inter"}
SECTION_COLOURS = {
    "id": "#777777",
    "vertical": "#4C72B0",
    "horizontal": "#DD8452",
    "intersection": "#C44E52",
    "ood": "#C44E52",
}

# Sec. 3.2's predictions, in this repository's section names: ``vertical`` is mu_x inside the cut
# (mu_y a trained value), ``horizontal`` the reverse. A model that composes but cannot interpolate
# gets the coordinate *outside* the cut right. The paper words it "high accuracy in generating mu_x
# ... in the vertical section": its x apparently indexes image rows, so its vertical section is
# our horizontal one; the statement (the uncut coordinate is right) is the same.
PAPER = {
    ("sos", "id"): "high",
    ("sos", "vertical"): "y high, x low",
    ("sos", "horizontal"): "x high, y low",
    ("sos", "intersection"): "both low",
    ("stripes", "id"): "one axis only, joint low (no 2D data anywhere)",
    ("stripes", "vertical"): "one axis only, joint low",
    ("stripes", "horizontal"): "one axis only, joint low",
    ("stripes", "intersection"): "one axis only, joint low",
    ("sos_stripes", "id"): "high",
    ("sos_stripes", "vertical"): "high",
    ("sos_stripes", "horizontal"): "high",
    ("sos_stripes", "intersection"): "high",
}


# ---------------------------------------------------------------------------------------------
# records


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


def runs_by_model(sweep_dir: Path) -> dict[str, list[dict]]:
    """Complete runs grouped by ``data.name``, each ``{dir, seed, metrics, config, dataset}``, seeds sorted."""
    groups: dict[str, list[dict]] = {}
    for run_dir, record in load_records(sweep_dir):
        config = record.get("config") or {}
        name = str((config.get("data") or {}).get("name") or "?")
        groups.setdefault(name, []).append(
            {
                "dir": Path(run_dir),
                "seed": record.get("seed", config.get("seed")),
                "metrics": record.get("metrics") or {},
                "config": config,
                "dataset": record.get("dataset") or {},
            }
        )
    for runs in groups.values():
        runs.sort(key=lambda r: (r["seed"] is None, r["seed"] if isinstance(r["seed"], (int, float)) else 0))
    return groups


def ordered(groups: dict, known: dict) -> list[str]:
    """The known models in their paper order, then any others alphabetically."""
    return [m for m in known if m in groups] + sorted(m for m in groups if m not in known)


def values(runs: list[dict], key: str) -> np.ndarray:
    """The finite values of one metric over the runs (seeds)."""
    out = [r["metrics"].get(key) for r in runs]
    return np.array([v for v in out if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)


def stat(vals: np.ndarray) -> str:
    """``mean`` alone for one seed, ``mean (min-max, n=k)`` for several, ``-`` for none."""
    if vals.size == 0:
        return "-"
    if vals.size == 1:
        return f"{vals[0]:.2f}"
    return f"{vals.mean():.2f} ({vals.min():.2f}-{vals.max():.2f}, n={vals.size})"


def section_sizes(config: dict) -> dict[str, int]:
    """Number of evaluation labels per section, rebuilt from the run's data config (no sampling)."""
    try:
        from diffcomp.data.canvas import (
            CanvasSpec,
            evaluation_labels,
            evaluation_sections,
        )

        spec = CanvasSpec.from_config(config["data"])
        labels = evaluation_labels(spec)
        out = {"all": len(labels)}
        out.update({k: int(v.sum()) for k, v in evaluation_sections(spec, labels).items()})
        return out
    except Exception:
        return {}


# ---------------------------------------------------------------------------------------------
# samples


def last_samples(run_dir: Path) -> Path | None:
    """The grid of the last evaluation (``samples/step_<k>.png`` with the largest k)."""
    paths = sorted(Path(run_dir).glob("samples/step_*.png"))
    return paths[-1] if paths else None


def tile_labels(config: dict, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Labels and section masks of the ``count`` tiles of a sample grid.

    The evaluation callback tiles ``linspace(0, M-1, count).round()`` of the M evaluation labels
    in their grid order, so the tiles' targets can be rebuilt from the config alone."""
    try:
        import torch

        from diffcomp.data.canvas import (
            CanvasSpec,
            evaluation_labels,
            evaluation_sections,
        )

        spec = CanvasSpec.from_config(config["data"])
        labels = evaluation_labels(spec)
        pick = torch.linspace(0, len(labels) - 1, min(count, len(labels))).round().long()
        sections = evaluation_sections(spec, labels)
        return labels[pick].numpy(), {k: v[pick].numpy().astype(bool) for k, v in sections.items()}
    except Exception:
        return None


def read_tiles(path: Path, size: int, count: int, columns: int = 8) -> list[np.ndarray]:
    """The first ``count`` tiles of a sample grid (``image_grid``: 1-pixel gutters, ``columns`` per row)."""
    from matplotlib.image import imread

    grid = imread(path)
    grid = grid[..., 0] if grid.ndim == 3 else grid
    step = size + 1
    tiles = []
    for i in range(count):
        r, c = divmod(i, columns)
        tile = grid[r * step : r * step + size, c * step : c * step + size]
        if tile.shape != (size, size):
            break  # a grid smaller than the config says: keep what is there
        tiles.append(tile)
    return tiles


def choose_tiles(
    n_tiles: int, sections: dict[str, np.ndarray] | None, want: list[str], wanted: int
) -> list[tuple[int, str]]:
    """``wanted`` tile indices shared out over the sections in ``want`` (as evenly as their sizes
    allow, each section's picks spread over it), tagged with their section and grouped by section;
    evenly spaced untagged tiles when the sections are unknown."""
    if not sections:
        idx = np.linspace(0, n_tiles - 1, min(wanted, n_tiles)).round().astype(int)
        return [(int(i), "") for i in dict.fromkeys(idx.tolist())]
    pools, seen = {}, set()
    for s in want:  # a tile belongs to the first wanted section that holds it
        if s in sections:
            pools[s] = [int(i) for i in np.flatnonzero(sections[s][:n_tiles]) if int(i) not in seen]
            seen.update(pools[s])
    quota = dict.fromkeys(pools, 0)
    while sum(quota.values()) < wanted and any(quota[s] < len(pool) for s, pool in pools.items()):
        for s, pool in pools.items():
            if quota[s] < len(pool) and sum(quota.values()) < wanted:
                quota[s] += 1
    chosen = []
    for s, pool in pools.items():
        if quota[s]:
            chosen += [
                (pool[k], s)
                for k in dict.fromkeys(np.linspace(0, len(pool) - 1, quota[s]).round().astype(int).tolist())
            ]
    return chosen


def draw_sample_rows(
    subfig, groups: dict, models: list[str], labels: dict, want: list[str], per_model: int = 8
) -> None:
    """One row of final samples per model (its first seed with samples), tiles grouped by section: each tile
    framed in its section's colour, red ticks outside it marking the target mu_x (top) and mu_y
    (left). Each row is one montage image, so the tiles stay large whatever the figure's width."""
    from matplotlib.patches import Rectangle

    firsts = {m: next((r for r in groups[m] if last_samples(r["dir"])), None) for m in models}
    rows = [(m, run) for m, run in firsts.items() if run is not None]
    if not rows:
        return
    axes = subfig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (model, run) in zip(axes, rows):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        path = last_samples(run["dir"])
        size = int((run["config"].get("data") or {}).get("size") or 0)
        count = min(int((run["config"].get("eval") or {}).get("grid_size") or 64), size * size)
        try:
            tiles = read_tiles(path, size, count) if size else []
        except (OSError, ValueError, SyntaxError) as error:  # a truncated or odd PNG: say so, draw the rest
            ax.text(
                0.5,
                0.5,
                f"{path.name}: unreadable ({type(error).__name__})",
                ha="center",
                va="center",
                fontsize=7,
                transform=ax.transAxes,
            )
            tiles = []
        info = tile_labels(run["config"], count)
        targets, sections = info if info else (None, None)
        picks = choose_tiles(len(tiles), sections, want, per_model)
        gap = max(3, size // 4)
        montage = np.ones((size + 2 * gap, per_model * (size + gap) + gap))
        for c, (i, _) in enumerate(picks):
            x0 = gap + c * (size + gap)
            montage[gap : gap + size, x0 : x0 + size] = tiles[i]
        ax.imshow(montage, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        for c, (i, section) in enumerate(picks):
            x0, y0 = gap + c * (size + gap) - 0.5, gap - 0.5
            colour = SECTION_COLOURS.get(section, "#333333")
            ax.add_patch(Rectangle((x0 - 0.3, y0 - 0.3), size + 0.6, size + 0.6, fill=False, edgecolor=colour, lw=1.6))
            if targets is not None and i < len(targets):
                mx, my = (float(v) for v in targets[i])
                tick = gap * 0.6
                ax.plot([x0 + mx - 0.5] * 2, [y0 - tick, y0 - 0.4], color="red", lw=1.8, solid_capstyle="butt")
                ax.plot([x0 - tick, x0 - 0.4], [y0 + my - 0.5] * 2, color="red", lw=1.8, solid_capstyle="butt")
                ax.text(
                    x0 + size / 2,
                    y0 + size + gap * 0.35,
                    f"{SHORT.get(section, section)} ({mx:g},{my:g})",
                    fontsize=6.5,
                    color=colour,
                    ha="center",
                    va="top",
                )
        step = path.stem.split("_")[-1].lstrip("0") or "0"
        ax.set_ylabel(
            f"{labels.get(model, model)}\nseed {run['seed']}, step {step}",
            fontsize=7.5,
            rotation=0,
            ha="right",
            va="center",
        )


# ---------------------------------------------------------------------------------------------
# bars


def draw_bar_panels(
    subfig, groups: dict, models: list[str], labels: dict, sections: list[tuple[str, str]], sizes: dict
) -> None:
    """Per section: per model, x / y / joint accuracy (mean over seeds; whiskers min-max; dots seeds)."""
    axes = subfig.subplots(1, len(sections), sharey=True, squeeze=False)[0]
    width = 0.26
    for ax, (section, title) in zip(axes, sections):
        prefix = "eval/" if section == "all" else f"eval/{section}/"
        for m, model in enumerate(models):
            for a, (key, axis_name, colour) in enumerate(AXES):
                vals = values(groups[model], prefix + key)
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
    want: list[str],
    title: str,
    per_model: int = 8,
) -> tuple[Path | None, dict, list[str]]:
    """The bars of ``sections`` per model over one row of samples per model; returns the PNG path
    (None without records), the runs by model and the model order."""
    groups = runs_by_model(sweep_dir)
    models = ordered(groups, labels)
    if not models:
        return None, groups, models
    sizes = section_sizes(groups[models[0]][0]["config"])
    n_seeds = sorted({len(groups[m]) for m in models})
    seeds = f"{n_seeds[0]}" if len(n_seeds) == 1 else f"{n_seeds[0]}-{n_seeds[-1]}"
    sample_rows = sum(1 for m in models if any(last_samples(r["dir"]) for r in groups[m]))
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
        f"{title}\nscale={scale_of(sweep_dir)}, {seeds} seed(s) per model; bars: mean over seeds, whiskers: min-max, dots: seeds",
        fontsize=9.5,
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=DPI)
    return out_path, groups, models


def markdown_table(
    groups: dict,
    models: list[str],
    labels: dict,
    sections: list[tuple[str, str]],
    sizes: dict,
    paper: dict | None = None,
) -> list[str]:
    """One row per model and section: labels, x / y / joint accuracy (mean (min-max, n) over seeds)."""
    head = "| model | section | labels | acc x | acc y | acc (joint) |" + (" paper (Sec. 3.2) |" if paper else "")
    lines = [head, "|" + "---|" * (6 + bool(paper))]
    for model in models:
        for section, _title in sections:
            prefix = "eval/" if section == "all" else f"eval/{section}/"
            cells = [stat(values(groups[model], prefix + key)) for key, _, _ in AXES]
            row = f"| {labels.get(model, model)} | {section} | {sizes.get(section, '-')} | " + " | ".join(cells) + " |"
            if paper:
                row += f" {paper.get((model, section), '')} |"
            lines.append(row)
    return lines


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Fig. 4c-f from a (possibly partial) sweep: bars per section and samples; plus a markdown table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    sections = [("all", "all labels")] + SECTIONS
    png, groups, models = section_figure(
        sweep_dir,
        out_dir / f"{NAME}.png",
        MODELS,
        sections,
        want=["id", "vertical", "horizontal", "intersection"],
        title="Compose, not interpolate (Fig. 4c-f): cross held out",
    )
    if png is None:
        return []
    sizes = section_sizes(groups[models[0]][0]["config"])
    lines = [
        f"# {NAME} (Fig. 4c-f), scale={scale_of(sweep_dir)}",
        "",
        "Final accuracy per section of the held-out cross (mean (min-max, n seeds) over seeds; one value when one seed).",
        "",
        *markdown_table(groups, models, MODELS, sections, sizes, PAPER),
        "",
        "Failure modes over all labels (fraction of samples with no / one / several features):",
        "",
        "| model | seeds | no feature | one feature | several | train images |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        runs = groups[model]
        images = sorted({r["dataset"].get("images") for r in runs if r["dataset"].get("images") is not None})
        cells = [stat(values(runs, f"eval/frac_{k}")) for k in ("no_feature", "one_feature", "several_features")]
        lines.append(
            f"| {MODELS.get(model, model)} | {len(runs)} | "
            + " | ".join(cells)
            + f" | {', '.join(map(str, images)) or '-'} |"
        )
    md = out_dir / f"{NAME}.md"
    md.write_text("\n".join(lines) + "\n")
    return [png, md]
