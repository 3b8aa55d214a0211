"""Implicit differentiation: closed forms, gradcheck, torchopt's custom_root, pytrees, devices, bad input."""
import warnings

import pytest
import torch

from gradnotes.implicit import (custom_fixed_point, custom_root, gradient_map, prox_gradient_map, prox_lasso,
                                root_jvp, solve_bicgstab, solve_cg, solve_dense, solve_gmres, solve_normal_cg)

G = torch.Generator().manual_seed(0)
M = torch.randn(30, 6, dtype=torch.float64, generator=G)
Y = torch.randn(30, dtype=torch.float64, generator=G)
ridge_F = lambda x, lam, M, y: M.T @ (M @ x - y) + lam * x


def ridge_exact(lam, M, y):
    return torch.linalg.solve(M.T @ M + lam * torch.eye(M.shape[1], dtype=M.dtype, device=M.device), M.T @ y)


@pytest.mark.parametrize("solve", [solve_cg(), solve_normal_cg(), solve_gmres(), solve_bicgstab(), solve_dense()])
def test_ridge_jacobian_closed_form(solve):
    solver = custom_root(ridge_F, argnums=1, solve=solve)(lambda init, lam, M, y: ridge_exact(lam, M, y))
    lam = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    x = solver(None, lam, M, Y)
    jac = torch.stack([torch.autograd.grad(x[i], lam, retain_graph=True)[0] for i in range(6)])
    closed = -torch.linalg.solve(M.T @ M + 1.5 * torch.eye(6, dtype=torch.float64), x.detach())
    assert torch.allclose(jac, closed, atol=1e-9)


def test_gradcheck_all_arguments():
    solver = custom_root(ridge_F, argnums=(1, 2, 3), solve=solve_dense())(lambda init, lam, M, y: ridge_exact(lam, M, y))
    args = (torch.tensor(0.7, dtype=torch.float64, requires_grad=True), M[:10, :3].clone().requires_grad_(True),
            Y[:10].clone().requires_grad_(True))
    assert torch.autograd.gradcheck(lambda *a: solver(None, *a), args)


def test_forward_mode_matches_reverse_mode():
    lam = torch.tensor(0.9, dtype=torch.float64)
    x = ridge_exact(lam, M, Y)
    t = torch.randn(30, dtype=torch.float64, generator=G)
    jvp = root_jvp(ridge_F, x, (lam, M, Y), [t], argnums=3, solve=solve_cg())
    y = Y.clone().requires_grad_(True)
    full = torch.autograd.functional.jacobian(lambda yy: ridge_exact(lam, M, yy), y)
    assert torch.allclose(jvp, full @ t, atol=1e-9)


def test_tuple_solutions_and_arguments():
    "A solution made of two tensors, and an argument made of a tuple, both differentiate."
    def F(x, params):
        a, b = x
        s, c = params
        return (a - s * c, b - s ** 2)
    solver = custom_root(F, argnums=1, solve=solve_dense())(lambda init, params: (params[0] * params[1], params[0] ** 2))
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, 3.0], dtype=torch.float64, requires_grad=True)
    a, b = solver(None, (s, c))
    gs, gc = torch.autograd.grad(a.sum() + b, (s, c))
    assert torch.allclose(gs, torch.tensor(4.0 + 4.0, dtype=torch.float64)) and torch.allclose(gc, torch.full((2,), 2.0, dtype=torch.float64))


