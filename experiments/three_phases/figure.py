"""Figure of experiment=three_phases (preprint, arXiv 2402.03305): three learning phases, sooner when denser.

The preprint names the phases by what the samples look like: (A) no structure, samples with several
or no bumps; (B) a disordered manifold, one bump but in the wrong place; (C) an ordered manifold, one
bump in the right place. So the boundaries are read off the failure-mode fractions and the accuracy
recorded at every evaluation:

* A -> B: the first evaluation where ``eval/frac_one_feature`` >= 0.5 (most samples show exactly one
  bump);
* B -> C: the first evaluation at or after A -> B where ``eval/acc`` >= 0.5 (most samples are right).

The boundary step is the linear interpolation between the last evaluation below the threshold and
the first at or above it (the table also gives that bracket: the evaluation cadence is the real
resolution). Snapshots of the representation (PC1 vs PC2 of the probed layer, coloured by mu_x and
by mu_y) are taken at the first analysed evaluation, the first inside phase B, the first inside
phase C, and the last. Only records and ``analysis/step_<k>/arrays.npz`` are read. The rules (the
boundaries, epochs, the first evaluation of phase B, the verdict) are :mod:`diffcomp.sweeps.phases`;
this script draws and tabulates them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from diffcomp.report import gates, history, numbers, tables
from diffcomp.results import Record, load_records
from diffcomp.sweeps import phases
from diffcomp.sweeps.phases import ACCURATE, ONE_FEATURE, Crossing

NAME = "three_phases"
CURVES = (
    ("eval/acc", "accuracy", "k", "-", 2.0),
    ("eval/frac_no_feature", "no feature", "tab:blue", "--", 1.3),
    ("eval/frac_one_feature", "one feature", "tab:green", "-", 1.3),
    ("eval/frac_several_features", "several features", "tab:red", "--", 1.3),
)
PROBE_CURVE = ("probe", "probe R² (mean of x, y)", "tab:purple", ":", 1.3)
PHASE_COLOURS = {"A": "#f4cccc", "B": "#fff2cc", "C": "#d9ead3"}
SEED_STYLES = ("-", "--", ":", "-.")


# ---------------------------------------------------------------------------------------------
# records


class Run(history.JobHistory):
    """One job: its increment beside its seed, evaluations, analyses and analysis arrays by step."""

    def __init__(self, record: Record):
        super().__init__(record)
        self.increment = record.data.get("increment_x")  # d: the grid's spacing (the same on both axes here)
        self.batch = record.setting("train.batch_size")

    def epochs(self, step: float | None) -> float | None:
        """Passes over the training set after ``step`` optimizer steps (:func:`phases.epochs`)."""
        return phases.epochs(step, self.batch, self.images)


# ---------------------------------------------------------------------------------------------
# phase boundaries (the rule: diffcomp.sweeps.phases)


def boundaries(run: Run) -> tuple[Crossing | None, Crossing | None]:
    """(A -> B, B -> C) of one run by :func:`diffcomp.sweeps.phases.boundaries`."""
    return phases.boundaries(run.series("eval/frac_one_feature"), run.series("eval/acc"))


# ---------------------------------------------------------------------------------------------
# figures


def _increment_label(run: Run) -> str:
    images = f" ({run.images:,} images)".replace(",", " ") if isinstance(run.images, int) else ""
    return (
        f"d = {run.increment:g}{images}" if isinstance(run.increment, (int, float)) else f"d = {run.increment}{images}"
    )


def _groups(runs: list[Run]) -> list[tuple[object, list[Run]]]:
    keys = sorted({r.increment for r in runs}, key=numbers.mixed_sort_key)
    return [(k, [r for r in runs if r.increment == k]) for k in keys]


def draw_curves(runs: list[Run], path: Path, scale: str) -> Path | None:
    """Accuracy, failure-mode fractions and probe R² against steps, a panel per increment, phases shaded.

    With several seeds per increment every seed is drawn, told apart by line style (the legend lists
    colours and styles separately); the shading follows the first seed.
    """
    groups = [(k, rs) for k, rs in _groups(runs) if any(r.evals for r in rs)]
    if not groups:
        return None
    seeded = any(len(g) > 1 for _, g in groups)
    fig = Figure(figsize=(4.0 * len(groups) + 0.5, 3.9), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    for ax, (_, group) in zip(axes, groups):
        for k, run in enumerate(group):
            for key, _, colour, style, width in (*CURVES, PROBE_CURVE):
                steps, values = _probe_mean(run) if key == PROBE_CURVE[0] else run.series(key)
                if len(steps):
                    line = SEED_STYLES[k % len(SEED_STYLES)] if seeded else style
                    ax.plot(
                        steps,
                        values,
                        color=colour,
                        ls=line,
                        lw=width,
                        marker="^" if key == PROBE_CURVE[0] else "o",
                        ms=2.5,
                    )
        _shade_phases(ax, group[0])
        ax.set_title(_increment_label(group[0]), fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of samples / R²")
    handles = [
        Line2D([], [], color=c, ls="-" if seeded else st, lw=w, label=label)
        for _, label, c, st, w in (*CURVES, PROBE_CURVE)
    ]
    if seeded:
        seeds = sorted({r.seed for _, g in groups for r in g})
        handles += [
            Line2D([], [], color="0.3", ls=SEED_STYLES[i % len(SEED_STYLES)], label=f"seed {s}")
            for i, s in enumerate(seeds)
        ]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), frameon=False, fontsize=8)
    fig.suptitle(
        f"Three phases (scale={scale}): A -> B when one-feature >= {ONE_FEATURE:g}, "
        f"B -> C when accuracy >= {ACCURATE:g}" + (" (shading: first seed)" if seeded else ""),
        fontsize=9,
    )
    return tables.save_figure(fig, path, gates.gate_note(r.record for r in runs))


def _probe_mean(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the x and y linear-probe R² at the analysed steps that have both."""
    steps_x, r2x = run.series("repr/probe_r2_x")
    steps_y, r2y = run.series("repr/probe_r2_y")
    return (steps_x, (r2x + r2y) / 2) if np.array_equal(steps_x, steps_y) else (np.empty(0), np.empty(0))


