"""Minibatches drawn from tensors that already live on the training device.

The whole dataset (102 400 images of 32x32 at paper scale, 420 MB in float32) fits on any GPU, so
we render it there once and slice batches out of it: no worker processes, no host-to-device copy
per batch. Only the epoch's permutation (a few hundred KB of indices) crosses once per epoch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class DeviceBatches:
    """An iterable of ``tuple(t[idx] for t in tensors)`` minibatches with a seeded shuffle.

    Lightning accepts any sized iterable as a dataloader; batches already on the module's device
    pass through its ``transfer_batch_to_device`` untouched.
    """

    def __init__(
        self,
        tensors: tuple[Tensor, ...],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ):
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"tensors must share their first dimension, got {sorted(sizes)}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and len(tensors[0]) >= batch_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_items(self) -> int:
        return len(self.tensors[0])

    def __len__(self) -> int:
        n = self.num_items / self.batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    def __iter__(self):
        n = self.num_items
        device = self.tensors[0].device
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
