"""Fig. 10 (appendix C.2): overall / ID / OOD accuracy of the 1D-stripes model with and without the 2D rim.

The claim is that a handful of partly visible crossings (the rim) is enough compositional data for the
model to draw the crossing of two stripes; the bars compare x, y and joint accuracy of the two models
per region, and the sample rows show whether the stripes cross. The drawing is the section figure of
:mod:`diffcomp.report.sections`, which Fig. 4's script draws too (same records, same cross held
out); the models, regions and the image-count table are this experiment's.
"""

from __future__ import annotations

from pathlib import Path

from diffcomp.report import history, sections, tables

NAME = "rim_compositions"
MODELS = {"stripes": "1D stripes (no rim)", "stripes_rim": "1D stripes + 2D rim"}
SECTIONS = [("all", "overall"), ("id", "in-distribution"), ("ood", "out-of-distribution (cross)")]
CROSS = [("vertical", "vertical"), ("horizontal", "horizontal"), ("intersection", "intersection")]


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Bars per region and model, one row of samples per model, and a markdown table; [] without records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    scale = history.scale_of(sweep_dir, default="unknown")
    png, groups, models = sections.section_figure(
        sweep_dir,
        out_dir / f"{NAME}.png",
        MODELS,
        SECTIONS,
        title="Stripes with / without the 2D rim (Fig. 10)",
        scale=scale,
    )
    if png is None:
        return []
    lines = [
        f"# {NAME} (Fig. 10, appendix C.2), scale={scale}",
        "",
        "Final accuracy (mean (min-max, n seeds) over seeds; one value when one seed). OOD is the held-out",
        "cross; its three parts are listed too.",
        "",
        *sections.section_table(groups, models, MODELS, SECTIONS + CROSS, sections.section_sizes(groups[models[0]][0])),
        "",
    ]
    rows = []
    for model in models:
        runs = groups[model]
        ds = runs[0].data
        images = f"{ds.get('images', '-')} ({ds.get('1d', 0)} / {ds.get('rim', 0)} / {ds.get('0d', 0)})"
        rows.append([MODELS.get(model, model), len(runs), images, *sections.failure_mode_cells(runs)])
    header = ["model", "seeds", "train images (1d / rim / 0d)", "no feature", "one feature", "several"]
    lines += tables.markdown_table(header, rows)
    return [png, tables.write_lines(out_dir / f"{NAME}.md", lines)]
