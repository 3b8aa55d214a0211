"""AdaSketch-Newton: merit gradient vs autograd, sketch solvers vs direct solves, numba vs torch,
Hock-Schittkowski optima vs scipy's SLSQP and trust-constr, bad input."""
import math

import numpy as np
import pytest
import torch

from gradnotes.alm_sketch import (HS_PROBLEMS, EqualityProblem, PoissonControl, Sketcher,
                                  adasketch_newton, augmented_lagrangian,
                                  augmented_lagrangian_method, constrained_logistic,
                                  hock_schittkowski, kkt_matrix, l1_sqp_gmres, merit_gradient,
                                  modify_hessian, sketch_solve)

F64 = torch.float64


def _saddle(n=20, m=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(n, n, generator=g, dtype=F64)
    B = M @ M.T / n + torch.eye(n, dtype=F64)
    G = torch.randn(m, n, generator=g, dtype=F64)
    return kkt_matrix(B, G), torch.randn(n + m, generator=g, dtype=F64)


# --- the merit gradient ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["HS6", "HS26", "HS40", "HS46", "HS47", "HS79"])
@pytest.mark.parametrize("eta", [(1.0, 0.1), (30.0, 1e-3)])
def test_merit_gradient_matches_autograd(name, eta):
    p = hock_schittkowski(name)
    g = torch.Generator().manual_seed(1)
    x = (p.x0 + 0.2 * torch.randn(p.n, generator=g, dtype=F64)).requires_grad_(True)
    lam = torch.randn(p.m, generator=g, dtype=F64).requires_grad_(True)
    auto = torch.cat(torch.autograd.grad(augmented_lagrangian(p, x, lam, *eta), (x, lam)))
    ours = merit_gradient(p.parts(x.detach(), lam.detach()), *eta)
    torch.testing.assert_close(ours, auto, rtol=1e-11, atol=1e-11)
    # the official code's shortcut (Hessian of f instead of the Lagrangian) is not exact here
    code = merit_gradient(p.parts(x.detach(), lam.detach()), *eta, hessian="objective")
    assert (code - auto).norm() > 1e-3 * eta[1] * auto.norm()


def test_merit_gradient_shortcut_exact_for_linear_constraints():
    p = hock_schittkowski("HS48")
    x, lam = p.x0.clone().requires_grad_(True), torch.ones(p.m, dtype=F64, requires_grad=True)
    auto = torch.cat(torch.autograd.grad(augmented_lagrangian(p, x, lam, 2.0, 0.3), (x, lam)))
    code = merit_gradient(p.parts(x.detach(), lam.detach()), 2.0, 0.3, hessian="objective")
    torch.testing.assert_close(code, auto, rtol=1e-12, atol=1e-12)


def test_poisson_merit_gradient_matches_autograd():
    q = PoissonControl(12)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, generator=g, dtype=F64)
    lam = torch.randn(12, generator=g, dtype=F64)

    def merit(z, l):
        f, c, gL = q.merit_parts(z, l)   # f is a float: rebuild it as a tensor for autograd
        y, u = z[:12], z[12:]
        ft = 0.5 * q.h * ((y - q.yd) ** 2).sum() + 0.5 * q.alpha * q.h * (u ** 2).sum()
        return ft + l @ c + 0.5 * 1.5 * c @ c + 0.5 * 0.2 * gL @ gL

    auto = torch.cat(torch.autograd.functional.jacobian(merit, (x, lam)))
    ours = merit_gradient(q.parts(x, lam), 1.5, 0.2)
    torch.testing.assert_close(ours, auto, rtol=1e-10, atol=1e-10)


# --- sketch solvers ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["rk", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sketch_solvers_converge_to_solve(method, seed):
    K, b = _saddle(15, 4, seed)
    out = sketch_solve(K, b, tol=1e-11, method=method, max_steps=10 ** 7, seed=seed)
    exact = torch.linalg.solve(K, b)
    assert out.converged
    torch.testing.assert_close(out.x, exact, rtol=0, atol=1e-8 * exact.norm().item())


@pytest.mark.parametrize("method", ["rk", "gaussian"])
def test_sketch_solver_on_sparse_kkt(method):
    K, b = _saddle(12, 3, 7)
    K = (K * (K.abs() > 0.5)).to_sparse()      # a sparse saddle system (COO input)
    out = sketch_solve(K, b, tol=1e-9, method=method, max_steps=10 ** 7)
    assert out.converged
    exact = torch.linalg.solve(K.to_dense(), b)
    torch.testing.assert_close(out.x, exact, rtol=0, atol=1e-6 * exact.norm().item())