def _shade_phases(ax, run: Run) -> None:
    """Background colour per phase and a dotted line at each boundary (of this run)."""
    steps = sorted(run.evals)
    if not steps:
        return
    a_to_b, b_to_c = boundaries(run)
    edges = [steps[0]] + [c.step for c in (a_to_b, b_to_c) if c is not None] + [steps[-1]]
    for name, lo, hi in zip("ABC", edges[:-1], edges[1:]):
        ax.axvspan(lo, hi, color=PHASE_COLOURS[name], alpha=0.6, lw=0, zorder=0)
        ax.text((lo + hi) / 2, 1.0, name, ha="center", va="top", fontsize=9, fontweight="bold", color="0.35")
    for crossing in (a_to_b, b_to_c):
        if crossing is not None:
            ax.axvline(crossing.step, color="0.3", ls=":", lw=1)


def snapshot_steps(run: Run) -> list[tuple[str, int | None]]:
    """(label, analysed step) at the start, the first evaluation of phase B and of C, and the end."""
    analysed = run.array_steps()
    if not analysed:
        return []
    a_to_b, b_to_c = boundaries(run)

    def first_from(crossing: Crossing | None) -> int | None:
        return None if crossing is None else next((s for s in analysed if s >= crossing.at), None)

    return [
        ("start", analysed[0]),
        ("A -> B", first_from(a_to_b)),
        ("B -> C", first_from(b_to_c)),
        ("end", analysed[-1]),
    ]


