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


def test_normal_cg_refuses_singular_system():
    # a least-squares answer of an inconsistent system is not a solution
    from gradnotes.implicit import solve_normal_cg
    with pytest.raises(ValueError, match="solve_normal_cg: the system is singular"):
        solve_normal_cg()(lambda v: _D @ v, _b, lambda v: _D.T @ v)
    b = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)   # in the range: solvable
    x = solve_normal_cg()(lambda v: _D @ v, b, lambda v: _D.T @ v)
    torch.testing.assert_close(_D @ x, b)
    x = solve_normal_cg(ridge=1e-3)(lambda v: _D @ v, _b, lambda v: _D.T @ v)   # regularized
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", ["cg", "normal_cg", "gmres", "bicgstab", "dense", "pcg"])
def test_solvers_name_a_broken_operator(name):
    import gradnotes.implicit as imp
    make = getattr(imp, f"solve_{name}")
    A = torch.eye(3, dtype=torch.float64) * 2
    for bad, message in [(lambda v: A[:2] @ v, "must map a torch.float64 vector"),   # wrong shape
                         (lambda v: (A @ v).float(), "must map a torch.float64 vector"),   # wrong dtype
                         (lambda v: A.long() @ v, "failed on a torch.float64 vector"),
                         (lambda v: A @ v * float("nan"), "operator returned NaN")]:
        with pytest.raises(ValueError, match=message):
            make()(bad, _b, bad)
    if name != "dense":   # (solve_dense takes float32/float64 only)
        with pytest.raises(ValueError, match="failed on a torch.float16 vector"):
            make()(lambda v: A @ v, _b.half(), lambda v: A @ v)   # a float64 operator, a float16 b


def test_solve_dense_needs_float32_or_float64():
    with pytest.raises(TypeError, match="b must have dtype torch.float32 or torch.float64"):
        solve_dense()(lambda v: v, _b.half())


def test_projected_gradient_map_is_defined_off_the_simplex_and_on_rows():
    # F(x) + x is the projection of a gradient step, wherever x is; rows are separate simplices
    from gradnotes.implicit import projected_gradient_map, projection_simplex
    c = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    F = projected_gradient_map(lambda x, c: ((x - c) ** 2).sum(), projection_simplex, 0.1)
    x = torch.tensor([-1.0, 0.3, 1.5], dtype=torch.float64)            # off the simplex
    y = F(x, c) + x
    torch.testing.assert_close(y, projection_simplex(x - 0.2 * (x - c)))
    assert y.min() >= 0 and abs(y.sum().item() - 1) < 1e-12
    torch.testing.assert_close(F(c, c), torch.zeros(3, dtype=torch.float64))  # root: the minimizer
    X = torch.stack([x, c])                                            # two rows, two simplices
    torch.testing.assert_close(F(X, c), torch.stack([F(x, c), F(c, c)]))


def test_mirror_descent_map_takes_unnormalized_rows_and_refuses_negative_ones():
    from gradnotes.implicit import mirror_descent_map
    c = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    obj = lambda x, c: ((x - c) ** 2).sum()
    F = mirror_descent_map(obj, 0.1)
    x = torch.tensor([1.5, 0.3, 0.4], dtype=torch.float64)              # rows need not sum to 1
    z = x * torch.exp(-0.2 * (x - c))
    torch.testing.assert_close(F(x, c) + x, z / z.sum())
    torch.testing.assert_close(F(x[None], c), F(x, c)[None])
    with pytest.raises(ValueError, match="x must be >= 0"):
        F(torch.tensor([-0.1, 0.5, 0.6], dtype=torch.float64), c)
    with pytest.raises(ValueError, match="x must have at least 1 dimension"):
        F(torch.tensor(1.0, dtype=torch.float64), c)


