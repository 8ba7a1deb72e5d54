"""Fig. 5c: the training-set size needed for 60 % accuracy against the canvas side N, with and without stripes.

The paper finds the size grows quadratically in N with 2D bumps alone and linearly once complete 1D
stripes are added, i.e. factorised data makes the cost linear in the number of factor values. For each
(N, arm) the sweep tries several 2D shares, giving accuracy against the total number of training
images (``dataset.images``); the size for 60 % is read off that curve (``size_for``). The left
panel plots it against N on log-log axes with dashed linear and quadratic references, the right one
the curves it was read from. The quadratic reference passes through the 2D-only arm's first
interpolated point and the linear one through the stripes arm's, so each arm is read against the
scaling the paper predicts for it.

The numbers come from :mod:`diffcomp.sweeps.efficiency` (the curves and the interpolation rule, the
slopes and the references' anchors, the 2D images needed, the null prediction); this script draws
them. The table reports each (arm, N)'s need in all images *and in 2D images*, and the stripes arm
against the null (its fixed 1D + 0D part plus the 2D-only arm's 2D need): the stripes help only if
they cut the 2D images needed, as Fig. 5a-b shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from diffcomp.report import gates, history, mixture, numbers, tables
from diffcomp.results import load_records
from diffcomp.sweeps.efficiency import (
    TARGET,
    curves,
    interpolated,
    needs,
    null_prediction,
    reference_anchors,
    scaling,
    stripes_save_2d,
)

NAME = "data_efficiency"
COLOURS = {0.0: "#1f77b4", 1.0: "#ff7f0e"}  # the paper's blue (2D only) and orange (2D + 1D)
N_MARKERS = ["o", "s", "D", "P", "X", "*", "h"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _describe(result: dict) -> str:
    kind, value = result["kind"], result["value"]
    if kind == "interpolated":
        (s0, a0), (s1, a1) = result["between"]
        return f"{_fmt(value)} (between {_fmt(s0)} at {a0:.2f} and {_fmt(s1)} at {a1:.2f})"
    if kind == "upper":
        return f"<= {_fmt(value)} (reached at the smallest size tried)"
    if kind == "lower":
        return f"not reached (> {_fmt(value)}, the largest size tried)"
    return "-"


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Fig. 5c (size for 60 % vs N, log-log, with references) beside the accuracy-vs-size curves; markdown table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    table = mixture.mixture_runs_table(sweep_dir)
    if table.empty or "eval/acc" not in table:
        return []
    table = table[table["images"].notna() & table["eval/acc"].notna()]
    if table.empty:
        return []
    scale = history.scale_of(sweep_dir, default="unknown")
    arms = sorted(table["stripes"].unique())
    ns = sorted(table["N"].unique())

    # per (arm, N): the seed-averaged curve, its crossing, and per-seed crossings when seeds repeat
    by_arm = curves(table)
    results = {key: {"curve": c.points, "result": c.total, "per_seed": c.per_seed} for key, c in by_arm.items()}

    fig = Figure(figsize=(10.5, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.15])
    slopes = {}
    for arm in arms:
        colour = COLOURS.get(arm)
        name = mixture.arm_name(arm)
        measured = [(n, results[(arm, n)]) for n, _ in interpolated(by_arm, arm, ns)]
        xs = [n for n, _ in measured]
        ys = [r["result"]["value"] for _, r in measured]
        slope, _ = slopes[arm] = scaling(by_arm, arm, ns)
        label = name + (f" (slope {slope:.2f})" if slope is not None else "")
        line = left.plot(xs, ys, marker="o", color=colour, lw=2, ms=6, label=label, zorder=3)[0]
        colour = line.get_color()
        for n, r in measured:  # seed spread, when every seed crossed
            seeds = [s["value"] for s in r["per_seed"] if s["kind"] == "interpolated"]
            if r["per_seed"] and len(seeds) == len(r["per_seed"]):
                left.plot([n, n], [min(seeds), max(seeds)], color=colour, lw=1, alpha=0.7, zorder=3)
        for n in ns:
            r = results.get((arm, n))
            if r and r["result"]["kind"] in ("lower", "upper"):
                marker = "^" if r["result"]["kind"] == "lower" else "v"
                left.plot(
                    [n],
                    [r["result"]["value"]],
                    marker=marker,
                    ms=8,
                    mfc="none",
                    mec=colour,
                    mew=1.5,
                    ls="none",
                    zorder=3,
                )
    need = needs(table, TARGET)
    for arm in arms:  # the 2D images alone (dotted): the stripes help only if theirs fall below 2D-only's
        points = [(n, need[(float(arm), int(n))].two_d["value"]) for n in ns if (float(arm), int(n)) in need]
        points = [(n, v) for n, v in points if need[(float(arm), int(n))].two_d["kind"] == "interpolated"]
        if points:
            left.plot(
                *zip(*points),
                marker="o",
                mfc="white",
                ls=":",
                color=COLOURS.get(arm),
                lw=1.5,
                label=f"{mixture.arm_name(arm)}: 2D images only",
                zorder=3,
            )
    # References: each through the first interpolated point of the arm the paper expects to follow it
    references, on_bound = reference_anchors(by_arm, arms, ns)
    grid = np.geomspace(min(ns) / 1.15, max(ns) * 1.15, 50)
    for kind, power, colour in (("linear", 1, "#999999"), ("quadratic", 2, "black")):
        if references[kind] is not None:
            n0, s0 = references[kind]
            left.plot(
                grid,
                s0 * (grid / n0) ** power,
                ls="--",
                color=colour,
                lw=1,
                zorder=1,
                label=f"{kind} reference (~N{'²' if power == 2 else ''}) through N={n0}"
                + (" (a bound)" if on_bound else ""),
            )
    if any(r["result"]["kind"] == "lower" for r in results.values()):
        left.plot([], [], marker="^", mfc="none", mec="#555555", ls="none", label="not reached: lower bound")
    if any(r["result"]["kind"] == "upper" for r in results.values()):
        left.plot(
            [], [], marker="v", mfc="none", mec="#555555", ls="none", label="reached at smallest size: upper bound"
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(ns, [str(n) for n in ns])
    left.xaxis.set_minor_locator(NullLocator())
    plain_log_ticks(left.yaxis)
    left.set_xlim(min(ns) / 1.3, max(ns) * 1.3)
    left.set_xlabel("canvas side N")
    left.set_ylabel(f"training images for {TARGET:.0%} accuracy (solid: all, dotted: 2D)")
    left.set_title(f"dataset size for {TARGET:.0%} accuracy (Fig. 5c)", fontsize=9.5)
    left.grid(alpha=0.25, which="both")
    left.legend(frameon=False, fontsize=7.5, loc="upper left")

    for arm in arms:
        base = np.array(matplotlib_rgb(COLOURS.get(arm, "#2ca02c")))
        for k, n in enumerate(ns):
            r = results.get((arm, n))
            if not r:
                continue
            shade = 0.55 + 0.45 * (k + 1) / len(ns)  # larger N darker
            colour = tuple(np.clip(base * shade + (1 - shade) * 1.0, 0, 1)) if len(ns) > 1 else tuple(base)
            curve = r["curve"]
            right.errorbar(
                curve["images"],
                curve["acc"],
                yerr=[curve["acc"] - curve["lo"], curve["hi"] - curve["acc"]],
                color=colour,
                marker=N_MARKERS[k % len(N_MARKERS)],
                ms=5,
                lw=1.3,
                capsize=2,
                label=f"N={n}, {mixture.arm_name(arm)}",
            )
            if r["result"]["kind"] == "interpolated":
                right.plot([r["result"]["value"]], [TARGET], marker="x", color=colour, ms=9, mew=2)
    right.axhline(TARGET, color="#d62728", ls="--", lw=0.9)
    right.set_xscale("log")
    plain_log_ticks(right.xaxis)
    right.set_ylim(-0.03, 1.03)
    right.set_xlabel("training images (dataset.images, all parts)")
    right.set_ylabel("overall accuracy")
    right.set_title("accuracy vs size per N (x: interpolated 60 % crossing)", fontsize=9.5)
    right.grid(alpha=0.25, which="both")
    right.legend(frameon=False, fontsize=7, loc="best")
    seeds = numbers.count_range_text(table.groupby(["N", "stripes", "f2d"]).size())
    fig.suptitle(
        f"Data efficiency (Fig. 5c): scale={scale}, {seeds} seed(s) per point; paper: ~N² without stripes, ~N with them",
        fontsize=9.5,
    )
    png = tables.save_figure(fig, out_dir / f"{NAME}.png", gates.gate_note(load_records(sweep_dir)))

    lines = [
        f"# {NAME} (Fig. 5c), scale={scale}",
        "",
        f"Training images (the record's `data.images`, all parts) needed for {TARGET:.0%} overall accuracy: seeds averaged, accuracy",
        "interpolated linearly in log(size) between the last point below and the first at or above the threshold.",
        "",
        *tables.markdown_header(
            ["arm", "N", "2D held out", "shares tried", "sizes tried", "acc at those sizes", "size for 60 %"]
            + ["2D images for 60 %"]
        ),
    ]
    for arm in arms:
        for n in ns:
            r = results.get((arm, n))
            if not r:
                continue
            curve = r["curve"]
            held = table[(table["stripes"] == arm) & (table["N"] == n)]["held_out"].dropna()
            shares = ", ".join(f"{100 * s:g}%" for s in curve.index)
            sizes = ", ".join(_fmt(v) for v in curve["images"])
            accs = ", ".join(
                f"{a:.2f}" + (f" ({lo:.2f}-{hi:.2f})" if s > 1 else "")
                for a, lo, hi, s in zip(curve["acc"], curve["lo"], curve["hi"], curve["seeds"])
            )
            cell = _describe(r["result"])
            if r["per_seed"]:
                cell += "; per seed: " + ", ".join(_describe(s).split(" (")[0] for s in r["per_seed"])
            two_d = _describe(need[(float(arm), int(n))].two_d).split(" (")[0]
            held_cell = f"{held.iloc[0]:.0%}" if len(held) else "-"
            lines.append(tables.markdown_row([mixture.arm_name(arm), n, held_cell, shares, sizes, accs, cell, two_d]))
    lines += _null_lines(need, arms, ns)
    lines += [
        "",
        "Log-log slope of the size for 60 % against N (interpolated points only; the paper: ~2 for 2D only, ~1 with stripes):",
        "",
    ]
    for arm in arms:
        slope, count = slopes.get(arm, (None, 0))
        lines.append(
            f"* {mixture.arm_name(arm)}: "
            + (
                f"{slope:.2f} from {count} N values"
                if slope is not None
                else f"no fit ({count} interpolated N value(s); needs 2)"
            )
        )
    for kind, point in references.items():
        if point is not None:
            lines.append(
                f"* {kind} reference line through N={point[0]}, {_fmt(point[1])} images"
                + (" (a bound: nothing was interpolated)" if on_bound else "")
            )
    return [png, tables.write_lines(out_dir / f"{NAME}.md", lines)]


def _null_lines(need: dict, arms, ns) -> list[str]:
    """The stripes arm against the null prediction per N: do the stripes cut the 2D images needed?"""
    if not (0.0 in arms and any(a > 0 for a in arms)):
        return []
    lines = [
        "",
        "Do the stripes cut the 2D data needed (Fig. 5a-b)? Null prediction: a model that learned nothing from",
        "the stripes needs its arm's fixed 1D + 0D part plus the 2D images the 2D-only arm needed.",
        "",
        *tables.markdown_header(
            ["N", "2D images: 2D only", "2D images: with stripes", "fixed 1D + 0D part", "total with stripes"]
            + ["null prediction", "stripes save 2D data"]
        ),
    ]
    for n in ns:
        base = need.get((0.0, int(n)))
        for arm in (a for a in arms if a > 0):
            striped = need.get((float(arm), int(n)))
            if base is None or striped is None:
                continue
            null = null_prediction(striped, base)
            saves = stripes_save_2d(striped, base)
            cells = [n, _describe(base.two_d).split(" (")[0], _describe(striped.two_d).split(" (")[0]]
            cells += [_fmt(striped.fixed), _describe(striped.total).split(" (")[0], _fmt(null)]
            lines.append(tables.markdown_row([*cells, "-" if saves is None else "yes" if saves else "no"]))
    return lines


def plain_log_ticks(axis) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as plain numbers (sizes read better as 2,000 than 2x10^3)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_minor_formatter(NullFormatter())


def matplotlib_rgb(colour) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)
