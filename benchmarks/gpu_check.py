"""The GPU check: one prepared run that brings back, from one call of a lent GPU machine, whether the
speed options are right on CUDA and how fast the project runs there (issue 24).

    bash benchmarks/gpu_check.sh            # on the GPU machine: gpu_check.json, .md, .log under $OUT
    bash benchmarks/gpu_check.sh --smoke    # tiny sizes, seconds, on a CPU (a test runs it)

A lease is short (15 minutes of device time in all), so the whole check is bounded (``--total``
seconds, 450 by default: 8 minutes with the wheels' installation) and every stage runs as a
subprocess with its own time box: a stage that overruns is killed and recorded as timed out, with
whatever it had written, and the next stage starts. Stages, in order:

1. ``tests``: ``pytest -m gpu``, every ``gpu``-marked test under tests/ (they skip without CUDA).
2. ``benchmark``: benchmarks/benchmark.py's measurements of ``experiment=paper_fast``: the plain
   eager-fp32 loop and the real training path (Lightning Trainer, DiffusionModule, EMA) at batch 128
   and over a small batch sweep, the share of the chip's bf16 peak, DDIM-100 and DDPM-1000 sampling
   of 1 024 images (the plain model's sampling times are per-step times x steps).
3. ``packed``: aggregate training images/s of k quick-scale models (k = 1, 8, 32, 64) against one
   quick-scale job. It calls ``benchmark.packed_images_per_second(cfg, k, steps, warmup)`` (the packed
   trainer's measure, issue 22) when benchmark.py has it, else a plain ``torch.func`` ensemble.
4. ``paper_fast``: ``python -m diffcomp.run experiment=paper_fast`` until the first evaluation at
   >= 95 % accuracy or ``trainer.max_time``; the accuracy-against-time curve comes from its record.

Each stage compiles with a cold inductor cache of its own, so every compilation time is a cold one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ("tests", "benchmark", "packed", "paper_fast")
TARGET_ACCURACY = 0.95

# A model and canvas small enough for seconds on a CPU (the smoke preset's every stage).
TINY = (
    "data.size=8",
    "data.increment=1",
    "model.channels=[8,8,8,8]",
    "model.bottleneck=8",
    "model.encoding_dim=8",
    "model.heads=1",
    "diffusion.timesteps=100",
    "diffusion.beta_start=2e-3",
    "diffusion.beta_end=0.4",
    "eval.steps=2",
)
CPU_SPEED = ("trainer.accelerator=cpu", "trainer.precision=32-true", "train.compile=false")


@dataclass(frozen=True)
class Preset:
    """Sizes and time boxes of one kind of check."""

    name: str
    budgets: dict[str, float]  # seconds per stage
    experiment: tuple[str, ...]  # the benchmark's and the paper_fast stage's config
    batches: tuple[int, ...]  # the batch sweep, the batch-128 comparison first
    train_steps: int  # timed optimizer steps per measurement (after the warm-up)
    train_warmup: int
    samples: int  # images per sampling measurement
    eager_sampling_steps: int  # timed reverse steps of the plain model
    packed_experiment: tuple[str, ...]
    packed_ks: tuple[int, ...]
    paper_fast_extra: tuple[str, ...] = ()
    run_overhead: float = 35.0  # seconds of a paper_fast process outside training (imports, data, final save)
    needs_cuda: bool = True


GPU = Preset(
    name="gpu",
    budgets={"tests": 70, "benchmark": 140, "packed": 30, "paper_fast": 210},
    experiment=("experiment=paper_fast",),
    batches=(128, 1024, 2048, 512, 256),
    train_steps=30,
    train_warmup=5,
    samples=1024,
    eager_sampling_steps=20,
    packed_experiment=("experiment=quick",),
    packed_ks=(1, 8, 32, 64),
)
SMOKE = Preset(
    name="smoke",
    budgets={"tests": 120, "benchmark": 90, "packed": 60, "paper_fast": 90},
    experiment=("experiment=paper_fast", *TINY, *CPU_SPEED),
    batches=(8, 16),
    train_steps=2,
    train_warmup=1,
    samples=16,
    eager_sampling_steps=2,
    # quick's own 16x16 canvas: at 8x8 the UNet's bottleneck is 1x1, where torch's vmap cannot batch
    # group_norm for a one-member ensemble (NYI memory-format query), a limit of the smoke size only.
    packed_experiment=("experiment=quick", "trainer.accelerator=cpu", "train.batch_size=8"),
    packed_ks=(1, 2),
    paper_fast_extra=(
        "train.steps=6",
        "train.warmup_steps=1",
        "train.batch_size=16",
        "eval.every_n_steps=3",
        "eval.batch_size=64",
    ),
    run_overhead=20.0,
    needs_cuda=False,
)


# --------------------------------------------------------------------------- small helpers
def write_json(path: Path, payload) -> None:
    from diffcomp.results import write_json_atomic

    write_json_atomic(path, payload)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def attempt(figures: dict, key: str, fn, save) -> None:
    """``figures[key] = fn()``, or the error: one failed measurement never stops the stage's others."""
    try:
        figures[key] = fn()
    except Exception as error:  # recorded and reported; the stage goes on
        figures[key] = {"error": f"{type(error).__name__}: {error}"}
    save()


