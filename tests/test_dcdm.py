"""DCDM: the Poisson operator against scipy/pyamg, numba vs torch, CG equivalence, the loss, bad input."""
import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg as spla
import torch

from gradnotes.dcdm import (DCDMNet, PoissonOperator, dcdm_loss, dcdm_solve, random_obstacles, ritz_rhs,
                            train_dcdm)
from gradnotes.implicit import pcg


def _reference(shape, solid, boundary):
    "Independent assembly: grid graph by Kronecker products, restricted to fluid, plus Dirichlet terms."
    grid = None
    for n in shape:
        path = scipy.sparse.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1])
        grid = path if grid is None else (scipy.sparse.kron(grid, scipy.sparse.identity(n))
                                          + scipy.sparse.kron(scipy.sparse.identity(grid.shape[0]), path))
    grid = grid.tocsr()
    keep = np.flatnonzero(~solid.ravel())
    adj = grid[keep][:, keep]
    deg = np.asarray(adj.sum(1)).ravel()
    if boundary == "dirichlet": deg = deg + 2 * len(shape) - np.asarray(grid[keep].sum(1)).ravel()
    return (scipy.sparse.diags(deg) - adj).tocsr()


CASES = [((12, 12), "dirichlet", 1), ((12, 12), "neumann", 2), ((9, 13), "dirichlet", None),
         ((8, 8, 8), "dirichlet", 3), ((8, 8, 8), "neumann", 4), ((5, 6, 7), "neumann", None)]


@pytest.mark.parametrize("shape,boundary,seed", CASES)
def test_operator_equals_scipy_and_backends_agree(shape, boundary, seed, one_thread):
    solid = np.zeros(shape, bool) if seed is None else random_obstacles(shape[0], dim=len(shape), seed=seed)
    A = PoissonOperator(shape, solid=solid, boundary=boundary)
    R = _reference(shape, solid, boundary)
    assert abs(A.to_scipy() - R).max() == 0
    x = torch.randn((4,) + shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = torch.from_numpy((R @ A.restrict(x).numpy().T).T)
    y_numba, y_torch = A(x, backend="numba"), A(x, backend="torch")
    torch.testing.assert_close(A.restrict(y_numba), want, rtol=0, atol=1e-12)
    torch.testing.assert_close(y_numba, y_torch, rtol=0, atol=1e-12)      # numba vs torch conv
    assert y_numba[:, torch.as_tensor(solid)].abs().max() == 0 if solid.any() else True
    # float32 torch path (training) agrees to single precision
    torch.testing.assert_close(A(x.float(), backend="torch").double(), y_torch, rtol=0, atol=1e-5)


def test_dirichlet_matches_pyamg_gallery():
    pyamg = pytest.importorskip("pyamg")
    for shape in [(7, 5), (4, 5, 6)]:
        assert abs(PoissonOperator(shape).to_scipy() - pyamg.gallery.poisson(shape, format="csr")).max() == 0


def test_null_space():
    A = PoissonOperator((10, 10), boundary="neumann")
    assert A.null_basis.shape == (1, 10, 10)
    # a fluid pocket sealed by solid cells inside a Dirichlet box is a second, free region
    solid = np.zeros((10, 10), bool); solid[2:7, 2:7] = True; solid[3:6, 3:6] = False
    Ad = PoissonOperator((10, 10), solid=solid)
    assert Ad.null_basis.shape[0] == 1 and Ad.null_basis[0, 4, 4] > 0 and Ad.null_basis[0, 0, 0] == 0
    ones = torch.ones(10, 10, dtype=torch.float64)
    assert A(ones).abs().max() == 0
    b = A.project(torch.randn(10, 10, dtype=torch.float64))
    out = dcdm_solve(A, b, tol=1e-10)
    assert out.converged and ((A(out.x) - b).norm() / b.norm()) < 1e-9


@pytest.mark.parametrize("shape,seed", [((30, 30), 2), ((12, 12, 12), 3), ((25, 17), None)])
def test_identity_network_is_cg(shape, seed, one_thread):
    solid = None if seed is None else random_obstacles(shape[0], dim=len(shape), seed=seed)
    A = PoissonOperator(shape, solid=solid)
    b = A.project(torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(7)))
    count = [0]
    def tick(xk): count[0] += 1
    x_ref, info = spla.cg(A.to_scipy(), A.restrict(b).numpy(), rtol=1e-12, atol=0.0, callback=tick)
    ours = dcdm_solve(A, b, model=None, tol=1e-12)
    assert info == 0 and ours.converged and abs(ours.n_iter - count[0]) <= 1
    x = A.restrict(ours.x).numpy()
    assert np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref) < 1e-8
    # and the same as gradnotes.implicit.pcg at the tolerance of the page
    assert abs(dcdm_solve(A, b, tol=1e-6).n_iter - pcg(A, b, tol=1e-6).n_iter) <= 1


