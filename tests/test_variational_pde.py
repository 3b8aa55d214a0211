"""Variational PDEs: closed forms, autograd, a finite-difference Newton solve (scipy), a finite-element
Newton solve (scikit-fem), grid independence of the preconditioned iteration, Barron norms, Deep Ritz,
bad input."""
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg
import torch

from gradnotes.variational_pde import (CosineRidgeProblem, Lagrangian, TorusNet, barron_norm, default_step,
                                       energy, euler_lagrange, gradient_descent, h1_dual_norm, h1_norm,
                                       helmholtz_inverse, ritz_energy, spectral_div, spectral_grad, torus_grid,
                                       train_deep_ritz)

LAG = Lagrangian(mass=1.0, alpha=2.0, gamma=1.5)


def _modes(x, modes):
    "sum of a cos(2 pi k.x) over (k, a) on a coordinate grid x (d, *shape)."
    return sum(a * torch.cos(2 * math.pi * sum(ki * xi for ki, xi in zip(k, x))) for k, a in modes)


@pytest.mark.parametrize("shape,modes", [
    ((33,), [((0,), 1.0), ((4,), -2.0), ((16,), 0.5)]),
    ((24, 18), [((0, 0), 0.3), ((1, 2), 1.0), ((-5, 3), 0.7)]),
    ((8, 10, 6), [((1, 0, 0), 1.0), ((2, -1, 1), 0.4)])])
@pytest.mark.parametrize("mass", [0.5, 1.0, 3.0])
def test_linear_case_matches_closed_form(shape, modes, mass, one_thread):
    x = torus_grid(shape)
    f = _modes(x, modes)
    want = sum(a * torch.cos(2 * math.pi * sum(ki * xi for ki, xi in zip(k, x)))
               / (mass + 4 * math.pi ** 2 * sum(ki * ki for ki in k)) for k, a in modes)
    out = gradient_descent(f, Lagrangian(mass=mass), tol=1e-13)
    assert out.converged
    torch.testing.assert_close(out.u, want, rtol=0, atol=1e-13)
    torch.testing.assert_close(helmholtz_inverse(f, mass), want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("shape", [(16,), (15,), (8, 10), (7, 9), (6, 5, 4)])
def test_euler_lagrange_is_the_gradient_of_the_energy(shape):
    g = torch.Generator().manual_seed(len(shape))
    u = torch.randn(shape, dtype=torch.float64, generator=g, requires_grad=True)
    f = torch.randn(shape, dtype=torch.float64, generator=g)
    grad, = torch.autograd.grad(energy(u, f, LAG), u)
    torch.testing.assert_close(u.numel() * grad, euler_lagrange(u.detach(), f, LAG), rtol=0, atol=1e-10)


def test_spectral_derivatives():
    x = torus_grid((12, 14))
    u = torch.sin(2 * math.pi * x[0]) * torch.cos(4 * math.pi * x[1])
    du = spectral_grad(u)
    torch.testing.assert_close(du[0], 2 * math.pi * torch.cos(2 * math.pi * x[0]) * torch.cos(4 * math.pi * x[1]))
    torch.testing.assert_close(du[1], -4 * math.pi * torch.sin(2 * math.pi * x[0]) * torch.sin(4 * math.pi * x[1]))
    torch.testing.assert_close(spectral_div(du), -20 * math.pi ** 2 * u)


def _fd_newton(f, lag, tol=1e-13):
    "Periodic forward-difference discretization of the 1-D Euler-Lagrange equation, solved by Newton."
    n = len(f); h = 1.0 / n
    D = ((scipy.sparse.eye(n, k=1) + scipy.sparse.eye(n, k=1 - n) - scipy.sparse.eye(n)) / h).tocsr()
    u = np.zeros(n)
    for _ in range(50):
        p = D @ u
        F = D.T @ (p + lag.gamma * np.tanh(p)) + lag.mass * u + lag.alpha * np.tanh(u) - f
        J = D.T @ scipy.sparse.diags(1 + lag.gamma / np.cosh(p) ** 2) @ D \
            + scipy.sparse.diags(lag.mass + lag.alpha / np.cosh(u) ** 2)
        du = scipy.sparse.linalg.spsolve(J.tocsc(), -F)
        u += du
        if np.abs(du).max() < tol: return u
    raise AssertionError("Newton did not converge")


@pytest.mark.parametrize("lag", [LAG, Lagrangian(mass=0.5, alpha=-0.3, gamma=-0.5), Lagrangian(2.0, 5.0, 4.0)])
def test_nonlinear_1d_against_finite_difference_newton(lag, one_thread):
    gaps = []
    for n in (64, 128, 256):
        x = torus_grid((n,))[0]
        f = 1 + 3 * torch.cos(2 * math.pi * x) + 2 * torch.sin(6 * math.pi * x)
        out = gradient_descent(f, lag, tol=1e-12)
        assert out.converged
        fd = _fd_newton(f.numpy(), lag)
        # the FD system itself, checked by scipy's root finder from the spectral solution
        if n == 64:
            D = lambda v: (np.roll(v, -1) - v) * n
            def F(v):
                q = D(v) + lag.gamma * np.tanh(D(v))
                return -(q - np.roll(q, 1)) * n + lag.mass * v + lag.alpha * np.tanh(v) - f.numpy()
            sol = scipy.optimize.root(F, out.u.numpy(), tol=1e-13)
            assert sol.success and np.abs(sol.x - fd).max() < 1e-10
        gaps.append(np.abs(fd - out.u.numpy()).max())
    # second-order finite differences against the spectral solution: the gap falls by 4 per halving
    assert gaps[-1] < 2e-5
    assert all(3.5 < a / b < 4.5 for a, b in zip(gaps, gaps[1:])), gaps


def _skfem_neumann(nel, lag, f_xy):
    "P2 finite elements on [0, 1/2]^2, natural (Neumann) boundary, Newton's method."
    skfem = pytest.importorskip("skfem")
    from skfem.helpers import grad
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 0.5, nel + 1), np.linspace(0, 0.5, nel + 1))
    basis = skfem.Basis(mesh, skfem.ElementTriP2())

    @skfem.BilinearForm
    def jac(u, v, w):
        p, s = grad(w["prev"]), lambda z: 1 / np.cosh(z) ** 2
        return ((1 + lag.gamma * s(p[0])) * u.grad[0] * v.grad[0] + (1 + lag.gamma * s(p[1])) * u.grad[1] * v.grad[1]
                + (lag.mass + lag.alpha * s(w["prev"])) * u * v)

    @skfem.LinearForm
    def res(v, w):
        p, u = grad(w["prev"]), w["prev"]
        return ((p[0] + lag.gamma * np.tanh(p[0])) * v.grad[0] + (p[1] + lag.gamma * np.tanh(p[1])) * v.grad[1]
                + (lag.mass * u + lag.alpha * np.tanh(u) - f_xy(w.x[0], w.x[1])) * v)

    u = basis.zeros()
    for _ in range(30):
        prev = basis.interpolate(u)
        du = skfem.solve(jac.assemble(basis, prev=prev), -res.assemble(basis, prev=prev))
        u += du
        if np.abs(du).max() < 1e-12: break
    else:
        raise AssertionError("Newton did not converge")
    return mesh, u


