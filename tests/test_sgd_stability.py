"""SGD stability: the exact threshold against the dense operator, the paper's inequality, numba vs torch, bad input, CUDA."""
import numpy as np
import pytest
import torch

from gradnotes.sgd_stability import (DiagonalLinearNet, TwoLayerReLU, gauss_newton_sharpness, mean_square_radius, output_gradients,
                                     sample_indices, second_moment_matrix, sparse_regression, square_loss, stability_threshold,
                                     teacher_regression, train_sgd)

pytestmark = pytest.mark.usefixtures("one_thread")


def rand_G(n, D, seed, spread=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64) * torch.rand(n, 1, generator=g, dtype=torch.float64) * spread


def dense_threshold(G, B, iters=55):
    lo, hi = 0.0, 4.0 / gauss_newton_sharpness(G).lambda_max
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_square_radius(G, mid, B) <= 1 else (lo, mid)
    return lo


@pytest.mark.parametrize("n,D,B", [(5, 3, 1), (3, 5, 1), (7, 4, 2), (4, 4, None), (9, 2, 1)])
def test_threshold_matches_dense_operator(n, D, B):
    G = rand_G(n, D, seed=n * 10 + D)
    assert stability_threshold(G, batch_size=B).eta_star == pytest.approx(dense_threshold(G, B), rel=1e-8)


