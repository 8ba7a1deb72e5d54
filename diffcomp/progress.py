"""One progress bar per job: optimizer steps out of the budget, with the training loss.

Lightning's bar restarts at every epoch; with a budget in steps over a small dataset (8 batches an
epoch in the quick default) that is hundreds of bars. This one spans the whole budget, shows no
validation bars (an evaluation's headline is logged instead), and refreshes at most ~100 times when
the output is not a terminal (a SLURM log stays readable).
"""

from __future__ import annotations

import sys

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

UPDATES_IN_A_LOG = 100


class StepProgressBar(TQDMProgressBar):
    def __init__(self) -> None:
        super().__init__(refresh_rate=1, leave=False)

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self.train_progress_bar = self.init_train_tqdm()
        total = int(trainer.estimated_stepping_batches)
        bar = self.train_progress_bar
        bar.total, bar.initial = total, trainer.global_step
        bar.n = trainer.global_step
        bar.set_description("training")
        if not sys.stdout.isatty():
            self._refresh_rate = max(1, total // UPDATES_IN_A_LOG)

    def on_train_epoch_start(self, trainer: L.Trainer, *_) -> None:
        pass  # one bar for the whole budget

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if self._should_update(step, self.train_progress_bar.total):
            self.train_progress_bar.n = step
            self.train_progress_bar.set_postfix(
                loss=f"{float(outputs['loss']):.4f}" if isinstance(outputs, dict) else None, refresh=True
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        pass

    def get_metrics(self, trainer: L.Trainer, pl_module) -> dict:
        return {}  # the postfix shows the loss alone (no v_num, no evaluation scalars)

    def on_validation_start(self, trainer: L.Trainer, pl_module) -> None:
        # the evaluation's headline gets a line of its own, also in a log file
        bar = self._train_progress_bar
        if bar is not None and not bar.disable:
            if sys.stdout.isatty():
                bar.clear()
            else:
                sys.stdout.write("\n")

    def on_validation_batch_start(self, *args, **kwargs) -> None:
        pass

    def on_validation_batch_end(self, *args, **kwargs) -> None:
        pass

    def on_validation_end(self, trainer: L.Trainer, pl_module) -> None:
        self.reset_dataloader_idx_tracker()
