"""The exact optimal denoiser of a finite training set (``model=ideal``): a model that only memorises.

Why: every trained model needs a memorisation baseline. Under the forward process
``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` and a training set of images ``y_i`` with labels
``c_i``, the denoiser that minimises the training loss exactly returns the posterior mean

    x0_hat(x_t, t, c) = sum_i w_i y_i,   w = softmax_i( -||x_t - sqrt(abar_t) y_i||^2 / (2 (1 - abar_t)) + log k(c, c_i) )

and, as an epsilon-predictor, ``eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t)``, so it runs
through the same samplers, read-outs and locality measures as a network. The label enters through a
Gaussian kernel ``k = exp(-d(c, c_i)^2 / (2 width^2))`` over the training labels; ``width = 0`` keeps
only the nearest training label(s) (at a training label: exactly that label's images). ``d`` is the
Euclidean distance of canvas labels ``[B, 2]`` (wrapped on a torus) and, for the local-scores
condition sets ``[B, K, 3]``, the symmetric Chamfer distance :func:`set_distance2` (pixels, like the
canvas's). Nothing is trained: the training set is given by :meth:`IdealDenoiser.memorise`.

Cost and memory: every call compares the batch with the training items the label kernel leaves
(with ``width = 0`` only the nearest labels' images, usually a handful), ``chunk`` items at a time
with a streaming log-sum-exp, so memory is ``batch x chunk``, never ``batch x items x pixels``. The
arithmetic is float64 (and outside autocast): at t = 0, ``1 - abar`` is 1e-4 and float32 or TF32
rounding of ``x . y`` would reorder the posterior's neighbouring images.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def label_distance2(requests: Tensor, labels: Tensor, period: float | None = None) -> Tensor:
    """Squared distances [B, M] between requested and training labels: canvas ``(x, y)`` labels [*, 2]
    (wrapped by ``period`` on a torus) or condition sets [*, K, 3] (:func:`set_distance2`)."""
    if requests.ndim == 3:
        return set_distance2(requests, labels)
    diff = requests.double()[:, None, :] - labels.double()[None, :, :]
    if period:
        diff = torch.remainder(diff + period / 2, period) - period / 2
    return (diff**2).sum(-1)


def set_distance2(requests: Tensor, labels: Tensor) -> Tensor:
    """Symmetric Chamfer distance [B, M] of condition sets ``(x, y, valid)`` [B, K, 3] and [M, K, 3]:
    ``(sum_{a in A} min_b |a - b|^2 + sum_{b in B} min_a |a - b|^2) / 2``, so two single conditions
    ``delta`` apart are ``delta^2`` apart (as canvas labels) and the order of the slots is irrelevant.
    An empty request conditions on nothing (0 to every set); a nonempty one is infinitely far from an
    empty set."""
    a, b = requests.double(), labels.double()
    va, vb = a[:, :, 2] > 0.5, b[:, :, 2] > 0.5  # [B, K], [M, K]
    pair = ((a[:, None, :, None, :2] - b[None, :, None, :, :2]) ** 2).sum(-1)  # [B, M, K, K]
    both = va[:, None, :, None] & vb[None, :, None, :]
    pair = pair.masked_fill(~both, torch.inf)
    near_a = pair.min(dim=3).values.masked_fill(~va[:, None, :], 0.0).sum(-1)  # each a to its nearest b
    near_b = pair.min(dim=2).values.masked_fill(~vb[None, :, :], 0.0).sum(-1)
    out = (near_a + near_b) / 2
    out = torch.where(va.any(1)[:, None] & ~vb.any(1)[None, :], torch.full_like(out, torch.inf), out)
    return torch.where(va.any(1)[:, None], out, torch.zeros_like(out))


class IdealDenoiser(nn.Module):
    """The training set's posterior-mean denoiser as an epsilon-predictor ``model(x_t, t, labels)``.

    Args:
        image_size: canvas side N.
        label_width: the label kernel's width in pixels; 0: only the nearest training label(s).
        chunk: training items compared per block (memory ~ batch x chunk).
        **network: the network widths an experiment's scale sets for every model (:data:`NETWORK_KEYS`):
            they describe no part of this model and are ignored.
    """

    NETWORK_KEYS = ("channels", "bottleneck", "encoding_dim", "heads", "width", "depth", "pooling")
    TRAINS = False  # nothing to optimise: the training path evaluates it directly
    LAYERS = ()  # no hidden layers: representation analyses do not apply

    @classmethod
    def validate_config(cls, node, prefix: str = "model", root=None) -> None:
        from diffcomp.config.checks import number, require

        size = node.get("image_size")
        require(isinstance(size, int) and size >= 1, "data.size", size, "an integer >= 1")
        number(node, "label_width", lo=0, prefix=prefix)
        number(node, "chunk", lo=1, integer=True, prefix=prefix)
        unknown = sorted(set(node) - {"_target_", "image_size", "label_width", "chunk", *cls.NETWORK_KEYS})
        require(not unknown, f"{prefix}.{unknown[0] if unknown else ''}", None, "no such option of model=ideal")

    def __init__(self, image_size: int = 16, label_width: float = 0.0, chunk: int = 2048, **network):
        super().__init__()
        self.image_size = int(image_size)
        self.label_width = float(label_width)
        self.chunk = int(chunk)
        self.period: float | None = None
        self._cache: tuple | None = None
        for name in ("images", "sq_norms", "labels", "alpha_bars"):  # not saved: the data is the model
            self.register_buffer(name, None, persistent=False)

    def memorise(self, images: Tensor, labels: Tensor, alpha_bars: Tensor, period: float | None = None) -> None:
        """Keep the training set (images [M, 1, N, N] in the model range, labels [M, 2] or [M, K, 3])
        and the schedule's ``alpha_bar`` [T]."""
        n = self.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, n, n) or len(images) != len(labels) or not len(images):
            raise ValueError(
                f"training images {tuple(images.shape)} and labels {tuple(labels.shape)}: expected [M, 1, {n}, {n}] "
                "and M labels, M >= 1"
            )
        with torch.inference_mode(False):  # normal tensors, so autograd (the locality measures) may use them
            flat = images.detach().flatten(1).float()
            flat = flat.clone() if flat.is_inference() else flat
            labels = labels.detach().clone() if labels.is_inference() else labels.detach()
            alpha_bars = alpha_bars.detach().clone() if alpha_bars.is_inference() else alpha_bars.detach()
            self.images = flat
            self.sq_norms = (flat.double() ** 2).sum(1)
            self.labels = labels.to(flat.device)
            self.alpha_bars = alpha_bars.to(flat.device, torch.float64)
        self.period = float(period) if period else None
        self._cache = None

    def label_log_kernel(self, requests: Tensor) -> tuple[Tensor, Tensor]:
        """``log k(c, c_i)`` [B, U] over the training items ``support`` [U] that some request can weigh
        (all of them for ``label_width > 0``); cached for the request tensor a sampling loop reuses."""
        key = (requests.data_ptr(), tuple(requests.shape), torch.is_inference_mode_enabled())
        cache = self._cache
        if cache is not None and cache[0] is requests and cache[1] == key:
            return cache[2], cache[3]
        requests_on = requests.detach().to(self.labels.device)
        d2 = torch.cat(
            [
                label_distance2(requests_on, self.labels[i : i + self.chunk], self.period)
                for i in range(0, len(self.labels), self.chunk)
            ],
            dim=1,
        )
        nearest = d2.min(dim=1, keepdim=True).values
        if self.label_width > 0:
            log_k = -(d2 - nearest) / (2 * self.label_width**2)
        else:  # the limit width -> 0: uniform over the nearest label(s), ties included
            tied = d2 <= nearest + 1e-9 * (1 + nearest)
            log_k = torch.zeros_like(d2).masked_fill(~tied, -torch.inf)
        support = torch.isfinite(log_k).any(dim=0).nonzero()[:, 0]
        log_k = log_k[:, support]
        self._cache = (requests, key, log_k, support)
        return log_k, support

    def posterior_mean(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """``x0_hat`` [B, 1, N, N] (float64): the training images weighted by their posterior."""
        if self.images is None:
            raise RuntimeError("IdealDenoiser.memorise(images, labels, alpha_bars) must be called first")
        log_k, support = self.label_log_kernel(labels)
        abar = self.alpha_bars[t.to(self.alpha_bars.device).long()]
        root, rest = abar.sqrt()[:, None], (1.0 - abar)[:, None]
        xf = x.to(self.images.device, torch.float64).flatten(1)
        top = torch.full((len(xf),), -torch.inf, dtype=torch.float64, device=xf.device)
        total = torch.zeros_like(top)
        acc = torch.zeros_like(xf)
        for start in range(0, len(support), self.chunk):
            idx = support[start : start + self.chunk]
            y = self.images[idx].double()
            # -||x - sqrt(a) y||^2 / 2(1-a) without ||x||^2, which every item shares
            logits = (root * (xf @ y.T) - abar[:, None] / 2 * self.sq_norms[idx][None]) / rest
            logits = logits + log_k[:, start : start + self.chunk]
            new_top = torch.maximum(top, logits.max(dim=1).values).detach()  # shift-invariant: exact
            safe = torch.where(torch.isfinite(new_top), new_top, torch.zeros_like(new_top))
            scale = torch.exp(top - safe)
            weights = torch.exp(logits - safe[:, None])
            total = total * scale + weights.sum(1)
            acc = acc * scale[:, None] + weights @ y
            top = new_top
        return (acc / total[:, None]).reshape(x.shape)

    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            x0 = self.posterior_mean(x, t, labels)
            abar = self.alpha_bars[t.to(self.alpha_bars.device).long()].reshape(-1, *([1] * (x.ndim - 1)))
            eps = (x.to(x0.device, torch.float64) - abar.sqrt() * x0) / (1.0 - abar).sqrt()
        return eps.to(x.device, x.dtype if x.is_floating_point() else torch.float32)
