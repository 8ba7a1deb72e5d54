"""Collect a sweep's records into one table, summarise it, and draw its standard plots.

The command is ``python -m diffcomp.aggregate <sweep dir>`` (:mod:`diffcomp.cli.aggregate`).

Every ``results.json`` under the sweep directory (any depth: a Hydra sweep, a SLURM array, copies
gathered by hand) becomes one row: the job's overrides as columns (``data.sigma``, ``lambda``, ...),
its flattened metrics, status, timings, device and output directory. Failed, unfinished (``running``,
``interrupted``) and unreadable records are listed in the summary and never stop the others from
being tabulated. The table is written as CSV (and Parquet when pyarrow happens to be installed).

Plots use the complete runs and the parameters that vary: ``--x`` (default: the swept parameter with
most values) against ``--metric`` with a line per ``--hue`` value, and a heat map over x and hue.
With W&B enabled the table and plots also go to a summary run in the sweep's W&B group.
:class:`AggregateCallback` runs all this at the end of every multirun (``hydra.callbacks``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from diffcomp.files import atomic_path
from diffcomp.results import RECORD_NAME, Record, UnreadableRecord, load_record_of, record_paths
from diffcomp.sweeps.figures import draw_figures

log = logging.getLogger(__name__)

REPLICATE_KEYS = ("seed",)
RECORD_FIELDS = ("status", "error", "seed", "device", "host", "started", "finished", "git_commit", "config_hash")
PARTIAL = ("running", "interrupted")


@dataclass
class Sweep:
    """A sweep's table and what the summary must point out."""

    table: Any  # pandas.DataFrame, one row per record
    params: list[str]  # override columns, in first-seen order
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def rows(self, status: str | tuple[str, ...]):
        wanted = (status,) if isinstance(status, str) else status
        return self.table[self.table["status"].isin(wanted)]

    def swept(self) -> list[str]:
        """Parameters that take more than one value among the complete runs, most values first
        (replicate axes such as ``seed`` are not parameters of a point: see :meth:`replicates`)."""
        done = self.rows("complete")
        varying = [
            p for p in self.params if p in done and p not in REPLICATE_KEYS and done[p].astype(str).nunique() > 1
        ]
        return sorted(varying, key=lambda p: -done[p].astype(str).nunique())

    def replicates(self) -> list[str]:
        """The swept replicate axes (``seed``): runs differing only in these repeat one point."""
        done = self.rows("complete")
        return [p for p in self.params if p in REPLICATE_KEYS and p in done and done[p].astype(str).nunique() > 1]

    def metric_columns(self) -> list[str]:
        import pandas as pd

        done = self.rows("complete")
        return [
            c
            for c in done.columns
            if "/" in c and not c.startswith("timings/") and pd.api.types.is_numeric_dtype(done[c])
        ]


def flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to ``a/b`` keys, keeping scalars only (lists and images stay in the record)."""
    flat = {}
    for key, value in (mapping or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        elif value is None or isinstance(value, (int, float, str, bool)):
            flat[name] = value
    return flat


def record_row(record: Record) -> tuple[dict, list[str]]:
    """One table row of a record, and the parameter columns it brought (the values its job resolved)."""
    # a table cell is a scalar: a list or mapping a job set (model.channels=[8,16,32,32]) is shown as its JSON
    row = {
        k: v if v is None or isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in record.params.items()
    }
    for name in RECORD_FIELDS:
        row.setdefault(name, record.seed if name == "seed" else record.get(name))
    row.update(flatten(record.metrics))
    row.update(flatten(record.timings, "timings/"))
    resumed = record.get("resumed_from")
    row["resumed_from_step"] = resumed.get("step") if isinstance(resumed, dict) else None
    row["output_dir"] = str(record.job_dir)
    return row, list(record.params)


def collect(sweep_dir: str | Path) -> Sweep:
    """Read every ``results.json`` under ``sweep_dir``; unreadable ones become ``unreadable`` rows."""
    import pandas as pd

    rows, params, unreadable = [], [], []
    for path in record_paths(sweep_dir):
        try:
            record = load_record_of(path.parent)
        except UnreadableRecord as error:
            reason = str(error).removeprefix(f"{path}: ")
            unreadable.append((str(path), reason))
            rows.append({"status": "unreadable", "error": reason, "output_dir": str(path.parent)})
            continue
        row, keys = record_row(record)
        rows.append(row)
        params += [k for k in keys if k not in params]
    table = pd.DataFrame(rows)
    if not table.empty:
        first = [p for p in params if p in table] + ["status"]
        table = table[first + [c for c in table.columns if c not in first]]
    return Sweep(table, params, unreadable)


def default_metric(sweep: Sweep) -> str | None:
    """``eval/acc`` (the paper's accuracy) when present, else the first numeric metric column."""
    import pandas as pd

    done = sweep.rows("complete")
    if "eval/acc" in done:
        return "eval/acc"
    skip = set(sweep.params) | set(RECORD_FIELDS) | {"output_dir", "resumed_from_step"}
    for column in done.columns:
        if column not in skip and not column.startswith("timings/") and pd.api.types.is_numeric_dtype(done[column]):
            return column
    return None


def summarise(sweep: Sweep, metric: str | None, x: str | None, hue: str | None) -> str:
    """The text a researcher reads first: counts, every problem, and the metric over the swept grid."""
    table = sweep.table
    counts = table["status"].value_counts().to_dict() if not table.empty else {}
    lines = [
        f"{len(table)} run(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if counts
        else "no records found"
    ]

    # Name runs by the parameters that differ between them, not the overrides they all share.
    varying = [p for p in sweep.params if table[p].astype(str).nunique() > 1] or sweep.params

    def name(row) -> str:
        shown = ",".join(f"{p}={row[p]}" for p in varying if p in row and row[p] == row[p] and row[p] is not None)
        return shown or Path(row["output_dir"]).name

    failed = sweep.rows("failed")
    if len(failed):
        lines.append(f"FAILED ({len(failed)}; a rerun of the sweep redoes them):")
        lines += [f"  {name(r)}: {r.get('error')}\n    {r['output_dir']}" for _, r in failed.iterrows()]
    partial = sweep.rows(PARTIAL)
    if len(partial):
        lines.append(f"UNFINISHED ({len(partial)}; still running, or stopped: a rerun resumes them):")
        lines += [
            f"  {name(r)}: {r['status']}"
            + (f" ({r.get('error')})" if isinstance(r.get("error"), str) else "")
            + f"\n    {r['output_dir']}"
            for _, r in partial.iterrows()
        ]
    if sweep.unreadable:
        lines.append(f"UNREADABLE ({len(sweep.unreadable)} record(s), left out of the plots):")
        lines += [f"  {path}: {reason}" for path, reason in sweep.unreadable]
    swept = sweep.swept()
    if swept:
        done = sweep.rows("complete")
        lines.append("swept: " + ", ".join(f"{p} ({done[p].astype(str).nunique()} values)" for p in swept))
    replicates = sweep.replicates()
    if replicates:
        done = sweep.rows("complete")
        counts = done.groupby(swept, dropna=False).size() if swept else [len(done)]
        lines.append(
            f"replicates: {', '.join(replicates)} ({min(counts)}-{max(counts)} per point; mean and std per point in by_point.csv)"
        )
    if metric and x and metric in sweep.table:
        done = sweep.rows("complete")
        if hue:
            grid = done.pivot_table(index=hue, columns=x, values=metric, aggfunc="mean")
        else:
            grid = done.groupby(x)[metric].mean().to_frame().T
        lines.append(
            f"{metric} (mean{' over ' + ', '.join(replicates) if replicates else ''}) by {hue + ' x ' if hue else ''}{x}:"
        )
        lines.append(grid.to_string(float_format=lambda v: f"{v:.3g}"))
        if replicates:
            spread = (
                done.pivot_table(index=hue, columns=x, values=metric, aggfunc="std")
                if hue
                else done.groupby(x)[metric].std().to_frame().T
            )
            lines.append(f"{metric} (std over {', '.join(replicates)}):")
            lines.append(spread.to_string(float_format=lambda v: f"{v:.3g}"))
    return "\n".join(lines)


def by_point(sweep: Sweep):
    """Mean, spread (std) and number of replicates of every metric per point of the sweep (a point
    is one combination of the swept parameters other than ``seed``); None without replicates."""
    if not sweep.replicates():
        return None
    done = sweep.rows("complete")
    points = [p for p in sweep.swept() if p in done]
    metrics = sweep.metric_columns()
    keys = points or (lambda _: 0)
    grouped = done.groupby(keys, dropna=False)[metrics]
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{metric}/{stat}" for metric, stat in table.columns]
    table.insert(0, "n_seeds", grouped.size())
    return table.reset_index(drop=not points)


def choose_axes(sweep: Sweep, x: str | None, hue: str | None) -> tuple[str | None, str | None]:
    """The plot's x (most values) and hue (next) among swept parameters, unless given."""
    swept = sweep.swept()
    x = x or next((p for p in swept if p != hue), None)
    hue = hue or next((p for p in swept if p != x), None)
    return x, hue


def aggregate(
    sweep_dir: str | Path,
    metric: str | None = None,
    x: str | None = None,
    hue: str | None = None,
    out: str | Path | None = None,
    wandb: bool | None = None,
) -> dict:
    """Write the table, the summary and the plots of ``sweep_dir`` into ``out`` (default
    ``<sweep_dir>/aggregate``); returns the paths and the summary text."""
    import pandas as pd

    from diffcomp.sweeps.plots import metric_heatmap, metric_lines, slug

    sweep_dir = Path(sweep_dir)
    out = Path(out) if out else sweep_dir / "aggregate"
    sweep = collect(sweep_dir)
    if sweep.table.empty:
        return {"summary": f"no {RECORD_NAME} under {sweep_dir}", "table": None, "plots": [], "sweep": sweep}
    for given, flag in ((x, "--x"), (hue, "--hue")):
        if given and given not in sweep.params:
            raise SystemExit(
                f"{flag} {given}: not a parameter of this sweep (its parameters: {', '.join(sweep.params) or 'none'})"
            )
    metric = metric or default_metric(sweep)
    if metric and metric not in sweep.table:
        raise SystemExit(
            f"--metric {metric}: no such column (metrics: {', '.join(c for c in sweep.table.columns if '/' in c)})"
        )
    x, hue = choose_axes(sweep, x, hue)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "results.csv"}
    with atomic_path(paths["table"]) as tmp:  # two launches of one sweep may aggregate at once
        sweep.table.to_csv(tmp, index=False)
    try:
        import pyarrow  # noqa: F401 - optional

        paths["parquet"] = out / "results.parquet"
        sweep.table.astype({c: str for c in sweep.table.columns if sweep.table[c].dtype == object}).to_parquet(
            paths["parquet"], index=False
        )
    except ImportError:
        pass
    points = by_point(sweep)
    if points is not None:
        paths["by_point"] = out / "by_point.csv"
        with atomic_path(paths["by_point"]) as tmp:
            points.to_csv(tmp, index=False)
    summary = summarise(sweep, metric, x, hue)
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text(summary + "\n")
    plots = []
    done = sweep.rows("complete")
    if metric and x and len(done) and pd.api.types.is_numeric_dtype(done[metric]) and done[metric].notna().any():
        done = done[done[metric].notna()]
        plots.append(metric_lines(done, metric, x, hue, out / f"{slug(metric)}_vs_{slug(x)}.png", sweep.params))
        if hue:
            plots.append(
                metric_heatmap(done, metric, x, hue, out / f"{slug(metric)}_{slug(hue)}_x_{slug(x)}.png", sweep.params)
            )
    result = {"summary": summary, "table": paths["table"], "plots": plots, "sweep": sweep, **paths}
    if wandb if wandb is not None else wandb_wanted(sweep):
        result["wandb_run"] = log_to_wandb(sweep, sweep_dir, plots)
    return result


