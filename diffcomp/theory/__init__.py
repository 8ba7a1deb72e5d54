"""Theory companions of the experiments: models simple enough to simulate in seconds on a CPU.

* :mod:`~diffcomp.theory.overlap` - the image overlap of appendix A.5 (Fig. 6b);
* :mod:`~diffcomp.theory.percolation` - largest-cluster mass ratio over lambda (Sec. 3.3, Fig. 6c, D.1);
* :mod:`~diffcomp.theory.identity_mapping` - the structured identity mapping of Yang et al. (ICLR 2025):
  concept learning order and the swing-by of the OOD loss.

Each task module exposes ``validate(cfg)`` and ``run(cfg, out_dir)`` for ``python -m diffcomp.run task=...``.
"""
