"""Gradient-normalized smoothness (GNS): steps and optima against scipy / scikit-learn, approximations, bad input."""
import math

import numpy as np
import pytest
import torch

from gradnotes.grad_norm_newton import (BlockDiagonal, ChebyshevRosenbrock, LogSumExp, PNormResidual, RankOne,
                                        SoftmaxRegression, as_dense, gns_minimize, gradient_method,
                                        regularized_step, super_universal_newton)

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _lse(n=40, mu=0.5, seed=0):
    g = _gen(seed)
    A = torch.rand(n, n, generator=g, dtype=F64) * 2 - 1
    b = torch.rand(n, generator=g, dtype=F64) * 2 - 1
    obj = LogSumExp(A, b, mu, shift_to_zero=True)
    return obj, obj.value(torch.zeros(n, dtype=F64)), torch.ones(n, dtype=F64), A.T @ A


# --- the step against scipy.linalg.solve ------------------------------------------------------------------

@pytest.mark.parametrize("lam", [1e-3, 0.7, 50.0])
def test_dense_step_matches_scipy(lam):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = _gen(1)
    M = torch.randn(15, 15, generator=g, dtype=F64)
    H, B, grad = M @ M.T, M.T @ M + torch.eye(15, dtype=F64), torch.randn(15, generator=g, dtype=F64)
    ref = scipy_linalg.solve((H + lam * B).numpy(), -grad.numpy(), assume_a="pos")
    np.testing.assert_allclose(regularized_step(H, grad, lam, B).numpy(), ref, rtol=1e-10, atol=1e-12)


def test_block_and_rank_one_steps_match_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = _gen(2)
    blocks = torch.randn(4, 5, 5, generator=g, dtype=F64)
    blocks = blocks @ blocks.transpose(1, 2)
    grad = torch.randn(20, generator=g, dtype=F64)
    H = BlockDiagonal(blocks)
    ref = scipy_linalg.solve(as_dense(H).numpy() + 0.3 * np.eye(20), -grad.numpy())
    np.testing.assert_allclose(regularized_step(H, grad, 0.3).numpy(), ref, rtol=1e-10, atol=1e-12)
    M = torch.randn(20, 20, generator=g, dtype=F64)
    B = M.T @ M + torch.eye(20, dtype=F64)
    R = RankOne(3.5, torch.randn(20, generator=g, dtype=F64))
    ref = scipy_linalg.solve((as_dense(R) + 0.05 * B).numpy(), -grad.numpy())
    np.testing.assert_allclose(regularized_step(R, grad, 0.05, B).numpy(), ref, rtol=1e-9, atol=1e-12)


def test_indefinite_system_is_reported():
    H = torch.diag(torch.tensor([1.0, -2.0], dtype=F64))
    with pytest.raises(ValueError, match="not positive definite"):
        regularized_step(H, torch.ones(2, dtype=F64), 1.0)
    assert torch.isfinite(regularized_step(H, torch.ones(2, dtype=F64), 3.0)).all()


# --- approximations ---------------------------------------------------------------------------------------

def test_lse_weighted_gauss_newton_is_exact_plus_rank_one():
    obj, _, _, _ = _lse(12)
    x = torch.randn(12, generator=_gen(3), dtype=F64)
    pi = torch.softmax((obj.A @ x - obj.b) / obj.mu, 0)
    exact = torch.func.hessian(lambda z: obj.mu * torch.logsumexp((obj.A @ z - obj.b) / obj.mu, 0) - obj.c @ z)(x)
    torch.testing.assert_close(obj.hess(x), exact, rtol=1e-10, atol=1e-10)
    v = obj.A.T @ pi
    torch.testing.assert_close(obj.approx_hess(x), exact + torch.outer(v, v) / obj.mu, rtol=1e-10, atol=1e-10)


