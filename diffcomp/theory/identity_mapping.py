"""Structured identity mapping (SIM) of Yang et al., ICLR 2025 (arXiv 2410.08309): concept learning dynamics.

Why: SIM abstracts "a generator plus a classifier that reads concepts back" as an identity map on a
Gaussian mixture whose centroids sit on the concept axes; training on the clusters and testing on
their composition reproduces the order in which concepts are learned and the non-monotonic
("swing-by") out-of-distribution loss seen in diffusion models.

Data. ``s = len(mu)`` clusters in ``d >= s`` dimensions; cluster ``p`` is ``N(mu_p e_p, diag(sigma)^2)``
with ``n`` points, where **sigma is a standard deviation** (one value for all concept axes, or one per
concept) and the noise lives on the ``s`` concept axes only, so ``E[x x^T] = diag(a)`` with
``a_p = sigma_p^2 + mu_p^2 / s`` for ``p <= s`` and 0 beyond (the paper's covariance). The OOD test
point is the composition ``x_b = sum_p mu_p e_p``.

Loss and time. ``L = mean_x 1/2 ||f(x) - x||^2`` (= the paper's ``1/(2sn) sum``), minimised by full-batch
gradient descent with step ``lr``. For the one-layer model ``f = W x`` the gradient is ``(W - I) C``
with ``C`` the empirical second moment, ``diag(a)`` up to O(sigma mu / sqrt(n)); with ``C = diag(a)``
gradient flow gives ``W(t) = E + (W(0) - E) exp(-A t)`` (``E`` = identity on the concept axes) and

    f_k(t) = 1[k <= s] (1 - e^{-a_k t}) z_k + sum_{i <= s} e^{-a_i t} w_{k,i}(0) z_i,

the paper's closed form, with **t = lr * step** (GD multiplies by ``(1 - lr a)`` per step, which is
``e^{-a lr}`` to first order; the relative deviation after ``k`` steps is about ``k lr^2 a^2 / 2``).

Models: ``linear`` (W), ``symmetric`` (W = U U^T, U in R^{d x d}: the two-layer model with the swing-by),
``mlp`` (W2 relu(W1 x), bias-free; its Jacobian is taken at the OOD point).

Swing-by. Under small initialisation the symmetric model first grows one rank-one direction; its
entries grow at rate ``2 (a_i + a_j)``, so when the largest-``a`` concept saturates the direction is
still tilted towards the other concepts. If that tilt points towards ``x_b`` (same-sign entries),
the OOD output first heads to the composition (loss falls), then the off-diagonal "minor" entries are
suppressed and it swings back to the training cluster of that concept (loss rises), and finally the
remaining concepts are learned (loss falls again). With the paper's small Gaussian initialisation
(the default, ``init="gaussian"``: entries ``init_scale * N(0, 1)``) the tilt's sign is random, so
only some seeds swing by, which is why the task runs a list of seeds and reports the fraction;
``init="positive"`` (``|N(0, 1)|`` entries) makes the tilt point towards ``x_b`` by construction.
The one-layer model has no such coupling: each column relaxes independently and the OOD loss can
only wiggle at order ``init_scale^2``.

Documented setting (``conf/task/identity_mapping.yaml``): d = s = 3, mu = (1, 1.5, 3), sigma = 0.05,
n = 100, lr 0.02, 1 500 steps, init_scale 0.1, seeds 0-9 (~6 s on the 2-core CPU). Seeds whose OOD
loss swings by (rises by more than 1 % of its initial value between two falls):

    model       gaussian (default)   positive
    linear      0 / 10               0 / 10
    symmetric   6 / 10  (6 / 20)     9 / 10  (19 / 20)
    mlp         0 / 10               10 / 10 (20 / 20)

(in brackets: seeds 0-19; the Gaussian fraction is noisy - seeds 10-19 give none). The Gaussian
swings are small: the largest rise is 1.4 % of the initial loss in the median seed and 8.3 % at
most (seed 9: 0.39 at step 17 -> 0.74 at step 40). They also fade with the initialisation scale
(symmetric, Gaussian, seeds 0-19: 6 / 20 at 0.1, 2 / 20 at 0.01, 0 / 20 at 0.001, with 3 000 steps
for the smaller two), because the longer plateau lets the minor entries fall further behind before
the first concept saturates. Every model learns concept 3 (largest mu) first in every seed; linear
and symmetric reach 90 % in the order 3, 2, 1 in all seeds (the mlp in 5 of 10: in the others one
concept's Jacobian entry at x_b never reaches 0.9). The one-layer model follows the closed form
within 1.3 % of ``||x_b||`` in the worst seed (the lr = 0.02 discretisation and the sample
covariance). With the weaker mu = (1, 1.5, 2.2) the symmetric model swings by in 3 / 10 seeds
(Gaussian) and 5 / 10 (positive).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from diffcomp.config import checks
from diffcomp.config.errors import ConfigError
from diffcomp.files import atomic_path, save_figure

MODELS = ("linear", "symmetric", "mlp")
INITS = ("gaussian", "positive")


def concept_spreads(sigma: float | Sequence[float], s: int) -> np.ndarray:
    """Per-concept standard deviations [s] from one value or a list of ``s`` values."""
    spread = np.broadcast_to(np.asarray(sigma, dtype=float), (s,)) if np.ndim(sigma) == 0 else np.asarray(sigma, float)
    if spread.shape != (s,):
        raise ValueError(f"sigma must be one value or {s} values, got {sigma!r}")
    return spread.copy()


def sim_dataset(mu: Sequence[float], sigma, d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training points [s n, d] and their cluster index [s n]; noise on the concept axes only."""
    mu = np.asarray(mu, dtype=float)
    s = len(mu)
    rng = np.random.default_rng([seed, 0])  # stream 0: data (stream 1: initialisation)
    x = np.zeros((s, n, d))
    x[:, :, :s] = rng.standard_normal((s, n, s)) * concept_spreads(sigma, s)
    x[np.arange(s), :, np.arange(s)] += mu[:, None]
    return x.reshape(s * n, d), np.repeat(np.arange(s), n)