def test_2d_against_scikit_fem_newton(one_thread):
    # f even in each coordinate: the periodic solution is the Neumann solution on [0, 1/2]^2
    f_xy = lambda x, y: 1 + 2 * np.cos(2 * np.pi * x) * (1 + np.cos(2 * np.pi * y)) + np.cos(4 * np.pi * y)
    n = 64
    x = torus_grid((n, n))
    spec = gradient_descent(torch.from_numpy(f_xy(x[0].numpy(), x[1].numpy())), LAG, tol=1e-12)
    assert spec.converged
    gaps = []
    for nel in (8, 16, 32):
        mesh, u = _skfem_neumann(nel, LAG, f_xy)
        i, j = np.rint(mesh.p * n).astype(int)          # vertices lie on the spectral grid
        fem = u[:mesh.p.shape[1]]                        # P2: the first dofs are the vertex values
        gaps.append(np.abs(fem - spec.u.numpy()[i, j]).max())
    assert gaps[-1] < 1e-4, gaps
    assert gaps[0] > gaps[1] > gaps[2], gaps


@pytest.mark.parametrize("lag", [LAG, Lagrangian(1.0, 20.0, 15.0), Lagrangian(0.3, 0.0, -0.6)])
def test_contraction_factor_and_grid_independence(lag, one_thread):
    lam, Lam = lag.bounds
    q = (Lam - lam) / (Lam + lam)
    prob = CosineRidgeProblem(2, seed=1)
    counts = []
    for n in (16, 32, 64, 128):
        f = prob.f(torus_grid((n, n)).reshape(2, -1).T, lag).reshape(n, n)
        # (at 16^2 the strongly nonlinear problem is under-resolved: another discrete problem)
        if n > 16: counts.append(gradient_descent(f, lag, tol=1e-6).n_iter)
        if n in (16, 64):
            ref = gradient_descent(f, lag, tol=1e-12)
            u, errs = torch.zeros_like(f), []
            for _ in range(8):
                errs.append(h1_norm(u - ref.u))
                u = gradient_descent(f, lag, max_iter=1, u0=u).u
            assert max(b / a for a, b in zip(errs, errs[1:])) <= q + 1e-9
    assert max(counts) - min(counts) <= 2, counts


