"""Fig. 4c-f: x, y and joint accuracy per section of the held-out cross, per model, with samples.

The paper's argument rests on *which* coordinate is right *where*: a model that composes but cannot
interpolate gets the coordinate outside the cut right and the one inside it wrong in each arm of the
cross, and both wrong in the intersection. So the figure shows three bars (x, y, joint) per model
and section, and under them one row of final samples per model, picked from the sections with the
target marked, because a bar cannot tell a missing stripe from a misplaced one.

Only records and saved sample arrays are read (no model is loaded), so ``draw`` works on partial sweeps and
runs in seconds. The section figure and table are :mod:`diffcomp.report.sections`, shared
with ``experiments/rim_compositions/figure.py``; the models, sections and the paper's predictions are
this experiment's.
"""

from __future__ import annotations

from pathlib import Path

from diffcomp.report import history, sections, tables

NAME = "compose_not_interpolate"

# data.name -> legend label, in the paper's order (Fig. 4: 2D, 1D, 2D+1D).
MODELS = {"sos": "2D (SOS)", "stripes": "1D (stripes)", "sos_stripes": "2D+1D"}
SECTIONS = [
    ("id", "in-distribution"),
    ("vertical", "vertical: mu_x in cut"),
    ("horizontal", "horizontal: mu_y in cut"),
    ("intersection", "intersection"),
]

# Sec. 3.2's predictions, in this repository's section names: ``vertical`` is mu_x inside the cut
# (mu_y a trained value), ``horizontal`` the reverse. A model that composes but cannot interpolate
# gets the coordinate *outside* the cut right. The paper words it "high accuracy in generating mu_x
# ... in the vertical section": its x apparently indexes image rows, so its vertical section is
# our horizontal one; the statement (the uncut coordinate is right) is the same.
PAPER = {
    ("sos", "id"): "high",
    ("sos", "vertical"): "y high, x low",
    ("sos", "horizontal"): "x high, y low",
    ("sos", "intersection"): "both low",
    ("stripes", "id"): "one axis only, joint low (no 2D data anywhere)",
    ("stripes", "vertical"): "one axis only, joint low",
    ("stripes", "horizontal"): "one axis only, joint low",
    ("stripes", "intersection"): "one axis only, joint low",
    ("sos_stripes", "id"): "high",
    ("sos_stripes", "vertical"): "high",
    ("sos_stripes", "horizontal"): "high",
    ("sos_stripes", "intersection"): "high",
}


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Fig. 4c-f from a (possibly partial) sweep: bars per section and samples; plus a markdown table."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    scale = history.scale_of(sweep_dir, default="unknown")
    shown = [("all", "all labels")] + SECTIONS
    png, groups, models = sections.section_figure(
        sweep_dir,
        out_dir / f"{NAME}.png",
        MODELS,
        shown,
        title="Compose, not interpolate (Fig. 4c-f): cross held out",
        scale=scale,
    )
    if png is None:
        return []
    sizes = sections.section_sizes(groups[models[0]][0])
    lines = [
        f"# {NAME} (Fig. 4c-f), scale={scale}",
        "",
        "Final accuracy per section of the held-out cross (mean (min-max, n seeds) over seeds; one value when one seed).",
        "",
        *sections.section_table(groups, models, MODELS, shown, sizes, PAPER),
        "",
        "Failure modes over all labels (fraction of samples with no / one / several features):",
        "",
    ]
    rows = []
    for model in models:
        runs = groups[model]
        images = sorted({r.data.get("images") for r in runs if r.data.get("images") is not None})
        rows.append(
            [
                MODELS.get(model, model),
                len(runs),
                *sections.failure_mode_cells(runs),
                ", ".join(map(str, images)) or "-",
            ]
        )
    header = ["model", "seeds", "no feature", "one feature", "several", "train images"]
    lines += tables.markdown_table(header, rows)
    return [png, tables.write_lines(out_dir / f"{NAME}.md", lines)]
