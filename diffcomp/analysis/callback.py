"""Representation analysis during training (a Lightning callback) and on a finished run (a command).

The callback reads the probed layer's activations that ``DiffusionModule.validation_step`` captured
at the last generation step, every ``every_n_evals``-th evaluation, so one run yields the curves
over training of Fig. 2c / Fig. 8. Numeric scalars go to the module's metrics (hence W&B and the
CSV log) and to the run's record; figures go to ``analysis/step_<k>/`` and to W&B.

    python -m diffcomp.analysis.callback <run dir> [--sampler ddim --steps 100 --layer down3]

runs the same analysis on a finished run's weights and adds it to that run's ``results.json``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import lightning as L

from diffcomp.analysis.report import analyze_representation

log = logging.getLogger(__name__)


class RepresentationCallback(L.Callback):
    """Analyse the captured activations at every ``every_n_evals``-th evaluation (and the last)."""

    def __init__(
        self,
        out_dir: str | Path,
        every_n_evals: int = 1,
        umap: bool = True,
        topology: bool = True,
        torus_tests: bool = True,
        probes: bool = True,
        conditions: bool = True,
        top_k: int = 10,
        seed: int = 0,
    ):
        self.out_dir = Path(out_dir)
        self.every_n_evals = max(1, every_n_evals)
        self.options = dict(umap=umap, topology=topology, torus_tests=torus_tests, probes=probes, conditions=conditions, top_k=top_k, seed=seed)
        self.evaluations = 0
        self.history: list[dict] = []
        self.latest: dict = {}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        labels, _, acts = pl_module.eval_samples.cat() if pl_module.eval_samples.labels else (None, None, None)
        if acts is None:
            return
        self.evaluations += 1
        final = not trainer.training  # the evaluation after training (trainer.validate)
        if not final and (self.evaluations - 1) % self.every_n_evals:
            return
        folder = self.out_dir / "analysis" / f"step_{trainer.global_step:07d}"
        scalars, figures = analyze_representation(acts.numpy(), labels.numpy(), folder, period=trainer.datamodule.period, **self.options)
        for key, value in scalars.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                pl_module.log(key, float(value))
        for logger in trainer.loggers:
            if hasattr(logger, "log_image") and figures:
                for name, path in figures.items():
                    logger.log_image(key=f"repr/{name}", images=[str(path)], step=trainer.global_step)
        self.latest = scalars
        self.history.append({"step": trainer.global_step, "epoch": trainer.current_epoch, **scalars})
        log.info("representation at step %d: participation ratio %.2f", trainer.global_step, scalars.get("repr/participation_ratio", float("nan")))

    def state_dict(self) -> dict:
        return {"history": self.history, "evaluations": self.evaluations}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
        self.evaluations = int(state_dict.get("evaluations", 0))


def analyze_finished_run(run_dir: Path, sampler: str = "ddim", steps: int = 100, layer: str | None = None, batch: int = 256, **options) -> dict:
    """Sample the evaluation grid from a finished run, analyse the layer, update its record."""
    import torch

    from diffcomp.api import load_run
    from diffcomp.data.canvas import CanvasSpec, evaluation_labels
    from diffcomp.data.datamodule import spec_options
    from diffcomp.results import RECORD_NAME, read_record, write_json_atomic

    run = load_run(run_dir)
    layer = layer or run.config.eval.probe_layer or "down3"
    spec = CanvasSpec.from_options(**spec_options(run.config.data))
    labels = evaluation_labels(spec).float()
    acts = torch.cat([run.sample(chunk, sampler=sampler, steps=steps, layer=layer)[1] for chunk in labels.split(batch)])
    period = float(spec.size) if spec.periodic else None
    scalars, figures = analyze_representation(acts.numpy(), labels.numpy(), run_dir / "analysis" / "final", period=period, **options)
    record = read_record(run_dir) or {}
    record["analysis"] = {"layer": layer, "sampler": sampler, "steps": steps, **scalars}
    write_json_atomic(run_dir / RECORD_NAME, record)
    return {"scalars": scalars, "figures": {k: str(v) for k, v in figures.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Representation analysis of a finished run.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sampler", default="ddim", choices=["ddim", "ddpm"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--layer", default=None, help="default: the run's eval.probe_layer")
    parser.add_argument("--no-umap", action="store_true")
    parser.add_argument("--no-topology", action="store_true")
    args = parser.parse_args(argv)
    result = analyze_finished_run(args.run_dir, args.sampler, args.steps, args.layer, umap=not args.no_umap, topology=not args.no_topology)
    for key, value in result["scalars"].items():
        print(f"{key}: {value}")
    print(f"figures in {args.run_dir / 'analysis' / 'final'}; record updated: {args.run_dir / 'results.json'}")


if __name__ == "__main__":
    main()