def test_projection_simplex_handles_huge_entries_by_a_shift():
    from gradnotes.implicit import projection_simplex
    v = torch.tensor([1e300, -1e300, 0.0], dtype=torch.float64)
    torch.testing.assert_close(projection_simplex(v), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    v = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(projection_simplex(v + 1e6), projection_simplex(v), atol=1e-8, rtol=0)
    with pytest.raises(ValueError, match="v contains NaN"):
        projection_simplex(torch.tensor([0.5, float("nan")]))


def _solver(init, theta): return 2 * theta


@pytest.mark.parametrize("theta, exc, message", [
    (torch.tensor([1.0, float("nan")], dtype=torch.float64), ValueError, "theta contains NaN"),
    (torch.tensor([1, 2]), TypeError, "theta must have a floating dtype"),
    (torch.ones(2, dtype=torch.complex128), TypeError, "theta must be real"),
    ([1.0, 2.0], TypeError, "theta must be a tensor or a tuple/list/dict of tensors"),
])
def test_custom_root_names_a_bad_differentiated_argument(theta, exc, message):
    solver = custom_fixed_point(lambda x, theta: 0.5 * x + theta)(_solver)
    with pytest.raises(exc, match=message):
        solver(None, theta)


@pytest.mark.parametrize("kw, exc, message", [
    (dict(residual_tol=-1.0), ValueError, "residual_tol must be >= 0"),
    (dict(residual_tol=float("nan")), ValueError, "residual_tol must be finite"),
    (dict(residual_tol="0.1"), TypeError, "residual_tol must be a real number"),
    (dict(argnums=1.5), TypeError, "argnums must be an integer"),
    (dict(argnums=()), ValueError, "argnums must name at least one argument"),
])
def test_custom_root_refuses_bad_options(kw, exc, message):
    with pytest.raises(exc, match=message):
        custom_root(lambda x, theta: x - theta, **kw)


def test_root_jvp_checks_arguments_and_tangents():
    A = torch.eye(2, dtype=torch.float64) * 2
    F = gradient_map(lambda x, th: 0.5 * x @ (A @ x) - th @ x)
    th = torch.ones(2, dtype=torch.float64)
    sol = torch.linalg.solve(A, th)
    torch.testing.assert_close(root_jvp(F, sol, (th,), (torch.ones(2, dtype=torch.float64),)),
                               torch.full((2,), 0.5, dtype=torch.float64))
    # a float32 tangent is cast to the argument's dtype
    torch.testing.assert_close(root_jvp(F, sol, (th,), (torch.ones(2),)), torch.full((2,), 0.5, dtype=torch.float64))
    for tangent, exc, message in [(torch.ones(3, dtype=torch.float64), ValueError, "tangents\\[0\\] must be shaped like args\\[0\\]"),
                                  (torch.tensor([1.0, float("inf")]), ValueError, "tangents\\[0\\] contains NaN"),
                                  (torch.ones(2, dtype=torch.long), TypeError, "tangents\\[0\\] must have a floating dtype")]:
        with pytest.raises(exc, match=message):
            root_jvp(F, sol, (th,), (tangent,))
    with pytest.raises(ValueError, match="args\\[0\\] contains NaN"):
        root_jvp(F, sol, (th * float("nan"),), (th,))


@pytest.mark.parametrize("make", [
    lambda obj: gradient_map(obj),
    lambda obj: prox_gradient_map(obj, prox_lasso, 0.1),
])
def test_optimality_maps_name_x(make):
    obj = lambda x, c: ((x - c) ** 2).sum()
    c = torch.ones(3, dtype=torch.float64)
    F = make(obj)
    args = (0.1, c) if F.__code__.co_argcount == 2 else (c,)
    with pytest.raises(ValueError, match="x contains NaN"):
        F(torch.tensor([0.0, float("nan"), 1.0], dtype=torch.float64), *args)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        F(torch.ones(3, dtype=torch.long), *args)
    with pytest.raises(ValueError, match="the objective failed at x = a torch.float64 tensor of shape \\(4,\\)"):
        F(torch.ones(4, dtype=torch.float64), *args)   # the objective's own shape error, restated


def test_kkt_map_checks_its_tuple():
    from gradnotes.implicit import kkt_map
    F = kkt_map(lambda z, c: ((z - c) ** 2).sum(), eq=lambda z, c: z.sum().reshape(1) - 1)
    c = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    with pytest.raises(TypeError, match="x must be a tuple \\(z, nu\\)"):
        F(c, c)
    with pytest.raises(ValueError, match="z \\(x\\[0\\]\\) contains NaN"):
        F((c * float("nan"), torch.zeros(1, dtype=torch.float64)), c)
    with pytest.raises(ValueError, match="kkt_map needs eq or ineq"):
        kkt_map(lambda z: z.sum())


def test_custom_root_needs_float32_or_float64_arguments():
    # the implicit gradient is a linear solve, which half precision cannot carry
    A = torch.eye(2, dtype=torch.float64)
    solver = custom_root(lambda x, theta: x - theta)(lambda init, theta: torch.linalg.solve(A, theta))
    with pytest.raises(TypeError, match="custom_root: theta must have dtype torch.float32 or torch.float64"):
        solver(None, torch.ones(2, dtype=torch.float16))
