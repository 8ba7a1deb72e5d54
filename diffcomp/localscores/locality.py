"""How local a denoiser's score is, against the noise level (Bradley et al.'s local conditional scores).

Why: Bradley et al. (arXiv 2509.16447) explain length generalisation by *local conditional scores*
(LCS): the score at pixel i depends only on nearby pixels and nearby conditions, and they argue that
trained networks are approximately LCS, the more so at high noise. Two numbers per timestep test
that claim on any denoiser ``model(x_t [B,1,N,N], t [B], conditions [B,K,3]) -> eps [B,1,N,N]``
(trained or not; a condition slot is ``(mu_x, mu_y, valid)``, pixel (1, 1) top-left, x the column):

* **pixel locality** - for a sample of output pixels i and noisy inputs x_t, the share of the
  sensitivity to the *other* pixels, ``sum_{j != i} (d eps_i / d x_j)^2`` (one row of the Jacobian,
  by autograd, without its diagonal), that comes from input pixels j within max-norm radius R of i.
  The diagonal is left out because the eps-parametrisation carries the identity:
  ``eps = (x_t - sqrt(abar) x0_hat) / sqrt(1 - abar)``, so ``d eps_i / d x_i`` holds a self-dependence
  of size ``1 / sqrt(1 - abar)`` that every denoiser has and that would read any model as local (it
  did, in the first cpu run: 1.00 for all four trained models at every t). Off the diagonal eps,
  x0_hat and the score differ only by a factor, so the share is the same whichever of them the
  model predicts;
* **conditional locality** - for each valid condition c of a request, the change of the predicted
  noise when c alone is removed (its slot zeroed, as padding is): the share of the change's energy
  ``sum_p (eps_p - eps'_p)^2`` at pixels p within max-norm radius R of c's location.

Both lie in [0, 1], 1 = perfectly local; a share is NaN where its denominator is 0 (an output that
ignores the other pixels, a condition without any effect). A perfectly global uniform dependence
reads ``((2R + 1)^2 - 1) / (N^2 - 1)`` for pixels (0.031 at R = 1 on 16 x 16) and ``(2R + 1)^2 / N^2``
for conditions (0.035): :func:`uniform_share`, the reference level of the plots. The noisy inputs
are ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` from given clean images with the *same* eps at
every t (common random numbers, so the curves over t are smooth), and the sampled pixels are the
same at every t too.

Untrained, the local denoiser reads exactly 1 within its receptive radii (pixels 1 + depth,
conditions that + cond_radius), and the global UNet ~0.3-0.4 (pixels, R = 2) and ~0.2 (conditions,
R = 3): attention, GroupNorm over the map and the broadcast set embedding couple everything.

Cost: one forward + backward per (image, pixel) for the pixel measure, one forward per (request,
removed condition) for the conditional one, batched. On the shared 2-core development CPU, 4
requests x 4 pixels and 6 timesteps on 16 x 16 take 0.9 s + 0.3 s (pixel + conditional) for the
default local denoiser and 3.0 s + 2.5 s for the default global UNet. The model is put in eval mode
and restored; it must treat batch entries independently (no BatchNorm in training mode), which both
models do. Gradients are taken even inside ``torch.no_grad`` or ``torch.inference_mode``
(Lightning's validation), and no parameter's ``.grad`` is touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from diffcomp.config.errors import require
from diffcomp.diffusion.schedule import NoiseSchedule, add_noise
from diffcomp.files import save_figure


@dataclass(frozen=True)
class LocalityCurve:
    """One locality measure over timesteps: per-sample shares ``values`` [T, S] (NaN: undefined)."""

    timesteps: np.ndarray  # [T] integer timesteps
    values: np.ndarray  # [T, S] shares in [0, 1]
    radius: float  # the max-norm radius R the shares count within

    @property
    def mean(self) -> np.ndarray:
        """[T] mean share over the samples where it is defined."""
        return _nan_reduce(np.nanmean, self.values)

    @property
    def std(self) -> np.ndarray:
        """[T] standard deviation of the share over the samples (the spread)."""
        return _nan_reduce(np.nanstd, self.values)

    @property
    def count(self) -> np.ndarray:
        """[T] samples with a defined share."""
        return np.isfinite(self.values).sum(axis=1)


def _nan_reduce(fn, values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    defined = np.isfinite(values).any(axis=1)
    if defined.any():
        out[defined] = fn(values[defined], axis=1)
    return out


def timestep_grid(num_steps: int, count: int = 8) -> list[int]:
    """``count`` timesteps evenly spread over ``0 .. num_steps - 1``, both ends included."""
    require(isinstance(count, int) and count >= 1, "count", count, "an integer >= 1")
    return sorted({int(round(v)) for v in np.linspace(0, num_steps - 1, count)})


def window_share(energy: Tensor, centres: Tensor, radius: float) -> Tensor:
    """Share of each map's total ``energy`` [S, N, N] within max-norm ``radius`` of its centre [S, 2].

    Centres are ``(x, y)`` in pixel coordinates (1-based, x the column, as conditions are); NaN
    where the total is 0.
    """
    n = energy.shape[-1]
    coords = torch.arange(1, n + 1, device=energy.device, dtype=centres.dtype)
    near_x = (coords[None, None, :] - centres[:, 0, None, None]).abs() <= radius
    near_y = (coords[None, :, None] - centres[:, 1, None, None]).abs() <= radius
    inside = (energy * (near_x & near_y)).sum(dim=(-2, -1))
    total = energy.sum(dim=(-2, -1))
    return torch.where(
        total > 0, inside / total.where(total > 0, torch.ones_like(total)), torch.full_like(total, math.nan)
    )


def uniform_share(measure: str, radius: float, size: int) -> float:
    """The share a perfectly global, uniform dependence reads at an interior point: the reference
    level below which a measured curve is no more local than chance. ``measure`` is ``"pixels"``
    (the diagonal left out of window and total) or ``"conditions"``."""
    require(measure in ("pixels", "conditions"), "measure", measure, "'pixels' or 'conditions'")
    window = min((2 * math.floor(radius) + 1) ** 2, size**2)
    if measure == "pixels":
        return (window - 1) / (size**2 - 1)
    return window / size**2


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode with gradients recorded even inside ``no_grad`` / ``inference_mode``; restores the mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    """Where the model lives: its parameters', else its buffers' (a model made of data has no parameters)."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next((b for b in model.buffers() if b is not None), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _check(
    images: Tensor, conditions: Tensor, schedule: NoiseSchedule, timesteps: Sequence[int], radius: float
) -> list[int]:
    require(
        images.ndim == 4 and images.shape[1] == 1 and images.shape[2] == images.shape[3],
        "images",
        tuple(images.shape),
        "a tensor [B, 1, N, N] of clean images in the model's range",
    )
    require(
        conditions.ndim == 3 and conditions.shape[0] == images.shape[0] and conditions.shape[2] == 3,
        "conditions",
        tuple(conditions.shape),
        f"a tensor [{images.shape[0]}, K, 3] of (x, y, valid) slots, one set per image",
    )
    steps = [int(t) for t in timesteps]
    require(
        len(steps) > 0 and all(0 <= t < schedule.num_steps and t == float(s) for t, s in zip(steps, timesteps)),
        "timesteps",
        list(timesteps),
        f"a non-empty list of integers in [0, {schedule.num_steps - 1}]",
    )
    require(
        isinstance(radius, (int, float)) and not isinstance(radius, bool) and radius >= 0,
        "radius",
        radius,
        "a number >= 0 (max-norm distance in pixels)",
    )
    return steps


