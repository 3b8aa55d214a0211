"""HessianOperator: dense references, Lanczos vs eigvalsh, Hutchinson vs the exact trace, SLQ, Gauss-Newton,
PyHessian cross-checks, devices and bad input."""
import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.hessian import GaussNewtonOperator, HessianOperator, SymmetricOperator, TraceEstimate

pytestmark = pytest.mark.usefixtures("one_thread")


def _problem(n=60, d=4, h=10, c=3, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, c)).to(dtype)
    X = torch.randn(n, d, dtype=dtype)
    y = torch.randint(0, c, (n,))
    return net, X, y


def _reference(net, X, y, loss_fn=F.cross_entropy):
    "Dense Hessian by torch.autograd.functional.hessian of the loss as a function of the flat parameters."
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    p0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def f(w):
        ps = {k: t.view(s) for k, t, s in zip(names, torch.split(w, sizes), shapes)}
        return loss_fn(torch.func.functional_call(net, ps, (X,)), y)
    return torch.autograd.functional.hessian(f, p0)


@pytest.fixture(scope="module")
def problem():
    net, X, y = _problem()
    return net, X, y, _reference(net, X, y)


@pytest.mark.parametrize("method", ["autograd", "func"])
def test_matvec_matches_dense(problem, method):
    net, X, y, Href = problem
    H = HessianOperator(net, F.cross_entropy, (X, y), method=method)
    V = torch.randn(H.dim, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(H @ V, Href @ V, rtol=0, atol=1e-13)
    assert torch.allclose(H.matvec(V[:, 2]), Href @ V[:, 2], rtol=0, atol=1e-13)
    assert torch.allclose(H.dense(), Href, rtol=0, atol=1e-13)
    assert H.dim == Href.shape[0] and H.dtype == torch.float64 and H.device.type == "cpu"


@pytest.mark.parametrize("as_data", ["list", "generator", "dataloader"])
def test_batches_weighted_by_size(problem, as_data):
    net, X, y, Href = problem
    cuts = [(0, 7), (7, 40), (40, 60)]
    if as_data == "list":
        data = [(X[a:b], y[a:b]) for a, b in cuts]
    elif as_data == "generator":
        data = ((X[a:b], y[a:b]) for a, b in cuts)
    else:
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=25)
    H = HessianOperator(net, F.cross_entropy, data)
    assert H.n == 60
    v = torch.randn(H.dim, dtype=torch.float64)
    assert torch.allclose(H @ v, Href @ v, rtol=0, atol=1e-13)
    assert torch.allclose(H @ v, Href @ v, rtol=0, atol=1e-13)  # a generator was read once and kept


@pytest.mark.parametrize("which", ["largest", "smallest", "magnitude", "both_ends"])
def test_eigenvalues_match_eigvalsh(problem, which):
    net, X, y, Href = problem
    ev = torch.linalg.eigvalsh(Href)
    H = HessianOperator(net, F.cross_entropy, (X, y))
    ref = {"largest": ev.flip(0)[:6], "smallest": ev[:6], "magnitude": ev[ev.abs().argsort(descending=True)][:6],
           "both_ends": torch.cat([ev[:3], ev[-3:]])}[which]
    vals, vecs = H.eigenvalues(k=6, which=which, tol=1e-6, return_eigenvectors=True)
    assert ((vals - ref).abs() / ev.abs().max()).max() < 1e-6
    assert ((vals - ref).abs() / ref.abs()).max() < 1e-6  # relative to each eigenvalue itself too
    assert torch.allclose(vecs.T @ vecs, torch.eye(6, dtype=torch.float64), atol=1e-8)
    assert torch.linalg.vector_norm(Href @ vecs - vecs * vals, dim=0).max() < 1e-6 * ev.abs().max()


