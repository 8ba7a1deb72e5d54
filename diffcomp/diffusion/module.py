"""The conditional DDPM as a LightningModule: epsilon-prediction training and sampling.

Evaluation is Lightning's *validation loop*: each validation batch is a batch of evaluation labels
(with their ground-truth images where the dataset has them), ``validation_step`` samples images for
them (with the representation layer captured when asked) and measures the held-out denoising loss,
and the evaluation callbacks receive the collected :class:`EvaluationPass` from
:meth:`DiffusionModule.evaluation_pass` at ``on_validation_epoch_end`` (the contract:
:mod:`diffcomp.eval.contract`). Using the validation loop means Lightning's EMA callback swaps the
averaged weights in for every evaluation, with no extra code.

The noise schedule moves with the module (``.to``, ``.cuda``, Lightning's device placement) like a
buffer, yet is not one: Lightning's EMA averages every buffer, and averaging a constant drifts it by
rounding (measured: the alphas by 1e-5 after 2 000 updates at decay 0.999). It stays float32 whatever
the weights' dtype, and it is not in the state dict, so checkpoints are those of earlier versions.

The training loss a record keeps is a mean over an interval (the steps since the previous
evaluation, or the last ``loss_window`` steps when evaluations are rarer), not one noisy batch.
The same interval means guard against divergence (:class:`Diverged`): gradient clipping keeps a
blown-up loss finite, so a finite loss alone says nothing about whether the training is still sane.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from diffcomp.diffusion.sampling import sample
from diffcomp.diffusion.schedule import NoiseSchedule, add_noise, linear_schedule
from diffcomp.model.capture import capture_layer, choose_probe_layer


@dataclass
class EvalSamples:
    """Samples of one evaluation pass at one set of labels, in label order, collected batch by batch
    (on the CPU): labels [M, 2] (or [M, K, 3] condition sets), images [M, N, N] in [0, 255], and
    optionally the probed layer's activations [M, D] at the last generation step."""

    labels: list[Tensor] = field(default_factory=list)
    images: list[Tensor] = field(default_factory=list)
    activations: list[Tensor] = field(default_factory=list)
    losses: list[Tensor] = field(default_factory=list)  # per-label held-out denoising loss
    seconds: float = 0.0  # wall time spent sampling (device synchronised)

    def loss_per_label(self) -> Tensor | None:
        return torch.cat(self.losses) if self.losses else None

    def cat(self) -> tuple[Tensor, Tensor, Tensor | None]:
        acts = torch.cat(self.activations) if self.activations else None
        return torch.cat(self.labels), torch.cat(self.images), acts


@dataclass(frozen=True)
class EvaluationPass:
    """What one evaluation hands the evaluation callbacks (:mod:`diffcomp.eval.contract`)."""

    samples: EvalSamples  # at the evaluation labels (the validation loader)
    training: EvalSamples  # at the datamodule's fixed sample of training labels (empty when off)
    train_loss: float | None  # mean training loss over the interval before this evaluation


@dataclass
class RunClock:
    """The job's wall time split into training and evaluation: the record's throughput is that of
    training alone, over every process of a resumed job."""

    earlier_train_seconds: float = 0.0  # training time of the job's earlier processes (from the checkpoint)
    evaluation_seconds: float = 0.0  # all evaluations of this process
    _fit: tuple[float, float] | None = None  # (perf_counter, evaluation_seconds) when this fit began
    _evaluation_started: float = 0.0

    def start_training(self) -> None:
        self._fit = (time.perf_counter(), self.evaluation_seconds)

    def stop_training(self) -> None:
        self.earlier_train_seconds, self._fit = self.train_seconds(), None

    def start_evaluation(self) -> None:
        self._evaluation_started = time.perf_counter()

    def stop_evaluation(self) -> None:
        self.evaluation_seconds += time.perf_counter() - self._evaluation_started

    def train_seconds(self) -> float:
        """Training wall time of the job over all its processes, evaluations excluded."""
        if self._fit is None:
            return self.earlier_train_seconds
        started, evaluating = self._fit
        return self.earlier_train_seconds + time.perf_counter() - started - (self.evaluation_seconds - evaluating)


TRAINING_STATE_KEY = "diffcomp_training"  # the checkpoint entry of the record's training statistics


