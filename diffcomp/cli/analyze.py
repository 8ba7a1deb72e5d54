"""``diffcomp-analyze <run dir>``: the representation analysis on a finished run's weights.

Samples the evaluation grid, analyses the probed layer (as the training callback does), writes the
figures to ``<run dir>/analysis/final/`` and adds the scalars to the run's ``results.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from diffcomp.runs import analyze_finished_run

    parser = argparse.ArgumentParser(prog="diffcomp-analyze", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sampler", default="ddim", choices=["ddim", "ddpm"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--layer", default=None, help="default: the run's eval.probe_layer")
    parser.add_argument("--no-umap", action="store_true")
    parser.add_argument("--no-topology", action="store_true")
    args = parser.parse_args(argv)
    result = analyze_finished_run(
        args.run_dir, args.sampler, args.steps, args.layer, umap=not args.no_umap, topology=not args.no_topology
    )
    for key, value in result["scalars"].items():
        print(f"{key}: {value}")
    print(f"figures in {args.run_dir / 'analysis' / 'final'}; record updated: {args.run_dir / 'results.json'}")


if __name__ == "__main__":
    main()
