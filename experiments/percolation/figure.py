"""Figure of experiment=percolation (main paper Sec. 3.3: Figs. 6b, 6c, 6e, 13, 14b-c, 15).

Why: the paper's claim is that a model learns the 2D manifold once its training images form one
large connected cluster. The trained models' accuracy against lambda is only evidence for that when
it is drawn beside the percolation simulation of *the same* training sets, so the simulation here
runs on the trained models' canvas (``data.size``) and grid (``data.increment``), with their nested
subsets (:func:`diffcomp.data.labels.nested_subsample` with the same seeds), with the percolation
task's settings (:mod:`diffcomp.sweeps.resimulation`, which computes it); it takes seconds. Nothing
is trained or sampled: the trained numbers come from the records, the representations (Fig. 15) from
each job's saved analysis arrays.

Outputs: ``percolation.png`` (6b overlap against increment, 6c simulated mass ratio at threshold
0.005, 6e trained accuracy with a dot per seed, 14c final training and held-out loss),
``percolation_thresholds.png`` (Fig. 13/14b: the mass ratio at thresholds 0.001, 0.005 and 0.05),
``percolation_representations.png`` (Fig. 15: PC1-PC2 of each model's representation of the
evaluation grid, grid neighbours joined) and ``percolation.md`` (the numbers).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from diffcomp.report import gates, history, numbers, tables
from diffcomp.results import load_records
from diffcomp.sweeps.resimulation import lambda_half_labels, mean_at, neighbour_overlap, simulate
from diffcomp.theory.overlap import overlap_curve
from diffcomp.theory.percolation import half_crossing

NAME = "percolation"


def runs(sweep_dir: Path) -> list[dict]:
    """One row per complete job: sigma, lambda, seed, canvas, metrics and the job directory."""
    out = []
    for record in load_records(sweep_dir):
        data, metrics = record.data, record.metrics
        if data.get("sigma_x") is None or "eval/acc" not in metrics:
            continue
        out.append(
            {
                "dir": record.job_dir,
                "sigma": float(data["sigma_x"]),
                "lambda": float(data.get("fraction") or 1.0),
                # the seed of the nested subset (data.subsample_seed, the job's seed by default): the
                # simulation draws the same subsets
                "seed": int(data.get("subsample_seed") or 0),
                "size": int(data.get("size") or 32),
                "step": float(data.get("increment_x") or 1.0),
                "margin": data.get("margin", 0),
                "images": data.get("images"),
                "acc": numbers.number(metrics.get("eval/acc")),
                "train_loss": numbers.number(metrics.get("train/final_loss", metrics.get("train/interval_loss"))),
                "eval_loss": numbers.number(metrics.get("eval/loss")),
            }
        )
    return out


def _colours(sigmas) -> dict[float, tuple]:
    """Dark-to-light along sigma, but never too pale to read on white."""
    cmap = colormaps["plasma"]
    return {s: cmap(v) for s, v in zip(sigmas, np.linspace(0.0, 0.75, max(len(sigmas), 1)))}


def _mass_panel(ax, sim: dict, sigmas, colours, t: int, title: str, trained: dict | None = None) -> None:
    """Seed-mean mass ratio over lambda per sigma (band: std over seeds), lambda_half marked."""
    x, level = sim["fractions"], sim["settings"].level
    for s, sigma in enumerate(sigmas):
        mean, std = sim["ratios"][t, s].mean(axis=1), sim["ratios"][t, s].std(axis=1)
        ax.plot(x, mean, color=colours[sigma], lw=1.3, label=f"σ = {sigma:g}")
        ax.fill_between(x, mean - std, mean + std, color=colours[sigma], alpha=0.15, lw=0)
        crossing = half_crossing(x, mean, level)
        if math.isfinite(crossing) and not np.all(mean >= level):
            ax.plot(crossing, level, "|", color=colours[sigma], ms=11, mew=2)
        if trained:
            lams = sorted(trained.get(sigma, []))
            ax.plot(
                lams, [mean_at(sim, t, s, lam, trained[sigma][lam]) for lam in lams], "o", ms=3.5, color=colours[sigma]
            )
    ax.axhline(level, color="0.5", ls=":", lw=0.8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("λ (fraction of the grid kept)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _by_point(rows: list[dict], key: str) -> dict[float, dict[float, list[tuple[int, float]]]]:
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        out[r["sigma"]][r["lambda"]].append((r["seed"], r[key]))
    return out


def _trained_panel(
    ax, rows: list[dict], sigmas, colours, key: str, ylabel: str, dots: bool = True, marker="o", ls="-", label_suffix=""
) -> None:
    """Mean ± std over seeds per (sigma, lambda); each seed a small dot."""
    points = _by_point(rows, key)
    offsets = {s: (i - (len(sigmas) - 1) / 2) * 0.008 for i, s in enumerate(sigmas)}  # keep sigmas' bars apart
    for sigma in sigmas:
        lams = sorted(points.get(sigma, {}))
        if not lams:
            continue
        mean, err = numbers.error_bars([v for _, v in points[sigma][lam]] for lam in lams)
        x = np.asarray(lams) + offsets[sigma]
        ax.errorbar(
            x,
            mean,
            yerr=err,
            color=colours[sigma],
            marker=marker,
            ms=4,
            lw=1.3,
            ls=ls,
            capsize=2,
            label=f"σ = {sigma:g}{label_suffix}",
        )
        if dots:
            for lam, xi in zip(lams, x):
                values = [v for _, v in points[sigma][lam]]
                ax.plot([xi + 0.006] * len(values), values, ".", color=colours[sigma], ms=4, alpha=0.6)
    ax.set_xlabel("λ (fraction of the grid kept)", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _main_figure(rows, sim, sigmas, colours, size, step, scale) -> Figure:
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 2)
    trained = defaultdict(lambda: defaultdict(list))
    for r in rows:
        trained[r["sigma"]][r["lambda"]].append(r["seed"])
    settings = sim["settings"]
    t = settings.thresholds.index(settings.main)
    n_seeds = len(sim["seeds"])
    _mass_panel(
        axes[0, 0],
        sim,
        sigmas,
        colours,
        t,
        f"(c) simulation: largest cluster, threshold {settings.main:g}\n{n_seeds} subsets per λ; dots: the trained subsets; |: λ½",
        trained,
    )
    axes[0, 0].set_ylabel("largest connected cluster mass ratio", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="lower right")

    _trained_panel(axes[0, 1], rows, sigmas, colours, "acc", "accuracy (both coordinates)")
    seeds = Counter(len(v) for s in trained.values() for v in s.values())
    n_text = "/".join(str(k) for k in sorted(seeds)) if seeds else "0"
    axes[0, 1].set_ylim(-0.03, 1.03)
    axes[0, 1].set_xlim(0, 1.02)
    axes[0, 1].set_title(
        f"(e) trained models: accuracy, mean ± std over {n_text} seed(s)\ndots: individual seeds", fontsize=9
    )
    axes[0, 1].legend(fontsize=7, loc="upper left")

    increments = np.round(np.arange(0.0, min(4.0, size / 2) + 1e-9, 0.02), 4)
    ax = axes[1, 0]
    floor = 1e-6
    for sigma in sigmas:
        ax.plot(
            increments,
            np.maximum(overlap_curve(increments, sigma, size, normalization=settings.normalization), floor),
            color=colours[sigma],
            lw=1.3,
            label=f"σ = {sigma:g}",
        )
    for threshold in settings.thresholds:
        ax.axhline(threshold, color="0.5", ls="--" if threshold == settings.main else ":", lw=0.8)
        ax.text(
            0.99,
            threshold,
            f"{threshold:g}",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=6,
            color="0.4",
        )
    ax.axvline(step, color="0.3", lw=0.6)
    ax.set_yscale("log")
    ax.set_ylim(floor, 5)
    ax.set_xlabel("increment d (neighbour shift, pixels)", fontsize=8)
    ax.set_ylabel("overlap ‖a∗b‖₂ / ‖a∗a‖₂", fontsize=8)
    ax.set_title(
        f"(b) overlap of neighbouring bumps (N = {size}); grey lines: thresholds,\nvertical: the grid's d = {step:g}",
        fontsize=9,
    )
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)

    ax = axes[1, 1]
    _trained_panel(ax, rows, sigmas, colours, "train_loss", "denoising loss", dots=False, label_suffix=" train")
    _trained_panel(
        ax,
        rows,
        sigmas,
        colours,
        "eval_loss",
        "denoising loss",
        dots=False,
        marker="s",
        ls="--",
        label_suffix=" held-out",
    )
    ax.set_xlim(0, 1.02)
    ax.set_title("(14c) final training loss (solid) and held-out loss\non the evaluation grid (dashed)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.suptitle(
        f"Percolation and manifold formation (Fig. 6), d = {step:g} on {size}×{size} ({sim['points']} labels), scale={scale}",
        fontsize=10,
    )
    return fig


def _threshold_figure(sim, sigmas, colours, size, scale) -> Figure:
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    thresholds = sim["settings"].thresholds
    axes = fig.subplots(1, len(thresholds), sharey=True)
    for t, (ax, threshold) in enumerate(zip(axes, thresholds)):
        note = {0.005: " (Fig. 6c)", 0.05: " (Fig. 14b)"}.get(threshold, "")
        _mass_panel(ax, sim, sigmas, colours, t, f"threshold overlap {threshold:g}{note}")
    axes[0].set_ylabel("largest cluster mass ratio", fontsize=8)
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Fig. 13: simulated mass ratio on the trained {size}×{size} grid, mean ± std over {len(sim['seeds'])} subsets; |: λ½",
        fontsize=9,
    )
    return fig


def _representation_figure(rows, sigmas, scale) -> Figure | None:
    """Fig. 15: PC1-PC2 of the representation of each evaluation label (first seed per point)."""
    chosen = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        chosen.setdefault((r["sigma"], r["lambda"]), r)
    lambdas = sorted({lam for _, lam in chosen})
    panels = {k: history.last_file(r["dir"], history.ANALYSIS_ARRAYS) for k, r in chosen.items()}
    if not any(panels.values()):
        return None
    fig = Figure(figsize=(max(1.6 * len(lambdas) + 0.6, 4.6), 1.6 * len(sigmas) + 0.8), layout="constrained")
    axes = fig.subplots(len(sigmas), len(lambdas), squeeze=False)
    for i, sigma in enumerate(sigmas):
        for j, lam in enumerate(lambdas):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == len(sigmas) - 1:
                ax.set_xlabel(f"λ = {lam:g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"σ = {sigma:g}", fontsize=8)
            path = panels.get((sigma, lam))
            if path is None:
                ax.set_facecolor("0.95")
                continue
            arrays = history.load_arrays(path) or {}
            if "projections" not in arrays or "labels" not in arrays:
                continue
            proj, labels = arrays["projections"], arrays["labels"]
            if proj.shape[1] < 2:
                continue
            index = {(round(float(x), 3), round(float(y), 3)): k for k, (x, y) in enumerate(labels)}
            for k, (x, y) in enumerate(labels):  # join grid neighbours: a faithful sheet looks like a mesh
                for dx, dy in ((1, 0), (0, 1)):
                    other = index.get((round(float(x) + dx, 3), round(float(y) + dy, 3)))
                    if other is not None:
                        ax.plot(proj[[k, other], 0], proj[[k, other], 1], color="0.75", lw=0.3, zorder=1)
            lo, hi = labels.min(axis=0), labels.max(axis=0)
            norm = (labels - lo) / np.where(hi > lo, hi - lo, 1.0)
            colour = np.stack([norm[:, 0], 0.35 * np.ones(len(norm)), norm[:, 1]], axis=1)
            ax.scatter(proj[:, 0], proj[:, 1], c=colour, s=2, zorder=2, linewidths=0)
            acc = chosen[(sigma, lam)]["acc"]
            ax.set_title(f"acc {acc:.2f}", fontsize=7, pad=2)
    fig.suptitle(
        f"Fig. 15: representations, PC1 vs PC2 (first seed; scale={scale})\ncolour: red = μ_x, blue = μ_y; grey: grid neighbours",
        fontsize=8,
    )
    return fig


def _table(rows, sim, sigmas, size, step, scale) -> list[str]:
    settings = sim["settings"]
    t = settings.thresholds.index(settings.main)
    points = _by_point(rows, "acc")
    images = {(r["sigma"], r["lambda"]): r["images"] for r in rows}
    train, held = _by_point(rows, "train_loss"), _by_point(rows, "eval_loss")
    margins = {r["margin"] for r in rows} - {0, None}
    lines = [
        f"Scale: {scale}. Bumps on a {size}×{size} canvas, grid d = {step:g} ({sim['points']} labels); accuracy over the "
        f"{size}×{size} integer evaluation grid, mean ± std over seeds (n). The simulated mass ratio (threshold overlap "
        f"{settings.main:g}) is that of the trained models' own nested subsets (mean over their seeds).",
        "",
    ]
    header = ["σ", "λ", "training images", "accuracy", "seeds' accuracies", "mass ratio (sim.)", "final train loss"]
    lines += tables.markdown_header([*header, "held-out loss"])
    if step != 1.0:
        lines.insert(
            1,
            f"\nNote: the models were trained on a d = {step:g} grid, not the paper's d = 1 for this experiment; the "
            "simulation follows the grid actually trained.",
        )
    if margins:
        lines.insert(1, f"Note: data.margin = {sorted(margins)}; the simulation uses the in-frame grid only.")
    for s, sigma in enumerate(sigmas):
        for lam in sorted(points.get(sigma, {})):
            seeds_acc = sorted(points[sigma][lam])
            acc = numbers.stats_text(numbers.stats([v for _, v in seeds_acc]))
            each = ", ".join(f"{v:.2f}" for _, v in seeds_acc)
            ratio = mean_at(sim, t, s, lam, [seed for seed, _ in seeds_acc])
            tl = numbers.stats([v for _, v in train[sigma][lam]])[0]
            el = numbers.stats([v for _, v in held[sigma][lam]])[0]
            cells = [f"{sigma:g}", f"{lam:g}", images.get((sigma, lam), "-"), acc, each, f"{ratio:.3f}"]
            lines.append(tables.markdown_row([*cells, f"{tl:.4g}", f"{el:.4g}"]))
    x = sim["fractions"]
    lines += [
        "",
        f"λ½: the λ beyond which the mean mass ratio over {len(sim['seeds'])} subsets stays ≥ {settings.level:g} "
        f"(λ from {x[0]:g} to {x[-1]:g}).",
        "",
        *tables.markdown_header(["σ", f"overlap at d = {step:g}", *(f"λ½ at {thr:g}" for thr in settings.thresholds)]),
    ]
    for s, sigma in enumerate(sigmas):
        unit = neighbour_overlap(sigma, size, step, settings)
        lines.append(tables.markdown_row([f"{sigma:g}", f"{unit:.2g}", *lambda_half_labels(sim, s)]))
    return lines


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Figures and table from whatever jobs are complete; [] when none is."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    rows = runs(sweep_dir)
    if not rows:
        return []
    size, step = Counter((r["size"], r["step"]) for r in rows).most_common(1)[0][0]
    rows = [r for r in rows if (r["size"], r["step"]) == (size, step)]
    sigmas = sorted({r["sigma"] for r in rows})
    colours = _colours(sigmas)
    scale = history.scale_of(sweep_dir)
    sim = simulate(sigmas, sorted({r["lambda"] for r in rows}), sorted({r["seed"] for r in rows}), size, step)

    figures = (
        (NAME, _main_figure(rows, sim, sigmas, colours, size, step, scale)),
        (f"{NAME}_thresholds", _threshold_figure(sim, sigmas, colours, size, scale)),
        (f"{NAME}_representations", _representation_figure(rows, sigmas, scale)),
    )
    note = gates.gate_note(load_records(sweep_dir))  # the trained models' gate, on the figures that show them
    paths = [
        tables.save_figure(fig, out_dir / f"{name}.png", None if name.endswith("_thresholds") else note)
        for name, fig in figures
        if fig is not None
    ]
    return paths + [tables.write_lines(out_dir / f"{NAME}.md", _table(rows, sim, sigmas, size, step, scale))]
