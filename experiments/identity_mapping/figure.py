"""Figure of experiment=identity_mapping (Yang et al.'s structured identity mapping, related work).

Why a separate figure: the task already draws one picture per aspect (``ood_loss_by_seed.png``,
``concept_trajectory.png``, ...); the results page needs the three claims side by side, with their
numbers. Everything comes from the job's record (``per_seed``, ``learning_order``, ``metrics``,
``config``) and its ``identity_mapping.npz``; nothing is re-trained.

Panels: (top) the OOD loss of every seed, one panel per model, the seeds the task flagged as swinging
by in colour with their trough and peak, the rest grey; (bottom left) the step at which each concept's
diagonal Jacobian entry reaches 0.9 (and 0.5), one dot per seed, with the one-layer closed form's
prediction ``ln(1 / (1 - f)) / (lr a_p)`` as a bar; (bottom right) the one-layer model's OOD output
against its gradient-flow closed form (first seed; the worst seed's error is in the title).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp.report import history, tables
from diffcomp.results import Record, load_records
from diffcomp.theory.identity_mapping import ood_loss_panel

NAME = "identity_mapping"
MODEL_COLOURS = {"linear": "tab:blue", "symmetric": "tab:orange", "mlp": "tab:green"}


def _models(record: Record) -> list[str]:
    task = record.setting("task") or {}
    value = task.get("model") or []
    names = [value] if isinstance(value, str) else list(value)
    return names or sorted({r.get("model") for r in record.get("per_seed") or [] if r.get("model")})


def _fractions(record: Record) -> list[str]:
    task = record.setting("task") or {}
    return [f"{float(f):g}" for f in task.get("learn_fractions") or [0.5, 0.9]]


def _panel_ood(ax, model: str, curves: np.ndarray | None, seeds, tolerance: float) -> None:
    """OOD loss of every seed, swing-by seeds coloured (the task's own panel), or a note without curves."""
    if curves is None or not len(curves):
        ax.text(0.5, 0.5, "no per-seed curves", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_title(model, fontsize=9)
        return
    ood_loss_panel(ax, model, {int(seed): loss for seed, loss in zip(seeds, curves)}, tolerance, legend_size=6)
    ax.xaxis.label.set_fontsize(8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _panel_learning(ax, record: Record, models: list[str], mu: list[float], lr: float) -> None:
    """Steps to 50 % / 90 % of each concept's diagonal Jacobian entry per seed, beside the closed form."""
    rows = record.get("per_seed") or []
    fractions = _fractions(record)
    s = len(mu)
    a = [float(record.metrics.get(f"theory/a{p + 1}", math.nan)) for p in range(s)]
    width = 0.8 / max(len(models), 1)
    markers = {fractions[0]: "o", fractions[-1]: "s"} if fractions else {}
    for m, model in enumerate(models):
        for f in fractions:
            steps = np.array(
                [r.get(f"learn_steps_{f}", [math.nan] * s) for r in rows if r.get("model") == model], dtype=float
            )
            if steps.size == 0:
                continue
            rng = np.random.default_rng(m)  # a fixed horizontal jitter so seeds do not hide each other
            for p in range(s):
                x = p + (m - (len(models) - 1) / 2) * width + rng.uniform(-0.25, 0.25, len(steps)) * width
                ax.scatter(
                    x,
                    steps[:, p] + 1,
                    s=9,
                    marker=markers.get(f, "o"),
                    color=MODEL_COLOURS.get(model, "k"),
                    alpha=0.55,
                    linewidths=0,
                    label=model if p == 0 and f == fractions[-1] else None,
                )
    for p in range(s):
        for f in fractions:
            if a[p] > 0 and lr > 0:  # one-layer gradient flow from (nearly) zero: 1 - exp(-a t) = f
                t = math.log(1 / (1 - float(f))) / (a[p] * lr)
                ax.plot([p - 0.45, p + 0.45], [t + 1, t + 1], color="k", lw=1.0, ls="--" if f == fractions[0] else "-")
    ax.plot([], [], color="k", lw=1.0, label="closed form, one layer\n(dashed: first f)")
    ax.set_yscale("log")
    ax.set_xticks(range(s), [f"concept {p + 1}\nμ = {mu[p]:g}" for p in range(s)], fontsize=8)
    ax.set_ylabel("GD step + 1 when W_pp reaches f", fontsize=8)
    orders = record.get("learning_order") or {}
    summary = "; ".join(
        f"{model} "
        + ", ".join(f"{order} {n}" for order, n in (orders.get(model, {}).get(fractions[-1], {}) or {}).items())
        for model in models
        if fractions
    )
    shapes = " and ".join(f"{'○' if i == 0 else '□'} f = {f}" for i, f in enumerate(fractions[:1] + fractions[-1:]))
    ax.set_title(
        f"steps to learn each concept ({shapes}; a dot per seed)\norder at f = {fractions[-1] if fractions else '?'} "
        f"(seeds): {summary}",
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="upper right")
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25, axis="y")


def _panel_closed_form(ax, arrays: dict, record: Record) -> None:
    """One-layer OOD output per concept: gradient descent (solid) against the closed form (dashed)."""
    sim, theory = arrays.get("linear_ood_output"), arrays.get("linear_closed_form_ood_output")
    if sim is None or theory is None:
        ax.text(0.5, 0.5, "no one-layer arrays", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    steps = np.arange(len(sim)) + 1
    for p in range(sim.shape[1]):
        if not np.any(np.abs(theory[:, p]) > 0):
            continue
        (line,) = ax.plot(steps, sim[:, p], lw=1.6, label=f"f_{p + 1} (GD)")
        ax.plot(steps, theory[:, p], ls="--", lw=1.0, color="k")
    ax.plot([], [], ls="--", color="k", lw=1.0, label="closed form")
    error = record.metrics.get("linear/closed_form_rel_error")
    seeds = arrays.get("seeds")
    first = int(seeds[0]) if seeds is not None and len(seeds) else "?"
    worst = f"\nworst seed: max ‖f − f_theory‖ / ‖x_b‖ = {error:.2%}" if isinstance(error, (int, float)) else ""
    ax.set_title(f"one layer vs closed form (seed {first}){worst}", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("GD step + 1 (theory time t = lr · step)", fontsize=8)
    ax.set_ylabel("OOD output f(x_b)", fontsize=8)
    ax.legend(fontsize=6)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _table(record: Record, models: list[str], scale: str) -> list[str]:
    """The numbers the figure shows, as markdown."""
    metrics = record.metrics
    task = record.setting("task") or {}
    fractions = _fractions(record)
    orders = record.get("learning_order") or {}
    lines = [
        f"Scale: {scale}. Structured identity mapping: d = {task.get('d')}, μ = {task.get('mu')}, "
        f"σ = {task.get('sigma')}, n = {task.get('n')} per cluster, lr = {task.get('lr')}, {task.get('steps')} steps, "
        f"init {task.get('init')} × {task.get('init_scale')}; a swing-by = a rise of the OOD loss by more than "
        f"{task.get('swing_tolerance')} × its initial value between two falls.",
        "",
        *tables.markdown_header(
            ["model", "swing-by seeds", "rise / initial OOD loss (median, max)"]
            + [f"order at {f} (seeds)" for f in fractions]
            + [f"median steps to {fractions[-1] if fractions else '?'} (c1, c2, c3)", "final OOD loss (median, max)"]
        ),
    ]
    for model in models:
        k, n = metrics.get(f"{model}/swing_by_seeds"), metrics.get(f"{model}/seeds")
        frac = metrics.get(f"{model}/swing_by_fraction")
        swing = f"{k} / {n} ({frac:.0%})" if isinstance(frac, (int, float)) else "-"
        med, top = (
            metrics.get(f"{model}/swing_relative_amplitude_median"),
            metrics.get(f"{model}/swing_relative_amplitude_max"),
        )
        rise = f"{med:.2g}, {top:.2g}" if isinstance(med, (int, float)) and isinstance(top, (int, float)) else "-"
        order_cells = [
            ", ".join(f"{o}: {c}" for o, c in (orders.get(model, {}).get(f) or {}).items()) or "-" for f in fractions
        ]
        f = fractions[-1] if fractions else "0.9"
        medians = [metrics.get(f"{model}/learn_step_{f}_c{p + 1}") for p in range(len(task.get("mu") or []))]
        steps = ", ".join(
            f"{v:g}" if isinstance(v, (int, float)) and math.isfinite(v) else "not reached" for v in medians
        )
        finals = [r.get("final_value") for r in record.get("per_seed") or [] if r.get("model") == model]
        finals = [v for v in finals if isinstance(v, (int, float))]
        final = f"{np.median(finals):.2g}, {max(finals):.2g}" if finals else "-"
        lines.append(tables.markdown_row([model, swing, rise, *order_cells, steps, final]))
    error = metrics.get("linear/closed_form_rel_error")
    if isinstance(error, (int, float)):
        lines += [
            "",
            f"One-layer model against its closed form: largest ‖f_GD(t) − f_theory(t)‖ / ‖x_b‖ over training = {error:.2%} (worst seed).",
        ]
    a = [metrics.get(f"theory/a{p + 1}") for p in range(len(task.get("mu") or []))]
    if all(isinstance(v, (int, float)) for v in a) and a:
        lines.append(
            "Theory rates a_p = σ² + μ_p² / s: " + ", ".join(f"{v:.3g}" for v in a) + " (larger a: learned earlier)."
        )
        lr = float(task.get("lr") or 0.0)
        if lr > 0 and all(v > 0 for v in a):
            for f in fractions:
                steps = ", ".join(f"{math.log(1 / (1 - float(f))) / (lr * v):.0f}" for v in a)
                lines.append(f"One-layer closed form from zero, steps to {f} (c1, c2, c3): {steps}.")
    initial = [metrics.get(f"{model}/ood_loss_initial_mean") for model in models]
    if all(isinstance(v, (int, float)) for v in initial) and initial:
        lines.append(
            "Initial OOD loss (mean over seeds): " + ", ".join(f"{m} {v:.2g}" for m, v in zip(models, initial)) + "."
        )
    return lines


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """The experiment's figure and table from the (single) complete job; [] when there is none."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    records = [
        r
        for r in load_records(sweep_dir)
        if r.get("per_seed") is not None or (r.job_dir / "identity_mapping.npz").exists()
    ]
    if not records:
        return []
    # one job per sweep; should there be several, the most complete record (per-seed rows and arrays)
    record = max(records, key=lambda r: (bool(r.get("per_seed")), (r.job_dir / "identity_mapping.npz").exists()))
    job_dir = record.job_dir
    arrays = history.load_arrays(job_dir / "identity_mapping.npz") or {}
    models = _models(record)
    task = record.setting("task") or {}
    mu = [float(m) for m in task.get("mu") or []]
    lr = float(task.get("lr") or 0.0)
    seeds = arrays.get(
        "seeds", np.array([r["seed"] for r in record.get("per_seed") or [] if r.get("model") == (models or [None])[0]])
    )
    tolerance = float(task.get("swing_tolerance") or 0.01)

    fig = Figure(figsize=(10.5, 6.4), layout="constrained")
    grid = fig.add_gridspec(2, max(len(models), 3))
    top = [fig.add_subplot(grid[0, i]) for i in range(max(len(models), 1))]
    for i, model in enumerate(models):
        _panel_ood(top[i], model, arrays.get(f"{model}_ood_loss_by_seed"), seeds, tolerance)
    top[0].set_ylabel("OOD loss ½‖f(x_b) − x_b‖²", fontsize=8)
    if mu:
        _panel_learning(fig.add_subplot(grid[1, : max(len(models), 3) - 1]), record, models, mu, lr)
    _panel_closed_form(fig.add_subplot(grid[1, -1]), arrays, record)
    scale = history.scale_of(sweep_dir)
    fig.suptitle(
        f"Structured identity mapping (Yang et al.), {len(seeds)} seeds, scale={scale}: "
        "swing-by of the OOD loss, learning order, one-layer closed form",
        fontsize=10,
    )
    png = tables.save_figure(fig, out_dir / f"{NAME}.png")
    return [png, tables.write_lines(out_dir / f"{NAME}.md", _table(record, models, scale))]