def ood_point(mu: Sequence[float], d: int) -> np.ndarray:
    """The unseen composition ``sum_p mu_p e_p`` [d]."""
    z = np.zeros(d)
    z[: len(mu)] = mu
    return z


def second_moments(mu: Sequence[float], sigma, d: int) -> np.ndarray:
    """Population ``a = diag E[x x^T]`` [d]: ``sigma_p^2 + mu_p^2 / s`` on concept axes, 0 elsewhere."""
    mu = np.asarray(mu, dtype=float)
    a = np.zeros(d)
    a[: len(mu)] = concept_spreads(sigma, len(mu)) ** 2 + mu**2 / len(mu)
    return a


def init_params(
    model: str, d: int, init_scale: float, init: str = "gaussian", seed: int = 0, hidden: int = 32
) -> dict[str, np.ndarray]:
    """Small random initial parameters: entries ``init_scale * N(0, 1)`` (or ``|N(0, 1)|`` for "positive")."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    rng = np.random.default_rng([seed, 1])

    def draw(*shape):
        z = rng.standard_normal(shape)
        return init_scale * (np.abs(z) if init == "positive" else z)

    if model == "linear":
        return {"W": draw(d, d)}
    if model == "symmetric":
        return {"U": draw(d, d)}
    if model == "mlp":
        return {"W1": draw(hidden, d), "W2": draw(d, hidden)}
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def forward(model: str, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Outputs [B, d] for inputs [B, d]."""
    if model == "linear":
        return x @ params["W"].T
    if model == "symmetric":
        return x @ params["U"] @ params["U"].T
    return np.maximum(x @ params["W1"].T, 0.0) @ params["W2"].T