def test_loss_is_scale_invariant():
    A = PoissonOperator((16, 16), solid=random_obstacles(16, seed=1))
    g = torch.Generator().manual_seed(0)
    b = A.project(torch.randn(5, 16, 16, dtype=torch.float64, generator=g))
    q = A.project(torch.randn(5, 16, 16, dtype=torch.float64, generator=g))
    base = dcdm_loss(A, q, b)
    for c in (1e-6, 0.3, -1.0, -7.5, 1e6):
        torch.testing.assert_close(dcdm_loss(A, c * q, b), base, rtol=1e-12, atol=0)
    # per-sample scales too (each sample gets its own optimal multiple)
    c = torch.tensor([1.0, -2.0, 1e3, 1e-3, 5.0], dtype=torch.float64).view(5, 1, 1)
    torch.testing.assert_close(dcdm_loss(A, c * q, b), base, rtol=1e-12, atol=0)
    assert base > 0


def test_network_homogeneous_and_training_reduces_loss(one_thread):
    torch.manual_seed(0)
    net = DCDMNet(dim=2, channels=8, blocks=1)
    r = torch.randn(3, 11, 14)
    torch.testing.assert_close(net(2.5 * r), 2.5 * net(r), rtol=1e-5, atol=1e-6)
    A = PoissonOperator((12, 12))
    rhs = ritz_rhs(A, 64, m=60)
    losses = train_dcdm(net, A, rhs, steps=30, batch_size=8)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_trained_network_solves_and_stalls_are_reported(one_thread):
    torch.manual_seed(0)
    A = PoissonOperator((16, 16), solid=random_obstacles(16, seed=0))
    net = DCDMNet(dim=2)
    train_dcdm(net, A, ritz_rhs(A, 400, m=128), steps=150)
    A2 = PoissonOperator((24, 24), solid=random_obstacles(24, seed=9))
    b = A2.project(torch.randn(24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    out, cg = dcdm_solve(A2, b, net, tol=1e-8), dcdm_solve(A2, b, tol=1e-8)
    assert out.converged and ((A2(out.x) - b).norm() / b.norm()) <= 1e-8
    assert out.n_iter < cg.n_iter
    # a model that keeps proposing the same direction stalls: reported, not looped to maxiter
    stuck = dcdm_solve(A2, b, model=lambda r: torch.ones_like(r))
    assert not stuck.converged and stuck.n_iter <= 2
    g = torch.Generator().manual_seed(0)
    fixed = A2.project(torch.randn(3, 24, 24, dtype=torch.float64, generator=g))
    calls = [0]
    def cycling(r):
        calls[0] += 1
        return fixed[calls[0] % 3][None] * (1 + 1e-3 * calls[0])
    cyc = dcdm_solve(A2, b, model=cycling, patience=10)
    assert not cyc.converged and cyc.n_iter < 60


def test_ritz_rhs_low_spectrum():
    A = PoissonOperator((20, 20), boundary="neumann")
    B = ritz_rhs(A, 200, m=100, seed=1)
    assert B.shape == (200, 20, 20)
    torch.testing.assert_close(B.flatten(1).norm(dim=1), torch.ones(200, dtype=torch.float64))
    assert B.sum((1, 2)).abs().max() < 1e-10            # no null-space (constant) part
    low = ritz_rhs(A, 200, m=100, seed=1, low_boost=9.0)
    flat = ritz_rhs(A, 200, m=100, seed=1, low_boost=1.0)
    rq = lambda X: (X * A(X)).sum((1, 2)).mean()
    assert rq(low) < 0.5 * rq(flat)                     # boosting moves energy to the low end


def test_bad_input():
    A = PoissonOperator((8, 8), solid=random_obstacles(8, count=1, radius=(0.2, 0.2)))
    b = A.project(torch.randn(8, 8, dtype=torch.float64))
    An = PoissonOperator((8, 8), boundary="neumann")
    with pytest.raises(ValueError, match="shape must hold 2 or 3"): PoissonOperator((8,))
    with pytest.raises(ValueError, match="shape must hold 2 or 3"): PoissonOperator(8)
    with pytest.raises(ValueError, match=r"shape\[1\] must be >= 2"): PoissonOperator((8, 1))
    with pytest.raises(TypeError, match=r"shape\[0\] must be an integer"): PoissonOperator((8.0, 8))
    with pytest.raises(ValueError, match="solid must have shape"): PoissonOperator((8, 8), solid=np.zeros((8, 7), bool))
    with pytest.raises(TypeError, match="boolean mask"): PoissonOperator((8, 8), solid=np.zeros((8, 8)))
    with pytest.raises(ValueError, match="no fluid"): PoissonOperator((3, 3), solid=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="boundary must be one of"): PoissonOperator((8, 8), boundary="periodic")
    with pytest.raises(ValueError, match="x must have shape"): A(torch.ones(8, 9, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must have a floating dtype"): A(torch.ones(8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="x contains NaN"): A(torch.full((8, 8), float("nan")))
    with pytest.raises(ValueError, match="backend must be one of"): A(b, backend="cuda")
    with pytest.raises(ValueError, match="v must have n_fluid"): A.extend(torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="b contains NaN"): dcdm_solve(A, b * float("nan"))
    with pytest.raises(ValueError, match="b contains NaN"): dcdm_solve(A, b * float("inf"))
    with pytest.raises(ValueError, match="b must have shape"): dcdm_solve(A, b[:4])
    with pytest.raises(ValueError, match="non-zero in solid cells"): dcdm_solve(A, torch.ones(8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="null space"): dcdm_solve(An, torch.randn(8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="tol must be > 0"): dcdm_solve(A, b, tol=0.0)
    with pytest.raises(ValueError, match="maxiter must be >= 1"): dcdm_solve(A, b, maxiter=0)
    with pytest.raises(ValueError, match="n_orth must be >= 0"): dcdm_solve(A, b, n_orth=-1)
    with pytest.raises(TypeError, match="model must be callable"): dcdm_solve(A, b, model="unet")
    with pytest.raises(TypeError, match="A must be PoissonOperator"): dcdm_solve(A.to_scipy(), b)
    with pytest.raises(RuntimeError, match="zero direction"): dcdm_solve(A, b, model=lambda r: 0 * r)
    with pytest.raises(ValueError, match="patience must be >= 1"): dcdm_solve(A, b, patience=0)
    with pytest.raises(ValueError, match="same shape"): dcdm_loss(A, b[None], b[None, :, :4])
    with pytest.raises(ValueError, match="m must be <="): ritz_rhs(A, 10, m=10_000)
    with pytest.raises(ValueError, match="n_rhs must be >= 1"): ritz_rhs(A, 0)
    with pytest.raises(ValueError, match="low_boost must be > 0"): ritz_rhs(A, 4, low_boost=0.0)
    with pytest.raises(ValueError, match="steps must be >= 1"): train_dcdm(DCDMNet(), A, b[None], steps=0)
    with pytest.raises(ValueError, match="lr must be > 0"): train_dcdm(DCDMNet(), A, b[None], lr=0.0)
    with pytest.raises(ValueError, match="rhs must have shape"): train_dcdm(DCDMNet(), A, b)
    with pytest.raises(TypeError, match="model must be Module"): train_dcdm(lambda r: r, A, b[None])
    with pytest.raises(ValueError, match="dim must be >= 2"): DCDMNet(dim=1)
    with pytest.raises(ValueError, match="r must have shape"): DCDMNet(dim=2)(torch.ones(8, 8))
    with pytest.raises(ValueError, match="low <= high"): random_obstacles(16, radius=(0.3, 0.1))
    with pytest.raises(ValueError, match="n must be >= 3"): random_obstacles(2)
    # unconverged: reported, not raised
    out = dcdm_solve(A, b, maxiter=2)
    assert not out.converged and out.n_iter == 2


@pytest.mark.cuda
def test_cuda_conv_path_matches_cpu():
    for shape, seed in [((40, 40), 2), ((12, 12, 12), 3)]:
        solid = random_obstacles(shape[0], dim=len(shape), seed=seed)
        A_cpu = PoissonOperator(shape, solid=solid)
        A_gpu = PoissonOperator(shape, solid=solid, device="cuda")
        x = torch.randn((3,) + shape, dtype=torch.float64)
        torch.testing.assert_close(A_gpu(x.cuda()).cpu(), A_cpu(x, backend="numba"), rtol=0, atol=1e-12)
        b = A_cpu.project(x[0])
        cpu, gpu = dcdm_solve(A_cpu, b, tol=1e-10), dcdm_solve(A_gpu, b.cuda(), tol=1e-10)
        assert gpu.x.is_cuda and abs(cpu.n_iter - gpu.n_iter) <= 1
        torch.testing.assert_close(gpu.x.cpu(), cpu.x, rtol=0, atol=1e-8 * cpu.x.abs().max().item())
    net = DCDMNet(dim=2).cuda()
    A = PoissonOperator((24, 24), solid=random_obstacles(24, seed=1), device="cuda")
    rhs = ritz_rhs(A, 32, m=60)
    assert rhs.is_cuda
    losses = train_dcdm(net, A, rhs, steps=5, batch_size=4)
    assert np.isfinite(losses).all()
    with pytest.raises(ValueError, match="backend='numba' needs CPU tensors"):
        A(rhs[0], backend="numba")


def test_loss_network_and_training_check_their_inputs():
    from gradnotes.dcdm import DCDMNet, PoissonOperator, dcdm_loss, train_dcdm
    A = PoissonOperator((6, 6))
    b = torch.randn(2, 6, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="b contains NaN"):
        dcdm_loss(A, b, b * float("nan"))
    with pytest.raises(TypeError, match="q must be real"):
        dcdm_loss(A, b.to(torch.complex128), b)
    net = DCDMNet(2, channels=2, blocks=1)
    with pytest.raises(TypeError, match="r has dtype torch.float64"): net(b)
    rhs = b.float().requires_grad_()
    train_dcdm(net, A, rhs, steps=1, batch_size=2)
    assert rhs.grad is None  # the caller's tensor is left alone
    with pytest.raises(ValueError, match="lr"): train_dcdm(net, A, rhs, steps=1, lr=1e300)
