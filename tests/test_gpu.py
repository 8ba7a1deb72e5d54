"""The speed options on CUDA (``-m gpu``; skipped without CUDA, see conftest.py): bf16 autocast,
torch.compile and channels_last train a model whose loss is finite and falls; compiled sampling
draws the images eager sampling draws; a checkpoint written on the GPU resumes on the CPU and back.

``benchmarks/gpu_check.sh`` runs every ``gpu``-marked test on the device machine."""

from __future__ import annotations

import math

import pytest
import torch
from support import TINY, compose_config

from diffcomp.diffusion.module import DiffusionModule
from diffcomp.model.unet import UNet
from diffcomp.train import run

pytestmark = pytest.mark.gpu

SPEED = ["trainer.precision=bf16-mixed", "train.compile=true", "train.channels_last=true"]
QUIET = ["logger=none", "trainer.enable_progress_bar=false", "eval.probe_layer=null", "analysis.umap=false"]


def test_bf16_compiled_channels_last_training_has_a_finite_falling_loss(tmp_path):
    # The quick default's model and 16x16 data; the interval losses are means over 50 steps each.
    cfg = compose_config(
        [*SPEED, *QUIET, "train.steps=150", "train.warmup_steps=10", "eval.every_n_steps=50"]
        + ["eval.sampler=ddim", "eval.steps=10"]
    )
    record = run(cfg, tmp_path)
    assert record["device"] == torch.cuda.get_device_name()
    losses = [entry["train/interval_loss"] for entry in record["history"]]
    assert [entry["step"] for entry in record["history"]] == [50, 100, 150]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < 0.8 * losses[0], losses
    assert math.isfinite(record["metrics"]["eval/loss"])


def test_compiled_and_eager_sampling_draw_the_same_images():
    torch.manual_seed(0)
    arch = dict(image_size=16, channels=(8, 16, 32, 32), bottleneck=64, encoding_dim=32, heads=1)
    schedule = dict(timesteps=250, beta_start=4e-4, beta_end=0.08)
    eager = DiffusionModule(UNet(**arch), **schedule).cuda()
    fast = DiffusionModule(UNet(**arch), **schedule, compile=True, channels_last=True)
    fast.load_state_dict(eager.state_dict())
    fast = fast.cuda()
    fast.setup("fit")
    labels = torch.rand(64, 2, device="cuda") * 15 + 1
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # compare fp32 with fp32
    try:
        for sampler, steps in (("ddim", 20), ("ddpm", None)):
            a, _ = eager.generate(labels, sampler=sampler, steps=steps, seed=3)
            b, _ = fast.generate(labels, sampler=sampler, steps=steps, seed=3)
            # images in [0, 255]: the same draws up to float rounding (1/255 of the range at worst)
            torch.testing.assert_close(b, a, atol=1.0, rtol=0)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def test_a_checkpoint_written_on_the_gpu_resumes_on_the_cpu_and_back(tmp_path):
    gpu = ["trainer.accelerator=gpu", *SPEED]
    cpu = ["trainer.accelerator=cpu", "trainer.precision=32-true", "train.compile=false"]
    legs = [(gpu, 4, None), (cpu, 8, 4), (gpu, 12, 8)]
    for device_options, steps, resumed in legs:
        cfg = compose_config([*TINY, *QUIET, "train.ema_decay=0.9", *device_options, f"train.steps={steps}"])
        record = run(cfg, tmp_path)
        assert record["timings"]["train_steps"] == steps
        assert (record["resumed_from"] or {}).get("step") == resumed
        assert math.isfinite(record["metrics"]["eval/loss"])
        on_gpu = "trainer.accelerator=gpu" in device_options
        assert (record["device"] == torch.cuda.get_device_name()) == on_gpu, record["device"]
