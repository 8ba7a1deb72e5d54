import json

import numpy as np
import pytest
from analysis_helpers import PERIOD, embed, square_grid

from diffcomp.analysis import analyze_representation

CHEAP_KEYS = {
    "repr/participation_ratio",
    "repr/explained_var_top10",
    "repr/explained_var_top4",
    "repr/n_samples",
    "repr/probe_r2_x",
    "repr/probe_r2_y",
    "repr/cond_cos_xy_mean",
    "repr/seconds",
}
TOPOLOGY_KEYS = {
    "repr/betti0",
    "repr/betti1",
    "repr/betti2",
    "repr/topology_threshold_h0",
    "repr/topology_threshold_h1",
    "repr/topology_threshold_h2",
    "repr/topology_calibrated",
    "repr/topology_scale",
    "repr/topology_largest_component",
    "repr/persistence_h0_2",
    "repr/persistence_h1_1",
    "repr/persistence_h1_2",
    "repr/persistence_h2_1",
}
TORUS_STATS = (
    {f"repr/wasserstein_{s}_{i}" for s in ("orth", "pcos", "par") for i in ("clifford", "3d")}
    | {f"repr/{s}_{t}_mean" for s in ("orth", "pcos", "par") for t in ("xy", "xx", "yy")}
    | {
        "repr/wasserstein_clifford",
        "repr/wasserstein_3d",
        "repr/wasserstein_orth_xy_clifford",
        "repr/wasserstein_par_xx_3d",
        "repr/seconds_torus_tests",
    }
)
TORUS_KEYS = TORUS_STATS | {"repr/torus_verdict"}
FIGURES = {"pca_spectrum", "pca_projections", "persistence", "torus_tests", "umap"}


@pytest.fixture(scope="module")
def layer(clifford):
    return embed(clifford, 96, 0.005, seed=0).astype(np.float32).reshape(1024, 6, 4, 4)  # a conv layer's shape


def test_full_analysis_of_a_clifford_torus(layer, grid_labels, tmp_path):
    scalars, paths = analyze_representation(layer, grid_labels, tmp_path, period=PERIOD)
    assert scalars.keys() >= CHEAP_KEYS | TOPOLOGY_KEYS | TORUS_KEYS
    assert all(k.startswith("repr/") for k in scalars)
    json.dumps(scalars)  # plain Python scalars only
    assert all(type(v) in (int, float, str, bool) for v in scalars.values())
    assert scalars["repr/n_features"] == 96
    assert scalars["repr/participation_ratio"] == pytest.approx(4.0, abs=0.1)
    assert (scalars["repr/betti0"], scalars["repr/betti1"], scalars["repr/betti2"]) == (1, 2, 1)
    # lifetimes in units of the radius: the two loops and the void clear the cut (0.35), no 2nd cluster
    assert min(scalars[f"repr/persistence_h{k}"] for k in ("1_1", "1_2", "2_1")) > 0.5
    assert scalars["repr/persistence_h0_2"] < 0.35
    assert scalars["repr/torus_verdict"] == "clifford"
    assert scalars["repr/wasserstein_clifford"] < 0.05 and scalars["repr/wasserstein_3d"] > 1.0
    assert scalars["repr/par_xx_mean"] < 0.01 and scalars["repr/pcos_xy_mean"] < 0.01
    assert scalars["repr/probe_r2_x"] > 0.99 and scalars["repr/probe_r2_y"] > 0.99
    assert scalars["repr/cond_cos_xy_mean"] < 0.05
    assert set(paths) == FIGURES | {"arrays"}
    arrays = np.load(paths.pop("arrays"))
    assert arrays["projections"].shape == (len(grid_labels), 10) and arrays["eigenvalues"][0] > 0
    assert {"diagram_h1", "torus_data_xy_par", "torus_clifford_xx_pcos"} <= set(arrays.files)
    for path in paths.values():
        assert path.parent == tmp_path and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cheap_subset_writes_nothing(layer, grid_labels):
    scalars, paths = analyze_representation(
        layer, grid_labels, period=PERIOD, topology=False, torus_tests=False, top_k=3
    )
    assert paths == {}
    assert "repr/explained_var_top3" in scalars and CHEAP_KEYS - {"repr/explained_var_top10"} <= scalars.keys()
    assert not (TOPOLOGY_KEYS | TORUS_KEYS) & scalars.keys()


def test_mismatched_inputs(grid_labels):
    with pytest.raises(ValueError):
        analyze_representation(np.zeros((10, 3)), grid_labels)


def test_a_sheet_is_not_a_torus(grid_labels):
    """Non-periodic labels: a connected sheet, and no torus statistics at all."""
    layer = embed(square_grid(), 128, 0.01, seed=1)
    scalars, _ = analyze_representation(layer, grid_labels, umap=False, probes=False, conditions=False)
    assert (scalars["repr/betti0"], scalars["repr/betti1"], scalars["repr/betti2"]) == (1, 0, 0)
    assert scalars["repr/topology_largest_component"] == 1.0
    assert scalars["repr/torus_verdict"] == "not a torus"
    assert not TORUS_STATS & scalars.keys()
    assert not any(k.startswith(("repr/wasserstein", "repr/orth", "repr/pcos", "repr/par_")) for k in scalars)


def test_small_grids_and_labels_without_rings():
    rng = np.random.default_rng(0)
    g = np.arange(1.0, 5.0)
    labels = np.stack([a.ravel() for a in np.meshgrid(g, g, indexing="ij")], axis=1)  # a 4 x 4 eval grid
    scalars, _ = analyze_representation(rng.normal(size=(16, 8)), labels, umap=False, period=4.0)
    assert scalars["repr/torus_verdict"] in ("clifford", "3d", "collapsed") and scalars["repr/betti0"] >= 1
    line = np.stack([np.arange(1.0, 17.0), np.ones(16)], axis=1)  # 1-D labels: no rings
    scalars, _ = analyze_representation(rng.normal(size=(16, 8)), line, umap=False, period=16.0)
    assert scalars["repr/torus_verdict"] == "n/a"
    assert not TORUS_STATS & scalars.keys()
    scalars, _ = analyze_representation(rng.normal(size=(16, 8)), line, umap=False)
    assert scalars["repr/torus_verdict"] == "not a torus"
