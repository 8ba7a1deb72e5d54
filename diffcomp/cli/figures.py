"""``diffcomp-figures <sweep dir>``: (re)draw an experiment's figure from a finished or partly finished sweep.

The experiment is read from the sweep's ``multirun.yaml`` (``--experiment`` overrides it); the
figure goes to ``<sweep dir>/figures/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from diffcomp.sweeps.figures import draw_figures, experiment_of, figure_script

    parser = argparse.ArgumentParser(prog="diffcomp-figures", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--experiment", help="the experiments/<name> whose figure to draw (default: the sweep's)")
    parser.add_argument("--out", type=Path, help="output folder (default <sweep dir>/figures)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        parser.error(f"{args.sweep_dir} is not a directory")
    name = args.experiment or experiment_of(args.sweep_dir)
    if not name:
        parser.error(f"{args.sweep_dir} names no experiment (no multirun.yaml); pass --experiment <name>")
    if figure_script(name) is None:
        print(f"experiment {name} has no figure script (experiments/{name}/figure.py)", file=sys.stderr)
        return 1
    paths = draw_figures(args.sweep_dir, name, args.out)
    if not paths:
        print(f"nothing to draw yet: no complete record of experiment {name} under {args.sweep_dir}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
