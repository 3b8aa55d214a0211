"""Coherence and robust gradient averages: limits, dense references, scipy's winsorize, numba vs torch, transforms, bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.autodiff import per_sample_grads
from gradnotes.coherence import (M3Gradient, MeanGradient, RM3Gradient, WinsorizedGradient, alpha, corrupt_labels, m3_mean,
                                 m_coherence, median3, model_coherence, pairwise_alignment, winsorized_mean)


def _net(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3)).to(dtype)


def _data(n=24, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def _flat_grad(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _loop_grads(model, X, y):
    "Per-example gradients by one ordinary backward pass per example (no torch.func)."
    rows = []
    for i in range(len(X)):
        model.zero_grad()
        F.cross_entropy(model(X[i:i + 1]), y[i:i + 1]).backward()
        rows.append(_flat_grad(model))
    return torch.stack(rows)


# ---------------------------------------------------------------- coherence
@pytest.mark.parametrize("m", [2, 5, 64])
def test_limits_identical_and_orthogonal(m):
    g = torch.randn(300, dtype=torch.float64)
    assert m_coherence(g.expand(m, -1).clone()).item() == pytest.approx(m, rel=1e-12)
    assert alpha(g.expand(m, -1).clone()).item() == pytest.approx(1.0, rel=1e-12)
    Q = torch.linalg.qr(torch.randn(300, m, dtype=torch.float64)).Q.T * torch.rand(m, 1, dtype=torch.float64).add(0.1)
    assert m_coherence(Q).item() == pytest.approx(1.0, rel=1e-10)
    assert alpha(Q).item() == pytest.approx(1.0 / m, rel=1e-10)
    assert pairwise_alignment(Q).item() == pytest.approx(0.0, abs=1e-10)


def test_against_gram_matrix():
    G = torch.randn(15, 40, dtype=torch.float64) + 0.5 * torch.randn(40, dtype=torch.float64)
    K = G @ G.T
    assert m_coherence(G).item() == pytest.approx((K.sum() / K.trace()).item(), rel=1e-12)
    off = (K.sum() - K.trace()) / (15 * 14)
    assert pairwise_alignment(G).item() == pytest.approx((off / (K.trace() / 15)).item(), rel=1e-10)
    assert m_coherence(G).item() == pytest.approx(1 + 14 * pairwise_alignment(G).item(), rel=1e-12)


def test_trailing_shapes_flattened_and_dtype_kept():
    G = torch.randn(5, 3, 4)
    out = m_coherence(G)
    assert out.dtype == torch.float32 and out.ndim == 0
    assert out.item() == pytest.approx(m_coherence(G.reshape(5, 12)).item(), rel=1e-6)


def test_model_coherence_matches_backward_loop_and_chunks():
    net, (X, y) = _net(), _data()
    G = _loop_grads(net, X, y)
    assert torch.allclose(per_sample_grads(net, F.cross_entropy, X, y), G, atol=1e-12)
    for chunk in (1, 5, 24, 100):
        assert model_coherence(net, F.cross_entropy, X, y, chunk_size=chunk).item() == pytest.approx(m_coherence(G).item(), rel=1e-12)
    per = model_coherence(net, F.cross_entropy, X, y, per_layer=True)
    sizes = [p.numel() for p in net.parameters()]
    for (name, p), block in zip(net.named_parameters(), G.split(sizes, 1)):
        assert per[name].item() == pytest.approx(m_coherence(block).item(), rel=1e-12)
    assert per["all"].item() == pytest.approx(m_coherence(G).item(), rel=1e-12)


def test_model_coherence_parameter_subset():
    net, (X, y) = _net(), _data()
    G = _loop_grads(net, X, y)[:, -39:]  # the last layer: 12 * 3 weights and 3 biases
    got = model_coherence(net, F.cross_entropy, X, y, params=["2.weight", "2.bias"])
    assert got.item() == pytest.approx(m_coherence(G).item(), rel=1e-12)


# ---------------------------------------------------------------- winsorized mean
def _sort_ref(G, c):
    s = G.sort(0).values.clone()
    if c:
        s[:c] = s[c]
        s[len(G) - c:] = s[len(G) - 1 - c]
    return s.mean(0)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 17, 64, 100])
def test_winsorized_numba_torch_reference_agree(m):
    gen = torch.Generator().manual_seed(m)
    G = torch.randn(m, 257, generator=gen, dtype=torch.float64)
    G[:, :30] = 0.0                                                  # all tied
    G[:, 30:60] = torch.randint(-2, 3, (m, 30), generator=gen).double()  # many ties
    G[:, 60:70] = torch.arange(m, dtype=torch.float64)[:, None]        # sorted
    G[:, 70:80] = -torch.arange(m, dtype=torch.float64)[:, None]       # reverse sorted
    for c in sorted({0, 1, 2, (m - 1) // 2}):
        if 2 * c >= m: continue
        ref = _sort_ref(G, c)
        assert torch.allclose(winsorized_mean(G, c, engine="numba"), ref, rtol=0, atol=1e-12)
        assert torch.allclose(winsorized_mean(G, c, engine="torch"), ref, rtol=0, atol=1e-12)
        G32 = G.float()
        a, b = winsorized_mean(G32, c, engine="numba"), winsorized_mean(G32, c, engine="torch")
        assert a.dtype == b.dtype == torch.float32
        assert torch.allclose(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("m,c", [(64, 2), (64, 3), (10, 1), (100, 8), (7, 3), (33, 5)])
def test_winsorized_matches_scipy(m, c):
    mstats = pytest.importorskip("scipy.stats.mstats")
    G = np.random.default_rng(m + c).standard_normal((m, 80))
    peer = np.asarray(mstats.winsorize(G, limits=(c / m, c / m), axis=0)).mean(0)
    for engine in ("numba", "torch"):
        assert np.allclose(winsorized_mean(torch.from_numpy(G), c, engine=engine).numpy(), peer, rtol=0, atol=1e-12)


def test_winsorized_special_cases():
    G = torch.randn(9, 50, dtype=torch.float64)
    assert torch.allclose(winsorized_mean(G, 0), G.mean(0), atol=1e-14)
    assert torch.allclose(winsorized_mean(G, 4), G.median(0).values, atol=1e-14)
    perm = torch.randperm(9)
    assert torch.allclose(winsorized_mean(G[perm], 2), winsorized_mean(G, 2), atol=1e-14)
    assert winsorized_mean(torch.randn(9, 2, 5), 2).shape == (2, 5)
    # bounded influence: one huge value moves the mean, not the winsorized mean beyond the others' range
    H = G.clone(); H[0] = 1e6
    assert (winsorized_mean(H, 1) <= G[1:].max(0).values + 1e-12).all()


def test_numba_threads_do_not_change_result():
    numba = pytest.importorskip("numba")
    G = torch.randn(40, 1000, dtype=torch.float64)
    a = winsorized_mean(G, 3, engine="numba")
    n = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = winsorized_mean(G, 3, engine="numba")
    finally:
        numba.set_num_threads(n)
    assert torch.equal(a, b)


@pytest.mark.cuda
def test_winsorized_cuda_matches_numba():
    G = torch.randn(64, 5000, dtype=torch.float64)
    got = winsorized_mean(G.cuda(), 3)  # auto: torch on CUDA
    assert got.device.type == "cuda"
    assert torch.allclose(got.cpu(), winsorized_mean(G, 3, engine="numba"), atol=1e-12)


# ---------------------------------------------------------------- M3 and the transforms
def test_median3_and_m3():
    a, b, c = torch.randn(3, 500).unbind()
    assert torch.equal(median3(a, b, c), torch.stack([a, b, c]).median(0).values)
    G = torch.randn(10, 30)
    ref = torch.stack([G[:4].mean(0), G[4:7].mean(0), G[7:].mean(0)]).median(0).values
    assert torch.allclose(m3_mean(G), ref)


def test_transforms_compute_their_estimates():
    net, (X, y) = _net(), _data(11)
    G = _loop_grads(net, X, y)
    WinsorizedGradient(net, F.cross_entropy, c=2).backward(X, y)
    assert torch.allclose(_flat_grad(net), _sort_ref(G, 2), atol=1e-12)
    MeanGradient(net, F.cross_entropy).backward(X, y)
    assert torch.allclose(_flat_grad(net), G.mean(0), atol=1e-12)
    M3Gradient(net, F.cross_entropy).backward(X, y)
    assert torch.allclose(_flat_grad(net), torch.stack([G[:4].mean(0), G[4:8].mean(0), G[8:].mean(0)]).median(0).values, atol=1e-12)


def test_rm3_backward_and_apply_agree():
    (X, y) = _data(40)
    batches = [(X[i:i + 8], y[i:i + 8]) for i in range(0, 40, 8)]
    trajectories, medians = [], []
    for mode in ("backward", "apply"):
        net = _net(3)
        opt, est, seen = torch.optim.SGD(net.parameters(), lr=0.3, momentum=0.9), RM3Gradient(net, F.cross_entropy), []
        for t, (Xb, yb) in enumerate(batches):
            net.zero_grad(); F.cross_entropy(net(Xb), yb).backward(); seen.append(_flat_grad(net))
            if mode == "backward": est.backward(Xb, yb)
            else: est.apply()
            if t >= 2: medians.append(torch.allclose(_flat_grad(net), torch.stack(seen[-3:]).median(0).values, atol=1e-12))
            opt.step()
        trajectories.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert all(medians)
    assert torch.allclose(*trajectories, atol=1e-12)


def test_winsorized_c0_is_sgd_with_any_optimizer():
    (X, y) = _data(40)
    out = []
    for make in (lambda n: WinsorizedGradient(n, F.cross_entropy, c=0), lambda n: None):
        net = _net(5)
        opt, est = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-2), make(net)
        for i in range(0, 40, 8):
            if est is None:
                opt.zero_grad(); F.cross_entropy(net(X[i:i + 8]), y[i:i + 8]).backward()
            else: est.backward(X[i:i + 8], y[i:i + 8])
            opt.step()
        out.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert torch.allclose(*out, atol=1e-12)


def test_parameter_subset_leaves_others_alone():
    net, (X, y) = _net(), _data(12)
    for est in (WinsorizedGradient(net, F.cross_entropy, c=1, params=["2.weight", "2.bias"]),
                M3Gradient(net, F.cross_entropy, params=[net[2].weight, net[2].bias]),
                RM3Gradient(net, F.cross_entropy, params=["2.weight", "2.bias"])):
        net.zero_grad(set_to_none=True)
        est.backward(X, y)
        assert net[0].weight.grad is None and net[2].weight.grad is not None


def test_returned_loss_is_the_batch_loss():
    net, (X, y) = _net(), _data(12)
    want = F.cross_entropy(net(X), y).item()
    for est in (MeanGradient(net, F.cross_entropy), WinsorizedGradient(net, F.cross_entropy, c=1),
                M3Gradient(net, F.cross_entropy), RM3Gradient(net, F.cross_entropy)):
        assert est.backward(X, y).item() == pytest.approx(want, rel=1e-12)


def test_corrupt_labels():
    y = torch.arange(1000) % 10
    new, mask = corrupt_labels(y, 0.3, 10, seed=4)
    assert int(mask.sum()) == 300 and bool((new[mask] != y[mask]).all()) and torch.equal(new[~mask], y[~mask])
    assert torch.equal(corrupt_labels(y, 0.3, 10, seed=4)[0], new)
    allr, m_all = corrupt_labels(y, 1.0, 10, seed=0, different=False)
    assert bool(m_all.all()) and 0.05 < float((allr == y).float().mean()) < 0.15  # about 1/10 keep their class by chance


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,exc,msg", [
    (lambda: m_coherence(torch.randn(1, 4)), ValueError, "at least 2 per-example gradients"),
    (lambda: m_coherence(torch.randn(4)), ValueError, "shape (m, D)"),
    (lambda: m_coherence(torch.zeros(3, 4)), ValueError, "undefined"),
    (lambda: m_coherence(torch.tensor([[1.0, float("inf")], [1.0, 0.0]])), ValueError, "NaN or infinite"),
    (lambda: m_coherence([[1.0, 0.0], [0.0, 1.0]]), TypeError, "G must be a torch.Tensor"),
    (lambda: alpha(torch.randn(1, 3)), ValueError, "at least 2"),
    (lambda: pairwise_alignment(torch.zeros(2, 3)), ValueError, "undefined"),
    (lambda: winsorized_mean(torch.randn(4, 3), 2), ValueError, "c must be below m/2"),
    (lambda: winsorized_mean(torch.randn(4, 3), -1), ValueError, "c must be >= 0"),
    (lambda: winsorized_mean(torch.randn(4, 3), True), TypeError, "c must be an integer"),
    (lambda: winsorized_mean(torch.randn(4, 3), 1, engine="fast"), ValueError, "engine must be one of"),
    (lambda: winsorized_mean(torch.ones(4, 3, dtype=torch.long), 1), TypeError, "floating dtype"),
    (lambda: winsorized_mean(torch.tensor([[float("nan")], [1.0], [2.0]]), 1), ValueError, "NaN or infinite"),
    (lambda: winsorized_mean(torch.empty(0, 3), 0), ValueError, "must not be empty"),
    (lambda: m3_mean(torch.randn(2, 3)), ValueError, "at least 3"),
    (lambda: corrupt_labels(torch.arange(10), -0.1, 10), ValueError, "fraction must be >= 0"),
    (lambda: corrupt_labels(torch.arange(10).float(), 0.1, 10), ValueError, "integer class labels"),
    (lambda: corrupt_labels(torch.arange(10), 0.1, 1), ValueError, "n_classes must be >= 2"),
])
def test_bad_input(call, exc, msg):
    with pytest.raises(exc, match=None) as e:
        call()
    assert msg in str(e.value)


def test_bad_models_and_batches():
    net, (X, y) = _net(), _data(12)
    bn = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="BatchNorm"): WinsorizedGradient(bn, F.cross_entropy)
    with pytest.raises(ValueError, match="BatchNorm"): model_coherence(bn, F.cross_entropy, X.float(), y)
    M3Gradient(bn, F.cross_entropy)  # M3 needs no per-example gradients
    with pytest.raises(TypeError, match="model must be"): MeanGradient("net", F.cross_entropy)
    with pytest.raises(TypeError, match="loss_fn must be"): MeanGradient(net, "ce")
    with pytest.raises(ValueError, match="at least 5 examples"): WinsorizedGradient(net, F.cross_entropy, c=2).backward(X[:4], y[:4])
    with pytest.raises(ValueError, match="at least 3 examples"): M3Gradient(net, F.cross_entropy).backward(X[:2], y[:2])
    with pytest.raises(ValueError, match="one target per row"): MeanGradient(net, F.cross_entropy).backward(X, y[:5])
    with pytest.raises(ValueError, match="at least 2 examples"): model_coherence(net, F.cross_entropy, X[:1], y[:1])
    with pytest.raises(ValueError, match="no .grad"): RM3Gradient(_net(), F.cross_entropy).apply()
    bad = X.clone(); bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"): MeanGradient(net, F.cross_entropy).backward(bad, y)


def test_non_finite_gradients_never_reach_the_optimizer():
    net, (X, y) = _net(), _data(12)
    nan_loss = lambda out, t: F.cross_entropy(out, t) * float("nan")
    before = [p.detach().clone() for p in net.parameters()]
    for est in (MeanGradient(net, nan_loss), WinsorizedGradient(net, nan_loss), M3Gradient(net, nan_loss), RM3Gradient(net, nan_loss)):
        net.zero_grad(set_to_none=True)
        with pytest.raises(ValueError, match="NaN or infinite"): est.backward(X, y)
        assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, net.parameters()))


# ---- argument names, dtypes before dispatch ------------------------------------------------------

def test_winsorized_mean_3d_names_the_shape_of_G():
    from gradnotes.coherence import winsorized_mean
    with pytest.raises(ValueError, match=r"c must be below m/2.*G has shape \(4, 6, 5\)"):
        winsorized_mean(torch.randn(4, 6, 5), 2)
    out = winsorized_mean(torch.randn(5, 6, 4), 1)  # (m, *shape) is allowed: the mean has *shape
    assert out.shape == (6, 4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_winsorized_mean_half_precision_numba_matches_torch(dtype):
    from gradnotes.coherence import winsorized_mean
    G = torch.randn(9, 70).to(dtype)
    a = winsorized_mean(G, 2, engine="numba")
    b = winsorized_mean(G, 2, engine="torch")
    assert a.dtype == dtype and torch.allclose(a.float(), b.float(), atol=1e-2)


@pytest.mark.parametrize("fn", ["m_coherence", "alpha", "pairwise_alignment", "m3_mean",
                                "winsorized_mean"])
def test_complex_gradients_are_refused_before_dispatch(fn):
    import gradnotes.coherence as coh
    G = torch.randn(6, 4, dtype=torch.complex64)
    call = (lambda: getattr(coh, fn)(G, 1)) if fn == "winsorized_mean" else (lambda: getattr(coh, fn)(G))
    with pytest.raises(TypeError, match="G must be real"):
        call()


def test_median3_checks_its_arguments():
    from gradnotes.coherence import median3
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        median3([1.0, 2.0], torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="one shape"):
        median3(torch.zeros(2), torch.zeros(3), torch.zeros(2))


def test_median3_refuses_nan_and_integer_input():
    from gradnotes.coherence import median3
    a = torch.zeros(3)
    with pytest.raises(ValueError, match="b contains NaN"): median3(a, a * float("nan"), a)
    with pytest.raises(TypeError, match="c must have a floating dtype"): median3(a, a, a.long())
