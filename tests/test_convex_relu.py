"""Convex two-layer ReLU networks: ADMM against cvxpy/Clarabel, the recovered network, the
single factorization, exact enumeration of the patterns, the robust program, the scikit-learn
contract and bad input."""
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_moons
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn_contract import assert_passes_check_estimator

import gradnotes.convex_relu as cr
from gradnotes.convex_relu import (ConvexReLUClassifier, ConvexReLURegressor, activation_patterns,
                                   admm, convex_problem, enumerate_gates, network_objective,
                                   network_output, objective, relu_network, robust_objective,
                                   sample_gates, solve_cvxpy, solve_robust_cvxpy, violation)

F64 = torch.float64


def _ones(X): return torch.cat([X, X.new_ones(len(X), 1)], 1)


def _moons(n=40, seed=0):
    X, y = make_moons(n, noise=0.2, random_state=seed)
    return _ones(torch.as_tensor(X)), torch.as_tensor(2.0 * y - 1)


def _regression(n=30, d=2, K=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = _ones(torch.randn(n, d, generator=g, dtype=F64))
    Y = torch.sin(2 * X[:, :1]) + 0.3 * X[:, 1:2] ** 2 + 0.1 * torch.randn(n, K, generator=g, dtype=F64)
    return X, Y


# ---------------------------------------------------------------- ADMM against cvxpy (Clarabel)
@pytest.mark.parametrize("constrained", [True, False], ids=["relu", "gated"])
@pytest.mark.parametrize("data", ["moons", "regression"])
def test_admm_reaches_the_clarabel_optimum(constrained, data, one_thread):
    pytest.importorskip("cvxpy")
    X, y = _moons(40, seed=1) if data == "moons" else _regression(30, seed=2)
    gates = sample_gates(X, 6, torch.Generator().manual_seed(3))
    pb = convex_problem(X, y, gates, beta=0.1, constrained=constrained)
    res = admm(pb, max_iter=8000, tol=1e-10)
    W_ref, f_ref = solve_cvxpy(pb, "CLARABEL")
    assert abs(objective(pb, res.W) - f_ref) <= 1e-4 * f_ref
    assert violation(pb, res.W) <= 1e-5
    assert abs(objective(pb, W_ref) - f_ref) <= 1e-6 * f_ref  # our objective is cvxpy's
    if constrained:  # the network read off the solution has the optimal training loss
        net = relu_network(pb, res.W)
        Y = y[:, None] if y.ndim == 1 else y
        assert abs(network_objective(net, X, Y, 0.1).item() - f_ref) <= 1e-4 * f_ref
    else:
        assert res.converged


def test_two_outputs_are_two_programs(one_thread):
    pytest.importorskip("cvxpy")
    X, Y = _regression(25, K=2, seed=4)
    gates = sample_gates(X, 5, torch.Generator().manual_seed(0))
    pb = convex_problem(X, Y, gates, beta=0.2, constrained=False)
    both = admm(pb, max_iter=5000, tol=1e-11).W
    for k in range(2):
        one = admm(convex_problem(X, Y[:, k], gates, beta=0.2, constrained=False),
                   max_iter=5000, tol=1e-11).W
        torch.testing.assert_close(both[k], one[0], rtol=0, atol=1e-7)
    assert abs(objective(pb, both) - solve_cvxpy(pb)[1]) <= 1e-6 * solve_cvxpy(pb)[1]


def test_admm_factors_once(monkeypatch, one_thread):
    X, y = _moons(30)
    pb = convex_problem(X, y, sample_gates(X, 4, torch.Generator().manual_seed(0)), beta=0.1)
    calls = []
    real = torch.linalg.cholesky_ex
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda A: calls.append(1) or real(A))
    res = admm(pb, max_iter=50, tol=0)
    assert res.n_iter == 50 and len(calls) == 1


