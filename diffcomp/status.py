"""``python -m diffcomp.status``: the same command as ``diffcomp-status`` (:mod:`diffcomp.cli.status`)."""

import sys

from diffcomp.cli.status import main

if __name__ == "__main__":
    sys.exit(main())
