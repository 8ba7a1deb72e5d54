"""``diffcomp-aggregate`` / ``python -m diffcomp.aggregate <sweep dir>``: a sweep's table, summary and plots.

python -m diffcomp.aggregate outputs/sweeps/2025-01-01/12-00-00 [--metric eval/acc] [--x lambda]
    [--hue data.sigma] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffcomp.sweeps.aggregate import aggregate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="diffcomp-aggregate", description="Tabulate, summarise and plot a sweep's results.json records."
    )
    parser.add_argument("sweep_dir", type=Path, help="the sweep directory (searched recursively for results.json)")
    parser.add_argument("--metric", help="metric column to plot (default eval/acc, else the first metric)")
    parser.add_argument("--x", help="swept parameter on the x axis (default: the one with most values)")
    parser.add_argument("--hue", help="swept parameter drawn as one line per value / the heat map's rows")
    parser.add_argument("--out", type=Path, help="output folder (default <sweep_dir>/aggregate)")
    parser.add_argument(
        "--wandb",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log the table and plots to a W&B summary run (default: when the sweep used W&B)",
    )
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        parser.error(f"{args.sweep_dir} is not a directory")
    result = aggregate(args.sweep_dir, args.metric, args.x, args.hue, args.out, args.wandb)
    print(result["summary"])
    if result["table"] is None:
        return 1
    print(f"table: {result['table']}")
    for plot in result["plots"]:
        print(f"plot: {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