def _noise(images: Tensor, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(images.shape, generator=generator)


def pixel_locality(
    model: nn.Module,
    images: Tensor,
    conditions: Tensor,
    schedule: NoiseSchedule,
    timesteps: Sequence[int],
    radius: float = 2,
    pixels: int | Tensor = 4,
    seed: int = 0,
    chunk: int = 32,
) -> LocalityCurve:
    """Share of ``sum_{j != i} (d eps_i / d x_j)^2`` from inputs j within ``radius`` of i, per timestep.

    Args:
        images [B, 1, N, N]: clean images in the model's range, noised at each t with one fixed eps.
        conditions [B, K, 3]: the condition set each image is denoised under.
        schedule: the model's noise schedule (``DiffusionModule.schedule``).
        timesteps: where to measure (e.g. :func:`timestep_grid`).
        pixels: output pixels per image: a count drawn at random (seeded), or [P, 2] (row, col),
            0-based, used for every image.
        chunk: (image, pixel) pairs per forward + backward.

    Returns a :class:`LocalityCurve` with ``values`` [T, B * P] (image-major).
    """
    steps = _check(images, conditions, schedule, timesteps, radius)
    b, _, n, _ = images.shape
    if isinstance(pixels, Tensor):
        require(
            pixels.ndim == 2
            and pixels.shape[1] == 2
            and len(pixels) > 0
            and bool(((pixels >= 0) & (pixels < n)).all()),
            "pixels",
            tuple(pixels.shape),
            f"a count >= 1 or a [P, 2] tensor of (row, col) in [0, {n - 1}]",
        )
    else:
        require(
            isinstance(pixels, int) and not isinstance(pixels, bool) and pixels >= 1,
            "pixels",
            pixels,
            "a count >= 1 or a [P, 2] tensor of (row, col)",
        )
    device = _device(model)
    with _evaluating(model):  # everything built inside, so that no inference tensor meets autograd
        if isinstance(pixels, Tensor):
            where = pixels.detach().cpu().long()[None].expand(b, -1, -1)
        else:
            where = torch.randint(0, n, (b, pixels, 2), generator=torch.Generator().manual_seed(int(seed) + 1))
        p = where.shape[1]
        rows_cpu, cols_cpu = where.reshape(-1, 2).unbind(1)  # where the energy maps (on the CPU) are read
        rows, cols = rows_cpu.to(device), cols_cpu.to(device)
        owner = torch.arange(b, device=device).repeat_interleave(p)
        centres = torch.stack([cols_cpu + 1, rows_cpu + 1], dim=1).double()
        x0 = images.detach().clone().to(device)
        cond = conditions.detach().clone().to(device)
        noise = _noise(images, seed).to(device)
        out = np.empty((len(steps), b * p))
        for k, t in enumerate(steps):
            xt = add_noise(schedule.to(device), x0, torch.full((b,), t, device=device), noise)
            for start in range(0, b * p, chunk):
                idx = slice(start, min(start + chunk, b * p))
                who = owner[idx]
                x = xt[who].clone().requires_grad_(True)
                eps = model(x, torch.full((len(who),), t, device=device, dtype=torch.long), cond[who])
                picked = eps[torch.arange(len(who), device=device), 0, rows[idx], cols[idx]]
                (grad,) = torch.autograd.grad(picked.sum(), x)
                energy = grad[:, 0].double().cpu() ** 2
                energy[torch.arange(len(who)), rows_cpu[idx], cols_cpu[idx]] = 0.0  # the diagonal
                out[k, idx] = window_share(energy, centres[idx], radius).numpy()
    return LocalityCurve(np.array(steps), out, float(radius))


def removal_sets(conditions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every (request, valid slot) pair: the request index [S], the set without that slot [S, K, 3]
    (slot zeroed, like padding) and the removed location (x, y) [S, 2]."""
    valid = conditions[:, :, 2] > 0.5
    request, slot = valid.nonzero(as_tuple=True)
    removed = conditions[request].clone()
    removed[torch.arange(len(request)), slot] = 0.0
    return request, removed, conditions[request, slot, :2]


def conditional_locality(
    model: nn.Module,
    images: Tensor,
    conditions: Tensor,
    schedule: NoiseSchedule,
    timesteps: Sequence[int],
    radius: float = 3,
    seed: int = 0,
    chunk: int = 32,
) -> LocalityCurve:
    """Share of the predicted noise's change, when one condition is removed, within ``radius`` of it.

    Every valid condition of every request is removed in turn (the others kept), so pass
    multi-condition requests (k >= 2) to ask whether a condition acts only near its location while
    others are present. Arguments as :func:`pixel_locality`; ``values`` is [T, S] over the
    (request, removed condition) pairs in request order.
    """
    steps = _check(images, conditions, schedule, timesteps, radius)
    b = images.shape[0]
    device = _device(model)
    with _evaluating(model), torch.no_grad():
        request, removed, centres = removal_sets(conditions.detach().clone().cpu())
        require(
            len(request) > 0,
            "conditions",
            tuple(conditions.shape),
            "at least one valid condition (valid = 1) to remove",
        )
        x0 = images.detach().clone().to(device)
        cond = conditions.detach().clone().to(device)
        noise = _noise(images, seed).to(device)
        out = np.empty((len(steps), len(request)))
        for k, t in enumerate(steps):
            xt = add_noise(schedule.to(device), x0, torch.full((b,), t, device=device), noise)
            full = torch.cat(
                [
                    model(
                        xt[i : i + chunk],
                        torch.full((len(xt[i : i + chunk]),), t, device=device, dtype=torch.long),
                        cond[i : i + chunk],
                    )
                    for i in range(0, b, chunk)
                ]
            )
            for start in range(0, len(request), chunk):
                idx = slice(start, min(start + chunk, len(request)))
                who = request[idx].to(device)
                without = model(
                    xt[who], torch.full((len(who),), t, device=device, dtype=torch.long), removed[idx].to(device)
                )
                energy = (full[who] - without)[:, 0].double().cpu() ** 2
                out[k, idx] = window_share(energy, centres[idx].double(), radius).numpy()
    return LocalityCurve(np.array(steps), out, float(radius))


def locality_metrics(curves: dict[str, LocalityCurve], prefix: str = "locality") -> dict[str, float]:
    """Flat scalars: ``{prefix}/{name}/t{t}`` (mean share at each t), ``{prefix}/{name}/t{t}_std``,
    and ``{prefix}/{name}/mean`` (averaged over t)."""
    out: dict[str, float] = {}
    for name, curve in curves.items():
        for t, mean, std in zip(curve.timesteps, curve.mean, curve.std):
            out[f"{prefix}/{name}/t{int(t)}"] = float(mean)
            out[f"{prefix}/{name}/t{int(t)}_std"] = float(std)
        defined = curve.mean[np.isfinite(curve.mean)]
        out[f"{prefix}/{name}/mean"] = float(defined.mean()) if len(defined) else math.nan
    return out


def plot_locality(
    curves: dict[str, LocalityCurve],
    path: Path,
    schedule: NoiseSchedule | None = None,
    title: str = "",
    reference: dict[str, LocalityCurve] | None = None,
    weight: tuple[Sequence[int], Sequence[float]] | None = None,
) -> None:
    """Locality against the timestep, one line per measure (band: ± std over samples); with
    ``schedule`` a top axis shows the noise level ``sqrt(1 - abar_t)``. ``reference``: the same measures
    of the training set's ideal denoiser (dashed, same colour); ``weight``: ``(timesteps, values)`` of
    the epsilon-loss weight on the clean-image error, on a log-scale right axis (grey)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.6, 4))
    for name, curve in curves.items():
        mean, std = curve.mean, curve.std
        (line,) = ax.plot(curve.timesteps, mean, marker="o", markersize=3, label=f"{name} (R = {curve.radius:g})")
        ax.fill_between(
            curve.timesteps,
            np.clip(mean - std, 0, 1),
            np.clip(mean + std, 0, 1),
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )
        if reference and name in reference:
            ideal = reference[name]
            ax.plot(
                ideal.timesteps, ideal.mean, ls="--", marker="x", ms=4, color=line.get_color(), label=f"{name}, ideal"
            )
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("timestep t (more noise →)")
    ax.set_ylabel("share within radius R (1 = local)")
    handles, labels = ax.get_legend_handles_labels()
    if weight is not None:
        right = ax.twinx()
        (w,) = right.plot(weight[0], weight[1], color="0.45", ls=":", marker=".", label="ε-loss weight ᾱ/(1 − ᾱ)")
        right.set_yscale("log")
        right.set_ylabel("weight on the clean-image error", fontsize=8, color="0.45")
        right.tick_params(labelsize=7, colors="0.45")
        handles, labels = [*handles, w], [*labels, w.get_label()]
    ax.legend(handles, labels, fontsize=7)
    if schedule is not None:  # the bottom axis's ticks, labelled with their noise level
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if 0 <= t < schedule.num_steps]
        level = (1.0 - schedule.alpha_bars.double().cpu().numpy()) ** 0.5
        top = ax.twiny()
        top.set_xlim(ax.get_xlim())
        top.set_xticks(ticks, [f"{level[int(round(t))]:.2f}" for t in ticks], fontsize=7)
        top.set_xlabel("noise level √(1 − ᾱ_t)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
