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
