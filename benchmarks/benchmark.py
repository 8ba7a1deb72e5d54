"""Throughput benchmark: training images/s and time to sample, ours against a plain eager-fp32 loop.

Both sides run the same UNet architecture in the same process:

* **baseline** — the public reference's style: eager fp32, ``torch.optim.AdamW`` (for-each),
  an EMA updated by a Python loop over parameters, batches sliced from a host tensor and copied to
  the device every step.
* **ours** — :class:`diffcomp.diffusion.module.DiffusionModule` with the chosen speed options
  (``--precision bf16``, ``--compile``, ``--channels-last``), fused AdamW on CUDA, the library EMA
  (``AveragedModel`` with a multi-tensor average), data resident on the device.

Prints a Markdown table (the README's performance table is its output). Timings synchronise the
device and skip warm-up steps; compilation time is reported separately.

    python benchmarks/benchmark.py                          # paper architecture, GPU if present
    python benchmarks/benchmark.py --preset cpu             # the quick default's model on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import time

import lightning as L
import torch

from diffcomp.data.labels import integer_grid, label_grid
from diffcomp.data.render import render, to_model_range
from diffcomp.diffusion.module import DiffusionModule
from diffcomp.diffusion.sampling import sample
from diffcomp.diffusion.schedule import add_noise, linear_schedule
from diffcomp.model.unet import UNet
from diffcomp.results import device_name

# The presets are the project's own configs: experiment=paper (the paper's UNet at N=32) and
# experiment=quick (the cpu scale's model at N=16), composed from conf/ so they never drift.
PRESETS = {"paper": "paper", "cpu": "quick"}


def preset(name: str) -> dict:
    """Model, canvas and batch of an experiment config, composed from conf/."""
    from hydra import compose, initialize_config_dir

    from diffcomp.config.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={PRESETS[name]}"])
    m = cfg.model
    size = int(cfg.data.size)
    arch = dict(
        image_size=size, channels=tuple(m.channels), bottleneck=m.bottleneck, encoding_dim=m.encoding_dim, heads=m.heads
    )
    return dict(arch=arch, batch=int(cfg.train.batch_size), samples=size * size)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats: int) -> float:
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def dataset(size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    labels = label_grid(size, 0.5, 0.5).float()
    return to_model_range(render(labels, size, 1.0, 1.0)), labels


def baseline_train(arch: dict, batch: int, steps: int, warmup: int, device) -> float:
    model = UNet(**arch).to(device)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    schedule = linear_schedule().to(device)
    images, labels = dataset(arch["image_size"], "cpu")

    def step():
        idx = torch.randint(0, len(images), (batch,))
        x0, c = images[idx].to(device), labels[idx].to(device)
        t = torch.randint(0, 1000, (batch,), device=device)
        noise = torch.randn_like(x0)
        loss = torch.nn.functional.mse_loss(model(add_noise(schedule, x0, t, noise), t, c), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.999).add_(pm, alpha=0.001)

    for _ in range(warmup):
        step()
    return batch / timed(step, device, steps)


def ours_module(arch: dict, args, device) -> DiffusionModule:
    module = DiffusionModule(UNet(**arch), compile=args.compile, channels_last=args.channels_last).to(device)
    module.setup("fit")
    return module


def autocast(args, device):
    if args.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def ours_train(module: DiffusionModule, args, batch: int, steps: int, warmup: int, device) -> tuple[float, float]:
    params = list(module.model.parameters())
    opt = torch.optim.AdamW(params, lr=3e-4, fused=device.type == "cuda")
    ema = torch.optim.swa_utils.AveragedModel(
        module.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.999)
    )
    images, labels = dataset(module.model.image_size, device)
    generator = torch.Generator(device=device).manual_seed(0)

    def step():
        idx = torch.randint(0, len(images), (batch,), device=device, generator=generator)
        with autocast(args, device):
            loss = module.diffusion_loss(images[idx], labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update_parameters(module.model)

    first = time.perf_counter()
    for _ in range(warmup):
        step()
    synchronize(device)
    warm_seconds = time.perf_counter() - first
    return batch / timed(step, device, steps), warm_seconds


def sampling_seconds(eps_model, size: int, count: int, method: str, steps: int, device, precision_ctx) -> float:
    labels = integer_grid(size).float().to(device)
    labels = labels.repeat(-(-count // len(labels)), 1)[:count]

    def run():
        with torch.no_grad(), precision_ctx():
            sample(
                lambda x, t: eps_model(x, t, labels),
                linear_schedule(),
                (count, 1, size, size),
                method=method,
                steps=steps,
                device=device,
            )

    return timed(run, device, 1)


# ------------------------------------------------------------------------------------------------
# Measurements of the GPU check (benchmarks/gpu_check.py): the real training path (Lightning Trainer,
# DiffusionModule, EMA callback, all from an experiment config), sampling through DiffusionModule.generate,
# FLOP counts, the chip's peak, and the packed-ensemble fallback. Each returns plain numbers.

# Dense (no sparsity) bf16 tensor-core peak in TFLOP/s, from NVIDIA's data sheets (H100/H200: the
# "Tensor Core" tables, whose figures with sparsity are twice these; A100: the A100 data sheet; L40S:
# its data sheet). Matched in order against torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.5),
    ("H100 NVL", 835.5),
    ("H100", 989.4),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("H200 NVL", 835.5),
    ("H200", 989.4),  # SXM
    ("A100", 312.0),
    ("L40S", 362.05),
)
PEAK_SOURCE = "NVIDIA data sheets (dense bf16 tensor core: H100/H200 SXM 989.4, A100 312 TFLOP/s)"


def peak_bf16_tflops(device_label: str) -> float | None:
    """The table's peak for a device name, or None (a CPU, an unlisted GPU)."""
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in device_label), None)