class Diverged(FloatingPointError):
    """The training loss became non-finite, or its interval mean rose above ``max_loss``: the job fails
    (a blown-up model must never reach a table as a result)."""


class DiffusionModule(L.LightningModule):
    """DDPM over a conditional noise predictor ``model(x_t, t, labels)``.

    Args:
        model: the noise predictor (``diffcomp.model.unet.UNet``).
        timesteps, beta_start, beta_end: the linear beta schedule (DDPM defaults 1000, 1e-4, 0.02).
        lr, weight_decay, warmup_steps, betas: AdamW and its warm-up + cosine LR schedule.
        sampler, sample_steps: how evaluation samples (``ddpm`` = all T ancestral steps, ``ddim``).
        probe_layer: the named UNet stage whose output evaluation captures (None: don't capture), or
            ``auto``: the encoder stage whose map is ``probe_map_size`` per side (``capture.auto_layer``).
        probe_map_size: the map side ``auto`` looks for (4: the paper's layer 4 at N=32).
        sample_seed: seed of the evaluation noise, so successive evaluations are comparable.
        compile: run training and sampling forwards through ``torch.compile`` (compiled once per
            process; the checkpointed weights stay those of the plain module).
        channels_last: keep activations in NHWC, the layout tensor cores prefer.
        clip_x0: clamp each sampling step's predicted clean image to [-1, 1] (see ``sample``).
        eval_loss_draws: (t, noise) draws per evaluation label for the held-out denoising loss.
        loss_window: longest interval (steps) the reported training loss averages over.
        max_loss: an interval's mean training loss above this raises :class:`Diverged` (None: off). 1 is
            the loss of predicting zero noise (E||eps||^2 per pixel for unit-variance eps): a model
            above it is worse than the trivial one.
        divergence_after_steps: intervals are checked once they end after this step and after the
            warm-up (``warmup_steps``), when even a slowly warmed-up model has left its initial loss.
    """

    def __init__(
        self,
        model: nn.Module,
        timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        lr: float = 3e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        betas: tuple[float, float] = (0.9, 0.999),
        sampler: str = "ddim",
        sample_steps: int = 100,
        probe_layer: str | None = "auto",
        probe_map_size: int = 4,
        sample_seed: int = 0,
        compile: bool = False,
        channels_last: bool = False,
        clip_x0: bool = True,
        eval_loss_draws: int = 4,
        loss_window: int | None = None,
        max_loss: float | None = None,
        divergence_after_steps: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.probe_layer = choose_probe_layer(model, probe_layer, probe_map_size)  # `auto` resolved: a name
        self._schedule = linear_schedule(timesteps, beta_start, beta_end)  # follows the module: see `_apply`
        self._pass: EvaluationPass | None = None  # the evaluation being collected, or the last one
        # The (possibly compiled) forward is a plain attribute, not a submodule: the state dict and every
        # checkpoint hold `model.*` once, so a run saved with compile=true resumes without it and back.
        object.__setattr__(self, "_fast_model", model)
        self._loss_sum: Tensor | None = None
        self._loss_count = 0
        self._last_window_loss: float | None = None
        self._interval_steps = (0, 0)  # the first and last (1-based) optimizer step of the current interval
        self.clock = RunClock()

    @property
    def schedule(self) -> NoiseSchedule:
        """The noise schedule (float32), on the module's device."""
        return self._schedule

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True):
        """Every device move of the module (``.to``, ``.cuda``, ``to_empty`` ...) goes through here:
        move the schedule with it, its dtype kept (see the module docstring for why not a buffer)."""
        module = super()._apply(fn, recurse)
        self._schedule = self._schedule.to(fn(torch.empty(0)).device)
        return module

    def setup(self, stage: str) -> None:
        """Apply the speed options once the module sits on its device (after Lightning's EMA copy).
        A model made of its training set (``model=ideal``) is given the datamodule's training set here."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if hasattr(self.model, "memorise") and datamodule is not None:
            images, labels = datamodule.train_dataloader().tensors
            self.model.memorise(images, labels, self.schedule.alpha_bars, getattr(datamodule, "period", None))
        if self.hparams.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.hparams.compile and self._fast_model is self.model:
            object.__setattr__(self, "_fast_model", torch.compile(self.model))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Drop the duplicate `_fast_model.*` weights that checkpoints of earlier versions carried, and
        take back the training statistics the job's record reports (a job resumed at its last step
        trains nothing more, yet its record keeps the final loss and the training time)."""
        for key in ("state_dict", "current_model_state"):  # the latter: the EMA callback's live weights
            if key in checkpoint:
                checkpoint[key] = {k: v for k, v in checkpoint[key].items() if not k.startswith("_fast_model.")}
        carried = checkpoint.get(TRAINING_STATE_KEY) or {}
        self._last_window_loss = carried.get("last_window_loss", self._last_window_loss)
        self.clock.earlier_train_seconds = float(carried.get("train_seconds") or 0.0)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        current = float(self._loss_sum) / self._loss_count if self._loss_count else self._last_window_loss
        checkpoint[TRAINING_STATE_KEY] = {"last_window_loss": current, "train_seconds": self.train_seconds()}

    def on_train_start(self) -> None:
        self.clock.start_training()

    def on_train_end(self) -> None:
        self.clock.stop_training()

    def train_seconds(self) -> float:
        """Training wall time of this job over all its processes, evaluations excluded."""
        return self.clock.train_seconds()

    # ----------------------------------------------------------------------------- training
    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        return self.model(x, t, labels)

    def diffusion_loss(
        self, images: Tensor, labels: Tensor, generator: torch.Generator | None = None, reduce: bool = True
    ) -> Tensor:
        """Appendix A.4: ``E_{t, x0, eps} ||eps - eps_theta(x_t, t, c)||^2`` with uniform ``t``
        (per image when ``reduce`` is false; a ``generator`` fixes t and the noise)."""
        t = torch.randint(0, self.schedule.num_steps, (images.shape[0],), device=images.device, generator=generator)
        noise = torch.randn(images.shape, device=images.device, generator=generator, dtype=images.dtype)
        noisy = add_noise(self.schedule.to(images.device), images, t, noise)
        if self.hparams.channels_last:
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        error = (self._fast_model(noisy, t, labels).float() - noise.float()) ** 2
        return error.mean() if reduce else error.flatten(1).mean(1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch
        loss = self.diffusion_loss(images, labels)
        if not torch.isfinite(loss):
            raise Diverged(f"training loss became {loss.item()} at step {self.global_step + 1}")
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        self._accumulate(loss.detach())
        return loss

    def _accumulate(self, loss: Tensor) -> None:
        """Running sum of the training loss over the current interval (no host sync per step)."""
        step = self.global_step + 1  # this step, counted from 1
        self._interval_steps = (step if self._loss_count == 0 else self._interval_steps[0], step)
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_count += 1
        window = self.hparams.loss_window
        if window and self._loss_count >= window:
            self._last_window_loss = float(self._loss_sum) / self._loss_count
            self._loss_sum, self._loss_count = None, 0
            self._check_divergence(self._last_window_loss)

    def _check_divergence(self, mean: float) -> None:
        """Raise :class:`Diverged` when the interval just closed is past the warm-up and its mean
        training loss exceeds ``max_loss`` (or is not finite)."""
        limit, (first, last) = self.hparams.max_loss, self._interval_steps
        checked = last > max(int(self.hparams.divergence_after_steps), int(self.hparams.warmup_steps))
        if limit is not None and checked and not (mean <= limit):  # `not <=`: NaN fails too
            raise Diverged(
                f"training loss {mean:.4g} (mean of steps {first}-{last}) > train.divergence.max_loss={limit:g} "
                "(the loss of predicting zero noise is 1): the training diverged; try a lower train.lr"
            )

    def interval_loss(self, reset: bool = True) -> float | None:
        """Mean training loss since the last evaluation (or over the last complete window)."""
        if self._loss_count:
            value = float(self._loss_sum) / self._loss_count
            self._check_divergence(value)
        else:
            value = self._last_window_loss
        if reset and self._loss_count:
            self._last_window_loss = value
            self._loss_sum, self._loss_count = None, 0
        return value

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        fused = self.device.type == "cuda"
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, betas=tuple(hp.betas), fused=fused
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = min(hp.warmup_steps, max(total - 1, 0))
        schedulers = [torch.optim.lr_scheduler.LinearLR(optimizer, 1e-3, 1.0, total_iters=max(warmup, 1))]
        schedulers.append(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total - warmup, 1)))
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers, milestones=[max(warmup, 1)])
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ----------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def generate(
        self,
        labels: Tensor,
        sampler: str | None = None,
        steps: int | None = None,
        seed: int | None = None,
        capture: str | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Sample one image per label; returns images [B, N, N] in [0, 255] and, with ``capture``,
        that layer's activations at the last generation step, flattened to [B, D]."""
        from diffcomp.data.render import from_model_range

        labels = labels.to(self.device, torch.float32)
        size = self.model.image_size
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(seed)
        last_input: list[tuple[Tensor, Tensor]] = []

        def eps_fn(x: Tensor, t: Tensor) -> Tensor:
            last_input[:] = [(x, t)]
            return self._fast_model(x, t, labels)

        x = sample(
            eps_fn,
            self.schedule,
            (len(labels), 1, size, size),
            method=sampler or self.hparams.sampler,
            steps=steps or self.hparams.sample_steps,
            generator=generator,
            device=self.device,
            clip=self.hparams.clip_x0,
        )
        acts = None
        if capture:
            # Re-run the final generation step through the plain module with a hook on the layer:
            # the activations "at the terminal generation timestep" (appendix A.3), without hooks
            # inside the (possibly compiled) sampling loop.
            with capture_layer(self.model, capture) as captured:
                self.model(*last_input[0], labels)
            acts = captured.last.flatten(1).float()
        return from_model_range(x.float()), acts

    # ----------------------------------------------------------------------------- evaluation
    def on_validation_start(self) -> None:
        self.clock.start_evaluation()

    def on_validation_end(self) -> None:
        self.clock.stop_evaluation()

    def on_validation_epoch_start(self) -> None:
        self._pass = EvaluationPass(EvalSamples(), EvalSamples(), train_loss=self.interval_loss())

    def evaluation_pass(self) -> EvaluationPass | None:
        """The current evaluation's samples, complete from ``on_validation_epoch_end`` on (where the
        evaluation callbacks read it); None before any evaluation, or when it sampled nothing."""
        return self._pass if self._pass is not None and self._pass.samples.labels else None

    def validation_step(self, batch: Tensor | tuple, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Sample one image per label; with ground-truth images, also the held-out denoising loss.
        A second loader's labels (a fixed sample of the training labels) go to the pass's ``training``."""
        labels, truth = (
            (batch[0], batch[1] if len(batch) > 1 else None) if isinstance(batch, (tuple, list)) else (batch, None)
        )
        if dataloader_idx == 1:
            images, _ = self.generate(labels, seed=self.eval_seed(batch_idx) + 50_000)
            self._pass.training.labels.append(labels.detach().cpu())
            self._pass.training.images.append(images.detach().cpu())
            return
        samples, seed = self._pass.samples, self.eval_seed(batch_idx)
        if truth is not None:
            samples.losses.append(self.heldout_loss(truth, labels, seed).cpu())
        started = time.perf_counter()
        images, acts = self.generate(labels, seed=seed, capture=self.probe_layer)
        if images.is_cuda:
            torch.cuda.synchronize(images.device)
        samples.seconds += time.perf_counter() - started
        samples.labels.append(labels.detach().cpu())
        samples.images.append(images.detach().cpu())
        if acts is not None:
            samples.activations.append(acts.detach().cpu())

    def eval_seed(self, batch_idx: int) -> int:
        """The noise seed of an evaluation batch: the same at every evaluation, so they compare."""
        return int(self.hparams.sample_seed) * 100_003 + batch_idx

    @torch.no_grad()
    def heldout_loss(self, images: Tensor, labels: Tensor, seed: int) -> Tensor:
        """Per-label denoising loss averaged over ``eval_loss_draws`` seeded (t, noise) draws, so that
        successive evaluations measure the same draws (Fig. 14c's validation loss)."""
        generator = torch.Generator(device=images.device).manual_seed(seed + 7)
        draws = max(1, int(self.hparams.eval_loss_draws))
        total = torch.zeros(len(images), device=images.device)
        for _ in range(draws):
            total += self.diffusion_loss(images, labels, generator=generator, reduce=False)
        return total / draws
