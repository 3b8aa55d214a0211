"""pcg / solve_pcg of gradnotes.implicit: against scipy's CG, preconditioning, bad input."""
import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg as spla
import torch

from gradnotes.implicit import KrylovResult, check_symmetric_operator, pcg, solve_pcg


def _poisson(n):
    T = scipy.sparse.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    I = scipy.sparse.identity(n)
    return (scipy.sparse.kron(T, I) + scipy.sparse.kron(I, T)).tocsr()


def test_pcg_matches_scipy_cg(one_thread):
    A = _poisson(20)
    b = np.random.default_rng(0).normal(size=A.shape[0])
    count = [0]
    x_ref, info = spla.cg(A, b, rtol=1e-10, atol=0.0, callback=lambda xk: count.__setitem__(0, count[0] + 1))
    At = torch.from_numpy(A.toarray())
    out = pcg(lambda v: At @ v, torch.from_numpy(b), tol=1e-10)
    assert isinstance(out, KrylovResult) and out.converged and info == 0
    assert abs(out.n_iter - count[0]) <= 1
    np.testing.assert_allclose(out.x.numpy(), x_ref, rtol=0, atol=1e-8 * np.abs(x_ref).max())
    assert len(out.residuals) == out.n_iter + 1 and out.residuals[-1] <= 1e-10


def test_pcg_preconditioner_and_shapes(one_thread):
    A = torch.from_numpy(_poisson(12).toarray())
    A = A + torch.diag(torch.linspace(0, 50, A.shape[0], dtype=torch.float64))  # uneven diagonal
    b = torch.randn(A.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    plain = pcg(lambda v: A @ v, b, tol=1e-10)
    jac = pcg(lambda v: A @ v, b, precond=lambda r: r / torch.diag(A), tol=1e-10)
    assert jac.n_iter < plain.n_iter
    torch.testing.assert_close(jac.x, torch.linalg.solve(A, b), rtol=0, atol=1e-8)
    grid = pcg(lambda v: (A @ v.reshape(-1)).reshape(12, 12), b.reshape(12, 12), tol=1e-10)  # any shape
    torch.testing.assert_close(grid.x.reshape(-1), plain.x, rtol=0, atol=1e-10)
    warm = pcg(lambda v: A @ v, b, x0=plain.x, tol=1e-8)
    assert warm.n_iter == 0 and warm.converged
    capped = pcg(lambda v: A @ v, b, maxiter=2)
    assert not capped.converged and capped.n_iter == 2
    zero = pcg(lambda v: A @ v, torch.zeros_like(b))
    assert zero.converged and zero.x.abs().max() == 0
    with pytest.warns(RuntimeWarning, match="solve_pcg stopped"):
        solve_pcg(maxiter=1)(lambda v: A @ v, b)


def test_pcg_bad_input():
    S = torch.eye(4, dtype=torch.float64) * 2
    N = S + torch.triu(torch.ones(4, 4, dtype=torch.float64), 1)
    b = torch.ones(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="matvec is not symmetric"): pcg(lambda v: N @ v, b)
    with pytest.raises(ValueError, match="matvec is not symmetric"): check_symmetric_operator(lambda v: N @ v, b)
    with pytest.raises(ValueError, match="not positive definite"): pcg(lambda v: -v, b)
    with pytest.raises(ValueError, match="precond is not positive definite"):
        pcg(lambda v: S @ v + v * torch.arange(4.0, dtype=torch.float64), b, precond=lambda r: -r)
    with pytest.raises(ValueError, match="tol must be > 0"): pcg(lambda v: S @ v, b, tol=0)
    with pytest.raises(ValueError, match="maxiter must be >= 1"): pcg(lambda v: S @ v, b, maxiter=0)
    with pytest.raises(ValueError, match="b contains NaN"): pcg(lambda v: S @ v, b * float("nan"))
    with pytest.raises(TypeError, match="b must have a floating dtype"): pcg(lambda v: v, torch.ones(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="x0 must have shape"): pcg(lambda v: S @ v, b, x0=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="tol must be > 0"): solve_pcg(tol=-1.0)
