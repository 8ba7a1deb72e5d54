"""Local conditional scores and length generalisation (Bradley et al., arXiv 2509.16447), issue #7 part 3.

Canvases with k Gaussian bumps are conditioned on the *set* of bump locations. Models train on
k in {1, 2, 3} and are asked for up to 6 bumps. Two labelling regimes (every bump's location, or
only one random bump's) meet two denoisers (a UNet with a global set embedding, and a fully
convolutional denoiser whose score at a pixel sees only nearby pixels and nearby conditions).

One concept per module, data flowing downwards:

* :mod:`~diffcomp.localscores.scenes` - sampling separated locations, rendering multi-bump canvases,
  the padded condition tensors of both regimes (pure functions);
* :mod:`~diffcomp.localscores.datamodule` - the LightningDataModule serving them;
* :mod:`~diffcomp.localscores.global_unet` - the paper's UNet conditioned on a set embedding;
* :mod:`~diffcomp.localscores.local_denoiser` - the locality-enforcing denoiser;
* :mod:`~diffcomp.localscores.matching` - detected bumps vs conditioned locations (the metric);
* :mod:`~diffcomp.localscores.directions` - condition-direction cosine similarities;
* :mod:`~diffcomp.localscores.callback` - the evaluation callback;
* :mod:`~diffcomp.localscores.figures` - accuracy-vs-k plots and sample grids;
* :mod:`~diffcomp.localscores.task` - ``validate(cfg)`` and ``run(cfg, out_dir)`` for ``task=local_scores``.
"""
