"""``diffcomp-status`` / ``python -m diffcomp.status <sweep dir>``: how a sweep stands and how to finish it.

Counts complete / running / pending / failed / interrupted / lost / unreadable / not-started jobs,
prints each unfinished job with its SLURM state and error line, and the command that resubmits
exactly the jobs that are not complete. Exit status 0 when every job is complete, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from diffcomp.sweeps.status import sweep_status

    parser = argparse.ArgumentParser(prog="diffcomp-status", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        status = sweep_status(args.sweep_dir)
    except FileNotFoundError as error:
        parser.error(str(error))
    print(status.text())
    return 0 if not status.unfinished() and status.counts().get("complete") == len(status.jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