def wandb_wanted(sweep: Sweep) -> bool:
    """Log to W&B when the sweep's jobs did (``logger=wandb``) and ``WANDB_MODE`` isn't ``disabled``."""
    if os.environ.get("WANDB_MODE", "").lower() == "disabled":
        return False
    return bool(_logger_options(sweep.table).get("kind") == "wandb")


def _logger_options(table) -> dict:
    for path in table.get("output_dir", []):
        try:
            record = load_record_of(Path(path))
        except UnreadableRecord:
            continue
        if record is not None and "logger" in record.config:
            return record.config["logger"] or {}
    return {}


def log_to_wandb(sweep: Sweep, sweep_dir: Path, plots: list[Path]) -> str | None:
    """A summary run in the sweep's group (the sweep directory's name, as every job of it uses),
    with a stable id so aggregating again updates the same run."""
    import wandb

    options = _logger_options(sweep.table)
    group = sweep_dir.resolve().name
    run_id = hashlib.sha1(f"{sweep_dir.resolve()}:aggregate".encode()).hexdigest()[:12]
    run = wandb.init(
        project=options.get("project", "diffcomp"),
        entity=options.get("entity"),
        group=group,
        name=f"{group}-aggregate",
        job_type="aggregate",
        id=run_id,
        resume="allow",
        mode=os.environ.get("WANDB_MODE", options.get("mode", "offline")),
        dir=str(sweep_dir),
    )
    try:
        table = sweep.table.astype({c: str for c in sweep.table.columns if sweep.table[c].dtype == object})
        logged = {
            "sweep/results": wandb.Table(dataframe=table),
            **{f"sweep/{p.stem}": wandb.Image(str(p)) for p in plots},
        }
        points = by_point(sweep)
        if points is not None:  # seeds as replicates: mean, std and count per point, as in by_point.csv
            logged["sweep/by_point"] = wandb.Table(
                dataframe=points.astype({c: str for c in points.columns if points[c].dtype == object})
            )
        run.log(logged)
        return run.id
    finally:
        run.finish()


