"""Sweeps over the shares of a 2D + 1D mixture (Figs. 4g, 5a-b and 5c): one row per run."""

from __future__ import annotations

import math
from pathlib import Path

from diffcomp.results import load_records


def mixture_runs_table(sweep_dir: Path):
    """One row per complete run: N, the 2D share kept (``f2d``), the stripes share (``stripes``),
    seed, image counts, and every numeric ``eval/*`` metric.

    The shares are the resolved dataset's parts (the record's ``data.parts``: first the 2D part, then
    the stripes), so runs launched with other override spellings still sort into the right arm."""
    import pandas as pd

    rows = []
    for record in load_records(sweep_dir):
        parts = record.data.get("parts") or []
        fractions = [float(p.get("fraction", 1.0)) for p in parts if isinstance(p, dict)]
        row = {
            "dir": str(record.job_dir),
            "N": int(record.data.get("size") or 0),
            "f2d": fractions[0] if fractions else 1.0,
            "stripes": fractions[1] if len(fractions) > 1 else 0.0,
            "seed": record.seed,
            "images": record.data.get("images"),
            "n2d": record.data.get("2d", 0),  # absent from the counts: no 2D images
            "held_out": record.data.get("held_out_2d_fraction"),
        }
        for key, value in record.metrics.items():
            if key.startswith("eval/") and isinstance(value, (int, float)) and math.isfinite(value):
                row[key] = float(value)
        rows.append(row)
    return pd.DataFrame(rows)


def arm_name(stripes: float) -> str:
    """``2D only`` / ``2D + 1D stripes`` (with the share when the stripes are subsampled too)."""
    if stripes <= 0:
        return "2D only"
    return "2D + 1D stripes" if stripes >= 1 else f"2D + {stripes:.0%} of the 1D stripes"