def max_time(seconds: float) -> str:
    """Lightning's ``max_time`` string (DD:HH:MM:SS) for a number of seconds."""
    s = max(1, int(seconds))
    return f"00:{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- stage bodies (in the stage's process)
def device_and_name():
    import torch

    from diffcomp.results import device_name

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return device, device_name(device)


def stage_benchmark(preset: Preset, out: Path) -> None:
    """Stage 2: the speed table; written to ``out`` after every measurement (a time-out keeps them)."""
    import benchmark as bench
    import torch

    device, name = device_and_name()
    fig: dict = {"device": name, "experiment": list(preset.experiment), "ours": []}
    save = lambda: write_json(out, fig)
    cfg = bench.compose_experiment(list(preset.experiment))
    arch = bench.arch_of(cfg)
    fig["arch"] = {**arch, "channels": list(arch["channels"])}
    fig["peak_bf16_tflops"] = bench.peak_bf16_tflops(name)
    fig["peak_source"] = bench.PEAK_SOURCE
    attempt(fig, "flops_per_image", lambda: bench.training_flops_per_image(arch, device), save)
    size = 8192 if device.type == "cuda" else 256
    attempt(fig, "matmul_bf16_tflops", lambda: bench.matmul_tflops(device, size), save)
    steps, warmup, first = preset.train_steps, preset.train_warmup, preset.batches[0]
    baseline = lambda: {"batch": first, "images_per_second": bench.baseline_train(arch, first, steps, warmup, device)}
    attempt(fig, "baseline", baseline, save)
    for i, batch in enumerate(preset.batches):
        row: dict = {"batch": batch}
        try:
            run_cfg = bench.compose_experiment([*preset.experiment, f"train.batch_size={batch}"])
            figures, module = bench.lightning_training(run_cfg, steps, warmup)
            row.update(figures)
            flops, peak = fig.get("flops_per_image"), fig["peak_bf16_tflops"]
            if isinstance(flops, float):
                row["tflops"] = row["images_per_second"] * flops / 1e12
                row["share_of_peak"] = row["tflops"] / peak if peak else None
        except Exception as error:  # recorded; the sweep goes on
            row["error"], module = f"{type(error).__name__}: {error}", None
        fig["ours"].append(row)
        save()
        if i == 0 and module is not None:
            fig["sampling"] = {}
            sampling_figures(bench, module, cfg, arch, preset, device, fig["sampling"], save)
        del module
        if device.type == "cuda":
            torch.cuda.empty_cache()


def sampling_figures(bench, module, cfg, arch: dict, preset: Preset, device, into: dict, save) -> None:
    """DDIM-100 and DDPM-T of ``preset.samples`` images: ours through ``module.generate`` (the
    evaluation's path, bf16 autocast when the run trains in bf16), the plain eager-fp32 model from
    its per-step time."""
    count, timesteps = preset.samples, int(cfg.diffusion.timesteps)
    bf16 = str(cfg.trainer.precision).startswith("bf16")
    into.update(images=count, timesteps=timesteps, eager_extrapolated_from_steps=preset.eager_sampling_steps)
    ours = lambda method, steps: lambda: bench.module_sampling_seconds(module, count, method, steps, bf16, device)
    attempt(into, "ours_ddim100", ours("ddim", 100), save)
    attempt(into, f"ours_ddpm{timesteps}", ours("ddpm", None), save)
    per_step = lambda: bench.eager_step_seconds(arch, count, preset.eager_sampling_steps, device)
    attempt(into, "eager_step_seconds", per_step, save)
    if isinstance(into.get("eager_step_seconds"), float):
        into["eager_ddim100"] = 100 * into["eager_step_seconds"]
        into[f"eager_ddpm{timesteps}"] = timesteps * into["eager_step_seconds"]
        save()