def test_plain_descent_needs_more_steps_on_finer_grids(one_thread):
    prob = CosineRidgeProblem(2, seed=0)
    counts = []
    for n in (8, 16):
        f = prob.f(torus_grid((n, n)).reshape(2, -1).T, LAG).reshape(n, n)
        out = gradient_descent(f, LAG, preconditioned=False, tol=1e-4, max_iter=5000)
        assert out.converged
        counts.append(out.n_iter)
    assert counts[1] > 3 * counts[0]
    assert default_step(LAG, (16, 16)) < default_step(LAG, (8, 8)) < default_step(LAG)


def test_barron_norms():
    x = torus_grid((16, 20))
    u = 0.5 + 2 * torch.cos(2 * math.pi * (x[0] + 2 * x[1])) - torch.sin(2 * math.pi * 3 * x[1])
    assert barron_norm(u) == pytest.approx(0.5 + 2 * (1 + math.sqrt(5)) + 1 + 3, rel=1e-12)
    assert barron_norm(u, s=0) == pytest.approx(2 * 0.5 + 2 * 2 + 2 * 1, rel=1e-12)
    for d in (2, 3):
        prob = CosineRidgeProblem(d, seed=2)
        n = 8
        pts = torus_grid((n,) * d).reshape(d, -1).T
        assert barron_norm(prob.u(pts).reshape((n,) * d)) == pytest.approx(prob.barron_norm(), rel=1e-10)
    # the Barron norm of u* does not depend on d
    norms = [CosineRidgeProblem(d, seed=0).barron_norm() for d in (3, 6, 10)]
    assert max(norms) - min(norms) < 1e-12
    # the preconditioner does not increase the Barron norm
    g = torch.randn(16, 16, dtype=torch.float64)
    assert barron_norm(helmholtz_inverse(g)) <= barron_norm(g)


def test_manufactured_problem_is_a_minimizer(one_thread):
    prob = CosineRidgeProblem(2, seed=0)
    n = 256
    pts = torus_grid((n, n)).reshape(2, -1).T
    u = prob.u(pts).reshape(n, n)
    f = prob.f(pts, LAG).reshape(n, n)
    assert h1_dual_norm(euler_lagrange(u, f, LAG)) < 1e-8 * h1_dual_norm(f)


def test_ritz_energy_equals_grid_energy_on_grid_points():
    prob = CosineRidgeProblem(2, seed=0)
    n = 32
    pts = torus_grid((n, n)).reshape(2, -1).T
    u, f = prob.u(pts), prob.f(pts, LAG)
    mc = ritz_energy(prob.u, pts, f, LAG)      # autograd gradient of the closed form
    grid = energy(u.reshape(n, n), f.reshape(n, n), LAG)
    assert mc.item() == pytest.approx(grid.item(), rel=1e-12)