def test_fixed_point_and_lasso_against_torchopt():
    torchopt = pytest.importorskip("torchopt")
    eta = 1 / torch.linalg.eigvalsh(M.T @ M).max().item()
    f = lambda x, lam, M, y: 0.5 * ((M @ x - y) ** 2).sum()

    def ista(x, lam, M, y):
        x = torch.zeros(M.shape[1], dtype=M.dtype)
        for _ in range(5000):
            x = prox_lasso(x - eta * M.T @ (M @ x - y), lam, eta)
        return x

    F = lambda x, lam, M, y: prox_lasso(x - eta * M.T @ (M @ x - y), lam, eta) - x
    ours = custom_root(F, argnums=1, solve=solve_gmres(tol=1e-13))(ista)
    theirs = torchopt.diff.implicit.custom_root(F, argnums=1, solve=torchopt.linear_solve.solve_normal_cg(rtol=1e-13, maxiter=500))(ista)
    # also through custom_fixed_point, with the same fixed-point map written as T
    T = lambda x, lam, M, y: prox_lasso(x - eta * M.T @ (M @ x - y), lam, eta)
    fixed = custom_fixed_point(T, argnums=1, solve=solve_gmres(tol=1e-13))(ista)
    grads = []
    for solver in (ours, theirs, fixed):
        lam = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = solver(torch.zeros(6, dtype=torch.float64), lam, M, Y)
        grads.append(torch.autograd.grad((x ** 2).sum(), lam)[0])
    assert torch.allclose(grads[0], grads[1], atol=1e-8) and torch.allclose(grads[0], grads[2], atol=1e-10)


def test_ridge_against_torchopt_and_gradient_map():
    torchopt = pytest.importorskip("torchopt")
    obj = lambda x, lam, M, y: 0.5 * ((M @ x - y) ** 2).sum() + 0.5 * lam * (x ** 2).sum()
    solver_fn = lambda init, lam, M, y: ridge_exact(lam, M, y)
    ours = custom_root(gradient_map(obj), argnums=1, solve=solve_cg(tol=1e-13))(solver_fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchopt warns about a deprecated functorch import on recent torch
        theirs = torchopt.diff.implicit.custom_root(ridge_F, argnums=1, solve=torchopt.linear_solve.solve_cg(rtol=1e-13))(solver_fn)
        out = []
        for solver in (ours, theirs):
            lam = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)
            out.append(torch.autograd.grad(solver(torch.zeros(6, dtype=torch.float64), lam, M, Y).sum(), lam)[0])
    assert torch.allclose(out[0], out[1], atol=1e-10)


def test_unconverged_solver_warns_with_residual():
    solver = custom_root(ridge_F, solve=solve_cg())(lambda init, lam, M, y: ridge_exact(lam, M, y) + 0.1)
    with pytest.warns(RuntimeWarning, match="optimality residual"):
        solver(None, torch.tensor(1.0, dtype=torch.float64), M, Y)


def test_unconverged_linear_solver_warns():
    A = torch.diag(torch.logspace(0, 8, 50, dtype=torch.float64))
    with pytest.warns(RuntimeWarning, match="solve_cg stopped after 3 iterations"):
        solve_cg(maxiter=3)(lambda v: A @ v, torch.ones(50, dtype=torch.float64))


def test_singular_system_is_an_error():
    solver = custom_root(lambda x, lam: 0 * lam * x, solve=solve_dense(), residual_tol=None)(lambda init, lam: torch.zeros(3))
    lam = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="singular"):
        solver(None, lam).sum().backward()


def test_non_finite_argument_gives_non_finite_solution_error():
    solver = custom_root(ridge_F, solve=solve_cg())(lambda init, lam, M, y: ridge_exact(lam, M, y))
    with pytest.raises(ValueError, match="NaN or infinite"):
        solver(None, torch.tensor(float("nan"), dtype=torch.float64), M, Y)


@pytest.mark.cuda
def test_cuda_backward_with_cg():
    solver = custom_root(ridge_F, solve=solve_cg())(lambda init, lam, M, y: ridge_exact(lam, M, y))
    lam = torch.tensor(1.5, dtype=torch.float64, device="cuda", requires_grad=True)
    g_gpu = torch.autograd.grad(solver(None, lam, M.cuda(), Y.cuda()).sum(), lam)[0]
    lam_c = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    g_cpu = torch.autograd.grad(solver(None, lam_c, M, Y).sum(), lam_c)[0]
    assert g_gpu.is_cuda and torch.allclose(g_gpu.cpu(), g_cpu, atol=1e-10)


