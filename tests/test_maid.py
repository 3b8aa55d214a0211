"""MAID: closed forms, scipy and dense references, finite differences, the line search's guarantee, numba vs torch, bad input."""
import math
import warnings

import numpy as np
import pytest
import torch

from gradnotes.maid import (MAID, BilevelProblem, ErrorBound, accuracy_schedule, fista, hoag, inexact_hypergradient,
                            logreg_penalties, maid, quadratic_bilevel, tv_denoising)

F64 = torch.float64


@pytest.fixture(scope="module")
def toy():
    return quadratic_bilevel(n=60, m=8, d=4, cond=30.0, seed=3)


def small_tv(seed=0, n=2, size=10, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, size, size, generator=g, dtype=F64)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=g, dtype=F64)
    return noisy.to(device), clean.to(device)


def small_logreg(groups="feature", seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(50, 4, generator=g, dtype=F64)
    y = (X[:, 0] + 0.5 * torch.randn(50, generator=g, dtype=F64) > 0).long() + (X[:, 1] > 1).long()
    return logreg_penalties(X[:35], y[:35], X[35:], y[35:], groups=groups, n_classes=3)


def test_fista_certificate_and_scipy_reference():
    "The certified accuracy bounds the true distance to scipy's L-BFGS-B solution of the logistic-regression lower level."
    scipy_opt = pytest.importorskip("scipy.optimize")
    problem, dim = small_logreg()
    theta = torch.linspace(-2, 0, dim, dtype=F64)
    f = lambda w: problem.lower(torch.from_numpy(w).view(4, 3), theta).item()
    jac = lambda w: problem.grad_x(torch.from_numpy(w).view(4, 3), theta).reshape(-1).numpy()
    ref = scipy_opt.minimize(f, np.zeros(12), jac=jac, method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15, maxiter=2000)).x
    for tol in (1e-2, 1e-6):
        x, iters, acc = fista(problem, torch.zeros(4, 3, dtype=F64), theta, tol, 10000)
        dist = np.linalg.norm(x.reshape(-1).numpy() - ref)
        assert acc <= tol and dist <= acc + 1e-7


def test_cg_solution_against_dense_solve(toy):
    problem, exact = toy
    theta = torch.randn(4, dtype=F64, generator=torch.Generator().manual_seed(0))
    x = exact.x_hat(theta)
    H = torch.autograd.functional.hessian(lambda v: problem.lower(v, theta), x)
    for delta in (1e-2, 1e-6, 1e-10):
        hg = inexact_hypergradient(problem, x, theta, delta)
        assert (H @ hg.q - hg.grad_f).norm() <= delta * (1 + 1e-9)                     # the residual meets delta
        assert (hg.q - torch.linalg.solve(H, hg.grad_f)).norm() <= delta / problem.mu_at(theta) * (1 + 1e-9)
    assert torch.allclose(hg.p, exact.hypergrad(theta), atol=1e-8)


def test_hypergradient_finite_differences_tv():
    noisy, clean = small_tv()
    problem = tv_denoising(noisy, clean)
    theta = torch.tensor([-1.5, -2.5], dtype=F64)
    g = lambda th: problem.upper(problem.solve(noisy, th, 1e-11, 50000)[0]).item()
    x = problem.solve(noisy, theta, 1e-11, 50000)[0]
    p = inexact_hypergradient(problem, x, theta, 1e-12).p
    h = 1e-5
    fd = torch.tensor([(g(theta + h * e) - g(theta - h * e)) / (2 * h) for e in torch.eye(2, dtype=F64)], dtype=F64)
    assert torch.allclose(p, fd, rtol=1e-5, atol=1e-7)