def _label_range(rows) -> tuple[float | None, float | None]:
    """One colour scale for every panel: the labels' range over the end snapshots."""
    ends = [run.arrays(snaps[-1][1]) for run, snaps in rows]
    values = [np.asarray(a["labels"]) for a in ends if a is not None and "labels" in a]
    return (float(min(v.min() for v in values)), float(max(v.max() for v in values))) if values else (None, None)


def draw_snapshots(runs: list[Run], path: Path) -> Path | None:
    """PC1 vs PC2 of the probed layer at the start, the boundaries and the end, a row per increment."""
    rows = [(group[0], snapshot_steps(group[0])) for _, group in _groups(runs)]
    rows = [(run, snaps) for run, snaps in rows if snaps]
    if not rows:
        return None
    columns = max(len(s) for _, s in rows)
    fig = Figure(figsize=(1.75 * 2 * columns + 0.8, 1.95 * len(rows) + 0.5), layout="constrained")
    grid = fig.subplots(len(rows), 2 * columns, squeeze=False)
    mappable = None
    lo, hi = _label_range(rows)
    for i, (run, snaps) in enumerate(rows):
        for j in range(columns):
            label, step = snaps[j] if j < len(snaps) else ("", None)
            arrays = run.arrays(step) if step is not None else None
            for axis in (0, 1):
                ax = grid[i, 2 * j + axis]
                ax.set(xticks=[], yticks=[])
                if arrays is None or "projections" not in arrays or np.asarray(arrays["projections"]).shape[1] < 2:
                    ax.text(
                        0.5,
                        0.5,
                        "not reached" if label else "",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="0.4",
                        transform=ax.transAxes,
                    )
                    ax.set_title(f"{label}\nmu_{'xy'[axis]}" if label else "", fontsize=7)
                    continue
                proj, labels = np.asarray(arrays["projections"]), np.asarray(arrays["labels"])
                mappable = ax.scatter(
                    proj[:, 0], proj[:, 1], c=labels[:, axis], s=2, cmap="viridis", vmin=lo, vmax=hi, rasterized=True
                )
                acc = run.evals.get(step, {}).get("eval/acc")
                acc_text = f", acc {acc:.0%}" if isinstance(acc, (int, float)) else ""
                ax.set_title(f"{label}: step {step}{acc_text}\nby mu_{'xy'[axis]}", fontsize=7)
        grid[i, 0].set_ylabel(_increment_label(run) + "\nPC2", fontsize=8)
    for ax in grid[-1]:
        ax.set_xlabel("PC1", fontsize=7)
    if mappable is not None:
        fig.colorbar(mappable, ax=grid[:, -1], label="mu (px)", shrink=0.8)
    fig.suptitle(
        "Representation at the phase boundaries (PCA of the probed layer; first seed per increment)", fontsize=9
    )
    return tables.save_figure(fig, path)


# ---------------------------------------------------------------------------------------------
# table


HEADER = [
    "d",
    "images",
    "seed",
    "A -> B step",
    "(between evals)",
    "A -> B epoch",
    "B -> C step",
    "(between evals)",
    "B -> C epoch",
    "final step",
]
FINAL = ["final acc", "final one-feature", "final probe R² x", "final probe R² y"]
PHASE_B = ["phase B step", "one-feature errors <1 / 1-2 / 2-4 / >=4 px", "median error (px)"]


def phase_b_errors(run: Run, a_to_b: Crossing | None, b_to_c: Crossing | None) -> list:
    """The position errors of the one-feature samples at the first evaluation inside phase B (after
    A -> B, before B -> C): a disordered manifold puts bumps far off; an off-by-one read-out does not."""
    if a_to_b is None:
        return ["–", "–", "–"]
    first = phases.first_in_phase_b(run.evals, a_to_b, b_to_c)
    metrics = run.evals.get(first, {})
    shares = [metrics.get(f"eval/one_feature/err_{name}") for name in ("lt1", "1to2", "2to4", "ge4")]
    if any(v is None for v in shares):
        return [first, "–", "–"]
    return [
        first,
        " / ".join(f"{v:.2f}" for v in shares),
        numbers.number_text(metrics.get("eval/one_feature/err_median")),
    ]


