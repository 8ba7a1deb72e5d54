"""Representation analysis during training, as a Lightning callback.

The callback receives the probed layer's activations that ``DiffusionModule.validation_step``
captured at the last generation step (in the :class:`~diffcomp.eval.contract.EvaluationPass`), every
``every_n_evals``-th evaluation and at the last one, so one run yields the curves over training of
Fig. 2c / Fig. 8. Numeric scalars go to the module's metrics
(hence W&B and the CSV log) and to the run's record; figures go to ``analysis/step_<k>/`` and to
W&B. ``diffcomp-analyze <run dir>`` runs the same analysis on a finished run's weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L

from diffcomp.analysis.report import analyze_representation
from diffcomp.eval.contract import EvaluationPass, EvaluatorCallback

log = logging.getLogger(__name__)


class RepresentationCallback(EvaluatorCallback):
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
        super().__init__()
        self.out_dir = Path(out_dir)
        self.every_n_evals = max(1, every_n_evals)
        self.options = dict(
            umap=umap,
            topology=topology,
            torus_tests=torus_tests,
            probes=probes,
            conditions=conditions,
            top_k=top_k,
            seed=seed,
        )
        self.evaluations = 0

    def on_evaluation(self, trainer: L.Trainer, pl_module, evaluation: EvaluationPass) -> None:
        labels, _, acts = evaluation.samples.cat()
        if acts is None:
            return
        self.evaluations += 1
        # the last evaluation: after training (trainer.validate), or the cadence's one at the last step
        final = not trainer.training or trainer.global_step >= trainer.estimated_stepping_batches
        if not final and (self.evaluations - 1) % self.every_n_evals:
            return
        folder = self.out_dir / "analysis" / f"step_{trainer.global_step:07d}"
        scalars, figures = analyze_representation(
            acts.numpy(), labels.numpy(), folder, period=trainer.datamodule.period, **self.options
        )
        for key, value in scalars.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                pl_module.log(key, float(value))
        for logger in trainer.loggers:
            if hasattr(logger, "log_image") and figures:
                for name, path in figures.items():
                    if path.suffix != ".png":
                        continue
                    logger.log_image(key=f"repr/{name}", images=[str(path)], step=trainer.global_step)
        self.latest = scalars
        self.history.append({"step": trainer.global_step, "epoch": trainer.current_epoch, **scalars})
        log.info(
            "representation at step %d: participation ratio %.2f",
            trainer.global_step,
            scalars.get("repr/participation_ratio", float("nan")),
        )

    def state_dict(self) -> dict:
        return {"history": self.history, "evaluations": self.evaluations}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
        self.evaluations = int(state_dict.get("evaluations", 0))