def test_system_matrix_is_the_dense_formula(one_thread):
    X, y = _moons(20)
    pb = convex_problem(X, y, sample_gates(X, 4, torch.Generator().manual_seed(0)), beta=0.1)
    n, d, m, rho = 20, 3, pb.n_neurons, 0.7
    F = torch.cat([pb.signs[j] * pb.D[:, j:j + 1] * X for j in range(m)], 1)
    G = torch.block_diag(*[(2 * pb.D[:, j:j + 1] - 1) * X for j in range(m)])
    A = torch.eye(m * d, dtype=F64) + F.T @ F / rho + G.T @ G
    L = cr._system_factor(pb, rho)
    torch.testing.assert_close(L @ L.T, A, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- the recovered network
def test_network_loss_equals_the_convex_objective_at_feasible_points(one_thread):
    X, Y = _regression(30, K=2, seed=5)
    gates = sample_gates(X, 8, torch.Generator().manual_seed(1))
    pb = convex_problem(X, Y, gates, beta=0.3)
    g = torch.Generator().manual_seed(2)
    W = torch.rand(2, pb.n_neurons, 1, generator=g, dtype=F64) * gates.T.repeat(2, 1)[None]
    W[0, 1] = 0  # a dropped neuron
    assert violation(pb, W) == 0
    net = relu_network(pb, W)
    assert net[0].weight.shape[0] == 2 * pb.n_neurons - 1
    torch.testing.assert_close(network_objective(net, X, Y, 0.3).item(), objective(pb, W), rtol=1e-12, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(net(X), cr._F(pb, W), rtol=0, atol=1e-12)
        Xn = _ones(torch.randn(7, 2, generator=g, dtype=F64))
        torch.testing.assert_close(net(Xn), network_output(pb, W, Xn), rtol=0, atol=1e-12)


def test_gated_output_uses_the_gates(one_thread):
    X, y = _moons(30)
    gates = sample_gates(X, 5, torch.Generator().manual_seed(0))
    pb = convex_problem(X, y, gates, beta=0.1, constrained=False)
    W = torch.randn(1, pb.n_neurons, 3, dtype=F64)
    want = sum(activation_patterns(X, gates)[:, j] * (X @ W[0, j]) for j in range(pb.n_neurons))
    torch.testing.assert_close(network_output(pb, W, X)[:, 0], want, rtol=0, atol=1e-12)
    torch.testing.assert_close(network_output(pb, W, X), cr._F(pb, W), rtol=0, atol=1e-12)


def test_sampled_patterns_are_distinct_and_nonempty():
    X, _ = _moons(50)
    gates = sample_gates(X, 300, torch.Generator().manual_seed(0))
    D = activation_patterns(X, gates).numpy()
    assert len(np.unique(D.T, axis=0)) == D.shape[1] < 300
    assert (D.sum(0) > 0).all()


@pytest.mark.cuda
def test_cuda_matches_cpu():
    X, y = _moons(40)
    gates = sample_gates(X, 6, torch.Generator().manual_seed(0))
    cpu = admm(convex_problem(X, y, gates, beta=0.1), max_iter=200, tol=0)
    dev = torch.device("cuda")
    pb = convex_problem(X.to(dev), y.to(dev), gates.to(dev), beta=0.1)
    gpu = admm(pb, max_iter=200, tol=0)
    assert gpu.W.device.type == "cuda"
    torch.testing.assert_close(gpu.W.cpu(), cpu.W, rtol=1e-6, atol=1e-8)
    net = relu_network(pb, gpu.W)
    assert next(net.parameters()).device.type == "cuda"
    assert network_output(pb, gpu.W, X.to(dev)).device.type == "cuda"


# ---------------------------------------------------------------- the scikit-learn contract
# Every check passes. Skipped by scikit-learn itself here: the pandas input checks when pandas
# is not installed, and the array-API check unless SCIPY_ARRAY_API is set.
@pytest.mark.parametrize("est", [ConvexReLUClassifier(n_patterns=8, max_iter=100),
                                 ConvexReLURegressor(n_patterns=8, max_iter=100)],
                         ids=lambda e: type(e).__name__)
def test_check_estimator(est, one_thread):
    assert_passes_check_estimator(est)


def test_pipeline_gridsearch_and_pickle(one_thread):
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), ConvexReLUClassifier(n_patterns=8, max_iter=100, random_state=0))
    search = GridSearchCV(pipe, {"convexreluclassifier__beta": [0.3, 3.0]}, cv=2).fit(X[:300], y[:300])
    assert search.score(X[300:], y[300:]) > 0.85
    again = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(again.decision_function(X[300:]),
                                  search.best_estimator_.decision_function(X[300:]))


