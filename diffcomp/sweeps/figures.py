"""An experiment's figure, drawn from its sweep directory by the experiment's own script.

Each experiment folder ``experiments/<name>/`` holds ``figure.py`` with
``draw(sweep_dir: Path, out_dir: Path) -> list[Path]``, which reads the sweep's records (finished or
not: a partly finished sweep draws what it has) and writes the paper's figure. The experiment's
name is the ``experiment=`` choice Hydra saved in ``<sweep dir>/multirun.yaml``, so the figure is
drawn when a sweep ends (:class:`~diffcomp.sweeps.aggregate.AggregateCallback`) and again, from any
sweep directory, by ``diffcomp-figures <sweep dir>``.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

from omegaconf import OmegaConf

from diffcomp.config.paths import EXPERIMENTS_DIR

log = logging.getLogger(__name__)
FIGURES_DIR = "figures"


def experiment_of(sweep_dir: Path) -> str | None:
    """The ``experiment=`` choice of a sweep (from Hydra's ``multirun.yaml``), or None."""
    saved = Path(sweep_dir) / "multirun.yaml"
    if not saved.exists():
        return None
    cfg = OmegaConf.load(saved)
    return OmegaConf.select(cfg, "hydra.runtime.choices.experiment")


def figure_script(name: str) -> ModuleType | None:
    """``experiments/<name>/figure.py`` as a module, or None when the experiment has no figure."""
    path = EXPERIMENTS_DIR / name / "figure.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"diffcomp_experiment_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses and pickling look themselves up there
    spec.loader.exec_module(module)
    return module


def draw_figures(sweep_dir: str | Path, experiment: str | None = None, out_dir: str | Path | None = None) -> list[Path]:
    """Draw the experiment's figure into ``<sweep dir>/figures`` (empty list when it has none)."""
    sweep_dir = Path(sweep_dir)
    experiment = experiment or experiment_of(sweep_dir)
    script = figure_script(experiment) if experiment else None
    if script is None:
        return []
    out = Path(out_dir) if out_dir else sweep_dir / FIGURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in script.draw(sweep_dir, out)]
    gates = write_gates(sweep_dir, out) if paths else None
    return paths + ([gates] if gates else [])


def write_gates(sweep_dir: Path, out_dir: Path) -> Path | None:
    """``gates.md`` beside the figure: every complete job's validity gate (its experiment's level on
    its own training distribution), so a figure is never read without knowing which models learned
    their data. None when no record declares a gate (a theory experiment, schema-1 records)."""
    from diffcomp.report.gates import gate_summary, gate_table
    from diffcomp.report.tables import write_lines
    from diffcomp.results import load_records

    records = load_records(sweep_dir)
    summary = gate_summary(records)
    if summary is None:
        return None
    verdict = "every model passed" if summary.holds else "**some models missed it: their claims are inconclusive**"
    lines = [f"# Validity gate: {summary.text()}; {verdict}", "", *gate_table(records)]
    return write_lines(out_dir / "gates.md", lines)
