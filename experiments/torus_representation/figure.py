"""Figures of experiment=torus_representation: main paper Figs. 2b-g, 3 and 8.

The paper reads the torus story off one training run: accuracy rises while the effective dimension
(participation ratio) first grows then falls (Fig. 2c), the top four PCs come to dominate the
spectrum (2d), PCs (1, 3) and (2, 4) turn into rings (2e-g), the final representation has a torus's
persistent homology (2b), and its rings look factorized under the orthogonality / parallelism tests
(Fig. 3, over training Fig. 8). Each of these is one PNG here, drawn from the records
(``history``, ``analysis_history``) and the saved ``analysis/step_<k>/arrays.npz``; nothing is
retrained or sampled, so a partial sweep draws what it has.

Curves have a line per seed and spectra a row per seed; the projections, the persistence diagram
and the histograms are the lowest seed's (its number is in each title). ``torus_representation.md``
holds the numbers the figures show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report import gates, history, numbers, tables
from diffcomp.results import load_records

NAME = "torus_representation"
IDEAL_COLOURS = {"data": "tab:green", "clifford": "tab:orange", "3d": "tab:blue"}  # Fig. 3's colours
TESTS = (("xy", "x-on-y"), ("xx", "x-on-x"), ("yy", "y-on-y"))
STATISTICS = (
    ("orth", "orthogonality |cos| of PCs"),
    ("pcos", "principal-angle cosines"),
    ("par", "parallelism r (eq. 3)"),
)
SEED_STYLES = ("-", "--", ":", "-.")
N_SPECTRUM = 15  # PCs shown per spectrum, as Fig. 2d


# ---------------------------------------------------------------------------------------------
# records


def load_runs(sweep_dir: Path) -> list[history.JobHistory]:
    """One history per seed's record, lowest seed first."""
    return sorted((history.JobHistory(record) for record in load_records(sweep_dir)), key=lambda r: r.seed)


# The Betti rule reads the diagram in the window [0, 1.5 x cloud radius]: the default ``window`` of
# diffcomp.analysis.topology.persistent_homology. It is not recorded per run, and importing that
# package (sklearn, gudhi) would cost ~2 s, so it is restated here for the dotted line only.
BETTI_WINDOW = 1.5


def _checkpoints(steps: list[int], n: int) -> list[int]:
    """``n`` steps spread evenly from the first to the last (fewer when fewer exist)."""
    if not steps:
        return []
    picks = np.unique(np.round(np.linspace(0, len(steps) - 1, min(n, len(steps)))).astype(int))
    return [steps[i] for i in picks]


def _last_step_with(run: history.JobHistory, key: str) -> int | None:
    """The last analysed step whose saved arrays hold ``key``."""
    return next((s for s in reversed(run.array_steps()) if key in (run.arrays(s) or {})), None)


def _fmt(value, spec: str = ".2f") -> str:
    return numbers.number_text(value, spec)


# ---------------------------------------------------------------------------------------------
# figures


def draw_training(runs: list[history.JobHistory], path: Path, scale: str) -> Path | None:
    """Fig. 2c: accuracy, participation ratio and top-4 explained variance against steps, per seed."""
    if not any(r.evals or r.analyses for r in runs):
        return None
    fig = Figure(figsize=(5.2, 6.4), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    rows = (
        (axes[0], "eval/acc", "accuracy"),
        (axes[1], "repr/participation_ratio", "participation ratio"),
        (axes[2], "repr/explained_var_top4", "explained var., top 4 PCs"),
    )
    for k, run in enumerate(runs):
        style = {
            "ls": SEED_STYLES[k % len(SEED_STYLES)],
            "marker": "o",
            "ms": 3,
            "color": f"C{k}",
            "label": f"seed {run.seed}",
        }
        for ax, key, _ in rows:
            steps, values = run.series(key)
            if len(steps):
                ax.plot(steps, values, **style)
    for ax, _, label in rows:
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    axes[2].set_ylim(0, 1.02)
    axes[1].set_ylim(bottom=0)
    axes[2].set_xlabel("training step")
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"Fig. 2c: accuracy and effective dimension over training (scale={scale})", fontsize=9)
    return tables.save_figure(fig, path, gates.gate_note(r.record for r in runs))