def finish_sweep(sweep_dir: str | Path) -> dict:
    """Aggregate a sweep and draw its experiment's figure: what runs when a sweep ends, in the
    launching process or, for a detached SLURM launch, as a job after the array (``afterany``)."""
    result = aggregate(sweep_dir)
    result["figures"] = draw_figures(sweep_dir)
    print(f"== sweep summary ({sweep_dir}) ==\n{result['summary']}")
    return {"summary": result["summary"], "table": str(result["table"]), "figures": [str(p) for p in result["figures"]]}


class AggregateCallback(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends, and draw its experiment's figure
    (:mod:`diffcomp.sweeps.figures`). Never fails the sweep."""

    def __init__(self, enabled: bool = True, metric: str | None = None) -> None:
        self.enabled = enabled
        self.metric = metric

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        if not self.enabled or config.get("dry_run", False):
            return
        if OmegaConf.select(config, "hydra.launcher.detach", default=False):
            return  # a detached SLURM launch: the dependent job aggregates when the array has ended
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            if not any(sweep_dir.rglob(RECORD_NAME)):
                return  # nothing ran (manifest only)
            result = aggregate(sweep_dir, metric=self.metric)
            print(f"\n== sweep summary ({sweep_dir}) ==\n{result['summary']}\ntable: {result['table']}")
        except (Exception, SystemExit) as error:
            log.warning(
                "aggregating %s failed (%s: %s); run `python -m diffcomp.aggregate %s` to retry",
                sweep_dir,
                type(error).__name__,
                error,
                sweep_dir,
            )
        experiment = OmegaConf.select(config, "hydra.runtime.choices.experiment")
        try:
            for path in draw_figures(sweep_dir, experiment):
                print(f"figure: {path}")
        except Exception as error:
            log.warning(
                "drawing the figure of %s failed (%s: %s); run `diffcomp-figures %s` to retry",
                sweep_dir,
                type(error).__name__,
                error,
                sweep_dir,
            )