def write_table(runs: list[Run], path: Path, scale: str) -> Path:
    """Boundary steps per increment, and whether the ordered phase comes sooner for denser data."""
    lines = [
        f"# {NAME} (scale={scale})",
        "",
        f"A -> B: first evaluation with frac_one_feature >= {ONE_FEATURE:g}; B -> C: first evaluation (from A -> B "
        f"on) with accuracy >= {ACCURATE:g}. Steps are interpolated linearly between the evaluations in brackets; "
        'epochs are step x batch / images (the preprint\'s "faster learning" does not say per batch or per epoch, so both '
        "are given). Phase B errors: the shares of the one-feature samples by position error max(|dx|, |dy|) at the "
        "first evaluation inside phase B (< 1 px is correct; 1-2 px an off-by-one read-out).",
        "",
        *tables.markdown_header(HEADER + FINAL + PHASE_B),
    ]
    reached: dict[float, list[float]] = {}
    reached_epochs: dict[float, list[float]] = {}
    for key, group in _groups(runs):
        for run in group:
            if not run.evals:
                continue
            a_to_b, b_to_c = boundaries(run)
            cells = [key, run.images if run.images is not None else "–", run.seed]
            for c in (a_to_b, b_to_c):
                epochs = None if c is None else run.epochs(c.step)
                cells += (
                    ["not reached", "–", "–"]
                    if c is None
                    else [f"{c.step:.0f}", c.bracket(), "–" if epochs is None else f"{epochs:.1f}"]
                )
            last = run.evals[max(run.evals)]
            probes = run.analyses[max(run.analyses)] if run.analyses else {}
            cells += [
                max(run.evals),
                numbers.number_text(last.get("eval/acc")),
                numbers.number_text(last.get("eval/frac_one_feature")),
            ]
            cells += [numbers.number_text(probes.get(f"repr/probe_r2_{a}")) for a in "xy"]
            cells += phase_b_errors(run, a_to_b, b_to_c)
            lines.append(tables.markdown_row(cells))
            reached.setdefault(key, []).append(b_to_c.step if b_to_c else np.inf)
            epochs = run.epochs(b_to_c.step) if b_to_c else np.inf
            reached_epochs.setdefault(key, []).append(np.nan if epochs is None else epochs)
    claims = [_claim_line(reached, "step")]
    if not any(np.isnan(v) for values in reached_epochs.values() for v in values):
        claims.append(_claim_line(reached_epochs, "epoch"))
    return tables.write_lines(path, [*lines, "", *(f"* {c}" for c in claims)])


def _claim_line(reached: dict, unit: str = "step") -> str:
    """The verdict of :func:`phases.sooner_when_denser` on the B -> C points (optimizer steps or
    epochs) as the table's claim line."""
    means, verdict = phases.sooner_when_denser(reached)
    if verdict is None:
        return "Claim (denser data reaches the ordered phase sooner): fewer than two increments, not testable."
    form = ".0f" if unit == "step" else ".1f"
    order = ", ".join(f"d={k:g}: {'not reached' if not np.isfinite(s) else format(s, form)}" for k, s in means)
    return f"Claim (denser data reaches the ordered phase sooner), B -> C {unit} by increment: {order}; {verdict}."


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """The curves, the snapshots and the boundary table of whatever records the sweep has."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    runs = sorted((Run(r) for r in load_records(sweep_dir)), key=lambda r: r.seed)
    if not runs:
        return []
    scale = history.scale_of(sweep_dir, from_records=True)
    paths = [
        draw_curves(runs, out_dir / f"{NAME}_curves.png", scale),
        draw_snapshots(runs, out_dir / f"{NAME}_snapshots.png"),
        write_table(runs, out_dir / f"{NAME}.md", scale),
    ]
    return [p for p in paths if p is not None]
