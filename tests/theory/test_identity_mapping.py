"""Structured identity mapping: data, gradients, the one-layer closed form, learning order, swing-by."""

import numpy as np
import pytest
import torch

from diffcomp.theory.identity_mapping import (
    MODELS,
    gradients,
    has_swing_by,
    init_params,
    learned_in_order,
    learning_order,
    learning_steps,
    one_layer_closed_form,
    ood_point,
    order_label,
    second_moments,
    sim_dataset,
    summarise_seeds,
    swing_by,
    train,
)

# the documented setting (conf/task/identity_mapping.yaml) with the positive initialisation, which
# tilts the first learned direction towards the composition and so swings by (at seed 0)
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
    expected = [
        (k < s) * (1 - np.exp(-a[k] * t)) * z[k] + sum(np.exp(-a[i] * t) * w0[k, i] * z[i] for i in range(s))
        for k in range(3)
    ]
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


def test_swing_by_needs_a_tilt_towards_the_composition():
    # the mechanism: the symmetric model's minor entries (U U^T)_ij start with the sign of the tilt;
    # towards x_b (positive) the OOD output overshoots to the composition and swings back, away from it it can't
    mu, d = [1.0, 1.5, 3.0], 3
    x, cluster = sim_dataset(mu, 0.05, d, 100, 0)
    z = ood_point(mu, d)
    off = 0.5 * (1 - np.eye(d))
    towards = train("symmetric", {"U": 0.1 * (np.eye(d) + off)}, x, cluster, z, 0.02, 1500)
    away = train("symmetric", {"U": 0.1 * (np.eye(d) - off)}, x, cluster, z, 0.02, 1500)
    assert has_swing_by(towards["ood_loss"]) and swing_by(towards["ood_loss"])["relative_amplitude"] > 0.02
    assert not has_swing_by(away["ood_loss"]) and swing_by(away["ood_loss"])["relative_amplitude"] == 0.0


def test_gaussian_init_draws_the_tilt_sign_at_random():
    # entries init_scale * N(0, 1): both signs of every minor entry occur across seeds
    us = [init_params("symmetric", 3, 0.1, "gaussian", seed)["U"] for seed in range(20)]
    minors = np.array([(u @ u.T)[np.triu_indices(3, 1)] for u in us])
    assert (minors > 0).any(axis=0).all() and (minors < 0).any(axis=0).all()
    positive = np.array([init_params("symmetric", 3, 0.1, "positive", seed)["U"] for seed in range(20)])
    assert (positive > 0).all()


@pytest.mark.parametrize(
    "loss, expected",
    [
        ([5.0, 4.0, 3.0, 2.0, 1.0], False),  # monotone
        ([5.0, 2.0, 3.0, 1.0], True),  # falls, rises by 20 % of L(0), falls below the trough
        ([5.0, 2.0, 3.0, 2.5], False),  # rises but never gets below the trough again
        ([5.0, 2.0, 2.04, 1.0], False),  # the rise (0.8 % of L(0)) is within the tolerance
        ([5.0, 6.0, 1.0], False),  # rises first: no fall before the rise
    ],
)
def test_swing_by_is_fall_rise_fall(loss, expected):
    assert has_swing_by(np.array(loss), tolerance=0.01) is expected


def jacobians_reaching(steps_to_one, total=10):
    """Diagonal Jacobians [total, s, s] whose entry p jumps to 1 at step steps_to_one[p] (None: never)."""
    s = len(steps_to_one)
    jac = np.zeros((total, s, s))
    for p, step in enumerate(steps_to_one):
        if step is not None:
            jac[step:, p, p] = 1.0
    return jac


def test_learning_order_and_its_agreement_with_the_strengths():
    jac = jacobians_reaching([7, 4, 1])
    assert learning_order(jac, 0.9, 3) == [2, 1, 0] and order_label([2, 1, 0]) == "3>2>1"
    assert learned_in_order(jac, np.array([1.0, 1.5, 3.0]), 0.9)
    assert not learned_in_order(jac, np.array([3.0, 1.5, 1.0]), 0.9)
    assert learned_in_order(jac, np.array([1.0, 3.0, 3.0]), 0.9)  # ties impose no order
    never = jacobians_reaching([None, 4, 1])
    assert learning_order(never, 0.9, 3) == [2, 1, 0]  # the unlearned concept comes last
    assert not learned_in_order(never, np.array([1.0, 1.5, 3.0]), 0.9)  # and the order is not complete


def test_seed_summary_counts_swings_and_first_concepts():
    def row(seed, swing, steps):
        return {
            "model": "m",
            "seed": seed,
            "swing_by": swing,
            "relative_amplitude": 0.1 * swing,
            "ood_loss_initial": 5.0,
            "final_value": 0.0,
            "train_loss_final": 0.0,
            "cluster_loss_final": [0.0, 0.0],
            "learn_steps_0.9": steps,
            "order_0.9": "",
            "in_order_of_mu_0.9": steps[1] <= steps[0],
            "in_order_of_a_0.9": steps[1] <= steps[0],
        }

    rows = [
        row(0, True, [9.0, 3.0]),
        row(1, False, [8.0, 2.0]),
        row(2, True, [1.0, 5.0]),
        row(3, False, [np.nan, np.nan]),
    ]
    m = summarise_seeds(rows, mu=[1.0, 2.0], fractions=[0.9])
    assert m["m/swing_by_fraction"] == 0.5 and m["m/swing_by_seeds"] == 2 and m["m/seeds"] == 4
    assert m["m/first_learned_0.9"] == 2  # concept 2 first in two seeds, concept 1 in one, none in one
    assert m["m/first_learned_is_strongest_0.9"] == 0.5
    assert m["m/learn_step_0.9_c1"] == 8.0 and m["m/learn_step_0.9_c2"] == 3.0  # medians over the seeds that got there


@pytest.mark.parametrize("init", ["gaussian", "positive"])
def test_every_model_learns_the_strongest_concept_first(init):
    # the theory's order: the rate a_p grows with mu_p, so concept 3 (mu = 3) reaches 90 % first
    for seed in range(3):
        for model in MODELS:
            _, h = run_model(model, **{**SWING, "init": init, "seed": seed})
            assert learning_order(h["jacobian"], 0.9, 3)[0] == 2, (model, seed)