def compose_experiment(overrides: list[str]):
    """The job config of ``overrides`` (e.g. ``["experiment=paper_fast", "train.batch_size=512"]``)."""
    from hydra import compose, initialize_config_dir

    from diffcomp.config.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def arch_of(cfg) -> dict:
    m = cfg.model
    return dict(
        image_size=int(cfg.data.size),
        channels=tuple(m.channels),
        bottleneck=m.bottleneck,
        encoding_dim=m.encoding_dim,
        heads=m.heads,
    )


def training_flops_per_image(arch: dict, device) -> float:
    """Forward + backward FLOPs of one training image (PyTorch's FLOP counter: matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = UNet(**arch).to(device)
    n, size = 2, arch["image_size"]
    x = torch.randn(n, 1, size, size, device=device)
    t = torch.randint(0, 1000, (n,), device=device)
    c = torch.rand(n, 2, device=device) * size
    with FlopCounterMode(display=False) as counter:
        model(x, t, c).square().mean().backward()
    return counter.get_total_flops() / n


def matmul_tflops(device, size: int = 8192, repeats: int = 10) -> float:
    """The bf16 matrix-product rate this device reaches (size^3 products on random data): what "peak" can mean in practice."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(2):
        a @ b
    return 2 * size**3 / timed(lambda: a @ b, device, repeats) / 1e12