def stage_packed(preset: Preset, out: Path) -> None:
    """Stage 3: k quick-scale models trained at once against one quick-scale job (the real path)."""
    import benchmark as bench

    device, name = device_and_name()
    cfg = bench.compose_experiment(list(preset.packed_experiment))
    arch, batch = bench.arch_of(cfg), int(cfg.train.batch_size)
    hook = getattr(bench, "packed_images_per_second", None)
    fig: dict = {
        "device": name,
        "experiment": list(preset.packed_experiment),
        "batch_per_model": batch,
        "method": "packed trainer (benchmark.packed_images_per_second)" if hook else "torch.func ensemble (fallback)",
        "rows": [],
    }
    save = lambda: write_json(out, fig)
    steps, warmup = preset.train_steps, preset.train_warmup
    attempt(fig, "single_job", lambda: bench.lightning_training(cfg, steps, warmup)[0], save)
    single = fig["single_job"].get("images_per_second")
    for k in preset.packed_ks:
        if hook:
            measure = lambda k=k: hook(cfg, k, steps, warmup)
        else:
            measure = lambda k=k: bench.ensemble_images_per_second(arch, k, batch, steps, warmup, device)
        row: dict = {"k": k}
        attempt(row, "images_per_second", measure, save)
        ips = row["images_per_second"]
        if isinstance(ips, float) and single:
            row["vs_one_job"] = ips / single
        fig["rows"].append(row)
        save()


# --------------------------------------------------------------------------- the stages as time-boxed processes
def read_tests(work: Path, rc: int | None, cuda: bool) -> tuple[dict, str | None]:
    """The junit report of ``pytest -m gpu``: each test's outcome and time."""
    tests = []
    try:
        root = ET.parse(work / "tests.xml").getroot()
    except (OSError, ET.ParseError):
        root = None
    for case in root.iter("testcase") if root is not None else []:
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome, message = ("failed" if kind != "skipped" else "skipped"), node.get("message", "")
        tests.append(
            {
                "name": f"{case.get('classname', '')}::{case.get('name', '')}",
                "outcome": outcome,
                "seconds": float(case.get("time") or 0),
                "message": message[:300],
            }
        )
    counts = {o: sum(t["outcome"] == o for t in tests) for o in ("passed", "failed", "skipped")}
    status = None
    if rc == 0 and tests and counts["skipped"] == len(tests) and not cuda:
        status = "skipped: no CUDA"
    elif rc == 5 or (rc == 0 and not tests):
        status = "failed: no gpu-marked test collected"
    return {"tests": tests, "counts": counts}, status


def read_paper_fast(work: Path, rc: int | None, cuda: bool) -> tuple[dict, str | None]:
    """The paper_fast run's record: accuracy against wall time since training began."""
    from diffcomp.results import read_record

    record = read_record(work / "paper_fast") or {}
    history = record.get("history") or []
    curve = [
        {"step": e["step"], "wall_seconds": e.get("wall_seconds"), "acc": e.get("eval/acc")}
        for e in history
        if isinstance(e.get("eval/acc"), (int, float))
    ]
    reached = next((p for p in curve if p["acc"] >= TARGET_ACCURACY), None)
    timings = record.get("timings") or {}
    config = record.get("config") or {}
    figures = {
        "record_status": record.get("status"),
        "device": record.get("device"),
        "target_accuracy": TARGET_ACCURACY,
        "reached": reached,
        "best_acc": max((p["acc"] for p in curve), default=None),
        "curve": curve,
        "train_steps": timings.get("train_steps"),
        "train_images_per_second": timings.get("train_images_per_second"),
        "train_seconds": timings.get("train_seconds"),
        "evaluation_seconds": timings.get("evaluation_seconds"),
        "batch_size": (config.get("train") or {}).get("batch_size"),
        "error": record.get("error"),
    }
    return figures, None


def read_stage_json(name: str):
    def read(work: Path, rc: int | None, cuda: bool) -> tuple[dict, str | None]:
        return read_json(work / f"{name}.json"), None

    return read