def test_lanczos_restarts_reach_repeated_eigenvalues():
    lam = torch.arange(10, dtype=torch.float64).repeat_interleave(10) - 3.0  # 10 distinct values, each 10 times
    A = SymmetricOperator(lambda V: lam[:, None] * V, 100)
    vals = A.eigenvalues(k=100, max_iter=100)
    assert torch.allclose(vals, lam.sort(descending=True).values, atol=1e-10)


def test_unconverged_lanczos_warns(problem):
    net, X, y, _ = problem
    H = HessianOperator(net, F.cross_entropy, (X, y))
    with pytest.warns(RuntimeWarning, match="Lanczos stopped after max_iter"):
        H.eigenvalues(k=5, which="smallest", max_iter=8, tol=1e-12)


def test_trace_within_its_error(problem):
    net, X, y, Href = problem
    H = HessianOperator(net, F.cross_entropy, (X, y))
    tr = torch.trace(Href).item()
    est = H.trace(n_probes=100, seed=0)
    assert isinstance(est, TraceEstimate) and est.standard_error > 0
    assert abs(est.estimate - tr) < 4 * est.standard_error
    # the standard error is right: z-scores over seeds have unit spread
    z = np.array([(lambda e: (e.estimate - tr) / e.standard_error)(H.trace(n_probes=40, seed=s)) for s in range(30)])
    assert 0.6 < z.std(ddof=1) < 1.5 and abs(z.mean()) < 0.8
    # probes in one block or many give the same samples
    H1 = HessianOperator(net, F.cross_entropy, (X, y), batch_probes=7)
    assert torch.allclose(H1.hutchinson_samples(20, seed=3), H.hutchinson_samples(20, seed=3), atol=1e-12)


def test_diagonal_estimate(problem):
    net, X, y, Href = problem
    H = HessianOperator(net, F.cross_entropy, (X, y))
    d = H.diagonal(n_probes=3000)
    assert (d - Href.diagonal()).norm() / Href.diagonal().norm() < 0.15


def test_density_is_gauss_quadrature(problem):
    net, X, y, Href = problem
    H = HessianOperator(net, F.cross_entropy, (X, y))
    dens = H.density(n_probes=1, n_steps=8, seed=2)
    v = (torch.randint(0, 2, (H.dim,), generator=torch.Generator().manual_seed(2)) * 2 - 1).double()
    u = v / v.norm()
    th, tau = dens.nodes[0], dens.weights[0]
    for p in range(16):  # exact for degree < 2 * n_steps
        exact = (u @ torch.linalg.matrix_power(Href, p) @ u).item()
        assert abs((tau * th ** p).sum() - exact) < 1e-9 * max(1.0, abs(exact))
    dx = dens.grid[1] - dens.grid[0]
    assert abs(dens.values.sum() * dx - 1) < 1e-3
    full = H.density(n_probes=1, n_steps=H.dim)
    ev = torch.linalg.eigvalsh(Href).numpy()
    assert abs(full.nodes[0].max() - ev.max()) < 1e-8 and abs(full.nodes[0].min() - ev.min()) < 1e-8


def test_gauss_newton_matches_jacobians(problem):
    net, X, y, Href = problem
    p = {k: t.detach() for k, t in net.named_parameters()}

    def out(ps, x):
        return torch.func.functional_call(net, ps, (x[None],))[0]
    jac = torch.func.vmap(torch.func.jacrev(out), in_dims=(None, 0))(p, X)
    J = torch.cat([j.reshape(len(X), 3, -1) for j in jac.values()], 2)  # (N, C, D) in parameter order
    P = torch.softmax(net(X), 1).detach()
    A = torch.diag_embed(P) - P[:, :, None] * P[:, None, :]
    G = HessianOperator(net, F.cross_entropy, (X, y)).gauss_newton()
    assert isinstance(G, GaussNewtonOperator)
    assert torch.allclose(G.dense(), torch.einsum("ncd,nce,nek->dk", J, A, J) / len(X), atol=1e-13)
    yr = torch.randn(len(X), 3, dtype=torch.float64)
    Gm = HessianOperator(net, F.mse_loss, (X, yr)).gauss_newton()
    assert torch.allclose(Gm.dense(), 2 * torch.einsum("ncd,nck->dk", J, J) / (len(X) * 3), atol=1e-13)
    assert torch.linalg.eigvalsh(G.dense())[0] > -1e-12