def test_softmax_hessians():
    g = _gen(4)
    X, y = torch.randn(40, 5, generator=g, dtype=F64), torch.randint(0, 3, (40,), generator=g)
    obj = SoftmaxRegression(X, y, 3, reg=0.01)
    w = torch.randn(15, generator=g, dtype=F64)
    torch.testing.assert_close(obj.hess(w), torch.func.hessian(lambda v: torch.tensor(0.0, dtype=F64) + _softmax_loss(X, y, v, 0.01))(w),
                               rtol=1e-10, atol=1e-10)
    # weighted Gauss-Newton = exact + (1/m) sum_i (p_i p_i^T) kron (x_i x_i^T)
    P = torch.softmax(X @ w.view(3, 5).T, 1)
    U = (P[:, :, None] * X[:, None, :]).reshape(40, 15)
    torch.testing.assert_close(as_dense(obj.approx_hess(w)), obj.hess(w) + U.T @ U / 40, rtol=1e-10, atol=1e-10)


def _softmax_loss(X, y, w, reg):
    Z = X @ w.view(-1, X.shape[1]).T
    return (torch.logsumexp(Z, 1) - Z.gather(1, y[:, None])[:, 0]).mean() + 0.5 * reg * (w @ w)


@pytest.mark.parametrize("p", [2.0, 3.0, 4.0])
def test_pnorm_hessian_and_fisher_term(p):
    g = _gen(5)
    A, b, x = torch.randn(20, 8, generator=g, dtype=F64), torch.randn(20, generator=g, dtype=F64), torch.randn(8, generator=g, dtype=F64)
    obj = PNormResidual(A, b, p)
    fn = lambda z: torch.linalg.vector_norm(A @ z - b) ** p / p
    torch.testing.assert_close(obj.grad(x), torch.func.grad(fn)(x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(obj.hess(x), torch.func.hessian(fn)(x), rtol=1e-9, atol=1e-9)
    u = A @ x - b
    torch.testing.assert_close(obj.hess(x) - as_dense(obj.approx_hess(x)), u.norm() ** (p - 2) * A.T @ A, rtol=1e-9, atol=1e-9)


def test_chebyshev_rosenbrock():
    obj = ChebyshevRosenbrock(7, p=4)
    x = torch.randn(7, generator=_gen(6), dtype=F64)
    fn = lambda z: torch.linalg.vector_norm(obj.residuals(z)) ** 4 / 4
    torch.testing.assert_close(obj.grad(x), torch.func.grad(fn)(x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(obj.hess(x), torch.func.hessian(fn)(x), rtol=1e-9, atol=1e-9)
    assert torch.linalg.eigvalsh(obj.approx_hess(x)).min() > -1e-10
    assert obj.value(torch.ones(7, dtype=F64)) == 0.0


# --- optima against scipy and scikit-learn ----------------------------------------------------------------

@pytest.mark.parametrize("hess", ["exact", "approx"])
def test_lse_optimum_matches_scipy_trust_exact(hess):
    optimize = pytest.importorskip("scipy.optimize")
    g = _gen(7)
    A, b = torch.rand(30, 30, generator=g, dtype=F64) * 2 - 1, torch.rand(30, generator=g, dtype=F64) * 2 - 1
    # no shift: the optimum is unknown to both solvers; LogSumExp of a square system can be unbounded below,
    # so a ridge term makes the problem proper
    prob = _Quadratic(LogSumExp(A, b, 0.5), 0.1)
    x0, B = torch.ones(30, dtype=F64), A.T @ A
    ref = optimize.minimize(lambda z: prob.value(torch.as_tensor(z)), x0.numpy(), jac=lambda z: prob.grad(torch.as_tensor(z)).numpy(),
                            hess=lambda z: prob.hess(torch.as_tensor(z)).numpy(), method="trust-exact", options={"gtol": 1e-12})
    res = gns_minimize(prob, x0, hess=hess, B=B, grad_tol=1e-8, max_iter=500)
    assert res.converged, res.status
    assert abs(res.f - ref.fun) < 1e-10
    np.testing.assert_allclose(res.x.numpy(), ref.x, atol=1e-6)


class _Quadratic:
    "f + (rho/2)||x||^2, with the approximation passed through."
    def __init__(self, obj, rho): self.obj, self.rho = obj, rho
    def value(self, x): return self.obj.value(x) + 0.5 * self.rho * float(x @ x)
    def grad(self, x): return self.obj.grad(x) + self.rho * x
    def hess(self, x): return self.obj.hess(x) + self.rho * torch.eye(x.shape[0], dtype=x.dtype)
    def approx_hess(self, x): return self.obj.approx_hess(x) + self.rho * torch.eye(x.shape[0], dtype=x.dtype)


def test_softmax_optimum_matches_sklearn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    keep = y < 5  # five classes keep the 325 x 325 Hessian cheap
    X, y = X[keep][:300] / 16.0, y[keep][:300]
    X = np.hstack([X, np.ones((len(X), 1))])
    C = 0.5
    sk = linear_model.LogisticRegression(C=C, fit_intercept=False, tol=1e-12, max_iter=20000).fit(X, y)
    obj = SoftmaxRegression(torch.as_tensor(X), torch.as_tensor(y), 5, reg=1.0 / (C * len(X)))
    w_sk = torch.as_tensor(sk.coef_).reshape(-1)
    res = gns_minimize(obj, torch.zeros(obj.n, dtype=F64), hess="exact", grad_tol=1e-9, max_iter=100)
    assert res.converged, res.status
    assert res.f <= obj.value(w_sk) + 1e-12  # no worse than scikit-learn's optimum
    assert abs(res.f - obj.value(w_sk)) < 1e-9
    np.testing.assert_allclose(res.x.numpy(), w_sk.numpy(), atol=2e-4)


def test_softmax_weighted_gauss_newton_reaches_the_same_optimum():
    g = _gen(10)
    X, y = torch.randn(120, 4, generator=g, dtype=F64), torch.randint(0, 3, (120,), generator=g)
    obj = SoftmaxRegression(X, y, 3, reg=0.5)
    exact = gns_minimize(obj, torch.zeros(12, dtype=F64), hess="exact", grad_tol=1e-9)
    # below ||g|| ~ 1e-8 the decrease the test asks for falls under the rounding of f, so ask for 1e-7
    approx = gns_minimize(obj, torch.zeros(12, dtype=F64), hess="approx", grad_tol=1e-7, max_iter=500)
    assert exact.converged and approx.converged
    torch.testing.assert_close(approx.x, exact.x, rtol=0, atol=1e-6)


def test_pnorm_rank_one_reaches_least_squares_optimum():
    g = _gen(8)
    A, b = torch.randn(60, 20, generator=g, dtype=F64), torch.randn(60, generator=g, dtype=F64)
    obj = PNormResidual(A, b, 4)
    x_ls = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    res = gns_minimize(obj, torch.zeros(20, dtype=F64), hess="approx", B=A.T @ A, f_star=obj.value(x_ls), f_tol=1e-12)
    assert res.converged
    torch.testing.assert_close(res.x, x_ls, rtol=0, atol=1e-5)


def test_baselines_converge_on_lse():
    obj, fs, x0, B = _lse(30, 0.5, 9)
    assert super_universal_newton(obj, x0, B, f_star=fs, max_iter=300).converged
    assert gradient_method(obj, x0, B, f_star=fs, f_tol=1e-5, max_iter=20000, accelerated=True).converged


# --- options ----------------------------------------------------------------------------------------------

def test_on_failure_options():
    obj, _, x0, B = _lse(20)
    safe = gns_minimize(obj, x0, B=B, gamma0=1e8, max_trials=1, max_iter=3)
    assert safe.status == "search_failed" and torch.equal(safe.x, x0) and safe.n_iter == 0
    official = gns_minimize(obj, x0, B=B, gamma0=1e8, max_trials=1, max_iter=3, on_failure="step")
    assert official.n_iter == 3 and not torch.equal(official.x, x0)


def test_indefinite_hessian_is_a_failed_trial():
    obj = ChebyshevRosenbrock(6)
    x0 = torch.full((6,), 0.5, dtype=F64)
    assert torch.linalg.eigvalsh(obj.hess(x0)).min() < 0  # the exact Hessian is indefinite here
    res = gns_minimize(obj, x0, hess="exact", gamma0=1e6, max_iter=5)
    assert res.history["failed_solves"][-1] > 0
    assert all(np.diff(res.history["f"]) <= 0)  # accepted steps never increase f


def test_non_adaptive_keeps_gamma():
    obj, fs, x0, B = _lse(20)
    res = gns_minimize(obj, x0, B=B, gamma0=0.5, adaptive=False, max_iter=5)
    assert set(res.history["gamma"]) == {0.5} and res.history["solves"][-1] == 5


def test_first_order_variant():
    obj, fs, x0, B = _lse(20)
    res = gns_minimize(obj, x0, hess="zero", B=B, f_star=fs, f_tol=1e-6, max_iter=5000)
    assert res.converged


def test_float32_and_dtype_follow_input():
    obj, fs, x0, B = _lse(20)
    res = gns_minimize(obj, x0, B=B, max_iter=3)
    assert res.x.dtype == F64


@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    obj, fs, x0, B = _lse(50)
    cpu = gns_minimize(obj, x0, B=B, f_star=fs)
    objc = LogSumExp(obj.A.cuda(), obj.b.cuda(), obj.mu, shift_to_zero=True)
    gpu = gns_minimize(objc, x0.cuda(), B=B.cuda(), f_star=fs)
    assert gpu.n_iter == cpu.n_iter
    torch.testing.assert_close(gpu.x.cpu(), cpu.x, rtol=0, atol=1e-6)


# --- bad input ---------------------------------------------------------------------------------------------

def test_bad_metric():
    obj, _, x0, B = _lse(10)
    with pytest.raises(ValueError, match="B must be positive definite"):
        gns_minimize(obj, x0, B=-B)
    with pytest.raises(ValueError, match="B must be symmetric"):
        gns_minimize(obj, x0, B=B + torch.triu(torch.ones_like(B), 1))
    with pytest.raises(ValueError, match="B must have shape"):
        gns_minimize(obj, x0, B=B[:3])
    with pytest.raises(ValueError, match="B contains NaN"):
        gns_minimize(obj, x0, B=B * float("nan"))
    with pytest.raises(ValueError, match="B must be positive definite"):
        gradient_method(obj, x0, B=torch.zeros_like(B))


@pytest.mark.parametrize("kw, msg", [(dict(f_star=0.0, f_tol=0.0), "f_tol must be > 0"), (dict(f_tol=-1e-8), "f_tol must be > 0"),
                                     (dict(grad_tol=0.0), "grad_tol must be > 0"), (dict(gamma0=-1.0), "gamma0 must be > 0"),
                                     (dict(gamma_min=0.0), "gamma_min must be > 0"), (dict(max_trials=0), "max_trials must be >= 1"),
                                     (dict(max_iter=-1), "max_iter must be >= 0"), (dict(on_failure="x"), "on_failure must be one of"),
                                     (dict(f_star=float("inf")), "f_star must be finite")])
def test_bad_settings(kw, msg):
    obj, _, x0, _ = _lse(10)
    with pytest.raises(ValueError, match=msg):
        gns_minimize(obj, x0, **kw)


def test_bad_tolerances_in_baselines():
    obj, _, x0, _ = _lse(10)
    with pytest.raises(ValueError, match="grad_tol must be > 0"):
        gradient_method(obj, x0, grad_tol=0.0)
    with pytest.raises(ValueError, match="f_tol must be > 0"):
        super_universal_newton(obj, x0, f_tol=0.0)


def test_non_finite_gradient_and_start():
    class Bad:
        def __init__(self, g): self.g = g
        def value(self, x): return 1.0
        def grad(self, x): return torch.full_like(x, self.g)
    x0 = torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match="gradient at x0 contains NaN"):
        gns_minimize(Bad(float("nan")), x0, hess="zero")
    with pytest.raises(ValueError, match="gradient at x0 contains NaN"):
        gns_minimize(Bad(float("inf")), x0, hess="zero")
    with pytest.raises(ValueError, match="x0 contains NaN"):
        gns_minimize(Bad(0.0), torch.tensor([0.0, float("nan"), 1.0], dtype=F64), hess="zero")
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor"):
        gns_minimize(Bad(0.0), [0.0, 1.0], hess="zero")


def test_non_finite_hessian_and_bad_hess_option():
    obj, _, x0, _ = _lse(10)
    with pytest.raises(ValueError, match="the Hessian contains NaN"):
        gns_minimize(obj, x0, hess=lambda x: torch.full((10, 10), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match="hess must be one of"):
        gns_minimize(obj, x0, hess="newton")
    with pytest.raises(TypeError, match="needs oracle.approx_hess"):
        gns_minimize(_NoApprox(), x0, hess="approx")


class _NoApprox:
    def value(self, x): return float(x @ x)
    def grad(self, x): return 2 * x
    def hess(self, x): return 2 * torch.eye(x.shape[0], dtype=x.dtype)


def test_bad_objective_data():
    A, b = torch.randn(5, 3, dtype=F64), torch.randn(5, dtype=F64)
    with pytest.raises(ValueError, match="mu must be > 0"):
        LogSumExp(A, b, mu=-1.0)
    with pytest.raises(ValueError, match="b must have shape"):
        LogSumExp(A, b[:3])
    with pytest.raises(ValueError, match="A contains NaN"):
        PNormResidual(A * float("nan"), b)
    with pytest.raises(ValueError, match="y must lie in"):
        SoftmaxRegression(A, torch.tensor([0, 1, 2, 3, 4]), n_classes=3)
    with pytest.raises(ValueError, match="n must be >= 2"):
        ChebyshevRosenbrock(1)
    with pytest.raises(ValueError, match="RankOne alpha must be >= 0"):
        regularized_step(RankOne(-1.0, torch.ones(3, dtype=F64)), torch.ones(3, dtype=F64), 1.0)


# ---- H must be what the Cholesky solve assumes: real, finite, symmetric, (n, n) ------------------

def _spd(n=5, seed=0):
    M = torch.randn(n, n, generator=_gen(seed), dtype=F64)
    return M @ M.T + torch.eye(n, dtype=F64), torch.randn(n, generator=_gen(seed + 1), dtype=F64)


def test_regularized_step_rejects_asymmetric_H():
    H, g = _spd()
    bad = H + torch.triu(torch.ones_like(H), 1)  # only the upper triangle differs
    with pytest.raises(ValueError, match="H must be symmetric"):
        regularized_step(bad, g, 0.5)


@pytest.mark.parametrize("where", [(0, 1), (3, 3)])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_regularized_step_rejects_non_finite_H(where, value):
    H, g = _spd()
    H[where] = value
    with pytest.raises(ValueError, match="H contains NaN or infinite"):
        regularized_step(H, g, 0.5)


def test_regularized_step_rejects_batched_and_complex_H():
    H, g = _spd()
    with pytest.raises(ValueError, match=r"H must have shape \(5, 5\)"):
        regularized_step(H[None], g, 0.5)
    with pytest.raises(TypeError, match="H must be real"):
        regularized_step(H.to(torch.complex128), g, 0.5)
    with pytest.raises(TypeError, match="g must be real"):
        regularized_step(H, g.to(torch.complex128), 0.5)


def test_symmetric_up_to_rounding_is_accepted():
    H, g = _spd(40)
    H = H + 1e-12 * torch.randn(40, 40, generator=_gen(3), dtype=F64)  # rounding-level asymmetry
    torch.testing.assert_close(regularized_step(H, g, 0.5),
                               torch.linalg.solve(H + 0.5 * torch.eye(40, dtype=F64), -g))


def test_asymmetric_oracle_hessian_is_rejected_in_the_loop():
    o, _, x0, _ = _lse()
    with pytest.raises(ValueError, match="the Hessian must be symmetric"):
        gns_minimize(o, x0, hess=lambda x: torch.triu(o.hess(x)), max_iter=3)


def test_structured_representations_check_their_parts():
    with pytest.raises(TypeError, match="alpha must be a real number"):
        RankOne("1", torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        RankOne(-1.0, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="v contains NaN"):
        RankOne(1.0, torch.tensor([1.0, float("nan")], dtype=F64))
    with pytest.raises(TypeError, match="v must be real"):
        RankOne(1.0, torch.ones(3, dtype=torch.complex128))
    with pytest.raises(ValueError, match="blocks must not be empty"):
        BlockDiagonal(torch.zeros(0, 2, 2, dtype=F64))
    with pytest.raises(ValueError, match="blocks contains NaN"):
        BlockDiagonal(torch.full((1, 2, 2), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match="blocks must be square"):
        BlockDiagonal(torch.zeros(2, 2, 3, dtype=F64))
    with pytest.raises(TypeError, match="blocks must be real"):
        BlockDiagonal(torch.eye(2, dtype=torch.complex128)[None])


def test_problem_data_must_be_real_floating():
    from gradnotes.grad_norm_newton import LogSumExp, PNormResidual
    A, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    with pytest.raises(TypeError, match="A must have a floating dtype"):
        LogSumExp(A.long(), b)
    with pytest.raises(TypeError, match="b must be real"):
        PNormResidual(A, b.to(torch.complex128))


@pytest.mark.parametrize("method", [gns_minimize, gradient_method, super_universal_newton])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_minimizers_refuse_half_precision_x0(method, dtype):
    obj = _lse(n=4)[0]
    with pytest.raises(TypeError, match="x0 must be float32 or float64"):
        method(obj, torch.zeros(4, dtype=dtype), max_iter=2)


@pytest.mark.parametrize("make, name", [(lambda: _lse(n=4)[0], "x"),
                                        (lambda: PNormResidual(torch.eye(4, dtype=F64), torch.ones(4, dtype=F64)), "x"),
                                        (lambda: SoftmaxRegression(torch.randn(6, 2, dtype=F64),
                                                                   torch.arange(6) % 2), "w")])
def test_oracles_check_their_point(make, name):
    obj = make()
    n = 4
    for bad, err, msg in [(torch.full((n,), math.nan, dtype=F64), ValueError, f"{name} contains NaN"),
                          (torch.zeros(n + 1, dtype=F64), ValueError, f"{name} must have shape"),
                          (torch.zeros(n, dtype=torch.float32), TypeError, f"{name} has dtype torch.float32"),
                          ([0.0] * n, TypeError, f"{name} must be a torch.Tensor")]:
        for meth in (obj.value, obj.grad, obj.hess):
            with pytest.raises(err, match=msg):
                meth(bad)


def test_overflowing_powers_name_their_argument():
    A, b = torch.eye(3, dtype=F64), torch.full((3,), 2.0, dtype=F64)
    with pytest.raises(ValueError, match="p = 1e\\+300 is too large"):
        PNormResidual(A, b, p=1e300).hess(torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="p = 1e\\+300 is too large"):
        ChebyshevRosenbrock(3, p=1e300).hess(torch.full((3,), 3.0, dtype=F64))
    obj = _lse(n=4)[0]
    with pytest.raises(ValueError, match="alpha = 1e\\+300 is too large"):
        super_universal_newton(obj, torch.ones(4, dtype=F64), alpha=1e300, max_iter=3)


def test_a_non_finite_trial_point_is_a_failed_trial():
    # a trial point that overflowed is never handed to the oracle (which would refuse it):
    # it counts as a failed trial, as an infinite objective does
    from gradnotes.grad_norm_newton import _value_and_grad
    obj = _lse(n=4)[0]
    f, g = _value_and_grad(obj, torch.tensor([1.0, math.inf, 0.0, 0.0], dtype=F64))
    assert f == math.inf and not torch.isfinite(g).any()


def test_the_oracles_check_again_after_a_run():
    # inside a minimizer the points derive from the checked x0 and skip the check; after it
    # (or after an error in it) the oracle checks its point again
    obj = _lse(n=4)[0]
    gradient_method(obj, torch.ones(4, dtype=F64), max_iter=3)
    with pytest.raises(ValueError):
        super_universal_newton(obj, torch.ones(4, dtype=F64), alpha=1e300, max_iter=3)
    with pytest.raises(ValueError, match="x contains NaN"):
        obj.value(torch.full((4,), math.nan, dtype=F64))
    with pytest.raises(TypeError, match="x has dtype torch.float32"):
        gns_minimize(obj, torch.ones(4), max_iter=2)