def test_second_moment_matrix_is_the_expected_map():
    "Apply the dense matrix to a random Sigma and compare with the expectation written out over all batches of size 2."
    G = rand_G(3, 3, seed=5)
    n, eta = 3, 0.2
    S = torch.randn(3, 3, dtype=torch.float64); S = S @ S.T
    want = torch.zeros(3, 3, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            HB = (torch.outer(G[i], G[i]) + torch.outer(G[j], G[j])) / 2
            A = torch.eye(3, dtype=torch.float64) - eta * HB
            want += A @ S @ A.T / n ** 2
    got = (second_moment_matrix(G, eta, batch_size=2) @ S.reshape(-1)).reshape(3, 3)
    assert torch.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_trace_bound_for_batch_size_one(seed):
    "The paper's claim: a minimum that is linearly stable for SGD with B = 1 has tr H <= 2 / eta, i.e. eta* <= 2 / tr H."
    g = torch.Generator().manual_seed(seed)
    n, D = int(torch.randint(2, 25, (1,), generator=g)), int(torch.randint(1, 25, (1,), generator=g))
    G = rand_G(n, D, seed + 1000)
    if seed % 2: G = G + 3 * torch.randn(1, D, generator=g, dtype=torch.float64)
    sh = gauss_newton_sharpness(G)
    eta = stability_threshold(G).eta_star
    assert eta * sh.trace <= 2 + 1e-9
    assert stability_threshold(G, batch_size=None).eta_star == pytest.approx(2 / sh.lambda_max, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_power_iteration_and_lanczos_agree(seed):
    G = rand_G(9 + seed, 6, seed=seed + 50)
    a, b = stability_threshold(G, method="lanczos"), stability_threshold(G, method="power", tol=1e-12)
    assert a.converged and b.converged
    assert a.eta_star == pytest.approx(b.eta_star, rel=1e-9)


def test_orthogonal_gradients_threshold_is_min_per_example():
    "With orthogonal per-example gradients each example is a separate 1-D problem: eta* = 2 / max ||g_i||^2."
    G = torch.diag(torch.tensor([1.0, 2.0, 0.5, 1.99], dtype=torch.float64))  # clustered top eigenvalues
    assert stability_threshold(G).eta_star == pytest.approx(2 / 4.0, rel=1e-12)


def test_parallel_gradients_closed_form():
    "g_i = c_i u: E(1 - eta c^2)^2 <= 1 gives eta* = 2 mean(c^2) / mean(c^4)."
    c = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    G = c[:, None] * torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    assert stability_threshold(G).eta_star == pytest.approx(float(2 * (c ** 2).mean() / (c ** 4).mean()), rel=1e-9)


def test_gauss_newton_sharpness_against_dense():
    G = rand_G(8, 5, seed=3)
    H = G.T @ G / 8
    sh = gauss_newton_sharpness(G)
    ev = torch.linalg.eigvalsh(H)
    assert sh.trace == pytest.approx(float(ev.sum()), rel=1e-12)
    assert sh.lambda_max == pytest.approx(float(ev[-1]), rel=1e-12)
    assert sh.frobenius == pytest.approx(float(H.norm()), rel=1e-12)


def test_output_gradients_match_autograd():
    data = teacher_regression(n=6, seed=1)
    m = TwoLayerReLU(5, 7, seed=2)
    G = output_gradients(m, data.X)
    for i in range(6):
        m.zero_grad(); m(data.X[i:i + 1]).sum().backward()
        assert torch.allclose(G[i], torch.cat([p.grad.reshape(-1) for p in m.parameters()]), atol=1e-12)


def test_gauss_newton_is_the_hessian_at_interpolation():
    "Where the residuals vanish the Hessian of the square loss equals G^T G / n (dense autograd Hessian, diagonal net)."
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 3, generator=g, dtype=torch.float64)
    m = DiagonalLinearNet(3, 0.7)
    y = m(X).detach()  # the current point interpolates these targets
    u0, v0 = m.u.detach().clone(), m.v.detach().clone()
    f = lambda p: square_loss(X @ (p[:3] ** 2 - p[3:] ** 2), y)
    H = torch.autograd.functional.hessian(f, torch.cat([u0, v0]))
    G = output_gradients(m, X)
    assert torch.allclose(H, G.T @ G / 4, atol=1e-12)


@pytest.mark.parametrize("kind,B,steps", [("diag", 1, 1000), ("diag", 4, 300), ("diag", None, 300), ("relu", 1, 1000), ("relu", None, 60)])
def test_numba_and_torch_agree(kind, B, steps):
    if kind == "diag":
        data, make, lr = sparse_regression(seed=1), (lambda: DiagonalLinearNet(100, 0.5)), 0.01
    else:
        data, make, lr = teacher_regression(seed=1), (lambda: TwoLayerReLU(5, 100, scale=5)), 0.01
    a, b = make(), make()
    ra = train_sgd(a, data.X, data.y, lr=lr, steps=steps, batch_size=B, engine="numba", record_every=50)
    rb = train_sgd(b, data.X, data.y, lr=lr, steps=steps, batch_size=B, engine="torch", record_every=50)
    assert ra.steps == rb.steps and ra.status == rb.status
    for p, q in zip(a.parameters(), b.parameters()): assert torch.allclose(p, q, atol=1e-10, rtol=0)
    assert np.allclose(ra.losses, rb.losses, rtol=1e-9, atol=1e-300)


def test_same_indices_same_run_and_seed_changes_draws():
    data = sparse_regression(seed=2)
    idx = sample_indices(40, 300, 1, seed=7)
    a, b = DiagonalLinearNet(100, 0.5), DiagonalLinearNet(100, 0.5)
    train_sgd(a, data.X, data.y, lr=0.01, steps=300, indices=idx)
    train_sgd(b, data.X, data.y, lr=0.01, steps=300, seed=7)
    assert torch.equal(a.u, b.u)
    assert not torch.equal(sample_indices(40, 300, 1, seed=7), sample_indices(40, 300, 1, seed=8))


def test_gd_decreases_loss_and_divergence_is_reported():
    data = sparse_regression(seed=0)
    m = DiagonalLinearNet(100, 0.5)
    r = train_sgd(m, data.X, data.y, lr=0.01, steps=2000, batch_size=None, tol=1e-10)
    assert r.status == "converged" and r.final_loss <= 1e-10 and np.all(np.diff(r.losses) <= 0)
    big = train_sgd(DiagonalLinearNet(100, 0.5), data.X, data.y, lr=1.0, steps=1000, batch_size=None)
    assert big.status == "diverged"


def test_sgd_minimum_satisfies_its_own_threshold():
    "SGD (B = 1) run to interpolation ends at a point whose exact threshold is at least its learning rate."
    data = sparse_regression(seed=0)
    m = DiagonalLinearNet(100, 0.5)
    r = train_sgd(m, data.X, data.y, lr=0.015, steps=100_000, tol=1e-10)
    assert r.status == "converged"
    G = output_gradients(m, data.X)
    assert stability_threshold(G).eta_star >= 0.015
    assert gauss_newton_sharpness(G).trace <= 2 / 0.015


def test_bad_input():
    data = sparse_regression(seed=0)
    m = DiagonalLinearNet(100)
    with pytest.raises(ValueError, match="lr must be > 0"): train_sgd(m, data.X, data.y, lr=-1)
    with pytest.raises(TypeError, match="batch_size must be an integer"): train_sgd(m, data.X, data.y, lr=0.1, batch_size=1.5)
    with pytest.raises(ValueError, match="y must have shape"): train_sgd(m, data.X, data.y[:3], lr=0.1)
    with pytest.raises(ValueError, match="X contains NaN"): train_sgd(m, data.X * float("inf"), data.y, lr=0.1)
    with pytest.raises(TypeError, match="indices must hold integers"): train_sgd(m, data.X, data.y, lr=0.1, steps=2, indices=torch.zeros(2, 1))
    with pytest.raises(ValueError, match="at least steps=5 rows"): train_sgd(m, data.X, data.y, lr=0.1, steps=5, indices=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size=None"): train_sgd(m, data.X, data.y, lr=0.1, steps=2, batch_size=None, indices=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="engine='numba' supports"): train_sgd(torch.nn.Linear(100, 1), data.X, data.y, lr=0.1, engine="numba")
    with pytest.raises(ValueError, match="G contains NaN"): stability_threshold(torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match="G is zero"): stability_threshold(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="batch_size must be >= 1"): stability_threshold(torch.ones(3, 2), batch_size=0)
    with pytest.raises(ValueError, match="method must be one of"): stability_threshold(torch.ones(3, 2), method="qr")
    with pytest.raises(ValueError, match="width must be >= 1"): TwoLayerReLU(3, 0)
    with pytest.raises(ValueError, match="scale must be > 0"): TwoLayerReLU(3, 4, scale=0)
    with pytest.raises(ValueError, match="k must be <= 10"): sparse_regression(d=10, k=11)
    with pytest.raises(ValueError, match="X must not be empty"): train_sgd(m, data.X[:0], data.y[:0], lr=0.1)
    with pytest.raises(ValueError, match="G must not be empty"): stability_threshold(torch.zeros(0, 3))
    bn = torch.nn.Sequential(torch.nn.Linear(100, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)).double()
    with pytest.raises(ValueError, match="BatchNorm"): output_gradients(bn, data.X)


@pytest.mark.cuda
def test_cuda_torch_path_and_threshold():
    if not torch.cuda.is_available(): pytest.skip("no CUDA device")
    data = teacher_regression(seed=0)
    a, b = TwoLayerReLU(5, 50, scale=5), TwoLayerReLU(5, 50, scale=5).cuda()
    train_sgd(a, data.X, data.y, lr=0.01, steps=300, engine="numba")
    r = train_sgd(b, data.X.cuda(), data.y.cuda(), lr=0.01, steps=300)
    assert r.engine == "torch"
    for p, q in zip(a.parameters(), b.parameters()): assert torch.allclose(p, q.cpu(), atol=1e-9)
    G = output_gradients(b, data.X.cuda())
    assert G.is_cuda
    assert stability_threshold(G).eta_star == pytest.approx(stability_threshold(G.cpu()).eta_star, rel=1e-8)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_batch_larger_than_the_data_is_refused_before_the_loop(engine):
    from gradnotes.sgd_stability import sample_indices, sparse_regression, train_sgd
    data = sparse_regression(n=12, seed=0)
    m = DiagonalLinearNet(data.X.shape[1])
    with pytest.raises(ValueError, match="batch_size must be <= 12"):
        train_sgd(m, data.X, data.y, lr=0.01, batch_size=10**6, engine=engine)
    with pytest.raises(ValueError, match="batch_size must be <= 12"):
        sample_indices(12, 100_000, 10**6)
    res = train_sgd(m, data.X, data.y, lr=0.001, steps=20, batch_size=12, engine=engine)
    assert res.steps == 20


@pytest.mark.parametrize("output, target, exc, message", [
    (torch.ones(3), torch.ones(4), ValueError, "one number per example"),
    (torch.ones(3, 2), torch.ones(3), ValueError, "one number per example"),
    (torch.ones(3), torch.tensor([1.0, float("nan"), 0.0]), ValueError, "target contains NaN"),
    (torch.ones(3, dtype=torch.cfloat), torch.ones(3), TypeError, "must be real"),
    (torch.ones(3, dtype=torch.long), torch.ones(3), TypeError, "output must have a floating dtype"),
])
def test_square_loss_refuses_bad_input(output, target, exc, message):
    from gradnotes.sgd_stability import square_loss
    with pytest.raises(exc, match=message):
        square_loss(output, target)


def test_square_loss_of_a_diverged_output_is_inf():
    from gradnotes.sgd_stability import square_loss
    assert square_loss(torch.tensor([float("inf"), 0.0]), torch.zeros(2)).item() == float("inf")


def test_stability_norm_and_complex_data_are_checked():
    from gradnotes.sgd_stability import sparse_regression, stability_norm, train_sgd
    data = sparse_regression(n=12, seed=0)
    m = DiagonalLinearNet(data.X.shape[1])
    with pytest.raises(ValueError, match="X contains NaN"):
        stability_norm(m, data.X * float("nan"))
    with pytest.raises(TypeError, match="X must be real"):
        stability_norm(m, data.X.to(torch.cdouble))
    with pytest.raises(TypeError, match="must be real"):
        train_sgd(m, data.X.to(torch.cdouble), data.y.to(torch.cdouble), lr=0.01, engine="torch")


def test_data_seed_and_moment_arguments_are_checked():
    from gradnotes.sgd_stability import (RegressionData, mean_square_radius, sample_indices,
                                         second_moment_matrix)
    X, y = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    with pytest.raises(ValueError, match="y must have shape"): RegressionData(X, y[:4], X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        RegressionData(X * float("nan"), y, X, y)
    with pytest.raises(ValueError, match="seed"): sample_indices(6, 3, 2, seed=-1)
    G = torch.randn(6, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="lr = 1e\\+300 is too large"):
        second_moment_matrix(G, 1e300, 2)
    with pytest.raises(ValueError, match="rtol"): mean_square_radius(G, 0.1, 2, rtol=1.5)


def test_square_loss_of_a_non_finite_output_is_non_finite():
    # accepted on purpose: a diverged network's loss shows as inf/nan, which train_sgd reads
    from gradnotes.sgd_stability import square_loss
    y = torch.zeros(3, dtype=torch.float64)
    assert torch.isnan(square_loss(torch.tensor([0.0, float("nan"), 1.0], dtype=torch.float64), y))
    assert torch.isinf(square_loss(torch.tensor([0.0, float("inf"), 1.0], dtype=torch.float64), y))
    with pytest.raises(ValueError, match="target"):
        square_loss(torch.zeros(3, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize("make", [lambda: __import__("gradnotes.sgd_stability").sgd_stability.DiagonalLinearNet(3),
                                  lambda: __import__("gradnotes.sgd_stability").sgd_stability.TwoLayerReLU(3, 4)])
def test_networks_check_their_input(make):
    net = make()
    X = torch.randn(5, 3, dtype=torch.float64)
    assert net(X).shape == (5,) and net(X[:0]).shape == (0,)
    for bad, err, msg in [(X[:, :2], ValueError, "x must have shape"), (X[0], ValueError, "x must have shape"),
                          (X.float(), TypeError, "x has dtype torch.float32"),
                          (torch.full_like(X, float("nan")), ValueError, "x contains NaN"),
                          (X.tolist(), TypeError, "x must be a torch.Tensor")]:
        with pytest.raises(err, match=msg):
            net(bad)
    # inside torch.func transforms (per-example gradients) the values cannot be read: shape only
    from gradnotes.autodiff import per_sample_grads
    G = per_sample_grads(net, lambda o, t: 0.5 * (o - t).pow(2).mean(), X, torch.zeros(5, dtype=torch.float64))
    assert G.shape[0] == 5 and torch.isfinite(G).all()


def test_training_checks_x_once_and_leaves_the_check_on():
    from gradnotes.sgd_stability import train_sgd
    net = DiagonalLinearNet(3)
    X = torch.randn(8, 3, dtype=torch.float64)
    train_sgd(net, X, X[:, 0].clone(), lr=0.01, steps=5, batch_size=2, seed=0, engine="torch")
    with pytest.raises(ValueError, match="x contains NaN"):
        net(torch.full_like(X, float("nan")))  # the mini-batch shortcut ended with the loop
    with pytest.raises(ValueError, match="shape"):
        train_sgd(DiagonalLinearNet(4), X, X[:, 0].clone(), lr=0.01, steps=5, batch_size=2, engine="torch")