@pytest.mark.parametrize("method", ["rk", "gaussian"])
def test_numba_and_torch_take_the_same_steps(method):
    pytest.importorskip("numba")
    K, b = _saddle(8, 2, 4)
    a = sketch_solve(K, b, 1e-5, method, 50_000, seed=5, engine="numba")
    t = sketch_solve(K, b, 1e-5, method, 50_000, seed=5, engine="torch")
    assert a.steps == t.steps and a.rows == t.rows and a.entries == t.entries
    torch.testing.assert_close(a.x, t.x, rtol=1e-10, atol=1e-12)


def test_numba_and_torch_whole_run():
    pytest.importorskip("numba")
    p = hock_schittkowski("HS48")          # one Newton step, about 2,000 Kaczmarz steps
    a = adasketch_newton(p, "rk", engine="numba")
    t = adasketch_newton(p, "rk", engine="torch")
    assert a.n_iter == t.n_iter and a.history["inner_steps"] == t.history["inner_steps"]
    torch.testing.assert_close(a.x, t.x, rtol=1e-9, atol=1e-11)


def test_rows_and_entries_counted():
    K, b = _saddle(10, 2, 0)
    sk = Sketcher(K, "rk", check_every=5)
    out = sk.solve(b, 0.0, 20, None, 0)      # target 0: exactly 20 steps, 4 checks + 1 initial
    assert out.steps == 20 and out.rows == 20 + 5 * 12


# --- solutions against scipy -------------------------------------------------------------------

def _scipy(p, method):
    opt = pytest.importorskip("scipy.optimize")
    f = lambda z: p.f(torch.as_tensor(z, dtype=F64)).item()
    jac = lambda z: torch.autograd.functional.jacobian(p.f, torch.as_tensor(z, dtype=F64)).numpy()
    c = lambda z: p.c(torch.as_tensor(z, dtype=F64)).numpy()
    cj = lambda z: torch.autograd.functional.jacobian(p.c, torch.as_tensor(z, dtype=F64)).numpy()
    if method == "SLSQP":
        return opt.minimize(f, p.x0.numpy(), jac=jac, method="SLSQP", options=dict(ftol=1e-14,
                            maxiter=1000), constraints=[dict(type="eq", fun=c, jac=cj)])
    con = opt.NonlinearConstraint(c, 0.0, 0.0, jac=cj)
    return opt.minimize(f, p.x0.numpy(), jac=jac, method="trust-constr", constraints=[con],
                        options=dict(gtol=1e-12, xtol=1e-14, maxiter=5000))


# HS26, HS46 and HS49 have singular Hessians at the solution: x is determined only to about
# the square root (or worse) of the tolerance, so they are compared by value, by SLSQP only
DEGENERATE = ("HS26", "HS46", "HS49")
REGULAR = [n for n in HS_PROBLEMS if n not in DEGENERATE + ("HS61",)]


@pytest.mark.parametrize("name", REGULAR)
@pytest.mark.parametrize("method", ["SLSQP", "trust-constr"])
def test_hs_solution_matches_scipy(name, method):
    p = hock_schittkowski(name)
    r = adasketch_newton(p, "direct", tol=1e-10, max_iter=500)
    assert r.converged
    ref = _scipy(p, method)
    if abs(ref.fun - p.f_star) > 1e-6:
        pytest.skip(f"scipy {method} did not reach the known optimum on {name} ({ref.fun})")
    assert abs(p.f(r.x).item() - ref.fun) < 1e-6
    assert abs(p.f(r.x).item() - p.f_star) < 1e-6
    if name != "HS9":   # HS9 has infinitely many minimizers; compare values only
        np.testing.assert_allclose(r.x.numpy(), ref.x, atol=1e-5)


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_hs_value_matches_slsqp(name):
    p = hock_schittkowski(name)
    r = adasketch_newton(p, "direct", tol=1e-7, max_iter=500)
    ref = _scipy(p, "SLSQP")
    assert r.converged and abs(p.f(r.x).item() - ref.fun) < 1e-6


@pytest.mark.parametrize("name", ["HS6", "HS7", "HS40", "HS42", "HS50", "HS79"])
def test_kaczmarz_run_reaches_known_optimum(name):
    p = hock_schittkowski(name)
    r = adasketch_newton(p, "rk", tol=1e-8, max_iter=300)
    assert r.converged and abs(p.f(r.x).item() - p.f_star) < 1e-6