def test_torus_net_is_periodic_and_deep_ritz_learns(one_thread):
    torch.manual_seed(0)
    net = TorusNet(3, 16)
    x = torch.rand(10, 3, dtype=torch.float64)
    torch.testing.assert_close(net(x), net(x + torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)))
    prob = CosineRidgeProblem(3, seed=0)
    xt = torch.rand(2048, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    err = lambda: ((net(xt) - prob.u(xt)).norm() / prob.u(xt).norm()).item()
    with torch.no_grad(): before = err()
    losses = train_deep_ritz(net, lambda z: prob.f(z, LAG), LAG, 3, steps=200, batch_size=256, seed=0)
    with torch.no_grad(): after = err()
    assert after < 0.5 * before and after < 0.5
    assert np.mean(losses[-20:]) < np.mean(losses[:20])


def test_float32_and_dtype_follow_input():
    x = torus_grid((16, 16), dtype=torch.float32)
    f = torch.cos(2 * math.pi * x[0])
    out = gradient_descent(f, LAG, tol=1e-5)
    assert out.u.dtype == torch.float32 and out.converged
    assert spectral_grad(f).dtype == torch.float32 and helmholtz_inverse(f).dtype == torch.float32


@pytest.mark.cuda
def test_cuda_matches_cpu():
    x = torus_grid((64, 48))
    f = 1 + torch.cos(2 * math.pi * x[0]) * torch.sin(4 * math.pi * x[1])
    cpu, gpu = gradient_descent(f, LAG, tol=1e-10), gradient_descent(f.cuda(), LAG, tol=1e-10)
    assert gpu.u.is_cuda and cpu.n_iter == gpu.n_iter
    torch.testing.assert_close(gpu.u.cpu(), cpu.u, rtol=0, atol=1e-12)
    assert barron_norm(gpu.u) == pytest.approx(barron_norm(cpu.u), rel=1e-10)
    net = TorusNet(4, 8).cuda()
    prob = CosineRidgeProblem(4)
    losses = train_deep_ritz(net, lambda z: prob.f(z, LAG), LAG, 4, steps=5, batch_size=64)
    assert all(map(math.isfinite, losses))


# ---- bad input -------------------------------------------------------------------------------------------------

def test_non_convex_integrands_are_refused():
    with pytest.raises(ValueError, match="gamma must be > -1"): Lagrangian(gamma=-1.0)
    with pytest.raises(ValueError, match="alpha must be > -mass"): Lagrangian(mass=0.5, alpha=-0.5)
    with pytest.raises(ValueError, match="mass must be > 0"): Lagrangian(mass=-1.0)
    with pytest.raises(ValueError, match="gamma must be finite"): Lagrangian(gamma=float("nan"))
    with pytest.raises(TypeError, match="alpha must be a real number"): Lagrangian(alpha="1")


def test_bad_descent_arguments():
    f = torch.cos(2 * math.pi * torus_grid((16,))[0])
    for eta in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="eta must be"): gradient_descent(f, LAG, eta=eta)
    with pytest.raises(ValueError, match="tol must be"): gradient_descent(f, LAG, tol=0.0)
    with pytest.raises(ValueError, match="max_iter must be"): gradient_descent(f, LAG, max_iter=-1)
    with pytest.raises(TypeError, match="lag must be Lagrangian"): gradient_descent(f, "quadratic")
    with pytest.raises(ValueError, match="f contains NaN"): gradient_descent(f * float("nan"), LAG)
    with pytest.raises(ValueError, match="f contains NaN"): gradient_descent(f * float("inf"), LAG)
    with pytest.raises(TypeError, match="f must have a floating"): gradient_descent(torch.ones(8, dtype=torch.long), LAG)
    with pytest.raises(ValueError, match="f must have at least 2 grid points"): gradient_descent(torch.ones(1), LAG)
    with pytest.raises(ValueError, match="f must have at least 2 grid points"):
        gradient_descent(torch.ones(8, 1, dtype=torch.float64), LAG)
    with pytest.raises(ValueError, match="f must have"): gradient_descent(torch.ones(2, 2, 2, 2), LAG)
    with pytest.raises(ValueError, match="u0 must have the shape of f"):
        gradient_descent(f, LAG, u0=torch.zeros(8, dtype=torch.float64))


def test_bad_grids_and_fields():
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 2"): torus_grid((1,))
    with pytest.raises(ValueError, match="shape must hold 1 to 3"): torus_grid((4, 4, 4, 4))
    with pytest.raises(ValueError, match="u contains NaN"): spectral_grad(torch.full((4,), float("nan")))
    with pytest.raises(ValueError, match="q must have shape"): spectral_div(torch.ones(3, 4, 4))
    with pytest.raises(ValueError, match="mass must be > 0"): helmholtz_inverse(torch.ones(4), mass=0.0)
    with pytest.raises(ValueError, match="s must be"): barron_norm(torch.ones(4), s=-1.0)
    with pytest.raises(ValueError, match="x must have shape"): CosineRidgeProblem(3).u(torch.rand(5, 2))
    with pytest.raises(ValueError, match="n_terms=3 is too many"): CosineRidgeProblem(1, n_terms=3)
    with pytest.raises(ValueError, match="width must be >= 1"): TorusNet(2, 0)
    net = TorusNet(2, 4)
    with pytest.raises(ValueError, match="f must have shape"):
        ritz_energy(net, torch.rand(5, 2, dtype=torch.float64), torch.ones(4, dtype=torch.float64), LAG)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train_deep_ritz(net, lambda z: z[:, 0], LAG, 2, steps=0)
