"""Structured identity mapping: data, gradients, the one-layer closed form, learning order, swing-by."""

import numpy as np
import pytest
import torch

from diffcomp.theory.identity_mapping import (
    MODELS,
    gradients,
    has_swing_by,
    init_params,
    learning_steps,
    one_layer_closed_form,
    ood_point,
    second_moments,
    sim_dataset,
    swing_by,
    train,
)

# the documented swing-by setting (conf/task/identity_mapping.yaml)
SWING = dict(mu=[1.0, 1.5, 3.0], sigma=0.05, d=3, n=100, seed=0, init="positive", init_scale=0.1, lr=0.02, steps=1500)


def run_model(model, mu, sigma, d, n, seed, init, init_scale, lr, steps):
    x, cluster = sim_dataset(mu, sigma, d, n, seed)
    z = ood_point(mu, d)
    params = init_params(model, d, init_scale, init, seed)
    return params, train(model, params, x, cluster, z, lr, steps)


def test_dataset_has_the_papers_second_moments():
    mu, sigma = [1.0, 2.0], [0.3, 0.1]
    x, cluster = sim_dataset(mu, sigma, d=4, n=20000, seed=1)
    assert x.shape == (40000, 4) and np.bincount(cluster).tolist() == [20000, 20000]
    np.testing.assert_allclose(x[cluster == 1].mean(0), [0, 2, 0, 0], atol=0.01)
    np.testing.assert_allclose(x[cluster == 0].std(0), [0.3, 0.1, 0, 0], atol=0.01)  # sigma is a std
    second = x.T @ x / len(x)
    np.testing.assert_allclose(np.diag(second), second_moments(mu, sigma, 4), atol=0.01)
    np.testing.assert_allclose(second_moments(mu, sigma, 4), [0.09 + 0.5, 0.01 + 2.0, 0, 0])


@pytest.mark.parametrize("model", MODELS)
def test_hand_gradients_match_autograd(model):
    params = init_params(model, 4, 0.5, "gaussian", seed=3, hidden=6)
    x = np.random.default_rng(0).standard_normal((30, 4))
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x)
    if model == "linear":
        out = xt @ tensors["W"].T
    elif model == "symmetric":
        out = xt @ tensors["U"] @ tensors["U"].T
    else:
        out = torch.relu(xt @ tensors["W1"].T) @ tensors["W2"].T
    (0.5 * ((out - xt) ** 2).sum(1).mean()).backward()
    for key, grad in gradients(model, params, x).items():
        np.testing.assert_allclose(grad, tensors[key].grad.numpy(), atol=1e-12)


def test_gradient_descent_is_the_discrete_linear_recursion():
    # W_k - I = (W_0 - I)(I - lr C)^k exactly, C the empirical second moment
    mu, d, lr = [1.0, 2.0], 3, 0.05
    x, cluster = sim_dataset(mu, 0.2, d, 50, 0)
    params = init_params("linear", d, 0.1, "gaussian", 0)
    h = train("linear", params, x, cluster, ood_point(mu, d), lr, 40)
    step = np.eye(d) - lr * x.T @ x / len(x)
    expected = np.eye(d) + (params["W"] - np.eye(d)) @ np.linalg.matrix_power(step, 40)
    np.testing.assert_allclose(h["jacobian"][-1], expected, atol=1e-12)


@pytest.mark.parametrize("init", ["positive", "gaussian"])
def test_one_layer_matches_the_closed_form(init):
    mu, sigma, d, lr = [1.0, 1.5, 2.2], 0.05, 4, 0.005  # d > s: an unused input axis
    params, h = run_model("linear", mu, sigma, d, 500, 0, init, 0.1, lr, 4000)
    a = second_moments(mu, sigma, d)
    z = ood_point(mu, d)
    w_theory, f_theory = one_layer_closed_form(params["W"], a, lr * h["step"], z)  # t = lr * step
    error = np.linalg.norm(h["ood_output"] - f_theory, axis=1).max() / np.linalg.norm(z)
    print(f"\nclosed-form relative error ({init}): {error:.2e}")
    assert error < 0.01
    assert np.abs(h["jacobian"] - w_theory).max() < 0.01
    np.testing.assert_allclose(h["jacobian"][:, :, 3], np.broadcast_to(params["W"][:, 3], (4001, 4)))  # never moves


def test_closed_form_is_the_papers_formula():
    rng = np.random.default_rng(0)
    w0, a, z, t = 0.1 * rng.standard_normal((3, 3)), np.array([0.4, 1.0, 0.0]), np.array([1.0, 2.0, 0.0]), 1.7
    _, f = one_layer_closed_form(w0, a, np.array([t]), z)
    s = 2
    expected = [(k < s) * (1 - np.exp(-a[k] * t)) * z[k] + sum(np.exp(-a[i] * t) * w0[k, i] * z[i] for i in range(s)) for k in range(3)]
    np.testing.assert_allclose(f[0], expected, rtol=1e-12)


def test_concepts_are_learned_in_order_of_a():
    mu, sigma = [1.0, 1.5, 2.2], 0.05
    _, h = run_model("linear", mu, sigma, 3, 100, 0, "gaussian", 0.01, 0.02, 1500)
    a = second_moments(mu, sigma, 3)
    steps = learning_steps(h["jacobian"], 0.9, 3)
    assert list(np.argsort(steps)) == list(np.argsort(-a))  # concept 3, then 2, then 1
    # time to half way is ln 2 / a_p in theory time
    np.testing.assert_allclose(learning_steps(h["jacobian"], 0.5, 3) * 0.02, np.log(2) / a, rtol=0.05)


def test_diversity_sets_the_order_when_signals_are_equal():
    # equal mu: the concept with the larger sigma (std) has the larger a and is learned first
    mu, sigma = [1.0, 1.0], [0.2, 0.8]
    for model in ("linear", "symmetric"):
        _, h = run_model(model, mu, sigma, 2, 200, 0, "positive", 0.05, 0.02, 1500)
        steps = learning_steps(h["jacobian"], 0.9, 2)
        assert steps[1] < steps[0], model


def test_symmetric_model_swings_by():
    _, h = run_model("symmetric", **SWING)
    sb = swing_by(h["ood_loss"])
    print("\nswing-by:", {k: round(v, 4) for k, v in sb.items()})
    assert has_swing_by(h["ood_loss"], tolerance=0.01)
    assert 0 < sb["trough_step"] < sb["peak_step"]
    assert sb["trough_value"] < h["ood_loss"][0] and sb["final_value"] < 1e-6
    # at the peak the OOD output is back near the training cluster of concept 3 (mu_3 e_3)
    f = h["ood_output"][sb["peak_step"]]
    assert abs(f[2] - 3.0) < 0.2 and f[1] < h["ood_output"][sb["trough_step"], 1]
    # the concepts are still learned in order of a (3, 2, 1)
    assert list(np.argsort(learning_steps(h["jacobian"], 0.9, 3))) == [2, 1, 0]


def test_briefs_setting_swings_by_weakly():
    # mu = (1, 1.5, 2.2): a smaller swing (about 2 % of the initial OOD loss at this seed)
    _, h = run_model("symmetric", **{**SWING, "mu": [1.0, 1.5, 2.2]})
    assert has_swing_by(h["ood_loss"], tolerance=0.01)


@pytest.mark.parametrize("init", ["positive", "gaussian"])
def test_one_layer_ood_loss_is_monotone(init):
    _, h = run_model("linear", **{**SWING, "init": init})
    sb = swing_by(h["ood_loss"])
    assert sb["relative_amplitude"] < 1e-3
    assert not has_swing_by(h["ood_loss"])
