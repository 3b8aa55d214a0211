"""scipy's Krylov routines take the package's operators directly (`as_linear_operator`)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import LinearOperator, cg, eigsh, minres
from torch import nn

from gradnotes.hessian import GaussNewtonOperator, HessianOperator, SymmetricOperator


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(60, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (60,), generator=g)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    return net, (X, y)


def test_shape_and_type():
    net, data = _problem()
    H = HessianOperator(net, F.cross_entropy, data)
    L = H.as_linear_operator()
    assert isinstance(L, LinearOperator)
    assert H.shape == L.shape == (H.dim, H.dim)
    assert L.dtype == np.float64


def test_eigsh_matches_dense_eigenvalues():
    net, data = _problem()
    H = HessianOperator(net, F.cross_entropy, data)
    ref = torch.linalg.eigvalsh(H.dense()).numpy()
    top = np.sort(eigsh(H.as_linear_operator(), k=4, which="LA", return_eigenvectors=False))
    np.testing.assert_allclose(top, ref[-4:], rtol=1e-8, atol=1e-10)
    both = np.sort(eigsh(H.as_linear_operator(), k=2, which="BE", return_eigenvectors=False))
    np.testing.assert_allclose(both, ref[[0, -1]], rtol=1e-8, atol=1e-10)


def test_cg_and_minres_solve_damped_gauss_newton():
    # G + 0.1 I is positive definite: CG must reach the dense solution
    net, data = _problem(1)
    G = GaussNewtonOperator(HessianOperator(net, F.cross_entropy, data))
    dense = G.dense() + 0.1 * torch.eye(G.dim, dtype=torch.float64)
    L = G.as_linear_operator() + 0.1 * LinearOperator(G.shape, matvec=lambda v: v, dtype=np.float64)
    b = np.random.default_rng(0).standard_normal(G.dim)
    ref = torch.linalg.solve(dense, torch.from_numpy(b)).numpy()
    x, info = cg(L, b, rtol=1e-12, maxiter=10 * G.dim)
    assert info == 0
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-8)
    x, info = minres(L, b, rtol=1e-12, maxiter=10 * G.dim)
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-8)


def test_products_are_counted_and_checked():
    net, data = _problem()
    H = HessianOperator(net, F.cross_entropy, data)
    before = H.n_products
    H.as_linear_operator().matmat(np.ones((H.dim, 3)))
    assert H.n_products == before + 3
    with pytest.raises(ValueError, match="dimension mismatch"):  # scipy's own check
        H.as_linear_operator().matvec(np.ones(H.dim + 1))
    # a non-finite product is refused by the operator, not handed back to scipy
    state = {"scale": 1.0}
    op = SymmetricOperator(lambda V: state["scale"] * V, 4)
    state["scale"] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        op.as_linear_operator().matvec(np.ones(4))
