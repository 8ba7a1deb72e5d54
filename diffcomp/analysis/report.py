"""One call that runs the representation analyses and flattens them into loggable scalars.

``analyze_representation`` is what a training callback or an evaluation script calls with a layer's
activations at the evaluation labels. Every part past the PCA can be switched off so a callback can
log the cheap statistics often and the expensive ones (UMAP, topology) rarely. Scalars are plain
Python ``float``/``int``/``str`` under ``repr/`` keys, ready for ``json.dumps`` or a logger.
UMAP only produces a picture, so it runs only when ``out_dir`` is given. The torus tests run only on a
periodic label space (``period`` given); otherwise ``torus_verdict`` is ``"not a torus"`` and no torus
statistic is reported. On a periodic space whose labels hold no rings (fewer than two values of an
axis with >= 3 points each) the verdict is ``"n/a"``.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from diffcomp.analysis import figures
from diffcomp.analysis.conditions import condition_orthogonality
from diffcomp.analysis.geometry import as_matrix, explained_variance_ratio, participation_ratio, pca
from diffcomp.analysis.probes import linear_probe_r2
from diffcomp.analysis.topology import lifetimes, persistent_homology
from diffcomp.analysis.torus_tests import enough_rings
from diffcomp.analysis.torus_tests import torus_tests as run_torus_tests
from diffcomp.files import atomic_path

PREFIX = "repr/"
_PCA_KEEP = 10  # PCs kept for projections/topology; the full spectrum is always computed


def analyze_representation(
    activations: np.ndarray,
    labels: np.ndarray,
    out_dir: str | Path | None = None,
    *,
    period: float | None = None,
    top_k: int = 10,
    umap: bool = True,
    topology: bool = True,
    torus_tests: bool = True,
    probes: bool = True,
    conditions: bool = True,
    seed: int = 0,
    blas_threads: int | None = 1,
) -> tuple[dict[str, float | int | str], dict[str, Path]]:
    """Analyse ``activations`` [M, D] (any trailing shape is flattened) at ``labels`` [M, 2].

    Returns ``(scalars, figure_paths)``; figures are written (and returned) only with ``out_dir``.
    ``blas_threads`` caps BLAS threads for the call (``None`` leaves them alone): the matrices are
    small, and inside a busy training process oversubscribed BLAS threads made the same analysis
    ~7x slower in our measurement (the torus tests' 64 small SVDs: 1 s -> 40 s).
    """
    options = dict(period=period, top_k=top_k, umap=umap, topology=topology, torus_tests=torus_tests)
    options.update(probes=probes, conditions=conditions, seed=seed)
    limit = nullcontext() if blas_threads is None else threadpool_limits(limits=blas_threads, user_api="blas")
    with limit:
        return _analyze(activations, labels, out_dir, **options)


def _analyze(activations, labels, out_dir, *, period, top_k, umap, topology, torus_tests, probes, conditions, seed):
    """The body of :func:`analyze_representation`."""
    start = time.perf_counter()
    x = as_matrix(activations)
    labels = np.asarray(labels, dtype=np.float64)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} activations but {len(labels)} labels")
    out: dict[str, float | int | str] = {"n_samples": len(x), "n_features": x.shape[1]}
    paths: dict[str, Path] = {}
    out_dir = None if out_dir is None else Path(out_dir)

    fit = pca(x, max(_PCA_KEEP, top_k))
    lam = fit.eigenvalues
    # the raw arrays behind the figures, for experiment figures drawn across evaluations and runs
    arrays: dict[str, np.ndarray] = {
        "eigenvalues": lam,
        "projections": fit.projections[:, :_PCA_KEEP],
        "labels": labels,
    }
    out["participation_ratio"] = participation_ratio(lam)
    out[f"explained_var_top{top_k}"] = explained_variance_ratio(lam, top_k)
    if top_k != 4:
        out["explained_var_top4"] = explained_variance_ratio(lam, 4)
    for i in range(min(top_k, len(lam))):
        out[f"explained_var_pc{i + 1}"] = float(lam[i] / lam.sum()) if lam.sum() > 0 else 0.0
    if out_dir is not None:
        paths["pca_spectrum"] = figures.plot_pca_spectrum(lam, out_dir / "pca_spectrum.png")
        paths["pca_projections"] = figures.plot_pca_projections(
            fit.projections, labels, out_dir / "pca_projections.png"
        )

    if probes:
        tic = time.perf_counter()
        r2 = linear_probe_r2(x, labels, period=period, seed=seed)
        out["probe_r2_x"], out["probe_r2_y"] = r2["x"], r2["y"]
        out["seconds_probes"] = time.perf_counter() - tic

    if conditions:
        cond = condition_orthogonality(x, labels)
        out["cond_cos_xy_mean"] = cond["xy_mean_abs"]
        out["cond_cos_xy_max"] = cond["xy_max_abs"]
        out["cond_cos_xx_mean"] = cond["xx_mean_abs"]
        out["cond_cos_yy_mean"] = cond["yy_mean_abs"]
        out["cond_xy_subspace_overlap"] = cond["xy_subspace_overlap"]

    if topology:
        tic = time.perf_counter()
        # the top PCs carry the same spectrum ratios the topology's own PC choice looks at
        ph = persistent_homology(fit.projections, seed=seed)
        for dim, b in enumerate(ph.betti):
            out[f"betti{dim}"] = int(b)
        # lifetimes in units of the cloud's radius, read in the Betti rule's window; h0_2 is the
        # longest finite H0 bar (the gap to a second cluster), h1_1 .. the longest H1, H2 bars
        for dim, ranks in ((0, (2,)), (1, (1, 2)), (2, (1,))):
            life = np.sort(lifetimes(ph.diagrams[dim], ph.window))[::-1] if dim < len(ph.diagrams) else []
            for rank in ranks:
                rel = float(life[rank - 1] / ph.scale) if rank <= len(life) and ph.scale > 0 else 0.0
                out[f"persistence_h{dim}_{rank}"] = rel
        out["topology_scale"] = ph.scale
        out["topology_largest_component"] = ph.largest_component
        for dim, threshold in enumerate(ph.thresholds):
            out[f"topology_threshold_h{dim}"] = threshold
        out["topology_window"] = ph.window
        out["topology_calibrated"] = ph.calibrated  # False below 256 points: Betti numbers not validated
        out["topology_n_pcs"] = ph.n_pcs
        out["topology_n_points"] = ph.n_points
        out["seconds_topology"] = time.perf_counter() - tic
        arrays.update({f"diagram_h{dim}": dgm for dim, dgm in enumerate(ph.diagrams)})
        arrays["topology_scale"] = np.asarray(ph.scale)
        if out_dir is not None:
            paths["persistence"] = figures.plot_persistence_diagram(
                ph.diagrams, out_dir / "persistence.png", ph.thresholds, ph.window
            )

    if torus_tests and period is None:
        out["torus_verdict"] = "not a torus"  # a torus needs a periodic label space
    elif torus_tests and not enough_rings(labels):
        out["torus_verdict"] = "n/a"  # e.g. 1-D labels: there are no rings to compare
    elif torus_tests:
        tic = time.perf_counter()
        # the top PCs span the same top-4 subspace the tests project on, at a fraction of the cost
        tt = run_torus_tests(fit.projections, labels, period=period, seed=seed)
        for key, value in tt["wasserstein"].items():
            out[f"wasserstein_{key}"] = value
        for test, stats in tt["data"].items():
            for stat, values in stats.items():
                out[f"{stat}_{test}_mean"] = float(np.mean(values))
        out["torus_verdict"] = tt["verdict"]
        out["torus_plane_overlap"] = tt["plane_overlap"]  # >= 0.5: both labels' rings in one plane
        out["seconds_torus_tests"] = time.perf_counter() - tic
        for source in ("data", "clifford", "3d"):
            for test, stats in tt[source].items():
                arrays.update({f"torus_{source}_{test}_{stat}": np.asarray(values) for stat, values in stats.items()})
        if out_dir is not None:
            paths["torus_tests"] = figures.plot_torus_tests(tt, out_dir / "torus_tests.png")

    if umap and out_dir is not None:
        from diffcomp.analysis.embedding import umap_embedding

        tic = time.perf_counter()
        embedding = umap_embedding(x, seed=seed)
        out["seconds_umap"] = time.perf_counter() - tic
        paths["umap"] = figures.plot_embedding_3d(embedding, labels, out_dir / "umap.png")

    if out_dir is not None:
        paths["arrays"] = out_dir / "arrays.npz"
        with atomic_path(paths["arrays"]) as tmp:
            np.savez_compressed(tmp, **arrays)
    out["seconds"] = time.perf_counter() - start
    scalars = {PREFIX + k: _plain(v) for k, v in out.items()}
    return scalars, paths


def _plain(value):
    """numpy scalars -> Python scalars, so the dict is JSON-serialisable."""
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)
