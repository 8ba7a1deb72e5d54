"""What the experiments' figure scripts (``experiments/<name>/figure.py``) share.

The scripts read finished sweeps and draw the papers' figures; each keeps what is particular to its
experiment, and the pieces that several of them need live here, so that one rule is written once:
how a sweep's scale is found, how records' numbers are summarised and written, how a job's saved
sample grid is cut into tiles and which labels those tiles show, which evaluation labels a job's
held-out region holds, and the section figure and the mixture-share table that pairs of sibling
experiments (Figs. 4 and 10; Figs. 4g/5a-b and 5c) draw from the same kind of sweep.

Everything reads records and saved files only (nothing is trained or sampled). Torch, pandas and the
data package are imported where they are needed, so a script that uses none of them stays quick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffcomp import files
from diffcomp.sweeps.aggregate import load_records, parse_overrides

DPI = 110  # every experiment figure's resolution
GRID_COLUMNS = 8  # diffcomp.data.render.image_grid's default, which the evaluation's sample grid uses
GRID_SIZE = 64  # diffcomp.eval.callback.EvaluationCallback's default grid_size
SAMPLES = "samples/step_*.png"  # the evaluation callback's sample grids, one per evaluation
ANALYSIS_ARRAYS = "analysis/step_*/arrays.npz"  # the analysis callback's arrays, one per analysed step

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


# ---------------------------------------------------------------------------------------------
# sweeps and records


def scale_of(sweep_dir: Path, default: str = "?", from_records: bool = False) -> str:
    """The ``scale=`` choice saved in the sweep's ``multirun.yaml``, for figure titles.

    ``from_records``: fall back on the first record's ``scale=`` override (a sweep launched without
    Hydra's multirun file); ``default`` when neither says.
    """
    from omegaconf import OmegaConf

    try:
        scale = OmegaConf.select(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"), "hydra.runtime.choices.scale")
    except Exception:
        scale = None
    if not scale and from_records:
        scale = next(
            (
                s
                for _, record in load_records(sweep_dir)
                if (s := parse_overrides(record.get("overrides", [])).get("scale")) is not None
            ),
            None,
        )
    return str(scale or default)


def by_step(entries) -> dict[int, dict]:
    """A record's ``history`` / ``analysis_history`` list keyed by step (the last entry of a step wins)."""
    return {int(e["step"]): e for e in entries or [] if isinstance(e, dict) and e.get("step") is not None}


