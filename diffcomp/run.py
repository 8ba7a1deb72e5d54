"""``python -m diffcomp.run``: the same command as ``diffcomp-run`` (:mod:`diffcomp.cli.run`)."""

from diffcomp.cli.run import main

if __name__ == "__main__":
    main()