def test_hypergradient_with_autograd_map_equals_hand_gradient():
    "The optimality map from autograd (no grad_lower) and the hand-written one give the same hypergradient."
    problem, _ = small_logreg("weight")
    auto = BilevelProblem(problem.lower, problem.upper, mu=problem.mu, L=problem.L, L_upper=problem.L_upper)
    theta = torch.linspace(-1.5, 0.5, 12, dtype=F64)
    x = fista(problem, torch.zeros(4, 3, dtype=F64), theta, 1e-6, 10000)[0]
    a, b = inexact_hypergradient(problem, x, theta, 1e-10), inexact_hypergradient(auto, x, theta, 1e-10)
    assert torch.allclose(a.p, b.p, atol=1e-9) and torch.allclose(a.q, b.q, atol=1e-8)


def test_bound_with_exact_constants_holds(toy):
    "On the quadratic problem L_A = L_B = 0 is detected, and omega with the exact ||B|| bounds the true error."
    problem, exact = toy
    theta = torch.ones(4, dtype=F64)
    for acc in (1e-1, 1e-3, 1e-5):
        x = fista(problem, torch.zeros(8, dtype=F64), theta, acc, 10000)[0]
        hg = inexact_hypergradient(problem, x, theta, acc)
        eb = ErrorBound(problem)
        eb(x, theta, hg, acc, acc)
        assert eb.L_A < 1e-8 and eb.L_B < 1e-8 and 0 < eb.B <= exact.B_norm * (1 + 1e-9)
        omega_exact = exact.B_norm * (problem.L_upper * acc + acc) / problem.mu_at(theta)
        assert (hg.p - exact.hypergrad(theta)).norm() <= omega_exact


def test_maid_decreases_exact_loss_and_converges(toy):
    problem, exact = toy
    theta0 = torch.ones(4, dtype=F64)
    r = maid(problem, theta0, torch.zeros(8, dtype=F64), max_iter=400, budget=20000, rho=0.5, beta=0.01)
    g_acc = [exact.g(t) for t, ok in zip(r.history["theta"], r.history["accepted"]) if ok]
    assert all(b < a for a, b in zip(g_acc, g_acc[1:]))                  # the inexact line search is a true descent
    assert exact.g(r.theta) - exact.g_star <= 1e-6 * (exact.g(theta0) - exact.g_star)
    assert torch.allclose(r.theta, exact.theta_star, atol=1e-2)
    h = r.history
    assert h["cost"] == sorted(h["cost"]) and all(c == a + b for c, a, b in zip(h["cost"], h["ll"], h["cg"]))


def test_maid_at_a_stationary_point_stops():
    "At theta* the hypergradient vanishes; the accuracy loop stops at eps_min instead of running forever."
    problem, exact = quadratic_bilevel(n=30, m=5, d=2, cond=4.0, seed=1)
    r = maid(problem, exact.theta_star.clone(), exact.x_hat(exact.theta_star), max_iter=20, budget=1e5, eps_min=1e-9)
    assert r.status in ("eps_min", "budget", "max_iter")
    assert torch.allclose(r.theta, exact.theta_star, atol=1e-6)


def test_hoag_fixed_step_exact_accuracy_is_gradient_descent(toy):
    problem, exact = toy
    theta = torch.ones(4, dtype=F64)
    r = hoag(problem, theta, exact.x_hat(theta), eps0=1e-11, schedule="fixed", step=0.05, max_iter=5)
    for _ in range(4): theta = theta - 0.05 * exact.hypergrad(theta)
    assert torch.allclose(r.history["theta"][-1], theta, atol=1e-8)
    assert [accuracy_schedule(k, 1.0, 2) for k in ("geometric", "quadratic", "cubic", "fixed")] == pytest.approx([0.81, 1 / 9, 1 / 27, 1.0])


def test_numba_and_torch_runs_agree():
    noisy, clean = small_tv(seed=1)
    theta0 = torch.tensor([-4.0, -4.0], dtype=F64)
    runs = [maid(tv_denoising(noisy, clean, engine=e), theta0, noisy, max_iter=8, rho=0.5, beta=0.01) for e in ("numba", "torch")]
    assert runs[0].history["ll"] == runs[1].history["ll"]
    assert torch.allclose(runs[0].theta, runs[1].theta, atol=1e-9)