_D = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
_b = torch.ones(3, dtype=torch.float64)


def test_gmres_refuses_singular_system():
    from gradnotes.implicit import solve_gmres
    with pytest.raises(ValueError, match="solve_gmres: the system is singular"):
        solve_gmres()(lambda v: _D @ v, _b)
    A = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="singular"):
        solve_gmres()(lambda v: A @ v, torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_gmres_solves_consistent_singular_system():
    # b in the range of a singular M: a solution exists and GMRES finds one
    from gradnotes.implicit import solve_gmres
    b = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    x = solve_gmres()(lambda v: _D @ v, b)
    torch.testing.assert_close(_D @ x, b)


def test_bicgstab_refuses_singular_system():
    from gradnotes.implicit import solve_bicgstab
    with pytest.raises(ValueError, match="solve_bicgstab broke down"):
        solve_bicgstab()(lambda v: _D @ v, _b)
    A = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="broke down"):
        solve_bicgstab()(lambda v: A @ v, torch.tensor([1.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("name", ["cg", "normal_cg", "gmres", "bicgstab"])
def test_solvers_refuse_nan_rhs_and_bad_maxiter(name):
    import gradnotes.implicit as imp
    make = getattr(imp, f"solve_{name}")
    eye = lambda v: v
    with pytest.raises(ValueError, match="b contains NaN"):
        make()(eye, _b * float("nan"), eye)
    with pytest.raises(ValueError, match="maxiter must be >= 1"):
        make(maxiter=-1)
    with pytest.raises(ValueError, match="tol must be > 0"):
        make(tol=-1e-3)


@pytest.mark.parametrize("name", ["gmres", "bicgstab"])
def test_solvers_refuse_nan_operator(name):
    import gradnotes.implicit as imp
    bad = lambda v: v * float("nan")
    with pytest.raises(ValueError, match="operator returned NaN"):
        getattr(imp, f"solve_{name}")()(bad, _b)


@pytest.mark.parametrize("args, exc, message", [
    ((torch.ones(3), 0.1, -1.0), ValueError, "step must be > 0"),
    ((torch.ones(3), -0.1, 1.0), ValueError, "lam must be >= 0"),
    ((torch.ones(3), torch.tensor([0.1, -0.1, 0.1]), 1.0), ValueError, "lam must be >= 0"),
    ((torch.ones(3), float("nan"), 1.0), ValueError, "lam must be finite"),
    ((torch.tensor([1.0, float("nan")]), 0.1, 1.0), ValueError, "y contains NaN"),
    ((torch.ones(3, dtype=torch.cfloat), 0.1, 1.0), TypeError, "y must be real"),
    ((torch.ones(3, dtype=torch.long), 0.1, 1.0), TypeError, "y must have a floating dtype"),
    ((torch.ones(3), 0.1, float("inf")), ValueError, "step must be finite"),
])
def test_prox_lasso_refuses_bad_input(args, exc, message):
    from gradnotes.implicit import prox_lasso
    with pytest.raises(exc, match=message):
        prox_lasso(*args)


def test_prox_lasso_keeps_gradient_in_lam():
    from gradnotes.implicit import prox_lasso
    lam = torch.tensor(0.5, requires_grad=True)
    prox_lasso(torch.tensor([2.0, -0.1]), lam, 1.0).sum().backward()
    assert lam.grad is not None and lam.grad.item() == -1.0


def test_projection_simplex_refuses_bad_input():
    from gradnotes.implicit import projection_simplex
    with pytest.raises(TypeError, match="v must be real"):
        projection_simplex(torch.ones(3, dtype=torch.cfloat))
    with pytest.raises(TypeError, match="v must have a floating dtype"):
        projection_simplex(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        projection_simplex(torch.tensor(0.5))