def draw_spectra(runs: list[history.JobHistory], path: Path, n_checkpoints: int = 4, max_seeds: int = 3) -> Path | None:
    """Fig. 2d: the first 15 PCA eigenvalues (variance ratios) at ~4 checkpoints, a row per seed."""
    rows = [(run, _checkpoints(run.array_steps(), n_checkpoints)) for run in runs[:max_seeds]]
    rows = [(run, steps) for run, steps in rows if steps]
    if not rows:
        return None
    cols = max(len(steps) for _, steps in rows)
    fig = Figure(figsize=(2.4 * cols, 2.3 * len(rows) + 0.3), layout="constrained")
    grid = fig.subplots(len(rows), cols, squeeze=False, sharey=True)
    for i, (run, steps) in enumerate(rows):
        for j in range(cols):
            ax = grid[i, j]
            arrays = run.arrays(steps[j]) if j < len(steps) else None
            if arrays is None or "eigenvalues" not in arrays:
                ax.axis("off")
                continue
            lam = np.asarray(arrays["eigenvalues"], dtype=float)
            ratio = lam / lam.sum() if lam.sum() > 0 else lam
            shown = ratio[:N_SPECTRUM]
            ranks = np.arange(1, len(shown) + 1)
            ax.bar(ranks, shown, color=["tab:red" if r <= 4 else "tab:gray" for r in ranks])
            acc = run.acc(steps[j])
            ax.set_title(
                f"seed {run.seed}, step {steps[j]}\nacc {_fmt(acc, '.0%')}, top-4 {ratio[:4].sum():.0%}", fontsize=8
            )
            ax.set_xticks([1, 4, 8, 12, 15] if len(shown) >= 15 else ranks)
            ax.tick_params(labelsize=7)
            if i == len(rows) - 1:
                ax.set_xlabel("PC", fontsize=8)
            if j == 0:
                ax.set_ylabel("explained var. ratio", fontsize=8)
    fig.suptitle("Fig. 2d: PCA eigenspectra (top 4 in red)", fontsize=9)
    return tables.save_figure(fig, path)


def draw_projections(run: history.JobHistory, path: Path) -> Path | None:
    """Fig. 2e-g: PCs (1, 3) and (2, 4) at the start, middle and end, coloured by mu_x and by mu_y."""
    steps = _checkpoints(run.array_steps(), 3)
    snapshots = [(s, run.arrays(s)) for s in steps]
    snapshots = [(s, a) for s, a in snapshots if a is not None and "projections" in a and "labels" in a]
    if not snapshots:
        return None
    panels = [((0, 2), 0), ((0, 2), 1), ((1, 3), 0), ((1, 3), 1)]
    # a cyclic colour map over one period, so mu = 1 and mu = N (= 0 on the torus) sit side by side
    period = float(run.record.data.get("size") or 0)
    fig = Figure(figsize=(10.5, 2.5 * len(snapshots) + 0.4), layout="constrained")
    grid = fig.subplots(len(snapshots), len(panels), squeeze=False)
    scatter = None
    for i, (step, arrays) in enumerate(snapshots):
        proj, labels = np.asarray(arrays["projections"]), np.asarray(arrays["labels"])
        colours = labels % period if period > 0 else labels
        lo, hi = (0.0, period) if period > 0 else (float(labels.min()), float(labels.max()))
        for j, ((a, b), axis) in enumerate(panels):
            ax = grid[i, j]
            if max(a, b) >= proj.shape[1]:
                ax.axis("off")
                continue
            scatter = ax.scatter(
                proj[:, a], proj[:, b], c=colours[:, axis], s=3, cmap="twilight", vmin=lo, vmax=hi, rasterized=True
            )
            ax.set(xticks=[], yticks=[])
            ax.set_xlabel(f"PC{a + 1}", fontsize=8, labelpad=1)
            ax.set_ylabel(f"PC{b + 1}", fontsize=8, labelpad=1)
            ax.set_aspect("equal", adjustable="datalim")
            if i == 0:
                ax.set_title(f"coloured by mu_{'xy'[axis]}", fontsize=8)
        if grid[i, 0].axison:
            grid[i, 0].set_ylabel(f"step {step}, acc {_fmt(run.acc(step), '.0%')}\nPC3", fontsize=8)
    if scatter is not None:
        fig.colorbar(scatter, ax=grid[:, -1], label="mu (px, periodic)", shrink=0.8)
    fig.suptitle(f"Fig. 2e-g: PCA projections of the layer-4 representation (seed {run.seed})", fontsize=9)
    return tables.save_figure(fig, path)


