"""``diffcomp-evaluate <run dir> [--sampler ddpm|ddim] [--steps K] [--no-clip]``: re-evaluate a finished run.

Samples the run's evaluation labels with another sampler (or without clamping the predicted clean
image) using the run's own evaluation noise, and prints the accuracy of appendix A.3 beside the
run's recorded one. Nothing is written: the run's record stays as it was trained.
"""

from __future__ import annotations

import argparse
from pathlib import Path

KEYS = (
    "eval/acc",
    "eval/acc_x",
    "eval/acc_y",
    "eval/frac_no_feature",
    "eval/frac_one_feature",
    "eval/frac_several_features",
)


def main(argv: list[str] | None = None) -> int:
    from diffcomp.runs import load_run

    parser = argparse.ArgumentParser(prog="diffcomp-evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sampler", default=None, choices=["ddpm", "ddim"], help="default: the run's eval.sampler")
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the run's eval.steps)")
    parser.add_argument(
        "--clip", action=argparse.BooleanOptionalAction, default=None, help="clamp predicted x0 (default: the run's)"
    )
    args = parser.parse_args(argv)
    run = load_run(args.run_dir, device="cpu" if not __import__("torch").cuda.is_available() else None)
    e = run.config.eval
    sampler, steps = args.sampler or e.sampler, args.steps or e.steps
    clip = e.clip_x0 if args.clip is None else args.clip
    metrics = run.evaluate(sampler=sampler, steps=steps, clip_x0=clip)
    print(f"{args.run_dir}: sampler={sampler}{'' if sampler == 'ddpm' else f' steps={steps}'} clip_x0={clip}")
    for key in KEYS:
        recorded = run.metrics.get(key)
        print(
            f"  {key:28s} {metrics[key]:.4f}" + (f"   (recorded {recorded:.4f})" if isinstance(recorded, float) else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