READERS = {
    "tests": read_tests,
    "benchmark": read_stage_json("benchmark"),
    "packed": read_stage_json("packed"),
    "paper_fast": read_paper_fast,
}


def command_of(name: str, preset: Preset, work: Path, budget: float, smoke: bool) -> list[str]:
    py = sys.executable
    if name == "tests":
        junit = f"--junitxml={work / 'tests.xml'}"
        return [py, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", junit, str(REPO / "tests")]
    if name == "paper_fast":
        limit = max_time(budget - preset.run_overhead)
        return [
            py,
            "-m",
            "diffcomp.run",
            *preset.experiment,
            *preset.paper_fast_extra,
            f"trainer.max_time={limit}",
            "logger=none",
            "trainer.enable_progress_bar=false",
            f"hydra.run.dir={work / 'paper_fast'}",
        ]
    return [py, str(Path(__file__).resolve()), "--stage", name, "--work", str(work)] + (["--smoke"] if smoke else [])


def run_stage(name: str, command: list[str], budget: float, work: Path, log) -> tuple[int | None, float]:
    """Run one stage's process (its own process group) for at most ``budget`` seconds."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "PYTHONUNBUFFERED": "1",
        "WANDB_MODE": "disabled",
        "MPLBACKEND": "Agg",
        "TORCHINDUCTOR_CACHE_DIR": str(work / f"inductor-{name}"),  # cold compilation in every stage
        "TRITON_CACHE_DIR": str(work / f"triton-{name}"),
    }
    log.write(f"\n===== stage {name} (budget {budget:.0f} s): {' '.join(command)}\n")
    log.flush()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = proc.wait(timeout=max(budget, 1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the stage and its compile workers
        proc.wait()
        rc = None
    seconds = time.perf_counter() - started
    log.write(f"===== stage {name}: {'timed out' if rc is None else f'exit {rc}'} after {seconds:.1f} s\n")
    log.flush()
    return rc, seconds


# --------------------------------------------------------------------------- the report
def goals(stages: dict) -> list[dict]:
    """The issue's goals against what was measured (None where a stage did not measure it)."""
    bench = stages.get("benchmark", {}).get("figures", {})
    ours = [r for r in bench.get("ours", []) if isinstance(r.get("images_per_second"), float)]
    base = (bench.get("baseline") or {}).get("images_per_second")
    first = ours[0] if ours and ours[0]["batch"] == (bench.get("baseline") or {}).get("batch") else None
    fastest = max(ours, key=lambda r: r["images_per_second"], default=None)
    sampling = bench.get("sampling") or {}
    packed = [r.get("vs_one_job") for r in stages.get("packed", {}).get("figures", {}).get("rows", [])]
    packed = [v for v in packed if isinstance(v, float)]
    reached = (stages.get("paper_fast", {}).get("figures") or {}).get("reached")
    ddpm = next((v for k, v in sampling.items() if k.startswith("ours_ddpm") and isinstance(v, float)), None)
    ddim = sampling.get("ours_ddim100") if isinstance(sampling.get("ours_ddim100"), float) else None
    rows = [
        (
            "training vs the eager loop at batch 128",
            ">=",
            4.0,
            first and base and first["images_per_second"] / base,
            "x",
        ),
        ("share of the bf16 peak at the fastest batch", ">=", 0.25, fastest and fastest.get("share_of_peak"), ""),
        ("DDPM-1000 sampling of 1 024 images (s)", "<=", 15.0, ddpm, "s"),
        ("DDIM-100 sampling of 1 024 images (s)", "<=", 2.0, ddim, "s"),
        (
            "paper default to >= 95 % accuracy (s, compilation included)",
            "<=",
            240.0,
            reached and reached["wall_seconds"],
            "s",
        ),
        ("packed quick-scale training vs one job", ">=", 10.0, max(packed, default=None), "x"),
    ]
    out = []
    for goal, op, target, value, unit in rows:
        value = value if isinstance(value, (int, float)) else None
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out.append({"goal": goal, "target": f"{op} {target:g}{unit}", "measured": value, "met": met})
    return out


def fmt(value, spec: str = ",.0f", missing: str = "-") -> str:
    if isinstance(value, dict) and "error" in value:
        return "error"
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else missing


def markdown(report: dict) -> str:
    """gpu_check.md: the README's GPU tables, filled."""
    lines = [
        f"# GPU check ({report['preset']} preset)",
        "",
        f"Device: **{report['device']}**; torch {report['versions'].get('torch')}, lightning "
        f"{report['versions'].get('lightning')}, Python {report['versions'].get('python')}; {report['started']}; "
        f"{report['total_seconds']:.0f} s in all.",
        "",
        "| stage | status | seconds | budget (s) |",
        "| --- | --- | --- | --- |",
    ]
    stages = report["stages"]
    for name in STAGES:
        s = stages[name]
        lines.append(f"| {name} | {s['status']} | {fmt(s.get('seconds'), '.1f')} | {fmt(s.get('budget_seconds'))} |")
    tests = stages["tests"]["figures"].get("tests", [])
    if tests:
        lines += ["", "## gpu-marked tests", "", "| test | outcome | seconds |", "| --- | --- | --- |"]
        lines += [f"| `{t['name']}` | {t['outcome']} | {t['seconds']:.1f} |" for t in tests]
    b = stages["benchmark"]["figures"]
    if b:
        base = (b.get("baseline") or {}).get("images_per_second")
        lines += [
            "",
            "## Training and sampling (benchmark)",
            "",
            f"`{' '.join(b.get('experiment', []))}`; {fmt(b.get('flops_per_image'), '.3g')} FLOP per training image "
            f"(forward + backward); bf16 peak {fmt(b.get('peak_bf16_tflops'), '.1f')} TFLOP/s ({b.get('peak_source')}); "
            f"measured bf16 matmul {fmt(b.get('matmul_bf16_tflops'), '.0f')} TFLOP/s.",
            "",
            "| batch | ours images/s | TFLOP/s | share of bf16 peak | warm-up incl. compile (s) | vs eager fp32 loop |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in b.get("ours", []):
            ratio = (
                r.get("images_per_second") / base if base and isinstance(r.get("images_per_second"), float) else None
            )
            vs = f"{ratio:.2f}x (eager {base:,.0f})" if ratio and r["batch"] == b["baseline"].get("batch") else "-"
            share = r.get("share_of_peak")
            lines.append(
                f"| {r['batch']} | {fmt(r.get('images_per_second'))} | {fmt(r.get('tflops'), '.1f')} | "
                f"{fmt(share * 100 if isinstance(share, float) else None, '.1f')} % | "
                f"{fmt(r.get('warmup_seconds'), '.1f')} | {vs} |"
                if "error" not in r
                else f"| {r['batch']} | error: {r['error'][:120]} | | | | |"
            )
        s = b.get("sampling") or {}
        if s:
            t = s.get("timesteps")
            lines += [
                "",
                f"| sampling {s.get('images')} images | plain eager fp32 (s) | ours (s) | ratio |",
                "| --- | --- | --- | --- |",
            ]
            for label, ours_key, eager_key in (
                ("DDIM-100", "ours_ddim100", "eager_ddim100"),
                (f"DDPM-{t}", f"ours_ddpm{t}", f"eager_ddpm{t}"),
            ):
                o, e = s.get(ours_key), s.get(eager_key)
                ratio = f"{e / o:.2f}x" if isinstance(o, float) and isinstance(e, float) else "-"
                lines.append(f"| {label} | {fmt(e, '.2f')} | {fmt(o, '.2f')} | {ratio} |")
            lines.append(
                f"\n(Plain-model sampling: per-step time over {s.get('eager_extrapolated_from_steps')} steps x steps.)"
            )
    p = stages["packed"]["figures"]
    if p:
        single = (p.get("single_job") or {}).get("images_per_second")
        lines += [
            "",
            f"## Packed quick-scale training ({p.get('method')}, batch {p.get('batch_per_model')} per model)",
            "",
            f"One quick-scale job through the real training path: {fmt(single)} images/s.",
            "",
            "| k models | aggregate images/s | vs one job |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {r['k']} | {fmt(r.get('images_per_second'))} | {fmt(r.get('vs_one_job'), '.2f')}x |"
            for r in p.get("rows", [])
        ]
    f = stages["paper_fast"]["figures"]
    if f:
        reached = f.get("reached")
        head = (
            f"reached {f['target_accuracy']:.0%} at step {reached['step']} after {reached['wall_seconds']:.0f} s"
            if reached
            else f"did not reach {f['target_accuracy']:.0%} (best {fmt(f.get('best_acc'), '.3f')})"
        )
        lines += [
            "",
            "## Time to accuracy (experiment=paper_fast)",
            "",
            f"{head}; {fmt(f.get('train_steps'))} steps of batch {f.get('batch_size')}, "
            f"{fmt(f.get('train_images_per_second'))} images/s over training, evaluations {fmt(f.get('evaluation_seconds'), '.1f')} s "
            "(seconds since training began, compilation and evaluations included).",
            "",
            "| step | seconds | accuracy |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {c['step']} | {fmt(c.get('wall_seconds'), '.1f')} | {c['acc']:.3f} |" for c in f.get("curve", [])]
    lines += ["", "## Goals", "", "| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    for g in report["goals"]:
        met = "-" if g["met"] is None else ("yes" if g["met"] else "no")
        lines.append(f"| {g['goal']} | {g['target']} | {fmt(g['measured'], '.3g')} | {met} |")
    return "\n".join(lines) + "\n"


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in ("torch", "lightning", "hydra-core", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def check(preset: Preset, out: Path, work: Path, total: float, only: tuple[str, ...], smoke: bool) -> dict:
    """Run the stages in order within ``total`` seconds; write gpu_check.json / .md / .log under ``out``."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    started, clock = datetime.now(timezone.utc).isoformat(timespec="seconds"), time.perf_counter()
    report = {
        "preset": preset.name,
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "versions": versions(),
        "started": started,
        "total_budget_seconds": total,
        "stages": {},
    }
    with open(out / "gpu_check.log", "w") as log:
        for name in STAGES:
            budget = min(preset.budgets[name], total - (time.perf_counter() - clock))
            entry = {"status": None, "seconds": 0.0, "budget_seconds": preset.budgets[name], "figures": {}}
            if name not in only:
                entry["status"] = "not run (--only)"
            elif preset.needs_cuda and not cuda and name != "tests":
                entry["status"] = "skipped: no CUDA"
            elif budget < 5:
                entry["status"] = "skipped: the total budget is spent"
            else:
                rc, entry["seconds"] = run_stage(name, command_of(name, preset, work, budget, smoke), budget, work, log)
                entry["figures"], status = READERS[name](work, rc, cuda)
                entry["status"] = status or (
                    f"timed out after {budget:.0f} s" if rc is None else "ok" if rc == 0 else f"failed (exit {rc})"
                )
            report["stages"][name] = entry
            report["total_seconds"] = time.perf_counter() - clock
            report["goals"] = goals(report["stages"])
            write_json(out / "gpu_check.json", report)  # after every stage: a kill keeps what is done
    report["total_seconds"] = time.perf_counter() - clock
    report["goals"] = goals(report["stages"])
    write_json(out / "gpu_check.json", report)
    for name in STAGES:
        report["stages"].setdefault(name, {"status": "not run", "figures": {}})
    (out / "gpu_check.md").write_text(markdown(report))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on any device (seconds)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "outputs/gpu_check"))
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: a fresh one in /tmp)")
    parser.add_argument("--total", type=float, default=450.0, help="seconds for all stages together")
    parser.add_argument("--only", default=",".join(STAGES), help="comma-separated stages to run")
    parser.add_argument("--budget", action="append", default=[], metavar="STAGE=SECONDS", help="a stage's time box")
    parser.add_argument("--stage", choices=("benchmark", "packed"), help=argparse.SUPPRESS)  # one stage's body
    args = parser.parse_args()
    preset = SMOKE if args.smoke else GPU
    if args.stage:
        {"benchmark": stage_benchmark, "packed": stage_packed}[args.stage](preset, args.work / f"{args.stage}.json")
        return
    budgets = dict(preset.budgets)
    for item in args.budget:
        stage, _, seconds = item.partition("=")
        if stage not in STAGES or not seconds.replace(".", "", 1).isdigit():
            parser.error(f"--budget {item!r}: expected STAGE=SECONDS with STAGE one of {', '.join(STAGES)}")
        budgets[stage] = float(seconds)
    only = tuple(s for s in args.only.split(",") if s)
    unknown = set(only) - set(STAGES)
    if unknown:
        parser.error(f"--only: unknown stages {sorted(unknown)}; allowed: {', '.join(STAGES)}")
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    preset = Preset(**{**preset.__dict__, "budgets": budgets})
    report = check(preset, args.out, work, args.total, only, args.smoke)
    print((args.out / "gpu_check.md").read_text())
    failed = [n for n, s in report["stages"].items() if str(s["status"]).startswith(("failed", "timed out"))]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
