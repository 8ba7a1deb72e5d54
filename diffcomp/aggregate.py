"""``python -m diffcomp.aggregate``: the same command as ``diffcomp-aggregate`` (:mod:`diffcomp.cli.aggregate`)."""

import sys

from diffcomp.cli.aggregate import main

if __name__ == "__main__":
    sys.exit(main())
