"""Theory companions of the experiments: models simple enough to simulate in seconds on a CPU.

* :mod:`~diffcomp.theory.overlap` - the image overlap of appendix A.5 (Fig. 6b);
* :mod:`~diffcomp.theory.percolation` - largest-cluster mass ratio over lambda and its crossing
  ``lambda_half`` per sigma and threshold (Sec. 3.3, Fig. 6c, 13, 14b, D.1);
* :mod:`~diffcomp.theory.identity_mapping` - the structured identity mapping of Yang et al. (ICLR 2025):
  concept learning order and how often (over seeds) the OOD loss swings by.

Each task module exposes ``validate(cfg)`` and ``run(cfg, out_dir)`` for ``python -m diffcomp.run task=...``.
"""
