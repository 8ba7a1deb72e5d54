"""The job's resumable checkpoint ``checkpoints/last.ckpt``, and what happens when SLURM stops a job.

A SLURM job ends early at its time limit or when preempted. The one mechanism used throughout is
submitit's: SLURM sends ``SIGUSR2`` ``signal_delay_s`` seconds before the limit (and on
preemption); submitit's handler requeues the task, which runs again in the same output directory.
``slurm/array.sbatch`` does the same for plain sbatch arrays, and submitit's local executor for
``hydra/launcher=local``. Lightning's own SLURM auto-requeue (on ``SIGUSR1``) is switched off so two
mechanisms never race (:func:`trainer_plugins`).

:class:`LastCheckpoint` is the only writer of ``last.ckpt``. It saves at epoch ends (at most once a
minute, and after the last epoch), and when
the signal arrives it defers it to the end of the running batch (a consistent state), saves, then
hands the signal to whoever was listening before (submitit: requeue and exit). A run started again
resumes from that file and ends at the configured number of steps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities.exceptions import SIGTERMException

from diffcomp.files import atomic_path

log = logging.getLogger(__name__)


def preempt_signal() -> signal.Signals:
    """The signal that announces a time-out or preemption: submitit's (``SUBMITIT_PREEMPT_SIGNAL``, USR2)."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))


class Preempted(SystemExit):
    """Training stopped on the preemption signal after saving ``last.ckpt``; run again to resume.

    A SystemExit (not an Exception) so a sweep does not record the job as failed: it is unfinished.
    """

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(128 + int(signum))
        self.step = step

    def __str__(self) -> str:
        return (
            f"stopped by {signal.Signals(self.code - 128).name} at step {self.step}; last.ckpt saved, rerun to resume"
        )


def previous_of(path: Path) -> Path:
    """``checkpoints/previous.ckpt`` beside ``checkpoints/last.ckpt``: the save before the last one."""
    return Path(path).with_name("previous" + Path(path).suffix)


def resume_point(path: Path) -> tuple[Path | None, str | None]:
    """The checkpoint to resume from and, when the latest would not load, why it was passed over.

    ``last.ckpt`` when it loads with ``weights_only=True``; else ``previous.ckpt`` when that loads;
    else None (start again from step 0). A checkpoint that will not load (truncated, corrupted) is renamed ``<name>.corrupt`` so
    that the next save cannot rotate it into ``previous.ckpt``; each one passed over is warned about.
    """
    import torch

    problems = []
    for candidate in (Path(path), previous_of(path)):
        if not candidate.exists():
            continue
        try:
            torch.load(candidate, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError ... for a broken file
            # (also for one holding objects beyond tensors and plain containers: never unpickled, set aside too)
            aside = candidate.with_name(candidate.name + ".corrupt")
            os.replace(candidate, aside)
            problems.append(
                f"{candidate.name} will not load ({type(error).__name__}: {_first_sentence(error)}; kept as {aside.name})"
            )
            continue
        if problems:
            log.warning("%s: resuming from %s instead", "; ".join(problems), candidate)
        return candidate, "; ".join(problems) or None
    if problems:
        log.warning("%s: starting again from step 0", "; ".join(problems))
    return None, "; ".join(problems) or None


def _first_sentence(error: BaseException) -> str:
    line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return line.split(". ")[0].rstrip(".")


def trainer_plugins() -> list:
    """Lightning's SLURM environment without its USR1 auto-requeue (submitit's USR2 requeues instead)."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


class LastCheckpoint(Callback):
    """Write ``last.ckpt`` atomically at epoch ends (at most every ``min_interval_s``), on the
    preemption signal and on SIGTERM."""

    def __init__(self, path: Path, signum: int | None = None, min_interval_s: float = 60.0) -> None:
        self.path = Path(path)
        self.min_interval_s = min_interval_s
        self._last_save = float("-inf")  # the first epoch end always saves
        self.signum = signum if signum is not None else preempt_signal()
        self.resumed_step: int | None = None
        self._pending: int | None = None
        self._previous = None
        self._installed = False
        self._saved_step: int | None = None

    # --- saving -------------------------------------------------------------------------------
    def save(self, trainer: L.Trainer) -> None:
        """Save to a unique temporary file, then rotate: the old last.ckpt becomes previous.ckpt and the
        new file last.ckpt. A kill mid-write never corrupts last.ckpt, and one good copy is always kept."""
        if self._saved_step == trainer.global_step and self.path.exists():
            return
        # Only rank zero writes (the other ranks join the collective save with a path they never use).
        if trainer.is_global_zero:
            saving = atomic_path(self.path, keep_previous=previous_of(self.path))
        else:
            saving = contextlib.nullcontext(self.path)
        with saving as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)  # the whole state: resumable
        self._saved_step = trainer.global_step
        self._last_save = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Epochs of small datasets last a fraction of a second: save after the first epoch, then at
        # most every min_interval_s, and always after the last epoch (the signal handler covers the time in between).
        last_epoch = (trainer.max_epochs or -1) > 0 and trainer.current_epoch + 1 >= trainer.max_epochs
        last_step = trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps
        if last_epoch or last_step or time.monotonic() - self._last_save >= self.min_interval_s:
            self.save(trainer)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self.resumed_step = int(checkpoint.get("global_step", 0))
        self._saved_step = self.resumed_step

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # Lightning raises SIGTERMException between batches (scancel, a kill after the grace time).
        if isinstance(exception, SIGTERMException) and trainer.state.stage == RunningStage.TRAINING:
            self.save(trainer)
            log.warning("SIGTERM: saved %s at step %d", self.path, trainer.global_step)
        self._restore()  # a failed fit never calls teardown

    # --- the preemption signal ----------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Installed here, after Lightning has saved the process's signal handlers (which it puts
        # back at teardown, also after an exception): installing earlier, in setup, would make
        # Lightning restore *this* handler after a failed fit.
        if not self._installed and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(self.signum, self._on_signal)
            self._installed = True

    def _on_signal(self, signum: int, frame) -> None:
        log.warning("received %s: saving last.ckpt at the end of the current batch", signal.Signals(signum).name)
        self._pending = signum

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if self._pending is not None:
            self.save(trainer)
            log.warning("saved %s at step %d", self.path, trainer.global_step)
            self._hand_over(trainer.global_step)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # A signal that came after the last batch (training is done and saved) goes on to its owner now.
        if stage == "fit" and self._installed:
            if self._pending is not None:
                self._hand_over(trainer.global_step)
            self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(self.signum, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False

    def _hand_over(self, step: int) -> None:
        """Give the signal to the handler that was there before: submitit requeues and exits."""
        signum, previous = self._pending, self._previous
        self._pending = None
        self._restore()
        if callable(previous):
            previous(signum, None)
        elif previous != signal.SIG_IGN:
            raise Preempted(signum, step)