def test_estimator_is_the_recovered_network(one_thread):
    X, y = make_moons(60, noise=0.2, random_state=0)
    clf = ConvexReLUClassifier(n_patterns=10, beta=0.1, max_iter=200, random_state=0).fit(X, y)
    net = relu_network(clf.problem_, clf.coef_)
    with torch.no_grad():
        z = net(_ones(torch.as_tensor(X)))[:, 0].numpy()
    np.testing.assert_allclose(clf.decision_function(X), z, rtol=0, atol=1e-10)
    labels = np.array(["a", "b", "c"])[np.arange(60) % 3]
    three = ConvexReLUClassifier(n_patterns=6, max_iter=50, random_state=0).fit(X, labels)
    assert three.decision_function(X).shape == (60, 3) and set(three.predict(X)) <= set(labels)


# ---------------------------------------------------------------- exact enumeration
def _patterns(X, U): return set(map(bytes, (X @ U >= 0).T.numpy().astype(np.uint8)))


@pytest.mark.parametrize("n", [3, 7, 25, 60])
def test_enumeration_count_is_the_arrangement_formula(n):
    g = torch.Generator().manual_seed(n)
    X = _ones(torch.randn(n, 2, generator=g, dtype=F64))  # general position almost surely
    gates = enumerate_gates(X)
    cells = 2 * sum(math.comb(n - 1, k) for k in range(3))  # regions of n planes in R^3
    assert gates.shape[1] + 1 == cells == n * n - n + 2  # + the dropped empty pattern
    D = activation_patterns(X, gates)
    assert len(np.unique(D.T.numpy(), axis=0)) == gates.shape[1] and bool((D.sum(0) > 0).all())
    assert float((X @ gates).abs().min()) > 0  # every gate strictly inside its cell


def test_enumeration_of_1d_inputs():
    X = _ones(torch.randn(9, 1, generator=torch.Generator().manual_seed(0), dtype=F64))
    assert enumerate_gates(X).shape[1] + 1 == 2 * sum(math.comb(8, k) for k in range(2))


@pytest.mark.parametrize("data", ["moons", "collinear"])
def test_random_gates_find_no_pattern_outside_the_enumeration(data):
    if data == "moons": X = _moons(40, seed=3)[0]
    else:  # degenerate: three points on a line, two points repeated
        X = _ones(torch.tensor([[0, 0], [1, 1], [2, 2], [0, 1], [1, 0], [1, 0], [3, -1.0]],
                               dtype=F64))
    known = _patterns(X, enumerate_gates(X)) | {bytes(len(X))}
    U = torch.randn(3, 200_000, generator=torch.Generator().manual_seed(1), dtype=F64)
    found = _patterns(X, U)
    assert not found - known
    if data == "moons": assert len(found) > 0.8 * len(known)


def test_exact_optimum_is_below_sampled_programs_and_trained_networks(one_thread):
    pytest.importorskip("cvxpy")
    X, y = _moons(14, seed=5)
    _, f_exact = solve_cvxpy(convex_problem(X, y, enumerate_gates(X), beta=0.1))
    for seed in range(3):
        g = sample_gates(X, 30, torch.Generator().manual_seed(seed))
        assert solve_cvxpy(convex_problem(X, y, g, beta=0.1))[1] >= f_exact - 1e-6
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1, bias=False)).double()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(500):
        opt.zero_grad(); network_objective(net, X, y[:, None], 0.1).backward(); opt.step()
    assert network_objective(net, X, y[:, None], 0.1).item() >= f_exact - 1e-6


def test_admm_solves_the_exact_program(one_thread):
    pytest.importorskip("cvxpy")
    X, y = _moons(6, seed=5)
    pb = convex_problem(X, y, enumerate_gates(X), beta=0.1)
    assert pb.gates.shape[1] == 6 * 6 - 6 + 1
    _, f_ref = solve_cvxpy(pb)
    res = admm(pb, max_iter=6000, tol=1e-10)
    assert abs(objective(pb, res.W) - f_ref) <= 1e-6 * f_ref and violation(pb, res.W) <= 1e-8


