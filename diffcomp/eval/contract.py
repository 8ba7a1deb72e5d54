"""The evaluation contract: what the module hands the evaluation callbacks, and what they hand back.

One way in: at every evaluation, :class:`~diffcomp.diffusion.module.DiffusionModule` collects an
:class:`EvaluationPass` (the samples at the evaluation labels and at the fixed sample of training
labels, and the training loss of the interval before); an :class:`EvaluatorCallback` receives it in
:meth:`EvaluatorCallback.on_evaluation`, in Lightning's ``on_validation_epoch_end`` (so while the EMA
weights are still swapped in), and never reads the module's attributes for it.

One way out: :class:`Evaluator`, what ``diffcomp.train.run`` reads of an evaluation callback for the
run's record (``latest``, ``history``, ``sample_seconds`` and ``record_sections()``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import lightning as L

from diffcomp.diffusion.module import EvalSamples, EvaluationPass

__all__ = ["EvalSamples", "EvaluationPass", "Evaluator", "EvaluatorCallback"]


@runtime_checkable
class Evaluator(Protocol):
    """What the run's record takes from an evaluation callback (``eval.callback``, ``analysis``)."""

    history: list[dict]  # one entry per evaluation: step, epoch, the metrics
    latest: dict  # the last evaluation's metrics
    sample_seconds: float | None  # sampling wall time of the last evaluation (None before any)

    def record_sections(self) -> dict:
        """Record entries beyond the flat metrics (``{}`` when there are none)."""
        ...


class EvaluatorCallback(L.Callback):
    """A Lightning callback that scores each :class:`EvaluationPass`; subclasses implement
    :meth:`on_evaluation` and fill ``latest`` and ``history``. Satisfies :class:`Evaluator`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict] = []
        self.latest: dict = {}
        self.sample_seconds: float | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        evaluation = None if trainer.sanity_checking else pl_module.evaluation_pass()
        if evaluation is None:  # Lightning's sanity check, or a pass that sampled nothing
            return
        self.sample_seconds = evaluation.samples.seconds
        self.on_evaluation(trainer, pl_module, evaluation)

    def on_evaluation(self, trainer: L.Trainer, pl_module, evaluation: EvaluationPass) -> None:
        raise NotImplementedError

    def record_sections(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
