"""solve_gmres stops as soon as its residual (tracked by Givens rotations) is small enough."""
import numpy as np
import pytest
import scipy.sparse.linalg as sla
import torch

from gradnotes.implicit import solve_gmres


def _system(n=200, scale=0.1, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    A = torch.eye(n, dtype=dtype) + scale * torch.randn(n, n, generator=g, dtype=dtype) / n**0.5
    return A, torch.randn(n, generator=g, dtype=dtype)


class Counted:
    def __init__(self, A):
        self.A, self.calls = A, 0

    def __call__(self, v):
        self.calls += 1
        return self.A @ v


@pytest.mark.parametrize("tol", [1e-4, 1e-8, 1e-12])
def test_stops_within_a_cycle_and_matches_scipy(tol):
    A, b = _system()
    mv = Counted(A)
    x = solve_gmres(tol=tol, restart=50)(mv, b)
    assert (A @ x - b).norm() / b.norm() <= 10 * tol
    # scipy's GMRES on the same system (restart 50, same relative tolerance)
    calls = []
    op = sla.LinearOperator(A.shape, matvec=lambda v: calls.append(1) or A.numpy() @ v)
    xs, info = sla.gmres(op, b.numpy(), rtol=tol, restart=50, atol=0)
    assert info == 0
    np.testing.assert_allclose(x.numpy(), xs, atol=20 * tol * b.norm().item())
    # one product for the initial residual, one per Arnoldi step, one final check;
    # a cycle run to its end would take 52
    assert mv.calls <= len(calls) + 2 < 50


def test_restarts_still_converge():
    A, b = _system(scale=0.9, seed=1)
    x = solve_gmres(tol=1e-10, restart=5)(lambda v: A @ v, b)
    assert (A @ x - b).norm() / b.norm() <= 1e-9


def test_float32_and_singular_systems():
    A, b = _system(dtype=torch.float32)
    x = solve_gmres(tol=1e-5)(lambda v: A @ v, b)
    assert x.dtype == torch.float32 and (A @ x - b).norm() / b.norm() <= 1e-4
    S = torch.diag(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="singular"):
        solve_gmres()(lambda v: S @ v, torch.ones(3, dtype=torch.float64))
