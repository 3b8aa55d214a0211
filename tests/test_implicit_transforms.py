"""custom_root under forward mode and torch.func transforms, and with dict arguments."""
import pytest
import torch
import torch.autograd.forward_ad as fwAD

from gradnotes.implicit import custom_fixed_point, custom_root, solve_cg

g = torch.Generator().manual_seed(0)
M = torch.randn(30, 4, dtype=torch.float64, generator=g)
Y = torch.randn(30, dtype=torch.float64, generator=g)


def ridge_F(x, lam):
    return M.T @ (M @ x - Y) + lam * x


@custom_root(ridge_F, solve=solve_cg())
def ridge(init, lam):
    return torch.linalg.solve(M.T @ M + lam * torch.eye(4, dtype=M.dtype), M.T @ Y)


def closed_form(lam):
    "x*(lam) and dx*/dlam = -(M^T M + lam I)^{-1} x*."
    K = M.T @ M + lam * torch.eye(4, dtype=M.dtype)
    x = torch.linalg.solve(K, M.T @ Y)
    return x, -torch.linalg.solve(K, x)


lam0 = torch.tensor(0.7, dtype=torch.float64)
x0, dx0 = closed_form(lam0)


def test_torch_func_jvp_gives_the_implicit_tangent():
    x, tangent = torch.func.jvp(lambda l: ridge(None, l), (lam0,), (torch.ones_like(lam0),))
    torch.testing.assert_close(x, x0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(tangent, dx0, rtol=1e-8, atol=1e-10)


def test_forward_ad_dual_numbers():
    with fwAD.dual_level():
        out = ridge(None, fwAD.make_dual(lam0, torch.tensor(2.0, dtype=torch.float64)))
        tangent = fwAD.unpack_dual(out).tangent
    assert tangent is not None
    torch.testing.assert_close(tangent, 2 * dx0, rtol=1e-8, atol=1e-10)


def test_torch_func_grad_and_vjp_agree_with_closed_form():
    loss = lambda l: (ridge(None, l) ** 2).sum()
    torch.testing.assert_close(torch.func.grad(loss)(lam0), 2 * x0 @ dx0, rtol=1e-8, atol=1e-10)
    x, vjp_fn = torch.func.vjp(lambda l: ridge(None, l), lam0)
    torch.testing.assert_close(vjp_fn(torch.ones_like(x))[0], dx0.sum(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("transform", ["vmap", "jacrev", "jacfwd"])
def test_vmap_is_refused_with_a_clear_error(transform):
    lams = torch.tensor([0.5, 1.0], dtype=torch.float64)
    f = lambda l: ridge(None, l)
    with pytest.raises(NotImplementedError, match="vmap"):
        if transform == "vmap":
            torch.func.vmap(f)(lams)
        else:
            getattr(torch.func, transform)(f)(lam0)


def test_double_backward_is_refused():
    # the first derivative is exact; a second one through the solution raises (never 0)
    lam = lam0.clone().requires_grad_(True)
    (d1,) = torch.autograd.grad(ridge(None, lam).sum(), lam, create_graph=True)
    torch.testing.assert_close(d1.detach(), dx0.sum(), rtol=1e-8, atol=1e-10)
    with pytest.raises(RuntimeError, match="not differentiable again"):
        torch.autograd.grad(d1 + lam**2, lam)
    with pytest.raises(RuntimeError, match="not differentiable again"):
        torch.func.grad(torch.func.grad(lambda l: ridge(None, l).sum()))(lam0)


def test_dict_arguments_and_solutions():
    def F(x, p):
        return {"w": M.T @ (M @ x["w"] - Y) + p["lam"] * x["w"]}

    @custom_root(F, solve=solve_cg())
    def solver(init, p):
        K = M.T @ M + p["lam"] * torch.eye(4, dtype=M.dtype)
        return {"w": torch.linalg.solve(K, M.T @ Y)}

    lam = lam0.clone().requires_grad_(True)
    out = solver(None, {"lam": lam, "unused": torch.zeros(2, dtype=torch.float64)})
    assert set(out) == {"w"}
    out["w"].sum().backward()
    torch.testing.assert_close(lam.grad, dx0.sum(), rtol=1e-8, atol=1e-10)


def test_fixed_point_under_jvp():
    # x = (x + c) / 2 has the fixed point x = c, so dx/dc = I
    fp = custom_fixed_point(lambda x, c: (x + c) / 2)(lambda init, c: c.clone())
    c = torch.tensor([1.0, -2.0], dtype=torch.float64)
    t = torch.tensor([0.3, 0.5], dtype=torch.float64)
    _, tangent = torch.func.jvp(lambda c: fp(None, c), (c,), (t,))
    torch.testing.assert_close(tangent, t, rtol=1e-10, atol=1e-12)