def series(entries: dict[int, dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``key`` over ``by_step`` entries, skipping steps where it is not a number."""
    points = [(s, e[key]) for s, e in sorted(entries.items()) if isinstance(e.get(key), (int, float))]
    if not points:
        return np.empty(0), np.empty(0)
    return np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)


def last_file(job_dir: Path, pattern: str) -> Path | None:
    """The last of a job's files matching ``pattern`` (zero-padded steps sort in time order)."""
    found = sorted(Path(job_dir).glob(pattern))
    return found[-1] if found else None


def last_samples(job_dir: Path) -> Path | None:
    """The sample grid of the job's last evaluation (``samples/step_<k>.png`` with the largest k)."""
    return last_file(job_dir, SAMPLES)


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz`` file, read at once; None when it is missing or unreadable (partial sweeps)."""
    try:
        with np.load(path) as saved:
            return {key: saved[key] for key in saved.files}
    except Exception:
        return None


class JobHistory:
    """One job's record with its evaluations and analyses indexed by step, and its analysis arrays
    (read once): what the scripts that follow a run over training read. Scripts subclass it to add
    their swept parameters."""

    def __init__(self, job_dir: Path, record: dict):
        config = record.get("config") or {}
        self.job_dir, self.record = Path(job_dir), record
        self.seed = int(record.get("seed", config.get("seed", 0)) or 0)
        self.images = (record.get("dataset") or {}).get("images")
        self.evals = by_step(record.get("history"))
        self.analyses = by_step(record.get("analysis_history"))
        self._arrays: dict[int, dict | None] = {}

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of ``key`` from the analyses (``repr/*``) or else the evaluations."""
        return series(self.analyses if key.startswith("repr/") else self.evals, key)

    def acc(self, step: int) -> float | None:
        return self.evals.get(step, {}).get("eval/acc")

    def arrays_path(self, step: int) -> Path:
        return self.job_dir / "analysis" / f"step_{step:07d}" / "arrays.npz"

    def arrays(self, step: int) -> dict[str, np.ndarray] | None:
        """The analysis arrays saved at ``step`` (read once), or None when missing or unreadable."""
        if step not in self._arrays:
            self._arrays[step] = load_arrays(self.arrays_path(step))
        return self._arrays[step]

    def array_steps(self) -> list[int]:
        """Analysed steps whose arrays exist on disk."""
        return [s for s in sorted(self.analyses) if self.arrays_path(s).exists()]


def mixed_sort_key(value) -> tuple:
    """Numbers in order, then anything else by its text (a swept value may be a string or null)."""
    return (not isinstance(value, (int, float)), value if isinstance(value, (int, float)) else str(value))


# ---------------------------------------------------------------------------------------------
# numbers


def is_number(value) -> bool:
    """A real number from a record (JSON booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value) -> float:
    """A metric as a float; NaN when it is missing or not a number (null in the record)."""
    return float(value) if is_number(value) else math.nan


def finite_values(values: Iterable) -> np.ndarray:
    """The finite numbers among ``values`` (nulls, NaN and text dropped): what a statistic is over."""
    return np.asarray([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)


def stats(values: Iterable) -> tuple[float, float, int]:
    """(mean, sample std, n) of the finite values; std NaN for one value, everything NaN for none."""
    values = finite_values(values)
    if not len(values):
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan, len(values)


def stats_text(summary: tuple[float, float, int]) -> str:
    """``mean ± std (n)`` of :func:`stats` (``mean (n)`` for one value, ``-`` for none)."""
    mean, sd, n = summary
    if n == 0:
        return "-"
    return f"{mean:.3f} ± {sd:.3f} ({n})" if math.isfinite(sd) else f"{mean:.3f} ({n})"


def error_bars(groups: Iterable[Iterable]) -> tuple[np.ndarray, np.ndarray]:
    """Per group of values, the mean and the std as an error bar (0 where a group has one value)."""
    summaries = [stats(g) for g in groups]
    return (
        np.array([s[0] for s in summaries]),
        np.array([s[1] if math.isfinite(s[1]) else 0.0 for s in summaries]),
    )


def range_text(values: Iterable) -> str:
    """``mean`` for one value, ``mean (min-max, n=k)`` for several, ``-`` for none: with a few seeds
    the range says more than a std."""
    vals = finite_values(values)
    if vals.size == 0:
        return "-"
    if vals.size == 1:
        return f"{vals[0]:.2f}"
    return f"{vals.mean():.2f} ({vals.min():.2f}-{vals.max():.2f}, n={vals.size})"


def count_range_text(counts: Iterable[int]) -> str:
    """``3`` when every point has 3 seeds, ``2-3`` when they differ."""
    counts = list(counts)
    lo, hi = min(counts), max(counts)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def number_text(value, spec: str = ".3f", missing: str = "–") -> str:
    """A table cell: ``value`` formatted with ``spec``, ``missing`` when it is not a finite number."""
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else missing


def percent_text(share) -> str:
    """A share as ``12.5%``, ``-`` when the record has none."""
    return f"{100 * share:.1f}%" if isinstance(share, (int, float)) else "-"


def first_crossing(
    steps: np.ndarray, values: np.ndarray, threshold: float, start: float = -math.inf
) -> tuple[float, int | None, int] | None:
    """Where ``values`` first reach ``threshold`` at a step >= ``start``: (step interpolated linearly
    from the evaluation before, that evaluation's step or None when there is none, the step reached).

    The evaluation cadence is the real resolution; the bracketing steps say so."""
    for i, (s, v) in enumerate(zip(steps, values)):
        if s >= start and v >= threshold:
            if i == 0:
                return float(s), None, int(s)
            s0, v0 = steps[i - 1], values[i - 1]
            fraction = (threshold - v0) / (v - v0) if v > v0 else 1.0
            return float(s0 + np.clip(fraction, 0, 1) * (s - s0)), int(s0), int(s)
    return None


# ---------------------------------------------------------------------------------------------
# output


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at the experiments' resolution (its folder made when missing)."""
    return files.save_figure(fig, path, dpi=DPI)


def markdown_row(cells: Iterable) -> str:
    """One markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_header(header: list[str]) -> list[str]:
    """A markdown table's header row and its rule."""
    return [markdown_row(header), markdown_row(["---"] * len(header))]


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write a text table (a ``.md`` beside the figure), one line each, ending in a newline (its folder
    made when missing)."""
    path = Path(path)
    with files.atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# sample grids and their labels
#
# The evaluation callback (diffcomp.eval.callback) shows ``grid_size`` samples picked with
# ``linspace(0, M - 1, grid_size).round()`` over the M = N x N integer evaluation labels (mu_x
# fastest), tiled by diffcomp.data.render.image_grid: ``GRID_COLUMNS`` per row, 1-pixel gutters.
# So a tile's requested label follows from the job's config alone.


def grid_count(config: dict) -> int:
    """How many tiles the job's sample grids hold: ``eval.grid_size``, at most the N x N labels."""
    size = int((config.get("data") or {}).get("size") or 0)
    return min(int((config.get("eval") or {}).get("grid_size") or GRID_SIZE), size * size)


def grid_shape(size: int, count: int, columns: int = GRID_COLUMNS) -> tuple[int, int]:
    """(height, width) in pixels of a grid of ``count`` tiles of side ``size``."""
    return -(-count // columns) * (size + 1), columns * (size + 1)


def tile_origin(slot: int, size: int, columns: int = GRID_COLUMNS) -> tuple[int, int]:
    """(row, column) pixel of the top-left corner of tile ``slot`` in a grid."""
    r, c = divmod(slot, columns)
    return r * (size + 1), c * (size + 1)


def tile_picks(total: int, count: int) -> np.ndarray:
    """Which of ``total`` evaluation labels the ``count`` tiles show (as the callback picks them)."""
    import torch

    return torch.linspace(0, total - 1, min(count, total)).round().long().numpy()


def read_grid(path: Path) -> np.ndarray:
    """A saved sample grid as one grey channel in [0, 1]."""
    from matplotlib.image import imread

    grid = imread(path)
    return grid[..., 0] if grid.ndim == 3 else grid


def read_tiles(path: Path, size: int, count: int, columns: int = GRID_COLUMNS) -> list[np.ndarray]:
    """The first ``count`` tiles of a sample grid (fewer when the picture holds fewer)."""
    grid = read_grid(path)
    tiles = []
    for i in range(count):
        y, x = tile_origin(i, size, columns)
        tile = grid[y : y + size, x : x + size]
        if tile.shape != (size, size):
            break  # a grid smaller than the config says: keep what is there
        tiles.append(tile)
    return tiles


def _spec(config: dict):
    from diffcomp.data.canvas import CanvasSpec

    return CanvasSpec.from_config(config["data"])


def held_out_labels(config: dict) -> np.ndarray | None:
    """For each evaluation label (the N x N integer grid, mu_x fastest), whether the job's held-out
    region holds it; None without a region or a readable data config."""
    try:
        from diffcomp.data.canvas import evaluation_labels

        spec = _spec(config)
        return None if spec.holdout is None else spec.holdout.contains(evaluation_labels(spec)).numpy()
    except Exception:
        return None


def section_sizes(config: dict) -> dict[str, int]:
    """Evaluation labels per section (``all``, ``id``, ``ood``, the cross's parts) of the job's data."""
    try:
        from diffcomp.data.canvas import evaluation_labels, evaluation_sections

        spec = _spec(config)
        labels = evaluation_labels(spec)
        out = {"all": len(labels)}
        out.update({k: int(v.sum()) for k, v in evaluation_sections(spec, labels).items()})
        return out
    except Exception:
        return {}


def tile_labels(config: dict, count: int) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Requested labels [count, 2] and section masks of a sample grid's ``count`` tiles; None when
    the config cannot be read."""
    try:
        from diffcomp.data.canvas import evaluation_labels, evaluation_sections

        spec = _spec(config)
        labels = evaluation_labels(spec)
        pick = tile_picks(len(labels), count)
        sections = evaluation_sections(spec, labels)
        return labels.numpy()[pick], {k: v.numpy()[pick].astype(bool) for k, v in sections.items()}
    except Exception:
        return None


def samples_first(row: dict) -> tuple:
    """Sort key of ``{dir, seed}`` rows: the lowest seed that has a sample grid comes first."""
    return (last_samples(row["dir"]) is None, row["seed"])


def held_out_sample_panel(ax, job_dir: Path, config: dict, title: str) -> bool:
    """The job's last sample grid with the tiles requested inside its held-out region outlined in red.

    The outlines are left out whenever the picture's shape says the grid is not the one the config
    describes. False when the job saved no grid."""
    from matplotlib.patches import Rectangle

    found = last_samples(job_dir)
    ax.set_xticks([])
    ax.set_yticks([])
    if found is None:
        ax.set_title(title + "\n(no samples)", fontsize=8)
        return False
    image = read_grid(found)
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    size, count = int(config["data"]["size"]), grid_count(config)
    inside = held_out_labels(config)
    if inside is not None and image.shape[:2] == grid_shape(size, count):
        for slot, index in enumerate(tile_picks(len(inside), count)):
            if inside[index]:
                y, x = tile_origin(slot, size)
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), size, size, fill=False, ec="red", lw=1.0))
    ax.set_title(title, fontsize=8)
    return True


def held_out_runs(sweep_dir: Path, holdout_type: str) -> list[dict]:
    """One row per complete job that holds out a ``holdout_type`` region (Figs. 11, 12): dir, config,
    metrics, data kind, place, width W, seed, held-out share of the 2D grid, training images."""
    out = []
    for job_dir, record in load_records(sweep_dir):
        config = record.get("config") or {}
        data = config.get("data") or {}
        holdout = data.get("holdout") or {}
        metrics = record.get("metrics") or {}
        if holdout.get("type") != holdout_type or "eval/acc" not in metrics:
            continue
        width = holdout.get("width")
        out.append(
            {
                "dir": job_dir,
                "config": config,
                "metrics": metrics,
                "data": str(data.get("kind") or data.get("name")),
                "place": str(holdout.get("place") or "interior"),
                "width": float(width) if width is not None else 6 * int(data.get("size", 32)) / 32,
                "seed": int(config.get("seed", record.get("seed", 0)) or 0),
                "held_out": (record.get("dataset") or {}).get("held_out_2d_fraction"),
                "images": (record.get("dataset") or {}).get("images"),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# the section figure: accuracy per evaluation section and model, over a row of samples per model
# (Fig. 4c-f and Fig. 10 draw it from sweeps over data.name with the cross held out)


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


def metric_values(runs: list[dict], key: str) -> np.ndarray:
    """The finite values of one metric over the runs (seeds)."""
    return finite_values(r["metrics"].get(key) for r in runs)


def section_prefix(section: str) -> str:
    """The metrics' prefix of an evaluation section (``all``: the overall metrics)."""
    return "eval/" if section == "all" else f"eval/{section}/"


def choose_tiles(
    n_tiles: int, sections: dict[str, np.ndarray] | None, want: Iterable[str], wanted: int
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
    subfig, groups: dict, models: list[str], labels: dict, want: Iterable[str], per_model: int = 8
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
        count = grid_count(run["config"])
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
                    f"{SECTION_SHORT.get(section, section)} ({mx:g},{my:g})",
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
    sizes = section_sizes(groups[models[0]][0]["config"])
    seeds = count_range_text(len(groups[m]) for m in models)
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
        f"{title}\nscale={scale}, {seeds} seed(s) per model; bars: mean over seeds, whiskers: min-max, dots: seeds",
        fontsize=9.5,
    )
    return save_figure(fig, out_path), groups, models


def section_table(
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
            cells = [range_text(metric_values(groups[model], section_prefix(section) + k)) for k, _, _ in ACCURACY_AXES]
            row = f"| {labels.get(model, model)} | {section} | {sizes.get(section, '-')} | " + " | ".join(cells) + " |"
            if paper:
                row += f" {paper.get((model, section), '')} |"
            lines.append(row)
    return lines


def failure_mode_cells(runs: list[dict]) -> list[str]:
    """Share of samples with no / one / several features (mean (min-max, n) over seeds)."""
    return [
        range_text(metric_values(runs, f"eval/frac_{k}")) for k in ("no_feature", "one_feature", "several_features")
    ]


# ---------------------------------------------------------------------------------------------
# sweeps over the shares of a 2D + 1D mixture (Figs. 4g, 5a-b and 5c)


def _part_fraction(parts: list, index: int, default: float) -> float:
    try:
        return float(parts[index].get("fraction", default))
    except (IndexError, AttributeError, TypeError, ValueError):
        return default


def mixture_runs_table(sweep_dir: Path):
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