def test_gauss_newton_equals_hessian_for_linear_outputs():
    torch.manual_seed(0)
    lin = nn.Linear(5, 4).double()
    X, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 4, (30,))
    H = HessianOperator(lin, F.cross_entropy, (X, y))
    assert torch.allclose(H.dense(), H.gauss_newton().dense(), atol=1e-14)


def test_dtype_copy_params_subset_and_snapshot(problem):
    net, X, y, Href = problem
    net32 = copy.deepcopy(net).float()
    H = HessianOperator(net32, F.cross_entropy, (X.float(), y), dtype=torch.float64)
    assert H.dtype == torch.float64 and next(net32.parameters()).dtype == torch.float32
    assert (H.dense() - Href).abs().max() < 1e-6  # parameters rounded to float32, then exact in float64
    Hh = HessianOperator(net, F.cross_entropy, (X, y), params=["2.weight", "2.bias"])
    assert torch.allclose(Hh.dense(), Href[-33:, -33:], atol=1e-13)
    v = torch.randn(Href.shape[0], dtype=torch.float64)
    H64 = HessianOperator(net, F.cross_entropy, (X, y))
    before = H64 @ v
    with torch.no_grad():
        net[0].weight.add_(1.0)  # training the model afterwards does not move the operator's point
    try:
        assert torch.equal(H64 @ v, before)
        assert torch.allclose(H64.gradient().norm(), torch.tensor(H64.gradient().norm().item(), dtype=torch.float64))
    finally:
        with torch.no_grad():
            net[0].weight.sub_(1.0)


def test_gradient_and_loss(problem):
    net, X, y, _ = problem
    H = HessianOperator(net, F.cross_entropy, [(X[:20], y[:20]), (X[20:], y[20:])])
    net.zero_grad()
    loss = F.cross_entropy(net(X), y)
    loss.backward()
    g = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    net.zero_grad()
    assert torch.allclose(H.gradient(), g, atol=1e-14) and abs(H.loss() - loss.item()) < 1e-14


