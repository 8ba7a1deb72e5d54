"""The commands, at the edge: each module parses its arguments and calls the library.

``diffcomp-run`` / ``python -m diffcomp.run`` (train and evaluate, sweeps), ``diffcomp-aggregate`` /
``python -m diffcomp.aggregate`` (a sweep's table and plots), ``diffcomp-figures`` (redraw an
experiment's figure), ``diffcomp-analyze`` (representation analysis of a finished run),
``diffcomp-preview`` (see a dataset). Nothing below this package imports it.
"""