def test_logistic_solution_matches_slsqp():
    opt = pytest.importorskip("scipy.optimize")
    sk = pytest.importorskip("sklearn.datasets")
    X, y = sk.load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X = torch.as_tensor(np.hstack([X, np.ones((len(X), 1))]), dtype=F64)
    p = constrained_logistic(X, torch.as_tensor(y), n_linear=5, seed=2)
    r = adasketch_newton(p, "direct", tol=1e-9, max_iter=200)
    assert r.converged
    ref = _scipy(p, "SLSQP")
    assert abs(ref.fun - p.f(r.x).item()) < 1e-6
    assert p.c(r.x).abs().max() < 1e-9


def test_baselines_solve_hs():
    for fn in (l1_sqp_gmres, augmented_lagrangian_method):
        p = hock_schittkowski("HS47")
        r = fn(p, tol=1e-6)
        assert r.converged and abs(p.f(r.x).item() - p.f_star) < 1e-6


# --- bad input -----------------------------------------------------------------------------------

def test_bad_input():
    p = hock_schittkowski("HS40")
    with pytest.raises(ValueError, match="solver must be one of"): adasketch_newton(p, "cg")
    with pytest.raises(ValueError, match="beta must be < 0.5"): adasketch_newton(p, beta=0.5)
    with pytest.raises(ValueError, match="nu must be > 1"): adasketch_newton(p, nu=1.0)
    with pytest.raises(ValueError, match="eta2 must be > 0"): adasketch_newton(p, eta2=0.0)
    with pytest.raises(ValueError, match="merit_hessian"): adasketch_newton(p, merit_hessian="f")
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        adasketch_newton(p, max_iter=1.5)
    with pytest.raises(ValueError, match="lam0 must have shape"):
        adasketch_newton(p, lam0=torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="x0 contains NaN"):
        adasketch_newton(p, x0=torch.full((4,), math.inf, dtype=F64))
    bad = EqualityProblem(lambda x: torch.log(x).sum(), lambda x: (x.sum() - 1)[None],
                          torch.tensor([-1.0, 2.0], dtype=F64))
    with pytest.raises(ValueError, match="merit function is undefined"): adasketch_newton(bad)
    with pytest.raises(ValueError, match="merit function is undefined"): l1_sqp_gmres(bad)
    with pytest.raises(ValueError, match="mu must be > 0"): augmented_lagrangian_method(p, mu=0)
    with pytest.raises(TypeError, match="f must be callable"):
        EqualityProblem(1.0, lambda x: x[:1], torch.zeros(2))
    with pytest.raises(ValueError, match="m < n"):
        EqualityProblem(lambda x: x.sum(), lambda x: x, torch.zeros(2))
    with pytest.raises(ValueError, match="c must return a 1-D tensor"):
        EqualityProblem(lambda x: x.sum(), lambda x: x.sum(), torch.zeros(2))
    with pytest.raises(ValueError, match="name must be one of"): hock_schittkowski("HS71")
    with pytest.raises(ValueError, match="N must be >= 2"): PoissonControl(1)
    with pytest.raises(ValueError, match="alpha must be > 0"): PoissonControl(10, alpha=0.0)


def test_bad_input_sketch():
    K, b = _saddle(6, 2, 0)
    with pytest.raises(ValueError, match="zero row"): sketch_solve(torch.zeros(3, 3), torch.ones(3))
    with pytest.raises(ValueError, match="square"): Sketcher(torch.ones(3, 4))
    with pytest.raises(ValueError, match="b must have shape"): sketch_solve(K, torch.ones(3))
    with pytest.raises(ValueError, match="K contains NaN"):
        sketch_solve(torch.full((3, 3), math.nan), torch.ones(3))
    with pytest.raises(ValueError, match="method must be one of"): sketch_solve(K, b, method="cg")
    with pytest.raises(ValueError, match="engine must be one of"): Sketcher(K, engine="cuda")
    with pytest.raises(ValueError, match="tol must be > 0"): sketch_solve(K, b, tol=0.0)
    with pytest.raises(ValueError, match="check_every must be >= 1"): Sketcher(K, check_every=0)


def test_bad_input_logistic():
    X = torch.randn(20, 5, dtype=F64)
    y = (torch.arange(20) % 2)
    with pytest.raises(ValueError, match="y has 19 labels"): constrained_logistic(X, y[:-1])
    with pytest.raises(ValueError, match="labels 0 and 1"): constrained_logistic(X, y + 1)
    with pytest.raises(ValueError, match="n_linear must be <= 3"):
        constrained_logistic(X, y, n_linear=4)
    with pytest.raises(ValueError, match="X contains NaN"):
        constrained_logistic(torch.full((20, 5), math.nan, dtype=F64), y)


def test_singular_jacobian_is_a_status():
    r = adasketch_newton(hock_schittkowski("HS61"))
    assert r.status == "singular_jacobian" and not r.converged and r.n_iter == 0
