"""Fig. 10 (appendix C.2): overall / ID / OOD accuracy of the 1D-stripes model with and without the 2D rim.

The claim is that a handful of partly visible crossings (the rim) is enough compositional data for the
model to draw the crossing of two stripes; the bars compare x, y and joint accuracy of the two models
per region, and the sample rows show whether the stripes cross. The drawing is shared with Fig. 4's
script (``experiments/compose_not_interpolate/figure.py``: same records, same cross held out).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

NAME = "rim_compositions"
MODELS = {"stripes": "1D stripes (no rim)", "stripes_rim": "1D stripes + 2D rim"}
SECTIONS = [("all", "overall"), ("id", "in-distribution"), ("ood", "out-of-distribution (cross)")]
CROSS = [("vertical", "vertical"), ("horizontal", "horizontal"), ("intersection", "intersection")]


def _compose():
    """The Fig. 4 script, loaded by path as the figure loader does (experiments are not a package)."""
    path = Path(__file__).resolve().parents[1] / "compose_not_interpolate" / "figure.py"
    spec = importlib.util.spec_from_file_location("diffcomp_experiment_compose_not_interpolate_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draw(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Bars per region and model, one row of samples per model, and a markdown table; [] without records."""
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    base = _compose()
    png, groups, models = base.section_figure(
        sweep_dir,
        out_dir / f"{NAME}.png",
        MODELS,
        SECTIONS,
        want=["id", "vertical", "horizontal", "intersection"],
        title="Stripes with / without the 2D rim (Fig. 10)",
    )
    if png is None:
        return []
    sizes = base.section_sizes(groups[models[0]][0]["config"])
    lines = [
        f"# {NAME} (Fig. 10, appendix C.2), scale={base.scale_of(sweep_dir)}",
        "",
        "Final accuracy (mean (min-max, n seeds) over seeds; one value when one seed). OOD is the held-out",
        "cross; its three parts are listed too.",
        "",
        *base.markdown_table(groups, models, MODELS, SECTIONS + CROSS, sizes),
        "",
        "| model | seeds | train images (1d / rim / 0d) | no feature | one feature | several |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        runs = groups[model]
        ds = runs[0]["dataset"]
        images = f"{ds.get('images', '-')} ({ds.get('1d', 0)} / {ds.get('rim', 0)} / {ds.get('0d', 0)})"
        cells = [
            base.stat(base.values(runs, f"eval/frac_{k}")) for k in ("no_feature", "one_feature", "several_features")
        ]
        lines.append(f"| {MODELS.get(model, model)} | {len(runs)} | {images} | " + " | ".join(cells) + " |")
    md = out_dir / f"{NAME}.md"
    md.write_text("\n".join(lines) + "\n")
    return [png, md]