def test_bad_input(problem):
    net, X, y, _ = problem
    H = HessianOperator(net, F.cross_entropy, (X, y))
    bn = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)).double()
    with pytest.raises(ValueError, match="BatchNorm"):
        HessianOperator(bn, F.cross_entropy, (X, y))
    with pytest.raises(ValueError, match="dropout"):
        HessianOperator(nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.1)).double(), F.cross_entropy, (X, y))
    with pytest.raises(ValueError, match="must return a scalar"):
        HessianOperator(net, lambda o, t: F.cross_entropy(o, t, reduction="none"), (X, y))
    with pytest.raises(ValueError, match="data is empty"):
        HessianOperator(net, F.cross_entropy, [])
    with pytest.raises(ValueError, match="is empty"):
        HessianOperator(net, F.cross_entropy, (X[:0], y[:0]))
    with pytest.raises(TypeError, match="data must be"):
        HessianOperator(net, F.cross_entropy, X)
    with pytest.raises(TypeError, match="model must be"):
        HessianOperator(lambda x: x, F.cross_entropy, (X, y))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        HessianOperator(net, "ce", (X, y))
    with pytest.raises(ValueError, match="method must be one of"):
        HessianOperator(net, F.cross_entropy, (X, y), method="numeric")
    with pytest.raises(ValueError, match="cache_graph=True needs data to be a single batch"):
        HessianOperator(net, F.cross_entropy, [(X, y), (X, y)], cache_graph=True)
    Xn = X.clone()
    Xn[0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        HessianOperator(net, F.cross_entropy, (Xn, y))
    with pytest.raises(ValueError, match="exceeds the operator's dim"):
        H.eigenvalues(k=H.dim + 1)
    with pytest.raises(ValueError, match="k must be >= 1"):
        H.eigenvalues(k=0)
    with pytest.raises(ValueError, match="n_steps = .* exceeds"):
        H.density(n_steps=H.dim + 1)
    with pytest.raises(ValueError, match=f"must have {H.dim} rows"):
        H @ torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN"):
        H @ torch.full((H.dim,), float("inf"), dtype=torch.float64)
    with pytest.raises(ValueError, match="dense Hessian would hold"):
        H.dense(max_dim=10)
    with pytest.raises(ValueError, match="non-finite product"):
        HessianOperator(net, lambda o, t: F.mse_loss(o, t).sqrt(), (X, net(X).detach())) @ torch.ones(H.dim, dtype=torch.float64)


# ---- PyHessian (amirgholami/PyHessian, `pyhessian` on PyPI) on the same model and data ----

@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyHessian draws its vectors in the default dtype
    yield
    torch.set_default_dtype(old)


def test_against_pyhessian(problem, float64_default):
    pyhessian = pytest.importorskip("pyhessian")
    net, X, y, Href = problem
    ours = HessianOperator(net, F.cross_entropy, (X, y))
    peer = pyhessian.hessian(copy.deepcopy(net), torch.nn.CrossEntropyLoss(), data=(X, y), cuda=False)
    torch.manual_seed(0)
    peer_top, peer_vecs = peer.eigenvalues(maxIter=2000, tol=1e-12, top_n=2)
    top = ours.eigenvalues(k=2)
    # PyHessian divides by (norm + 1e-6), so its vectors are slightly short and its Rayleigh quotients
    # are low by about 2e-6 in absolute terms; the Rayleigh quotients of its normalized vectors are exact
    assert np.allclose(peer_top, top.numpy(), rtol=0, atol=5e-6)
    for lam, vec in zip(top, peer_vecs):
        u = torch.cat([t.reshape(-1) for t in vec])
        assert abs((u @ Href @ u / (u @ u)).item() - lam.item()) < 1e-6 * lam.item()
    samples = np.array(peer.trace(maxIter=200, tol=0.0))
    peer_est, peer_se = samples.mean(), samples.std(ddof=1) / np.sqrt(len(samples))
    est, se = ours.trace(n_probes=200)
    assert abs(est - peer_est) < 4 * np.hypot(se, peer_se)
    assert abs(peer_est - torch.trace(Href).item()) < 4 * peer_se


def test_density_against_pyhessian(problem, float64_default):
    pyhessian = pytest.importorskip("pyhessian")
    net, X, y, Href = problem
    peer = pyhessian.hessian(copy.deepcopy(net), torch.nn.CrossEntropyLoss(), data=(X, y), cuda=False)
    torch.manual_seed(0)
    try:
        nodes, weights = peer.density(iter=40, n_v=1)
    except RuntimeError as e:  # pyhessian 0.1 (PyPI) calls torch.eig, removed in torch 1.9+
        if "torch.eig" not in str(e): raise
        pytest.skip("this pyhessian's density() calls torch.eig, which this torch no longer has")
    top = torch.linalg.eigvalsh(Href)[-1].item()
    assert abs(max(nodes[0]) - top) < 1e-5 * top and abs(sum(weights[0]) - 1) < 1e-6
    ours = HessianOperator(net, F.cross_entropy, (X, y)).density(n_probes=1, n_steps=40)
    assert abs(ours.nodes[0].max() - top) < 1e-10 * top


# ---- devices ----

@pytest.mark.cuda
def test_cuda_matches_cpu(problem):
    net, X, y, Href = problem
    dev = torch.device("cuda")
    H = HessianOperator(copy.deepcopy(net).to(dev), F.cross_entropy, (X.to(dev), y.to(dev)))
    assert H.device.type == "cuda"
    v = torch.randn(H.dim, dtype=torch.float64)
    out = H @ v.to(dev)
    assert out.device.type == "cuda" and torch.allclose(out.cpu(), Href @ v, atol=1e-12)
    vals, vecs = H.eigenvalues(k=3, return_eigenvectors=True)
    assert vals.device.type == "cuda" and vecs.device.type == "cuda"
    assert torch.allclose(vals.cpu(), torch.linalg.eigvalsh(Href).flip(0)[:3], rtol=1e-6)
    est, se = H.trace(n_probes=50)
    assert abs(est - torch.trace(Href).item()) < 4 * se
    assert H.density(n_probes=2, n_steps=20).values.sum() > 0
    Hcpu_data = HessianOperator(copy.deepcopy(net).to(dev), F.cross_entropy, (X, y))  # data follows the model
    assert torch.allclose((Hcpu_data @ v.to(dev)).cpu(), Href @ v, atol=1e-12)
    assert torch.allclose(H.gauss_newton().dense().cpu(), HessianOperator(net, F.cross_entropy, (X, y)).gauss_newton().dense(), atol=1e-12)
    with pytest.raises(ValueError, match="is on cpu but the operator is on cuda"):
        H @ v


def test_symmetric_operator_refuses_asymmetric_matmat():
    from gradnotes.hessian import SymmetricOperator
    tri = torch.tensor([[1.0, 5.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="not symmetric"):
        SymmetricOperator(lambda V: tri @ V, 3)
    # the check can be turned off, and a symmetric operator passes it without counting products
    SymmetricOperator(lambda V: tri @ V, 3, check_symmetry=False)
    A = SymmetricOperator(lambda V: (tri + tri.T) @ V, 3)
    assert A.n_products == 0


def test_symmetric_operator_float32_round_off_is_not_asymmetry():
    from gradnotes.hessian import SymmetricOperator
    g = torch.Generator().manual_seed(0)
    Q = torch.randn(300, 300, generator=g)
    S = (Q + Q.T) / 2
    SymmetricOperator(lambda V: S @ V, 300, dtype=torch.float32)


def test_symmetric_operator_refuses_wrong_shape():
    from gradnotes.hessian import SymmetricOperator
    with pytest.raises(ValueError, match="matmat must map"):
        SymmetricOperator(lambda V: V[:2], 3)


def test_density_grid_and_data_dtypes_are_checked():
    from gradnotes.hessian import HessianOperator, SpectralDensity, as_batches
    d = SpectralDensity([np.array([0.0, 1.0])], [np.array([0.5, 0.5])], np.zeros(1),
                        np.zeros(1), 0.1)
    assert d.evaluate([0.0, 0.5], 0.1).shape == (2,)
    with pytest.raises(ValueError, match="grid contains NaN"):
        d.evaluate(torch.tensor([0.0, float("nan")]), 0.1)
    X, y = torch.randn(4, 3), torch.arange(4) % 2
    with pytest.raises(TypeError, match="X must be real"):
        as_batches((X.to(torch.complex64), y))
    net = torch.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="X must have a floating dtype"):
        HessianOperator(net, torch.nn.functional.cross_entropy, (X.long(), y))


@pytest.mark.parametrize("batches", [1, 3])
def test_func_product_equals_double_backward(problem, batches):
    "Forward-over-reverse (one column and blocks) equals the double-backward product."
    net, X, y, _ = problem
    cuts = torch.linspace(0, len(X), batches + 1).long().tolist()
    data = [(X[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:])]
    Ha = HessianOperator(net, F.cross_entropy, data)
    V = torch.randn(Ha.dim, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    for method in ("func", "linearize") if batches == 1 else ("func",):
        Hf = HessianOperator(net, F.cross_entropy, data, method=method)
        torch.testing.assert_close(Hf @ V[:, 0], Ha @ V[:, 0], rtol=0, atol=1e-13)
        torch.testing.assert_close(Hf @ V, Ha @ V, rtol=0, atol=1e-13)
        torch.testing.assert_close(Hf @ V[:, 1], Ha @ V[:, 1], rtol=0, atol=1e-13)  # reused
    if batches > 1:
        with pytest.raises(ValueError, match="single batch"):
            HessianOperator(net, F.cross_entropy, data, method="linearize")


def test_operator_dtype_matmat_and_loss_errors_name_their_cause(problem):
    net, X, y, _ = problem
    A = torch.eye(3, dtype=torch.float64)
    with pytest.raises(TypeError, match="dtype must be a real floating"):
        SymmetricOperator(lambda V: A @ V, 3, dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype must be a real floating"):
        SymmetricOperator(lambda V: A @ V, 3, dtype=torch.complex128)
    with pytest.raises(ValueError, match="matmat failed"):
        SymmetricOperator(lambda V: torch.ones(2, 2, dtype=torch.float64) @ V, 3)
    with pytest.raises(TypeError, match="failed on data batch 0"):
        HessianOperator(net, F.cross_entropy, (X, y.numpy()))
    with pytest.raises(ValueError, match="failed on data batch 0"):
        HessianOperator(net, F.cross_entropy, (X, y + 3))


def test_as_batches_passes_integer_inputs_through():
    # as_batches knows no model: token ids stay as they are (HessianOperator checks them against the model)
    from gradnotes.hessian import as_batches
    X, y = torch.randint(0, 10, (6, 3)), torch.arange(6) % 2
    batches, n_batches, n = as_batches((X, y))
    (Xb, yb), = list(batches)
    assert (n_batches, n) == (1, 6) and Xb.dtype == torch.int64 and torch.equal(Xb, X) and torch.equal(yb, y)


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_early_stop_within_tol_with_fewer_products(problem, tol, seed):
    "The residual stop: top-5 within tol * lambda_max of the dense answer, in fewer products than the budget, none wasted."
    net, X, y, Href = problem
    ev = torch.linalg.eigvalsh(Href).flip(0)
    H = HessianOperator(net, F.cross_entropy, (X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # converged: no warning
        vals = H.eigenvalues(k=5, tol=tol, seed=seed)
    budget = min(H.dim, 10 * 5 + 100)  # the default max_iter
    assert ((vals - ev[:5]).abs() / ev[0]).max() <= tol
    assert H.n_products < budget
    # it stopped at the first step whose residuals met tol: one step fewer does not converge
    with pytest.warns(RuntimeWarning, match="Lanczos stopped after max_iter"):
        HessianOperator(net, F.cross_entropy, (X, y)).eigenvalues(k=5, tol=tol, seed=seed,
                                                                   max_iter=H.n_products - 1)


def test_lanczos_raises_on_a_non_finite_product():
    calls = {"n": 0}

    def matmat(V):
        calls["n"] += 1
        out = torch.arange(1.0, 51.0, dtype=torch.float64)[:, None] * V
        if calls["n"] == 4:
            out[7] = float("nan")
        return out
    A = SymmetricOperator(matmat, 50, check_symmetry=False)
    with pytest.raises(ValueError, match="non-finite product of SymmetricOperator"):
        A.eigenvalues(k=2)
    assert calls["n"] == 4


@pytest.mark.parametrize("cache_graph", [True, False])
def test_block_product_with_a_parameter_that_enters_linearly(cache_graph):
    "The last bias enters the loss linearly: its rows of H are zero, and a block product still equals the func path."
    torch.manual_seed(0)
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    loss = lambda out, t: (out.squeeze(-1) * t).mean()
    H = HessianOperator(net, loss, (X, y), cache_graph=cache_graph)
    Hf = HessianOperator(net, loss, (X, y), method="func")
    V = torch.randn(H.dim, 4, dtype=torch.float64)
    HV = H @ V
    assert torch.allclose(HV, Hf @ V, rtol=0, atol=1e-13)
    assert torch.equal(HV[-1], torch.zeros(4, dtype=torch.float64))  # the bias's row
    assert torch.allclose(H @ V[:, 2], HV[:, 2], rtol=0, atol=1e-13)
