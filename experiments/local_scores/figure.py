"""Figure of experiment=local_scores (related work: Bradley et al., local conditional scores).

Why: the claim under test has two halves. Length generalisation: a denoiser whose score is local
in pixels and in conditions, trained on scenes of 1-3 bumps, still places every bump when asked for
4-6; a global set-conditioned UNet need not, and labelling only one bump per training scene
(regime ``one``) is the harder case. Mechanism: trained networks are approximately local, and more so
at high noise. So the figure puts the one-to-one match (and the count error) against the requested
k for the 2 x 2 design, the trained k shaded, beside the two locality measures against the timestep;
a second picture gathers each job's own sample grid. Records and saved pictures only.

Outputs: ``local_scores.png``, ``local_scores_samples.png``, ``local_scores.md``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from diffcomp.eval.samples_file import SAMPLES_BY_K_ARRAYS, load_sample_arrays
from diffcomp.localscores.figures import draw_sample_grid, picks_by_count
from diffcomp.localscores.locality import uniform_share
from diffcomp.report import gates, history, numbers, tables
from diffcomp.results import load_records

NAME = "local_scores"
MODEL_COLOURS = {"set_unet": "tab:blue", "local_denoiser": "tab:orange"}
REGIME_STYLES = {"all": "-", "one": "--"}
CLASS_NAMES = {"SetConditionedUNet": "set_unet", "LocalDenoiser": "local_denoiser"}


def runs(sweep_dir: Path) -> list[dict]:
    """One row per complete job with a ``per_count`` section: model, regime, seed, metrics, sections."""
    out = []
    for record in load_records(sweep_dir):
        if "regime" not in record.data or not record.section("per_count"):
            continue
        target = str(record.setting("model._target_", "?")).rsplit(".", 1)[-1]
        out.append(
            {
                "dir": record.job_dir,
                "model": str(record.params.get("model") or CLASS_NAMES.get(target, target)),
                "regime": str(record.data["regime"]),
                "seed": int(record.seed or 0),
                "size": int(record.data.get("size") or 16),
                "train_counts": [int(k) for k in record.data.get("train_counts") or []],
                "timesteps": int(record.setting("diffusion.timesteps", 0) or 0),
                "metrics": record.metrics,
                "per_count": {int(k): v for k, v in record.section("per_count").items()},
                "locality": record.section("locality"),
            }
        )
    return out


def _order(key: tuple[str, str]) -> tuple:
    models = list(MODEL_COLOURS)
    return (models.index(key[0]) if key[0] in models else len(models), key[0], key[1])


def _nanmean(values) -> np.ndarray:
    """Mean over the first axis ignoring NaN (and nulls), NaN where nothing is defined, without warnings."""
    values = np.asarray(values, dtype=float)
    defined = np.isfinite(values)
    count = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _per_k(group: list[dict], name: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    ks = sorted({k for r in group for k in r["per_count"]})
    return ks, *numbers.error_bars([r["per_count"].get(k, {}).get(name) for r in group] for k in ks)


def _k_panel(ax, groups: dict, trained: list[int], name: str, ylabel: str, fraction: bool) -> None:
    if trained:
        ax.axvspan(min(trained) - 0.5, max(trained) + 0.5, color="0.9", zorder=0, label="trained k")
    for (model, regime), group in sorted(groups.items(), key=lambda item: _order(item[0])):
        ks, mean, sd = _per_k(group, name)
        if not ks:
            continue
        ax.errorbar(
            ks,
            mean,
            yerr=sd if len(group) > 1 else None,
            color=MODEL_COLOURS.get(model, "k"),
            ls=REGIME_STYLES.get(regime, ":"),
            marker="o",
            ms=4,
            capsize=2,
            lw=1.4,
            label=f"{model}, regime {regime}",
        )
    ax.set_xlabel("requested bumps k", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    if fraction:
        ax.set_ylim(-0.03, 1.03)
    else:
        ax.set_ylim(0, None)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _locality_panel(ax, groups: dict, name: str, size: int) -> float | None:
    """Mean share within radius R against the timestep (band: spread over the measured samples)."""
    radius = None
    for (model, regime), group in sorted(groups.items(), key=lambda item: _order(item[0])):
        curves = [r["locality"].get(name) for r in group if r["locality"].get(name)]
        if not curves:
            continue
        t = np.asarray(curves[0]["timesteps"], dtype=float)
        same = [c for c in curves if len(c["timesteps"]) == len(t)]
        mean = _nanmean([np.asarray(c["mean"], dtype=float) for c in same])
        sd = _nanmean([np.asarray(c["std"], dtype=float) for c in same])
        radius = float(same[0].get("radius", math.nan))
        colour = MODEL_COLOURS.get(model, "k")
        ax.plot(
            t,
            mean,
            color=colour,
            ls=REGIME_STYLES.get(regime, ":"),
            marker="o",
            ms=3,
            lw=1.4,
            label=f"{model}, {regime}",
        )
        ax.fill_between(t, mean - sd, mean + sd, color=colour, alpha=0.12, lw=0)
    if radius is not None and math.isfinite(radius):
        uniform = uniform_share(name, radius, size)
        ax.axhline(uniform, color="0.4", ls=":", lw=0.9)
        ax.text(
            0.01,
            uniform,
            " uniform dependence",
            transform=ax.get_yaxis_transform(),
            fontsize=6,
            color="0.4",
            va="bottom",
        )
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("timestep t (higher: noisier)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)
    return radius


def _cell(value) -> str:
    return numbers.number_text(value, ".2f", missing="-")


def _table(groups: dict, trained: list[int], scale: str) -> list[str]:
    ks = sorted({k for group in groups.values() for r in group for k in r["per_count"]})
    lines = [
        f"Scale: {scale}. Scenes of bumps conditioned on the set of their locations; trained on k ∈ {trained}, asked for k ∈ {ks}. "
        "match: share of samples whose detected bumps match the requested locations one-to-one (mean over seeds, n); "
        "locality: share of the score's sensitivity to the other pixels (off-diagonal Jacobian) "
        "or of a removed condition's effect (conditions) within radius R, "
        "at the lowest and the highest measured timestep; condition directions: the mean predicted noise under one "
        "condition minus that under none, at the four corners of the placement grid (high noise); |cos| between them, 0 = "
        "orthogonal (Bradley et al.'s necessary condition for compositionality).",
        "",
    ]
    header = [
        "model",
        "regime",
        "n",
        *(f"match k={k}" for k in ks),
        "match in / out",
        "count error in / out",
        "pixel locality (low t → high t)",
        "condition locality (low t → high t)",
        "mean / max \\|cos\\| of condition directions",
    ]
    table = []
    for (model, regime), group in sorted(groups.items(), key=lambda item: _order(item[0])):
        _, match, _ = _per_k(group, "match")

        def m(key: str, group: list[dict] = group) -> str:  # mean, and ± std over seeds when there are several
            mean, sd, n = numbers.stats([r["metrics"].get(key) for r in group])
            return _cell(mean) + (f" ± {sd:.2f}" if n > 1 and math.isfinite(sd) else "")

        loc = []
        for name in ("pixels", "conditions"):
            curves = [r["locality"].get(name) for r in group if r["locality"].get(name)]
            if curves:
                lo = float(_nanmean([c["mean"][0] for c in curves]))
                hi = float(_nanmean([c["mean"][-1] for c in curves]))
                t = curves[0]["timesteps"]
                loc.append(f"{_cell(lo)} (t={t[0]}) → {_cell(hi)} (t={t[-1]}), R={curves[0].get('radius', '?'):g}")
            else:
                loc.append("-")
        table.append(
            [
                model,
                regime,
                len(group),
                *(_cell(v) for v in match),
                f"{m('eval/match_in')} / {m('eval/match_out')}",
                f"{m('eval/count_error_in')} / {m('eval/count_error_out')}",
                *loc,
                f"{m('directions/mean_abs_cos')} / {m('directions/max_abs_cos')}",
            ]
        )
    return lines + tables.markdown_table(header, table)


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Accuracy against k, locality against t, the sample grids and the table; [] without records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    rows = runs(sweep_dir)
    if not rows:
        return []
    scale = history.scale_of(sweep_dir)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["regime"])].append(r)
    trained = sorted({k for r in rows for k in r["train_counts"]})
    size = rows[0]["size"]
    seeds = sorted({len(g) for g in groups.values()})

    fig = Figure(figsize=(10, 6.8), layout="constrained")
    axes = fig.subplots(2, 2)
    _k_panel(axes[0, 0], groups, trained, "match", "one-to-one match", True)
    axes[0, 0].set_title("length generalisation: every requested bump placed, no extra", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="best")
    _k_panel(axes[0, 1], groups, trained, "count_error", "mean |detected − requested| bumps", False)
    axes[0, 1].set_title("count error", fontsize=9)
    for ax, name, what in (
        (axes[1, 0], "pixels", "pixel locality: off-diagonal Jacobian share within R of the pixel"),
        (axes[1, 1], "conditions", "conditional locality: a removed condition's effect within R"),
    ):
        radius = _locality_panel(ax, groups, name, size)
        ax.set_title(what + (f" (R = {radius:g})" if radius is not None else "\n(not measured)"), fontsize=8)
    axes[1, 0].set_ylabel("share (1 = perfectly local)", fontsize=8)
    fig.suptitle(
        f"Local conditional scores (Bradley et al.): model × labelling regime, {size}×{size} scenes, "
        f"{'/'.join(map(str, seeds))} seed(s) per cell; scale={scale}",
        fontsize=10,
    )
    paths = [tables.save_figure(fig, out_dir / f"{NAME}.png", gates.gate_note(load_records(sweep_dir)))]

    pictures = []
    for key, group in sorted(groups.items(), key=lambda item: _order(item[0])):
        r = min(group, key=lambda r: r["seed"])
        arrays = load_sample_arrays(r["dir"] / SAMPLES_BY_K_ARRAYS)
        if arrays is not None:
            pictures.append((key, r, arrays))
    if pictures:
        cols = min(2, len(pictures))
        nrows = -(-len(pictures) // cols)
        sample_fig = Figure(figsize=(5.4 * cols, 4.4 * nrows), layout="constrained")
        for i, ((model, regime), r, arrays) in enumerate(pictures):
            ax = sample_fig.add_subplot(nrows, cols, i + 1)
            images, conditions = torch.as_tensor(arrays["images"]), torch.as_tensor(arrays["labels"])
            per_count = max(len(row) for row in picks_by_count(conditions, len(conditions)))  # the saved picks per k
            draw_sample_grid(ax, images, conditions, per_count)
            ax.set_title(
                f"{model}, regime {regime} (seed {r['seed']}): "
                f"match in {_cell(r['metrics'].get('eval/match_in'))}, out {_cell(r['metrics'].get('eval/match_out'))}",
                fontsize=8,
            )
        sample_fig.suptitle(
            f"samples per requested k (red ×: requested locations; trained k {trained}); scale={scale}", fontsize=9
        )
        paths.append(tables.save_figure(sample_fig, out_dir / f"{NAME}_samples.png"))

    paths.append(tables.write_lines(out_dir / f"{NAME}.md", _table(groups, trained, scale)))
    return paths