def draw_persistence(run: history.JobHistory, path: Path) -> Path | None:
    """Fig. 2b (right): the final persistence diagram, in units of the cloud's radius, with the Betti cut."""
    step = _last_step_with(run, "diagram_h0")
    if step is None:
        return None
    arrays, scalars = run.arrays(step), run.analyses.get(step, {})
    scale = float(arrays.get("topology_scale", scalars.get("repr/topology_scale", 1.0)) or 1.0)
    diagrams = [
        np.asarray(arrays[f"diagram_h{d}"], dtype=float).reshape(-1, 2) / scale
        for d in range(3)
        if f"diagram_h{d}" in arrays
    ]
    finite = [d[np.isfinite(d[:, 1]), 1] for d in diagrams]
    top = max([float(f.max()) for f in finite if len(f)] + [BETTI_WINDOW]) * 1.1
    fig = Figure(figsize=(4.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, top], [0, top], color="k", lw=0.8)
    threshold = scalars.get("repr/topology_threshold")
    if isinstance(threshold, (int, float)):
        cut = threshold / scale
        ax.plot([0, top], [cut, top + cut], "k--", lw=0.8, label=f"Betti cut ({cut:.2f})")
    ax.axhline(BETTI_WINDOW, color="k", lw=0.8, ls=":", label="window")
    for dim, dgm in enumerate(diagrams):
        deaths = np.where(np.isfinite(dgm[:, 1]), dgm[:, 1], top)
        ax.scatter(dgm[:, 0], deaths, s=12, alpha=0.7, label=f"H{dim}")
    ax.axhline(top, color="gray", lw=0.6, ls=":")
    ax.set(
        xlim=(-0.02 * top, top * 1.02),
        ylim=(-0.02 * top, top * 1.05),
        xlabel="birth / cloud radius",
        ylabel="death / cloud radius",
    )
    betti = tuple(scalars.get(f"repr/betti{d}") for d in range(3))
    ax.set_title(f"persistence, seed {run.seed}, step {step}\nBetti {betti} (a torus: (1, 2, 1))", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return tables.save_figure(fig, path)


def draw_torus_tests(run: history.JobHistory, path: Path, bins: int = 30) -> Path | None:
    """Fig. 3: histograms of the test statistics, data against the ideal Clifford and 3-D tori (final step)."""
    step = _last_step_with(run, "torus_data_xy_pcos")
    if step is None:
        return None
    arrays, scalars = run.arrays(step), run.analyses.get(step, {})
    fig = Figure(figsize=(9.5, 7.2), layout="constrained")
    grid = fig.subplots(len(TESTS), len(STATISTICS), squeeze=False)
    for col, (stat, title) in enumerate(STATISTICS):
        pooled = np.concatenate(
            [arrays.get(f"torus_{src}_{t}_{stat}", np.empty(0)) for src in IDEAL_COLOURS for t, _ in TESTS]
        )
        top = 1.0 if stat != "par" else max(1.0, float(np.quantile(pooled, 0.999)) if len(pooled) else 1.0)
        edges = np.linspace(0, top, bins + 1)
        for row, (test, test_name) in enumerate(TESTS):
            ax = grid[row, col]
            data_peak = 0.0
            for source in ("3d", "clifford", "data"):  # data drawn last, on top
                values = arrays.get(f"torus_{source}_{test}_{stat}")
                if values is not None and len(values):
                    heights, _, _ = ax.hist(
                        np.clip(values, 0, top),
                        bins=edges,
                        density=True,
                        histtype="step",
                        lw=1.5,
                        color=IDEAL_COLOURS[source],
                        label=source,
                    )
                    data_peak = float(np.max(heights)) if source == "data" else data_peak
            if data_peak > 0:
                ax.set_ylim(0, 1.5 * data_peak)  # the ideals' one-bin spikes would flatten the data
            w = {ideal: scalars.get(f"repr/wasserstein_{stat}_{test}_{ideal}") for ideal in ("clifford", "3d")}
            note = ", ".join(f"W_{ideal}={_fmt(value)}" for ideal, value in w.items() if value is not None)
            ax.set_title(f"{test_name}: {title}\n{note}", fontsize=8)
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            if row == 0 and col == 0:
                ax.legend(frameon=False, fontsize=7)
    verdict = scalars.get("repr/torus_verdict", "?")
    wc, w3 = scalars.get("repr/wasserstein_clifford"), scalars.get("repr/wasserstein_3d")
    fig.suptitle(
        f"Fig. 3: ring tests at step {step} (seed {run.seed}); verdict {verdict} "
        f"(W_pcos + W_par summed over tests: Clifford {_fmt(wc)}, 3-D {_fmt(w3)})\n"
        "y axis fitted to the data: the ideal tori's one-bin spikes run off the top",
        fontsize=9,
    )
    return tables.save_figure(fig, path)


def draw_wasserstein(runs: list[history.JobHistory], path: Path) -> Path | None:
    """Fig. 8: Wasserstein distances of the data's statistics to the ideal tori over training."""
    panels = [
        ("orth", "orthogonality (paper's)"),
        ("pcos", "principal-angle cosines"),
        ("par", "parallelism r"),
        (None, "verdict score: pcos + par"),
    ]
    if not any("repr/wasserstein_clifford" in a for r in runs for a in r.analyses.values()):
        return None
    fig = Figure(figsize=(10.5, 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), sharex=True)
    for ax, (stat, title) in zip(axes, panels):
        for k, run in enumerate(runs):
            for ideal in ("clifford", "3d"):
                key = f"repr/wasserstein_{ideal}" if stat is None else f"repr/wasserstein_{stat}_{ideal}"
                steps, values = history.series(run.analyses, key)
                if len(steps):
                    label = f"{'Clifford' if ideal == 'clifford' else '3-D'}" + (
                        f", seed {run.seed}" if len(runs) > 1 else ""
                    )
                    ax.plot(
                        steps,
                        values,
                        marker="o",
                        ms=3,
                        ls=SEED_STYLES[k % len(SEED_STYLES)],
                        color=IDEAL_COLOURS[ideal],
                        label=label,
                    )
        ax.set_title(title + ("" if stat is None else ", summed over tests"), fontsize=8)
        ax.set_xlabel("training step", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("Wasserstein distance, data to ideal")
    axes[-1].legend(frameon=False, fontsize=7)
    fig.suptitle(
        "Fig. 8: distance of the ring-test histograms to the ideal tori (lower: closer); "
        "early steps need not be a torus",
        fontsize=9,
    )
    return tables.save_figure(fig, path)


# ---------------------------------------------------------------------------------------------
# table


def _state(run: history.JobHistory, step: int) -> list[str]:
    """The representation's numbers at one analysed step: PR, top-4 variance, Betti, distances, verdict."""
    a = run.analyses.get(step, {})
    betti = tuple(a.get(f"repr/betti{d}") for d in range(3))
    return [
        _fmt(a.get("repr/participation_ratio")),
        _fmt(a.get("repr/explained_var_top4"), ".3f"),
        betti if None not in betti else "–",
        _fmt(a.get("repr/wasserstein_clifford")),
        _fmt(a.get("repr/wasserstein_3d")),
        _fmt(a.get("repr/torus_plane_overlap")),
        a.get("repr/torus_verdict", "–"),
    ]


def write_table(runs: list[history.JobHistory], path: Path, scale: str) -> Path:
    """The figures' numbers: the last evaluation per seed, then every analysed evaluation."""
    state = ["PR", "top-4 var.", "Betti (H0,H1,H2)", "W Clifford", "W 3-D", "plane overlap", "verdict"]
    lines = [
        f"# {NAME} (scale={scale})",
        "",
        "Last analysed evaluation per seed. PR: participation ratio (effective dimension); PR peak: its largest value "
        "over training (and where). W: Wasserstein distance of the ring-test histograms (principal-angle cosines + "
        "parallelism r, summed over the x-on-y, x-on-x, y-on-y tests) to the ideal torus; the verdict is the nearer "
        "one, or *collapsed* when the x-rings and y-rings share one plane (plane overlap: mean smaller principal "
        "cosine of x-ring/y-ring planes, 0 for both ideal tori, >= 0.5 collapsed), where neither a torus verdict nor "
        "a large top-4 variance means anything.",
        "",
        *tables.markdown_header(["seed", "step", "acc", "acc_x", "acc_y", "PR peak (step)", *state]),
    ]
    for run in runs:
        if not run.analyses and not run.evals:
            continue
        step = max(run.analyses) if run.analyses else max(run.evals)
        e = run.evals.get(step, run.record.metrics)
        prs = [
            (a["repr/participation_ratio"], s)
            for s, a in run.analyses.items()
            if numbers.is_number(a.get("repr/participation_ratio"))
        ]
        peak = f"{_fmt(max(prs)[0])} ({max(prs)[1]})" if prs else "–"
        accuracies = [_fmt(e.get(f"eval/{k}"), ".3f") for k in ("acc", "acc_x", "acc_y")]
        lines.append(tables.markdown_row([run.seed, step, *accuracies, peak, *_state(run, step)]))
    lines += ["", "Over training:", "", *tables.markdown_header(["seed", "step", "acc", *state])]
    for run in runs:
        for step in sorted(set(run.analyses) | set(run.evals)):
            lines.append(tables.markdown_row([run.seed, step, _fmt(run.acc(step), ".3f"), *_state(run, step)]))
    return tables.write_lines(path, lines)


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Every figure of the experiment that the sweep's records can support, and the table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    runs = load_runs(sweep_dir)
    if not runs:
        return []
    scale = history.scale_of(sweep_dir, from_records=True)
    first = runs[0]
    paths = [
        draw_training(runs, out_dir / f"{NAME}_training.png", scale),
        draw_spectra(runs, out_dir / f"{NAME}_spectra.png"),
        draw_projections(first, out_dir / f"{NAME}_projections.png"),
        draw_persistence(first, out_dir / f"{NAME}_persistence.png"),
        draw_torus_tests(first, out_dir / f"{NAME}_tests.png"),
        draw_wasserstein(runs, out_dir / f"{NAME}_wasserstein.png"),
    ]
    paths.append(write_table(runs, out_dir / f"{NAME}.md", scale))
    return [p for p in paths if p is not None]