def test_unconverged_lower_level_warns():
    noisy, clean = small_tv()
    with pytest.warns(RuntimeWarning, match="ll_maxiter"):
        maid(tv_denoising(noisy, clean), torch.tensor([-1.0, -6.0], dtype=F64), noisy, max_iter=1, ll_maxiter=2, eps=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=0.0), "eps must be > 0"), (dict(delta=-1.0), "delta must be > 0"), (dict(beta=0), "beta must be > 0"),
    (dict(eta=1.0), "eta must be < 1"), (dict(rho=0.0), "rho must be > 0"), (dict(tau=1.5), "tau must be < 1"),
    (dict(nu=0.9), "nu must be >= 1"), (dict(max_backtrack=0), "max_backtrack must be >= 1"),
    (dict(eps=float("nan")), "eps must be finite")])
def test_bad_hyperparameters(toy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MAID(toy[0], **kwargs)


def test_bad_inputs(toy):
    problem, _ = toy
    th, x = torch.ones(4, dtype=F64), torch.zeros(8, dtype=F64)
    with pytest.raises(ValueError, match="theta0 contains NaN"): maid(problem, torch.full((4,), math.nan, dtype=F64), x)
    with pytest.raises(ValueError, match="x0 contains NaN"): maid(problem, th, torch.full((8,), math.inf, dtype=F64))
    with pytest.raises(ValueError, match="x0 of shape"): maid(problem, th, torch.zeros(5, dtype=F64))
    with pytest.raises(TypeError, match="theta0 must be a torch.Tensor"): maid(problem, [1.0] * 4, x)
    with pytest.raises(TypeError, match="floating"): maid(problem, torch.ones(4, dtype=torch.long), x)
    with pytest.raises(TypeError, match="problem must be BilevelProblem"): MAID("not a problem")
    with pytest.raises(ValueError, match="budget must be > 0"): maid(problem, th, x, budget=-1)
    with pytest.raises(ValueError, match="delta must be > 0"): inexact_hypergradient(problem, x, th, 0.0)
    with pytest.raises(ValueError, match="schedule must be one of"): hoag(problem, th, x, schedule="harmonic")
    with pytest.raises(ValueError, match="eps0 must be > 0"): hoag(problem, th, x, eps0=0)
    with pytest.raises(ValueError, match="step must be > 0"): hoag(problem, th, x, step=-0.1)
    vector_lower = BilevelProblem(lambda x, t: x * t.sum(), problem.upper, mu=1.0, L=1.0)
    with pytest.raises(ValueError, match="must return a scalar"): maid(vector_lower, th, x)
    with pytest.raises(ValueError, match="mu must be > 0"): BilevelProblem(problem.lower, problem.upper, mu=-1.0, L=1.0)
    with pytest.raises(TypeError, match="lower must be callable"): BilevelProblem(3, problem.upper, mu=1.0, L=1.0)
    bad_mu = BilevelProblem(problem.lower, problem.upper, mu=lambda t: float("nan"), L=1.0)
    with pytest.raises(ValueError, match="mu must be positive and finite"): maid(bad_mu, th, x)
    wrong_grad = BilevelProblem(problem.lower, problem.upper, mu=1.0, L=1.0, grad_lower=lambda x, t: x[:3])
    with pytest.raises(ValueError, match="grad_lower must return the shape"): maid(wrong_grad, th, x)
    noisy, clean = small_tv()
    with pytest.raises(ValueError, match="same shape"): tv_denoising(noisy, clean[:1])
    with pytest.raises(ValueError, match="noisy contains NaN"): tv_denoising(noisy * math.nan, clean)
    with pytest.raises(ValueError, match="engine must be"): tv_denoising(noisy, clean, engine="jax")
    with pytest.raises(ValueError, match="groups must be"): logreg_penalties(noisy[0], torch.zeros(10).long(), noisy[1], torch.zeros(10).long(), groups="row")
    with pytest.raises(ValueError, match="y_val has"): logreg_penalties(noisy[0], torch.zeros(10).long(), noisy[1], torch.zeros(9).long())


@pytest.mark.cuda
def test_cuda_run_matches_cpu():
    noisy, clean = small_tv()
    theta0 = torch.tensor([-4.0, -4.0], dtype=F64)
    cpu = maid(tv_denoising(noisy, clean, engine="torch"), theta0, noisy, max_iter=5, rho=0.5, beta=0.01)
    nc, cc = noisy.cuda(), clean.cuda()
    gpu = maid(tv_denoising(nc, cc), theta0.cuda(), nc, max_iter=5, rho=0.5, beta=0.01)
    assert gpu.theta.device.type == "cuda"
    assert torch.allclose(gpu.theta.cpu(), cpu.theta, atol=1e-8)


def test_huge_initial_step_is_refused_before_the_loop():
    from gradnotes.maid import MAID, maid, quadratic_bilevel
    toy, _ = quadratic_bilevel(n=40, m=8, d=3)
    th, x = torch.zeros(3, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    with pytest.raises(ValueError, match="beta must be <= 1"):
        maid(toy, th, x, beta=1e300)
    with pytest.raises(ValueError, match="beta must be <= 1"):
        MAID(toy, beta=float("1e11"))


def test_budget_stops_backtracking():
    # with a step far too large every trial fails; the budget must end the run early
    from gradnotes.maid import maid, quadratic_bilevel
    toy, _ = quadratic_bilevel(n=40, m=8, d=3)
    th, x = torch.ones(3, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = maid(toy, th, x, beta=1e10, budget=500, max_iter=1000)
    assert res.status == "budget" and res.history["cost"][-1] < 500 + 2 * 2000


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(maxiter=-1), ValueError, "maxiter must be >= 0"),
    (dict(maxiter=2.5), TypeError, "maxiter must be an integer"),
    (dict(tol=-1e-3), ValueError, "tol must be > 0"),
    (dict(tol=float("nan")), ValueError, "tol must be finite"),
])
def test_fista_refuses_bad_arguments(kwargs, exc, message):
    from gradnotes.maid import fista, quadratic_bilevel
    toy, _ = quadratic_bilevel(n=40, m=8, d=3)
    args = dict(tol=1e-3, maxiter=100) | kwargs
    with pytest.raises(exc, match=message):
        fista(toy, torch.zeros(8, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), **args)