def jacobian(model: str, params: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """``df/dx`` [d, d] at ``z`` (the same everywhere for the linear models)."""
    if model == "linear":
        return params["W"]
    if model == "symmetric":
        return params["U"] @ params["U"].T
    active = (params["W1"] @ z > 0).astype(float)
    return params["W2"] @ (active[:, None] * params["W1"])


def gradients(model: str, params: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """Gradient of ``mean 1/2 ||f(x) - x||^2`` by hand (checked against autograd in the tests).

    linear: ``(W - I) C``; symmetric: ``(G + G^T) U`` with ``G = (U U^T - I) C``; ``C = x^T x / B``.
    """
    b, d = x.shape
    if model in ("linear", "symmetric"):
        second = x.T @ x / b
        w = params["W"] if model == "linear" else params["U"] @ params["U"].T
        g = (w - np.eye(d)) @ second
        return {"W": g} if model == "linear" else {"U": (g + g.T) @ params["U"]}
    pre = x @ params["W1"].T
    hidden = np.maximum(pre, 0.0)
    residual = (hidden @ params["W2"].T - x) / b
    back = (residual @ params["W2"]) * (pre > 0)
    return {"W1": back.T @ x, "W2": residual.T @ hidden}


def train(
    model: str, params: dict[str, np.ndarray], x: np.ndarray, cluster: np.ndarray, z: np.ndarray, lr: float, steps: int
) -> dict[str, np.ndarray]:
    """Full-batch GD with step ``lr``; records steps 0..steps (each before its update).

    Returns arrays ``step`` [T], ``train_loss`` [T], ``cluster_loss`` [T, s], ``ood_loss`` [T],
    ``ood_output`` [T, d], ``jacobian`` [T, d, d] with ``T = steps + 1``.
    """
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    s, d = int(cluster.max()) + 1, x.shape[1]
    counts = np.bincount(cluster, minlength=s)
    train_loss, cluster_loss = np.empty(steps + 1), np.empty((steps + 1, s))
    ood_loss, ood_output, jac = np.empty(steps + 1), np.empty((steps + 1, d)), np.empty((steps + 1, d, d))
    for step in range(steps + 1):
        per_point = 0.5 * ((forward(model, params, x) - x) ** 2).sum(axis=1)
        train_loss[step] = per_point.mean()
        cluster_loss[step] = np.bincount(cluster, weights=per_point, minlength=s) / counts
        out = forward(model, params, z[None])[0]
        ood_output[step], ood_loss[step] = out, 0.5 * float(((out - z) ** 2).sum())
        jac[step] = jacobian(model, params, z)
        if step < steps:
            for key, grad in gradients(model, params, x).items():
                params[key] = params[key] - lr * grad
    return {
        "step": np.arange(steps + 1),
        "train_loss": train_loss,
        "cluster_loss": cluster_loss,
        "ood_loss": ood_loss,
        "ood_output": ood_output,
        "jacobian": jac,
    }


def one_layer_closed_form(
    w0: np.ndarray, a: np.ndarray, times: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient-flow solution of the one-layer model: ``W(t)`` [T, d, d] and ``f(t) = W(t) z`` [T, d].

    ``W(t) = E + (W(0) - E) diag(e^{-a t})`` with ``E = diag(1[a > 0])``; columns with ``a = 0`` never move.
    """
    w0, a, times, z = (np.asarray(v, dtype=float) for v in (w0, a, times, z))
    target = np.diag((a > 0).astype(float))
    decay = np.exp(-np.outer(times, a))  # [T, d], one factor per input column
    w = target[None] + (w0 - target)[None] * decay[:, None, :]
    return w, w @ z


def learning_steps(jacobians: np.ndarray, fraction: float, s: int) -> np.ndarray:
    """First step at which each concept's diagonal Jacobian entry reaches ``fraction`` of its target 1 (NaN if never)."""
    diag = jacobians[:, np.arange(s), np.arange(s)]  # [T, s]
    reached = diag >= fraction
    return np.where(reached.any(axis=0), reached.argmax(axis=0), np.nan).astype(float)


def swing_by(ood_loss: np.ndarray) -> dict[str, float]:
    """The largest rise of the OOD loss above its running minimum: trough (before) and peak.

    ``relative_amplitude = (peak - trough) / L(0)``; a swing-by is a fall, a rise, then a fall again.
    """
    loss = np.asarray(ood_loss, dtype=float)
    rise = loss - np.minimum.accumulate(loss)
    rise[rise <= 1e-9 * loss[0]] = 0.0  # round-off wiggles at convergence are not a swing
    peak = int(rise.argmax())
    trough = int(loss[: peak + 1].argmin())
    return {
        "trough_step": trough,
        "trough_value": float(loss[trough]),
        "peak_step": peak,
        "peak_value": float(loss[peak]),
        "amplitude": float(rise[peak]),
        "relative_amplitude": float(rise[peak] / loss[0]),
        "final_value": float(loss[-1]),
    }


def has_swing_by(ood_loss: np.ndarray, tolerance: float = 0.01) -> bool:
    """Falls, rises by more than ``tolerance * L(0)``, then falls below the earlier trough."""
    sb = swing_by(ood_loss)
    return sb["trough_step"] > 0 and sb["relative_amplitude"] > tolerance and sb["final_value"] < sb["trough_value"]


def learning_order(jacobians: np.ndarray, fraction: float, s: int) -> list[int]:
    """Concepts (0-based) in the order their diagonal entry reaches ``fraction``; never-reached ones last."""
    steps = learning_steps(jacobians, fraction, s)
    return [int(p) for p in np.argsort(np.where(np.isnan(steps), np.inf, steps), kind="stable")]


def learned_in_order(jacobians: np.ndarray, strength: np.ndarray, fraction: float) -> bool:
    """Whether every concept reaches ``fraction`` and a stronger one never after a weaker one.

    ``strength`` ranks the concepts: ``mu`` (signal strength) or ``a`` (the theory's rate,
    ``sigma_p^2 + mu_p^2 / s``); its non-zero entries are the concepts. Ties impose no order.
    """
    strength = np.asarray(strength, dtype=float)
    s = int(np.count_nonzero(strength))
    steps = learning_steps(jacobians, fraction, s)
    if np.isnan(steps).any():
        return False
    stronger = strength[:s, None] > strength[None, :s]  # [i, j]: concept i is stronger than j
    later = steps[:, None] > steps[None, :]  # [i, j]: concept i is learned after j
    return not bool(np.any(stronger & later))


def closed_form_error(history: dict, w0: np.ndarray, a: np.ndarray, lr: float, z: np.ndarray) -> float:
    """Largest distance between the trained one-layer OOD output and the closed form at t = lr * step, over ``||z||``."""
    _, f_theory = one_layer_closed_form(w0, a, lr * history["step"], z)
    return float(np.linalg.norm(history["ood_output"] - f_theory, axis=1).max() / np.linalg.norm(z))


def order_label(order: Sequence[int]) -> str:
    """``[2, 1, 0]`` -> ``"3>2>1"`` (1-based concepts, first learned first)."""
    return ">".join(str(p + 1) for p in order)


def seed_record(
    model: str, seed: int, h: dict, mu: Sequence[float], a: np.ndarray, fractions: Sequence[float], tolerance: float
) -> dict:
    """One (model, seed) run reduced to what the seed summary needs (JSON-serialisable)."""
    s = len(mu)
    sb = swing_by(h["ood_loss"])
    row = {
        "model": model,
        "seed": int(seed),
        "swing_by": has_swing_by(h["ood_loss"], tolerance),
        **sb,
        "ood_loss_initial": float(h["ood_loss"][0]),
        "train_loss_final": float(h["train_loss"][-1]),
        "cluster_loss_final": [float(v) for v in h["cluster_loss"][-1]],
    }
    for fraction in fractions:
        f = f"{float(fraction):g}"
        row[f"learn_steps_{f}"] = [float(v) for v in learning_steps(h["jacobian"], float(fraction), s)]
        row[f"order_{f}"] = order_label(learning_order(h["jacobian"], float(fraction), s))
        row[f"in_order_of_mu_{f}"] = learned_in_order(h["jacobian"], np.asarray(mu, float), float(fraction))
        row[f"in_order_of_a_{f}"] = learned_in_order(h["jacobian"], a, float(fraction))
    return row


def summarise_seeds(rows: list[dict], mu: Sequence[float], fractions: Sequence[float]) -> dict:
    """Flat metrics of one model over its seeds: how often it swings by and learns the strongest concept first.

    ``swing_by_fraction`` is the share of seeds whose OOD loss falls, rises by more than the tolerance
    and falls again; ``first_learned_{f}`` the concept (1-based) most often first to reach ``f``,
    ``first_learned_is_strongest_{f}`` how often that is the largest-``mu`` concept.
    """
    model = rows[0]["model"]
    s, strongest = len(mu), int(np.argmax(mu))
    amplitude = np.array([r["relative_amplitude"] for r in rows])
    out = {
        f"{model}/swing_by_fraction": float(np.mean([r["swing_by"] for r in rows])),
        f"{model}/swing_by_seeds": int(sum(r["swing_by"] for r in rows)),
        f"{model}/seeds": len(rows),
        f"{model}/swing_relative_amplitude_median": float(np.median(amplitude)),
        f"{model}/swing_relative_amplitude_max": float(amplitude.max()),
        f"{model}/ood_loss_initial_mean": float(np.mean([r["ood_loss_initial"] for r in rows])),
        f"{model}/ood_loss_final_max": float(max(r["final_value"] for r in rows)),
        f"{model}/train_loss_final_max": float(max(r["train_loss_final"] for r in rows)),
    }
    for p in range(s):
        out[f"{model}/cluster{p + 1}_loss_final_max"] = float(max(r["cluster_loss_final"][p] for r in rows))
    for fraction in fractions:
        f = f"{float(fraction):g}"
        steps = np.array([r[f"learn_steps_{f}"] for r in rows])  # [seeds, s]
        for p in range(s):
            column = steps[:, p][~np.isnan(steps[:, p])]
            out[f"{model}/learn_step_{f}_c{p + 1}"] = float(np.median(column)) if len(column) else float("nan")
        reached = ~np.isnan(steps).all(axis=1)
        firsts = np.argmin(np.where(np.isnan(steps), np.inf, steps), axis=1)  # per seed; meaningless unless reached
        counts = np.bincount(firsts[reached], minlength=s)
        out[f"{model}/first_learned_{f}"] = int(counts.argmax()) + 1 if counts.any() else 0  # 0: none reached
        out[f"{model}/first_learned_is_strongest_{f}"] = float(np.mean(reached & (firsts == strongest)))
        out[f"{model}/learned_in_order_of_mu_{f}"] = float(np.mean([r[f"in_order_of_mu_{f}"] for r in rows]))
        out[f"{model}/learned_in_order_of_a_{f}"] = float(np.mean([r[f"in_order_of_a_{f}"] for r in rows]))
    return out


def plot_ood_loss(histories: dict[str, dict], path: Path, title: str = "") -> None:
    """OOD loss over steps, one line per setting: early dynamics (log step, linear loss) and the whole run (log loss).

    Each swing-by's trough (triangle) and peak (cross) are marked.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, h in histories.items():
        sb = swing_by(h["ood_loss"])
        for ax in axes:
            (line,) = ax.plot(h["step"] + 1, h["ood_loss"], label=label)
            if sb["amplitude"] > 0:
                ax.plot(sb["trough_step"] + 1, sb["trough_value"], "v", color=line.get_color(), markersize=6)
                ax.plot(sb["peak_step"] + 1, sb["peak_value"], "x", color=line.get_color(), markersize=7)
    axes[0].set_xscale("log")
    axes[0].set_title("early: swing-by visible as a bump", fontsize=9)
    axes[1].set_yscale("log")
    axes[1].set_title("whole run", fontsize=9)
    for ax in axes:
        ax.set_xlabel("GD step + 1")
        ax.set_ylabel("OOD loss ½‖f(x_b) − x_b‖²")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def ood_loss_panel(ax, model: str, curves: Mapping[int, np.ndarray], tolerance: float, legend_size: float = 7) -> None:
    """OOD loss over training for every seed on one axis: swing-by seeds in colour with their trough
    (triangle) and peak (cross), the other seeds thin and grey (the task's figure and the experiment's)."""
    import matplotlib.pyplot as plt

    palette = [plt.get_cmap("tab10")(k) for k in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # tab10 without its grey
    swings = 0
    for seed, loss in curves.items():
        steps = np.arange(len(loss)) + 1
        if has_swing_by(loss, tolerance):
            colour = palette[swings % len(palette)]
            swings += 1
            label = f"seed {seed}" if swings <= 12 else None  # a legend of at most 12 seeds
            ax.plot(steps, loss, color=colour, linewidth=1.6, label=label, zorder=3)
            sb = swing_by(loss)
            ax.plot(sb["trough_step"] + 1, sb["trough_value"], "v", color=colour, markersize=6, zorder=4)
            ax.plot(sb["peak_step"] + 1, sb["peak_value"], "x", color=colour, markersize=7, zorder=4)
        else:
            ax.plot(steps, loss, color="0.6", linewidth=0.8, zorder=2)
    ax.set_xscale("log")
    ax.set_ylim(0, None)
    ax.set_xlabel("GD step + 1")
    ax.set_title(f"{model}: {swings} of {len(curves)} seeds swing by", fontsize=9)
    if swings:
        ax.legend(fontsize=legend_size, title="swing-by", title_fontsize=legend_size)


def plot_ood_loss_by_seed(curves: dict[str, dict[int, np.ndarray]], tolerance: float, path: Path) -> None:
    """:func:`ood_loss_panel` for every model, side by side."""
    import matplotlib.pyplot as plt

    models = list(curves)
    fig, axes = plt.subplots(1, len(models), figsize=(4.3 * len(models), 3.7), squeeze=False)
    for ax, model in zip(axes[0], models):
        ood_loss_panel(ax, model, curves[model], tolerance)
    axes[0][0].set_ylabel("OOD loss ½‖f(x_b) − x_b‖²")
    fig.suptitle(f"grey: no swing-by (a rise > {tolerance:g} × initial loss between two falls)", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_concept_trajectory(histories: dict[str, dict], mu: Sequence[float], path: Path, title: str = "") -> None:
    """The OOD output's path in concept space, as pairwise 2D projections of the first (up to) 3 concepts."""
    import matplotlib.pyplot as plt

    s = min(len(mu), 3)
    pairs = [(i, j) for i in range(s) for j in range(i + 1, s)] or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.8), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        for label, h in histories.items():
            f = h["ood_output"]
            (line,) = ax.plot(f[:, i], f[:, j], label=label, linewidth=1.2)
            ax.plot(f[0, i], f[0, j], "o", color=line.get_color(), markersize=3)
            sb = swing_by(h["ood_loss"])
            if sb["amplitude"] > 0:
                ax.plot(*f[sb["trough_step"], [i, j]], "v", color=line.get_color(), markersize=6)
                ax.plot(*f[sb["peak_step"], [i, j]], "x", color=line.get_color(), markersize=7)
        for p in range(len(mu)):
            centre = np.zeros(len(mu))
            centre[p] = mu[p]
            ax.plot(centre[i], centre[j], "s", color="gray", markersize=6)
        ax.plot(mu[i], mu[j], "*", color="red", markersize=11, label="OOD point")
        ax.set_xlabel(f"concept {i + 1}")
        ax.set_ylabel(f"concept {j + 1}")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        (title + ": " if title else "") + "OOD output f(x_b) over training "
        "(dot: start, ▼/✕: swing-by trough/peak, squares: training clusters)",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_jacobians(histories: dict[str, dict], path: Path, title: str = "") -> None:
    """Jacobian entries over steps per model: diagonal ("major") solid, off-diagonal ("minor") thin."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histories), figsize=(4.5 * len(histories), 3.6), squeeze=False)
    for ax, (label, h) in zip(axes[0], histories.items()):
        jac = h["jacobian"]
        d = jac.shape[1]
        for i in range(d):
            for j in range(d):
                ax.plot(
                    h["step"] + 1,
                    jac[:, i, j],
                    linewidth=1.6 if i == j else 0.7,
                    linestyle="-" if i == j else "--",
                    label=f"w{i + 1}{j + 1}" if d <= 4 else None,
                )
        ax.set_title(f"{label}" + (f" ({title})" if title else ""))
        ax.set_xscale("log")
        ax.set_xlabel("GD step + 1")
        if d <= 4:
            ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def model_list(task: DictConfig) -> list[str]:
    value = task.get("model")
    names = [value] if isinstance(value, str) else list(value or [])
    if not names or any(name not in MODELS for name in names):
        raise ConfigError("task.model", value, "one of " + ", ".join(MODELS) + " or a non-empty list of them")
    return names


def seed_list(task: DictConfig) -> list[int]:
    """``[task.seed]`` when a single seed is set, else ``task.seeds`` (one int or a list)."""
    if task.get("seed") is not None:
        return [int(checks.number(task, "seed", lo=0, integer=True))]
    seeds = [int(s) for s in checks.numbers(task, "seeds", lo=0, integer=True)]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(
            "task.seeds", list(seeds), "distinct non-negative integers (a repeated seed would count twice)"
        )
    return seeds


def validate(cfg: DictConfig) -> DictConfig:
    """Check every parameter of the task (whole job config or task node); returns the task node."""
    task = checks.task_node(cfg)
    d = checks.number(task, "d", lo=1, hi=1000, integer=True)
    s = checks.number(task, "s", lo=1, hi=d, integer=True)
    checks.numbers(task, "mu", lo=0, lo_open=True, length=s)
    checks.numbers(task, "sigma", lo=0, length=None if checks.is_number(task.get("sigma")) else s)
    checks.number(task, "n", lo=1, hi=1e6, integer=True)
    checks.number(task, "lr", lo=0, hi=10, lo_open=True)
    checks.number(task, "steps", lo=1, hi=1e7, integer=True)
    checks.number(task, "init_scale", lo=0, hi=10, lo_open=True)
    checks.choice(task, "init", INITS)
    checks.number(task, "hidden", lo=1, hi=1e5, integer=True)
    seed_list(task)
    checks.numbers(task, "learn_fractions", lo=0, hi=1, lo_open=True, hi_open=True)
    checks.number(task, "swing_tolerance", lo=0)
    model_list(task)
    return task


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Task entry: train each model on SIM for every seed, summarise over seeds, draw the figures.

    Returns ``{"metrics": {...flat scalars...}, "timings": {...}, "per_seed": [...], "learning_order": {...}}``;
    the detailed figures (``ood_loss.png``, ``concept_trajectory.png``, ``jacobian_entries.png``) show
    the first seed, ``ood_loss_by_seed.png`` every seed.
    """
    task = validate(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    d, n, steps = int(task.d), int(task.n), int(task.steps)
    mu = [float(m) for m in task.mu]
    s = len(mu)
    sigma = [float(v) for v in task.sigma] if not isinstance(task.sigma, (int, float)) else float(task.sigma)
    lr, tolerance = float(task.lr), float(task.swing_tolerance)
    fractions = [float(f) for f in checks.numbers(task, "learn_fractions")]
    seeds, models = seed_list(task), model_list(task)
    z = ood_point(mu, d)
    a = second_moments(mu, sigma, d)

    timings = {f"{model}_train_s": 0.0 for model in models}
    rows: dict[str, list[dict]] = {model: [] for model in models}
    curves: dict[str, dict[int, np.ndarray]] = {model: {} for model in models}
    closed_form: list[float] = []
    shown, arrays = {}, {"a": a, "ood_point": z, "seeds": np.array(seeds)}
    for seed in seeds:
        x, cluster = sim_dataset(mu, sigma, d, n, seed)
        for model in models:
            params = init_params(model, d, float(task.init_scale), str(task.init), seed, int(task.hidden))
            start = time.perf_counter()
            h = train(model, params, x, cluster, z, lr, steps)
            timings[f"{model}_train_s"] += time.perf_counter() - start
            rows[model].append(seed_record(model, seed, h, mu, a, fractions, tolerance))
            curves[model][seed] = h["ood_loss"]
            if model == "linear":
                closed_form.append(closed_form_error(h, params["W"], a, lr, z))
            if seed == seeds[0]:
                shown[model] = h
                arrays.update({f"{model}_{key}": value for key, value in h.items()})
                if model == "linear":
                    arrays["linear_closed_form_ood_output"] = one_layer_closed_form(params["W"], a, lr * h["step"], z)[
                        1
                    ]
                arrays["x"] = x
        for model in models:
            arrays.setdefault(f"{model}_ood_loss_by_seed", []).append(curves[model][seed])

    summaries = {model: summarise_seeds(rows[model], mu, fractions) for model in models}
    # the headline first: how often each model swings by, and the one-layer closed-form check
    metrics: dict = {f"{model}/swing_by_fraction": summaries[model][f"{model}/swing_by_fraction"] for model in models}
    if closed_form:
        metrics["linear/closed_form_rel_error"] = float(max(closed_form))  # the worst seed
    for model in models:
        metrics.update(summaries[model])
    metrics.update({f"theory/a{p + 1}": float(a[p]) for p in range(s)})
    order = {
        model: {f"{f:g}": dict(Counter(r[f"order_{f:g}"] for r in rows[model]).most_common()) for f in fractions}
        for model in models
    }

    with atomic_path(out_dir / "identity_mapping.npz") as tmp:
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    title = f"seed {seeds[0]}, init {task.init}"
    plot_ood_loss_by_seed(curves, tolerance, out_dir / "ood_loss_by_seed.png")
    plot_ood_loss(shown, out_dir / "ood_loss.png", title)
    plot_concept_trajectory(shown, mu, out_dir / "concept_trajectory.png", title)
    plot_jacobians(shown, out_dir / "jacobian_entries.png", title)
    return {
        "metrics": metrics,
        "timings": timings,
        "per_seed": [r for model in models for r in rows[model]],
        "learning_order": order,
    }