# ---------------------------------------------------------------- robust program
def _small_pb(n=40, seed=1, P=10, beta=0.1):
    X, y = _moons(n, seed=seed)
    return convex_problem(X, y, sample_gates(X, P, torch.Generator().manual_seed(seed)), beta)


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_robust_program_at_eps_zero_is_the_plain_program(loss, one_thread):
    pytest.importorskip("cvxpy")
    pb = _small_pb()
    _, f_plain = solve_cvxpy(pb, loss=loss)
    W0, f0 = solve_robust_cvxpy(pb, 0.0, loss=loss)
    assert abs(f0 - f_plain) <= 1e-6 * f_plain
    assert abs(robust_objective(pb, W0, 0.0, loss)[0] - f0) <= 1e-6 * f0


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_robust_value_certifies_the_attacked_loss(loss, one_thread):
    pytest.importorskip("cvxpy")
    pb, eps = _small_pb(seed=2), 0.1
    W, f = solve_robust_cvxpy(pb, eps, loss=loss)
    cert, slack = robust_objective(pb, W, eps, loss)
    assert abs(cert - f) <= 1e-5 * f and slack > -1e-7
    assert f >= solve_robust_cvxpy(pb, 0.05, loss=loss)[1]  # monotone in eps
    net, X, y = relu_network(pb, W), pb.X, pb.Y[:, 0]
    g = torch.Generator().manual_seed(0)
    mask = torch.ones_like(X); mask[:, -1] = 0
    worst = 0.0
    for _ in range(20):  # random corners of the box never exceed the certificate
        delta = eps * torch.sign(torch.randn(X.shape, generator=g, dtype=F64)) * mask
        with torch.no_grad():
            out = net(X + delta)[:, 0]
            reg = 0.5 * pb.beta * sum(float((p * p).sum()) for p in net.parameters())
        fit = torch.relu(1 - y * out).sum() if loss == "hinge" else 0.5 * ((out - y) ** 2).sum()
        worst = max(worst, float(fit) + reg)
    assert worst <= cert * (1 + 1e-5)


def test_hinge_program_network_has_the_hinge_objective(one_thread):
    pytest.importorskip("cvxpy")
    pb = _small_pb(seed=3)
    W, f = solve_cvxpy(pb, loss="hinge")
    net = relu_network(pb, W)
    with torch.no_grad():
        val = torch.relu(1 - pb.Y[:, 0] * net(pb.X)[:, 0]).sum() \
            + 0.5 * pb.beta * sum((p * p).sum() for p in net.parameters())
    assert abs(float(val) - f) <= 1e-5 * f