def test_fista_maxiter_zero_returns_the_start():
    from gradnotes.maid import fista, quadratic_bilevel
    toy, _ = quadratic_bilevel(n=40, m=8, d=3)
    x, iters, err = fista(toy, torch.zeros(8, dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
                          tol=1e-12, maxiter=0)
    assert iters == 1 and torch.equal(x, torch.zeros(8, dtype=torch.float64)) and err > 0


@pytest.mark.parametrize("x, nu, exc, message", [
    (torch.ones(4, 4), -0.1, ValueError, "nu must be > 0"),
    (torch.ones(4, 4), float("nan"), ValueError, "nu must be finite"),
    (torch.ones(4, 4), 1j, TypeError, "nu must be a real number"),
    (torch.ones(4, 4), torch.tensor([0.1, 0.2]), ValueError, "nu must be a single number"),
    (torch.ones(4, 4, dtype=torch.cfloat), 0.1, TypeError, "x must be real"),
    (torch.ones(4), 0.1, ValueError, "x must be an image"),
    (torch.full((4, 4), float("inf")), 0.1, ValueError, "x contains NaN"),
    (torch.ones(4, 4, dtype=torch.long), 0.1, TypeError, "x must have a floating dtype"),
])
def test_smoothed_tv_and_image_gradient_refuse_bad_input(x, nu, exc, message):
    from gradnotes.maid import smoothed_tv
    with pytest.raises(exc, match=message):
        smoothed_tv(x, nu)


def test_smoothed_tv_keeps_gradient_in_nu():
    from gradnotes.maid import smoothed_tv
    nu = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    smoothed_tv(torch.rand(5, 5, dtype=torch.float64), nu).backward()
    assert nu.grad is not None and nu.grad > 0


def test_psnr_refuses_different_shapes_and_nan():
    from gradnotes.maid import psnr
    with pytest.raises(ValueError, match="ref must have shape"):
        psnr(torch.rand(2, 8, 8), torch.rand(8, 8))
    with pytest.raises(ValueError, match="x contains NaN"):
        psnr(torch.full((8, 8), float("nan")), torch.rand(8, 8))
    with pytest.raises(TypeError, match="x must be real"):
        psnr(torch.rand(8, 8).to(torch.cfloat), torch.rand(8, 8))


@pytest.mark.parametrize("args, exc, message", [
    (("geometric", -0.1, 3), ValueError, "eps0 must be > 0"),
    (("geometric", 0.1, -3), ValueError, "k must be >= 0"),
    (("geometric", 0.1, 2.5), TypeError, "k must be an integer"),
    (("geometric", 0.1, 3, 1.5), ValueError, "decay must be <= 1"),
    (("cubic", float("inf"), 3), ValueError, "eps0 must be finite"),
])
def test_accuracy_schedule_refuses_bad_arguments(args, exc, message):
    with pytest.raises(exc, match=message):
        accuracy_schedule(*args)


def test_documented_edges_of_the_schedule_and_fista(toy):
    # decay = 1 is a constant geometric schedule (the docs say decay in (0, 1])
    assert [accuracy_schedule("geometric", 0.3, k, decay=1.0) for k in range(3)] == [0.3] * 3
    # maxiter = 0: no step; x0 comes back with its certificate ||grad_x h(x0)|| / mu
    problem, dim = small_logreg()
    theta, x0 = torch.zeros(dim, dtype=F64), torch.zeros(4, 3, dtype=F64)
    x, evals, acc = fista(problem, x0, theta, 1e-12, maxiter=0)
    assert torch.equal(x, x0) and evals == 1
    assert math.isclose(acc, problem.grad_x(x0, theta).norm().item() / problem.mu_at(theta))


def test_out_of_range_constants_name_their_argument():
    with pytest.raises(ValueError, match="mu must be at most L"):
        BilevelProblem(lambda x, t: (x * x).sum(), lambda x: x.sum(), mu=4.0, L=2.0)
    from gradnotes.maid import smoothed_tv
    x = torch.rand(1, 4, 4, dtype=torch.float32)
    assert torch.isfinite(smoothed_tv(x, 1e18))  # nu^2 = 1e36 is a float32
    with pytest.raises(ValueError, match="nu"):
        smoothed_tv(x, 1e20)  # nu^2 overflows float32
    X, y = torch.randn(6, 2, dtype=F64), torch.tensor([0, 1, 0, 1, 0, 1])
    with pytest.raises(TypeError, match="X_train must have dtype"):
        logreg_penalties(X.half(), y, X.half(), y)
    with pytest.raises(ValueError, match="y_val must hold class labels >= 0"):
        logreg_penalties(X, y, X, y - 1)
    with pytest.raises(ValueError, match="eps"):
        MAID(small_logreg()[0], eps=1e300)


def test_error_bound_of_a_huge_accuracy_is_infinite():
    # the bound grows with eps^2: at eps = 1e300 it is infinite (vacuous), not an error
    problem, dim = small_logreg()
    theta, x = torch.zeros(dim, dtype=F64), torch.zeros(4, 3, dtype=F64)
    hg = inexact_hypergradient(problem, x, theta, delta=1e-3)
    assert ErrorBound(problem, 0)(x, theta, hg, eps=1e300, delta=1e-3) == math.inf