class StepClock(L.Callback):
    """Wall time of the optimizer steps after ``warmup`` (compilation happens in the warm-up), device synchronised."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.started = self.warm = self.stopped = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step in (self.warmup, trainer.max_steps):
            synchronize(pl_module.device)
            now = time.perf_counter()
            if trainer.global_step == self.warmup:
                self.warm = now
            else:
                self.stopped = now


def lightning_training(cfg, steps: int, warmup: int) -> tuple[dict, DiffusionModule]:
    """Images/s of the real training path for ``cfg`` (``diffcomp.train``'s datamodule, model and
    DiffusionModule; Lightning's Trainer with the config's precision, clipping and EMA), without the
    evaluations and checkpoints of a job. Returns the figures and the trained module."""
    from lightning.pytorch.callbacks import EMAWeightAveraging
    from omegaconf import OmegaConf

    from diffcomp.train import build, prepare

    torch.set_float32_matmul_precision("high")  # as diffcomp.train.run
    datamodule = prepare(cfg).datamodule
    module = build(cfg.diffusion, model=build(cfg.model))
    clock = StepClock(warmup)
    callbacks = [clock] + ([EMAWeightAveraging(decay=cfg.train.ema_decay)] if cfg.train.get("ema_decay") else [])
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    for key in ("max_time", "enable_progress_bar", "log_every_n_steps"):
        options.pop(key, None)
    trainer = L.Trainer(
        **options,
        max_steps=warmup + steps,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=datamodule)
    batch = int(cfg.train.batch_size)
    return {
        "batch": batch,
        "images_per_second": batch * steps / (clock.stopped - clock.warm),
        "warmup_seconds": clock.warm - clock.started,  # compilation included
        "precision": str(cfg.trainer.precision),
        "compile": bool(cfg.train.compile),
        "channels_last": bool(cfg.train.channels_last),
    }, module


def module_sampling_seconds(
    module: DiffusionModule, count: int, method: str, steps: int | None, bf16: bool, device
) -> float:
    """Seconds for ``module.generate`` (the evaluation's sampler) to draw ``count`` images on ``device``,
    after a two-step warm-up at the same shape (so compilation is not timed)."""
    module.to(device)  # Lightning hands a fitted module back on the CPU
    labels = integer_grid(module.model.image_size).float().to(device)
    labels = labels.repeat(-(-count // len(labels)), 1)[:count]
    precision = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    module.eval()
    with precision:
        module.generate(labels, sampler="ddim", steps=2, seed=0)
        return timed(lambda: module.generate(labels, sampler=method, steps=steps, seed=0), device, 1)


def eager_step_seconds(arch: dict, count: int, steps: int, device) -> float:
    """Seconds per reverse step of the plain eager-fp32 UNet on ``count`` images (``steps`` DDIM steps
    timed after a warm-up): DDIM-100 and DDPM-1000 of the plain model are that times 100 and 1 000."""
    model = UNet(**arch).to(device).eval()
    size = arch["image_size"]
    labels = integer_grid(size).float().to(device)
    labels = labels.repeat(-(-count // len(labels)), 1)[:count]
    eps = lambda x, t: model(x, t, labels)

    def draw(n):
        with torch.no_grad():
            sample(eps, linear_schedule(), (count, 1, size, size), method="ddim", steps=n, device=device)

    draw(2)
    return timed(lambda: draw(steps), device, 1) / steps


def ensemble_images_per_second(arch: dict, k: int, batch: int, steps: int, warmup: int, device) -> float:
    """Aggregate training images/s of ``k`` models trained as one ``torch.func`` ensemble
    (stack_module_state + functional_call + vmap; one fused AdamW over the stacked weights), each
    member on its own batch: the fallback measure of packed training."""
    from torch.func import functional_call, stack_module_state, vmap

    members = [UNet(**arch).to(device) for _ in range(k)]
    params, buffers = stack_module_state(members)
    template = copy.deepcopy(members[0]).to("meta")
    opt = torch.optim.AdamW(params.values(), lr=3e-4, fused=device.type == "cuda")
    schedule = linear_schedule().to(device)
    images, labels = dataset(arch["image_size"], device)

    def loss_of(p, b, x0, c, t, noise):
        return torch.nn.functional.mse_loss(
            functional_call(template, (p, b), (add_noise(schedule, x0, t, noise), t, c)), noise
        )

    member_losses = vmap(loss_of)  # the noise is drawn outside, per member

    def step():
        idx = torch.randint(0, len(images), (k, batch), device=device)
        t = torch.randint(0, 1000, (k, batch), device=device)
        x0 = images[idx]
        loss = member_losses(params, buffers, x0, labels[idx], t, torch.randn_like(x0)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    return k * batch / timed(step, device, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help="default: paper on GPU, cpu otherwise")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed training steps")
    parser.add_argument("--samples", type=int, default=None, help="images per sampling benchmark")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--skip-ddpm", action="store_true", help="skip the 1 000-step DDPM sampling timings")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = preset(args.preset or ("paper" if device.type == "cuda" else "cpu"))
    args.precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    batch = args.batch or chosen["batch"]
    steps = args.steps or (50 if device.type == "cuda" else 5)
    count = args.samples or chosen["samples"]
    arch = chosen["arch"]
    name = device_name(device)
    print(
        f"device: {name}; torch {torch.__version__}; UNet {arch}; batch {batch}; "
        f"ours: {args.precision}, compile={args.compile}, channels_last={args.channels_last}"
    )

    base_ips = baseline_train(arch, batch, steps, 2, device)
    module = ours_module(arch, args, device)
    ours_ips, warm = ours_train(module, args, batch, steps, 3, device)
    rows = [("training images/s", f"{base_ips:,.0f}", f"{ours_ips:,.0f}", f"{ours_ips / base_ips:.2f}x")]
    plain = UNet(**arch).to(device).eval()
    null = contextlib.nullcontext
    for method, nsteps in (("ddim", 100), ("ddpm", 1000)):
        if method == "ddpm" and args.skip_ddpm:
            continue
        base_s = sampling_seconds(plain, arch["image_size"], count, method, nsteps, device, null)
        ours_s = sampling_seconds(
            module._fast_model, arch["image_size"], count, method, nsteps, device, lambda: autocast(args, device)
        )
        rows.append(
            (
                f"sample {count} images, {method.upper()}-{nsteps} (s)",
                f"{base_s:.1f}",
                f"{ours_s:.1f}",
                f"{base_s / ours_s:.2f}x",
            )
        )
    print(f"warm-up of ours (compilation included): {warm:.1f} s")
    print("\n| measure | plain eager fp32 | ours | ratio |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