def test_robust_bad_input():
    pb = _small_pb()
    with pytest.raises(ValueError, match="eps must be >= 0"): solve_robust_cvxpy(pb, -0.1)
    with pytest.raises(ValueError, match="eps"): solve_robust_cvxpy(pb, float("nan"))
    with pytest.raises(TypeError, match="eps"): solve_robust_cvxpy(pb, "0.1")
    with pytest.raises(ValueError, match="loss must be 'squared' or 'hinge'"):
        solve_robust_cvxpy(pb, 0.1, loss="logistic")
    with pytest.raises(TypeError, match="loss"): solve_cvxpy(pb, loss=None)
    with pytest.raises(TypeError, match="bias_last"): solve_robust_cvxpy(pb, 0.1, bias_last=1)
    gated = convex_problem(pb.X, pb.Y, pb.gates, 0.1, constrained=False)
    with pytest.raises(ValueError, match="pb must be a constrained"): solve_robust_cvxpy(gated, 0.1)
    two = convex_problem(pb.X, pb.Y.repeat(1, 2), pb.gates, 0.1)
    with pytest.raises(ValueError, match="one output column"): solve_robust_cvxpy(two, 0.1)
    with pytest.raises(ValueError, match="one output column"):
        robust_objective(two, torch.zeros(2, two.n_neurons, 3, dtype=F64), 0.1)
    real = convex_problem(pb.X, pb.Y * 0.5, pb.gates, 0.1)
    with pytest.raises(ValueError, match="hinge' needs targets y in"): solve_cvxpy(real, loss="hinge")
    with pytest.raises(ValueError, match="W must have shape"):
        robust_objective(pb, torch.zeros(1, 2, 3, dtype=F64), 0.1)
    with pytest.raises(ValueError, match="X must have 2 or 3 columns"):
        enumerate_gates(torch.randn(6, 4, dtype=F64))
    with pytest.raises(ValueError, match="X needs a column of constant sign"):
        enumerate_gates(torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=F64))
    with pytest.raises(ValueError, match="tol"): enumerate_gates(pb.X, tol=-1.0)
    Xn = pb.X.clone(); Xn[0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"): enumerate_gates(Xn)


# ---------------------------------------------------------------- bad input
def test_bad_input():
    X, y = _moons(30)
    gates = sample_gates(X, 4, torch.Generator().manual_seed(0))
    pb = convex_problem(X, y, gates, beta=0.1)
    for rho in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="rho"): admm(pb, rho=rho)
    with pytest.raises(ValueError, match="gamma"): admm(pb, gamma=2.0)
    with pytest.raises(ValueError, match="beta"): convex_problem(X, y, gates, beta=0.0)
    with pytest.raises(ValueError, match="gates has an all-zero column"):
        convex_problem(X, y, torch.zeros(3, 2, dtype=F64), beta=0.1)
    with pytest.raises(ValueError, match=r"gates must have shape \(3, P\)"):
        convex_problem(X, y, torch.randn(2, 4, dtype=F64), beta=0.1)
    with pytest.raises(ValueError, match="gates contains NaN"):
        convex_problem(X, y, gates.clone().fill_(float("nan")), beta=0.1)
    Xn = X.clone(); Xn[3, 1] = float("inf")
    with pytest.raises(ValueError, match="X contains NaN"): convex_problem(Xn, y, gates, beta=0.1)
    with pytest.raises(ValueError, match="X contains NaN"): sample_gates(Xn, 5)
    yn = y.clone(); yn[0] = float("nan")
    with pytest.raises(ValueError, match="y contains NaN"): convex_problem(X, yn, gates, beta=0.1)
    with pytest.raises(ValueError, match="y must have 30 rows"): convex_problem(X, y[:5], gates, beta=0.1)
    with pytest.raises(ValueError, match=r"y must have \(1, 2\) dimension"):
        convex_problem(X, y[:, None, None], gates, beta=0.1)
    with pytest.raises(ValueError, match="n_patterns must be >= 1"): sample_gates(X, 0)
    with pytest.raises(ValueError, match="W must have shape"): relu_network(pb, torch.zeros(1, 2, 3, dtype=F64))
    gated = convex_problem(X, y, gates, beta=0.1, constrained=False)
    with pytest.raises(ValueError, match="pb: the gated program"):
        relu_network(gated, torch.zeros(1, gated.n_neurons, 3, dtype=F64))
    with pytest.raises(ValueError, match="X must have 3 columns"):
        network_output(pb, torch.zeros(1, pb.n_neurons, 3, dtype=F64), X[:, :2])
    Xa, ya = X.numpy(), (y.numpy() > 0).astype(int)
    with pytest.raises(ValueError, match="rho must be > 0"): ConvexReLUClassifier(rho=0).fit(Xa, ya)
    with pytest.raises(ValueError, match="one class"): ConvexReLUClassifier().fit(Xa, np.zeros(30))
    with pytest.raises(ValueError, match="y should be a 1d array"):
        ConvexReLURegressor().fit(Xa, np.zeros((30, 2)))
    with pytest.raises(ValueError, match="Found input variables with inconsistent"):
        ConvexReLURegressor().fit(Xa, np.zeros(29))
    with pytest.raises(ValueError, match="NaN"): ConvexReLURegressor().fit(np.full((5, 2), np.nan), np.zeros(5))
    with pytest.raises(TypeError, match="fit_intercept"): ConvexReLURegressor(fit_intercept=1).fit(Xa, y.numpy())
    with pytest.raises(ValueError, match="n_patterns"): ConvexReLURegressor(n_patterns=0).fit(Xa, y.numpy())
