"""Figure of experiment=imbalanced_increments (preprint, arXiv 2402.03305): is learning x and y coupled?

With x sampled more densely than y (dx < dy), a model that learns the two factors separately should
get x right sooner than y (and the reverse for dy < dx); the preprint reports instead that "the
learning process for x and y is coupled rather than factorized". The figure shows, per grid
(dx, dy), ``eval/acc_x`` and ``eval/acc_y`` against steps, and a summary of when each axis first
reaches 50 % and 90 % accuracy and of the gap ``acc_x - acc_y`` over training.

Threshold steps are interpolated linearly between the last evaluation below the threshold and the
first at or above it. The evaluation cadence is the real resolution, so an axis "leads" only when
its crossing lies between different evaluations than the other's; crossings between the same two
evaluations read as "together". Only the records are read (nothing is retrained or sampled).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from diffcomp.report import gates, history, numbers, tables
from diffcomp.results import Record, load_records
from diffcomp.sweeps import coupling, phases

NAME = "imbalanced_increments"
THRESHOLDS = (0.5, 0.9)  # halfway, and nearly learned
AXIS_COLOURS = {"x": "tab:blue", "y": "tab:orange"}
SEED_STYLES = ("-", "--", ":", "-.")
THRESHOLD_MARKERS = {0.5: "o", 0.9: "s"}


# ---------------------------------------------------------------------------------------------
# records


class Run(history.JobHistory):
    """One job: its grid (dx, dy) and evaluation cadence beside its seed and evaluations by step."""

    def __init__(self, record: Record):
        super().__init__(record)
        self.dx, self.dy = record.data.get("increment_x"), record.data.get("increment_y")
        self.cadence = record.setting("eval.every_n_steps")

    @property
    def grid(self) -> tuple:
        return (self.dx, self.dy)

    def name(self) -> str:
        dense = "balanced" if self.dx == self.dy else ("x denser" if _lt(self.dx, self.dy) else "y denser")
        images = f", {self.images} images" if isinstance(self.images, int) else ""
        return f"dx={_g(self.dx)}, dy={_g(self.dy)} ({dense}{images})"


def _g(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _lt(a, b) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a < b


# ---------------------------------------------------------------------------------------------
# figures (the threshold orders and the reading: diffcomp.sweeps.coupling)


def draw_curves(runs: list[Run], path: Path, scale: str) -> Path | None:
    """acc_x and acc_y against steps, a panel per grid (rows: dy, columns: dx), thresholds marked."""
    if not any(r.evals for r in runs):
        return None
    dxs = sorted({r.dx for r in runs}, key=numbers.mixed_sort_key)
    dys = sorted({r.dy for r in runs}, key=numbers.mixed_sort_key)
    fig = Figure(figsize=(4.0 * len(dxs) + 0.3, 3.0 * len(dys) + 0.7), layout="constrained")
    grid = fig.subplots(len(dys), len(dxs), squeeze=False, sharex=True, sharey=True)
    for i, dy in enumerate(dys):
        for j, dx in enumerate(dxs):
            ax = grid[i, j]
            group = [r for r in runs if r.grid == (dx, dy) and r.evals]
            if not group:
                ax.text(
                    0.5,
                    0.5,
                    f"dx={_g(dx)}, dy={_g(dy)}: no record",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=8,
                    color="0.4",
                )
                continue
            for k, run in enumerate(group):
                style = SEED_STYLES[k % len(SEED_STYLES)]
                seed = f" (seed {run.seed})" if len(group) > 1 else ""
                steps, acc = run.series("eval/acc")
                if len(steps):
                    ax.plot(steps, acc, color="0.55", lw=1, ls=style, label="acc (both)" + seed)
                for axis in "xy":
                    steps, values = run.series(f"eval/acc_{axis}")
                    if not len(steps):
                        continue
                    ax.plot(
                        steps,
                        values,
                        color=AXIS_COLOURS[axis],
                        lw=1.8,
                        ls=style,
                        marker="o",
                        ms=3,
                        label=f"acc_{axis}" + seed,
                    )
                    for threshold in THRESHOLDS:
                        hit = phases.crossing(steps, values, threshold)
                        if hit is not None:
                            ax.plot(
                                hit[0],
                                threshold,
                                THRESHOLD_MARKERS[threshold],
                                mfc="none",
                                mec=AXIS_COLOURS[axis],
                                ms=8,
                                mew=1.5,
                            )
                    steps, r2 = run.series(f"repr/probe_r2_{axis}")
                    if len(steps):
                        ax.plot(steps, r2, color=AXIS_COLOURS[axis], lw=1, ls=":", label=f"probe R² {axis}" + seed)
            for threshold in THRESHOLDS:
                ax.axhline(threshold, color="0.6", lw=0.8, ls=":")
            ax.set_title(group[0].name(), fontsize=8)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            if i == len(dys) - 1:
                ax.set_xlabel("training step")
            if j == 0:
                ax.set_ylabel("accuracy / probe R²")
    handles, labels = next((hl for ax in grid.flat if (hl := ax.get_legend_handles_labels())[0]), ([], []))
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False, fontsize=8)
    fig.suptitle(
        f"Per-axis accuracy over training (scale={scale}); open markers: first reaching "
        + ", ".join(f"{t:.0%} ({THRESHOLD_MARKERS[t]})" for t in THRESHOLDS),
        fontsize=9,
    )
    return tables.save_figure(fig, path, gates.gate_note(r.record for r in runs))


def draw_summary(runs: list[Run], path: Path) -> Path | None:
    """Left: acc_x - acc_y over training per grid. Right: the steps at which each axis reaches each threshold."""
    runs = [r for r in runs if r.evals]
    if not runs:
        return None
    fig = Figure(figsize=(10.0, 1.2 + 0.55 * max(len(runs), 4)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.1))
    last_step = max(max(r.evals) for r in runs)
    for k, run in enumerate(runs):
        sx, ax_ = run.series("eval/acc_x")
        sy, ay = run.series("eval/acc_y")
        common = sorted(set(sx.tolist()) & set(sy.tolist()))
        if common:
            gap = [ax_[sx == s][0] - ay[sy == s][0] for s in common]
            left.plot(
                common,
                gap,
                marker="o",
                ms=3,
                color=f"C{k + 2}",
                label=run.name() + (f", seed {run.seed}" if _has_seeds(runs) else ""),
            )
        for axis, offset in (("x", -0.12), ("y", 0.12)):
            steps, values = run.series(f"eval/acc_{axis}")
            for threshold in THRESHOLDS:
                hit = phases.crossing(steps, values, threshold) if len(steps) else None
                marker = THRESHOLD_MARKERS[threshold]
                if hit is None:
                    right.plot(last_step * 1.04, k + offset, ">", color=AXIS_COLOURS[axis], ms=6, alpha=0.5)
                else:
                    right.plot(
                        hit[0],
                        k + offset,
                        marker,
                        color=AXIS_COLOURS[axis],
                        ms=7,
                        mfc=AXIS_COLOURS[axis] if threshold == THRESHOLDS[0] else "none",
                        mew=1.5,
                    )
    left.axhline(0, color="k", lw=0.8)
    left.set(
        xlabel="training step",
        ylabel="acc_x - acc_y",
        title="acc_x - acc_y over training\n(factorized learning: away from 0 in the imbalanced grids)",
    )
    left.title.set_fontsize(8)
    left.grid(alpha=0.3)
    if left.get_legend_handles_labels()[0]:
        left.legend(frameon=False, fontsize=7)
    right.set_yticks(
        range(len(runs)),
        [f"dx={_g(r.dx)}, dy={_g(r.dy)}" + (f", seed {r.seed}" if _has_seeds(runs) else "") for r in runs],
        fontsize=8,
    )
    right.set_ylim(-0.6, len(runs) - 0.4)
    right.invert_yaxis()
    right.set_xlim(left=0, right=last_step * 1.08)
    right.axvline(last_step, color="0.6", lw=0.8, ls=":")
    right.set(xlabel="training step")
    right.set_title(
        "first step at 50 % (filled) and 90 % (open)\nx blue, y orange; '>' not reached by the last evaluation",
        fontsize=8,
    )
    right.grid(alpha=0.3, axis="x")
    return tables.save_figure(fig, path)


def _has_seeds(runs: list[Run]) -> bool:
    return len({r.seed for r in runs}) > 1


# ---------------------------------------------------------------------------------------------
# table


def write_table(runs: list[Run], path: Path, scale: str) -> Path:
    """Threshold steps per axis and grid, which axis led, and the largest x-y gap."""
    cadence = next((r.cadence for r in runs if r.cadence), None)
    header = ["dx", "dy", "images", "seed"]
    header += [f"{name} {t:.0%}" for t in THRESHOLDS for name in ("x", "y", "order")]
    header += ["gap (step)", "final acc_x", "final acc_y", "final probe R² x", "final probe R² y"]
    every = f", every {cadence} steps" if cadence else ""
    lines = [
        f"# {NAME} (scale={scale})",
        "",
        f"Steps at which acc_x and acc_y first reach each threshold (linear interpolation between evaluations{every}). "
        "'together': both crossings between the same two evaluations. "
        "Gap: the largest acc_x - acc_y over training (at that step).",
        "",
        *tables.markdown_header(header),
    ]
    readings = {}
    for run in runs:
        if not run.evals:
            continue
        cells = [_g(run.dx), _g(run.dy), run.images if run.images is not None else "–", run.seed]
        for threshold in THRESHOLDS:
            hits = {axis: phases.crossing(*run.series(f"eval/acc_{axis}"), threshold) for axis in "xy"}
            cells += [f"{hits[a][0]:.0f}" if hits[a] else "not reached" for a in "xy"] + [
                coupling.axis_order(hits["x"], hits["y"])
            ]
            readings.setdefault(run.grid, []).append(coupling.axis_order(hits["x"], hits["y"]))
        gap = coupling.largest_gap(run.series("eval/acc_x"), run.series("eval/acc_y"))
        last = run.evals[max(run.evals)]
        probes = run.analyses[max(run.analyses)] if run.analyses else {}
        cells.append(f"{gap[0]:+.3f} ({gap[1]})" if gap else "–")
        cells += [numbers.number_text(last.get(f"eval/acc_{a}")) for a in "xy"] + [
            numbers.number_text(probes.get(f"repr/probe_r2_{a}")) for a in "xy"
        ]
        lines.append(tables.markdown_row(cells))
    return tables.write_lines(path, [*lines, "", coupling.reading(readings, THRESHOLDS)])


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """The per-grid curves, the summary and the threshold table of whatever records the sweep has."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    runs = sorted(
        (Run(r) for r in load_records(sweep_dir)),
        key=lambda r: (numbers.mixed_sort_key(r.dx), numbers.mixed_sort_key(r.dy), r.seed),
    )
    if not runs:
        return []
    scale = history.scale_of(sweep_dir, from_records=True)
    paths = [
        draw_curves(runs, out_dir / f"{NAME}_curves.png", scale),
        draw_summary(runs, out_dir / f"{NAME}_summary.png"),
        write_table(runs, out_dir / f"{NAME}.md", scale),
    ]
    return [p for p in paths if p is not None]
