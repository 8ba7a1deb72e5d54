"""What the experiments' figure scripts (``experiments/<name>/figure.py``) draw with: the last stage
of the data flow, records and saved arrays -> tables and figures. Nothing here trains or samples.

* :mod:`~diffcomp.report.numbers`: summaries over seeds and number formatting;
* :mod:`~diffcomp.report.tables`: markdown tables (the only way a table is written) and figure files;
* :mod:`~diffcomp.report.history`: one job's evaluations and analyses over training, its sweep's scale;
* :mod:`~diffcomp.report.samples`: the tiles an evaluation saved as arrays, and panels of them;
* :mod:`~diffcomp.report.sections`: the section figure and table (accuracy per evaluation section);
* :mod:`~diffcomp.report.mixture`: the runs table of sweeps over 2D + 1D mixture shares.
"""
