"""JLCM: permutation invariance, numba vs torch assignment, k-means against scikit-learn, exact
codebook gradients, the surrogates' mechanism, packing and storage size, bad input."""
import io

import pytest
import torch
from torch import nn

from gradnotes.jlcm import (CodebookLinear, assign_nearest, codebook_layer, compress_mlp,
                            effective_bits, group_rows, index_bits, kmeans_1d, layer_errors,
                            learn_layer, load_compressed, mapping_surrogate, pack_indices,
                            permute_hidden, rtn_mlp, save_compressed, storage_bits,
                            uniform_rtn, unpack_indices)
from gradnotes.training import MLP


def _g(seed=0): return torch.Generator().manual_seed(seed)


def _mlp(sizes=(7, 24, 16, 3), seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return MLP(list(sizes)).to(dtype)


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.GELU])
def test_permuted_network_is_the_same_function(act):
    torch.manual_seed(1)
    net = MLP([7, 24, 16, 3], act=act).double()
    for seed in range(3):
        perms = [torch.randperm(24, generator=_g(seed)), torch.randperm(16, generator=_g(seed + 9))]
        x = torch.randn(40, 7, generator=_g(seed), dtype=torch.float64)
        with torch.no_grad():
            torch.testing.assert_close(permute_hidden(net, perms)(x), net(x), rtol=0, atol=1e-12)
    with torch.no_grad():  # the grouping order from group_rows, too; None leaves a layer alone
        p = group_rows(net[0].weight, 4)[0]
        torch.testing.assert_close(permute_hidden(net, [p, None])(x), net(x), rtol=0, atol=1e-12)


def test_numba_and_torch_assignment_agree():
    for dtype in (torch.float32, torch.float64):
        w = torch.randn(300, 17, generator=_g(), dtype=dtype)
        for K in (2, 4, 8, 16):
            c = torch.randn(K, generator=_g(K), dtype=dtype)
            a, b = assign_nearest(w, c, "numba"), assign_nearest(w, c, "torch")
            assert torch.equal(a, b)
            assert torch.equal(a, (w[..., None] - c).abs().argmin(-1))
    c = torch.tensor([1.0, -1.0, 0.0, 3.0])         # values exactly halfway go to the smaller
    w = torch.tensor([-0.5, 0.5, 2.0])
    for e in ("numba", "torch"):
        assert assign_nearest(w, c, e).tolist() == [1, 2, 0]


def test_kmeans_1d_against_sklearn():
    KMeans = pytest.importorskip("sklearn.cluster").KMeans
    x = torch.cat([torch.randn(4000, generator=_g(), dtype=torch.float64) * 0.05,
                   torch.randn(500, generator=_g(1), dtype=torch.float64) * 0.2 + 0.3])
    sse = lambda c: (x[:, None] - c).pow(2).min(1).values.sum().item()
    for K in (2, 4, 8):
        ours = kmeans_1d(x, K)
        skl = KMeans(K, n_init=2, random_state=0).fit(x[:, None].numpy())
        ref = torch.tensor(sorted(skl.cluster_centers_[:, 0]), dtype=torch.float64)
        assert sse(ours) <= sse(ref) * 1.01
        assert (ours.diff() > 0).all()
    # well-separated clumps: one optimum, and both find it
    clumps = torch.cat([torch.randn(200, generator=_g(m), dtype=torch.float64) * 0.05 + m
                        for m in range(5)])
    skl = KMeans(5, n_init=2, random_state=0).fit(clumps[:, None].numpy())
    ref = torch.tensor(sorted(skl.cluster_centers_[:, 0]), dtype=torch.float64)
    torch.testing.assert_close(kmeans_1d(clumps, 5), ref, rtol=0, atol=1e-9)


def test_codebook_gradient_is_exact():
    layer = codebook_layer(torch.randn(6, 5, generator=_g(), dtype=torch.float64), 4, [2, 4],
                           n_codebooks=2)
    x = torch.randn(9, 5, generator=_g(1), dtype=torch.float64)
    loss = layer(x).pow(2).sum()
    loss.backward()
    Gamma = 2 * (x.T @ (x @ layer.weight_hat().T.detach())).T        # ∂L/∂Ŵ
    want = torch.zeros_like(layer.codebooks)
    for o in range(6):
        for i in range(5):
            want[layer.row_codebook[o], layer.indices[o, i]] += \
                layer.scales[layer.row_group[o]].item() * Gamma[o, i]
    torch.testing.assert_close(layer.codebooks.grad, want, rtol=1e-10, atol=1e-10)
    assert layer.scales.grad.abs().sum() > 0


def test_surrogate_weights_distance():
    cand = torch.tensor([[-3.0, -1.0, 0.0, 1.0, 4.0]])
    cur, g = torch.tensor([[0.0]]), torch.tensor([[1.0]])        # the loss falls downward
    naive = -mapping_surrogate(g, cur, cand, "ste")[0, 0]
    prox = -mapping_surrogate(g, cur, cand, "proximal")[0, 0]
    assert naive.argmax() == 0 and prox.argmax() == 1           # extreme vs neighbour
    # pushes towards the lower codewords: naive grows with distance, proximal decreases
    assert naive[0] > naive[1] > 0 and 0 < prox[0] < prox[1]
    assert naive[2] == 0 and prox[2] == 0


def test_learning_improves_and_proximal_moves_are_local():
    W = torch.randn(32, 24, generator=_g(), dtype=torch.float64)
    X = torch.randn(128, 24, generator=_g(1), dtype=torch.float64)
    for mode in ("ste", "proximal"):
        layer = codebook_layer(W, 8, [8] * 4, n_codebooks=4)
        r = learn_layer(layer, X, X @ W.T, mode=mode, steps=30)
        assert r["loss_best"] < r["loss_init"]
        with torch.no_grad():     # the stored state is the best one, rounded to float16
            got = (layer(X) - X @ W.T).pow(2).mean() / (X @ W.T).pow(2).mean()
        assert abs(got.item() - r["loss_best"]) < 1e-3 * r["loss_best"] + 1e-6
        assert torch.equal(layer.codebooks, layer.codebooks.half().double())
        if mode == "proximal": assert set(r["jumps"].tolist()) <= {1}
        else: assert r["jumps"].max() > 1


@pytest.mark.parametrize("bits", range(1, 9))
def test_pack_roundtrip(bits):
    for n in (1, 7, 8, 9, 1000):
        idx = torch.randint(0, 2 ** bits, (n,), generator=_g(n))
        p = pack_indices(idx, bits)
        assert p.dtype == torch.uint8 and len(p) == -(-n * bits // 8)
        assert torch.equal(unpack_indices(p, bits, n), idx)


def test_pack_roundtrip_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=60, deadline=None)
    @given(st.integers(1, 12), st.lists(st.integers(0, 2 ** 12 - 1), min_size=1, max_size=200))
    def check(bits, vals):
        idx = torch.tensor(vals) % (2 ** bits)
        assert torch.equal(unpack_indices(pack_indices(idx, bits), bits, len(vals)), idx)
    check()


@pytest.mark.parametrize("K", [2, 4, 8])
def test_saved_model_runs_and_its_size_matches_the_effective_bits(K):
    net = _mlp(dtype=torch.float32)
    X = torch.randn(64, 7, generator=_g())
    q, rep = compress_mlp(net, X, K=K, groups=4, learn="proximal", steps=5)
    buf = io.BytesIO()
    save_compressed(q, buf)
    q2 = load_compressed(io.BytesIO(buf.getvalue()))
    with torch.no_grad():
        assert torch.equal(q2(X), q(X))
    n = 7 * 24 + 24 * 16 + 16 * 3
    obj = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    n_tensors = 0
    for d in obj["modules"]:
        for k, v in d.items():
            if isinstance(v, torch.Tensor):
                d[k], n_tensors = v[:0].clone(), n_tensors + 1
    empty = io.BytesIO()
    torch.save(obj, empty)
    payload = len(buf.getvalue()) - len(empty.getvalue())
    expected = effective_bits(q) * n / 8 + 4 * (24 + 16 + 3)       # + float32 biases
    assert 0 <= payload - expected <= 64 * n_tensors


def test_effective_bits_and_rtn():
    net = _mlp(dtype=torch.float32)
    q, _ = compress_mlp(net, torch.randn(32, 7, generator=_g()), K=4, groups=2,
                        shared_codebook=True)
    n = 7 * 24 + 24 * 16 + 16 * 3
    assert effective_bits(q) == pytest.approx((2 * n + 16 * 3 * (4 + 2)) / n)
    for layer in q:
        if isinstance(layer, CodebookLinear):
            assert storage_bits(layer)["index_bits"] == 2 * layer.indices.numel()
    r, b = rtn_mlp(net, 4)
    assert b == pytest.approx(2 + 32 * (24 + 16 + 3) / n)
    for lin, lq in zip(net, r):
        if isinstance(lin, nn.Linear):
            assert all(len(row.unique()) <= 4 for row in lq.weight)
    Wq, bits = uniform_rtn(torch.tensor([[0.0, 0.1, 0.55, 3.0]]), 4)
    assert torch.allclose(Wq, torch.tensor([[0.0, 0.0, 1.0, 3.0]])) and bits == 2 + 32 / 4


def test_layer_errors_zero_for_the_same_model_and_grouping_helps():
    net = _mlp(dtype=torch.float32, sizes=(16, 64, 64, 4))
    with torch.no_grad():      # rows of very different spreads: groups should pay off
        net[0].weight.mul_(torch.logspace(-1, 1, 64)[:, None])
    X = torch.randn(256, 16, generator=_g())
    assert layer_errors(net, net, X) == [0.0, 0.0, 0.0]
    q1, r1 = compress_mlp(net, X, K=4, groups=1)
    q8, r8 = compress_mlp(net, X, K=4, groups=8)
    assert layer_errors(r8["reference"], q8, X)[0] < layer_errors(r1["reference"], q1, X)[0]


def test_bad_input():
    net = _mlp(dtype=torch.float32)
    X = torch.randn(32, 7, generator=_g())
    with pytest.raises(ValueError, match="K must be a power of two"):
        compress_mlp(net, X, K=6)
    with pytest.raises(ValueError, match="K must be a power of two"):
        index_bits(1)                                   # bits < 1
    with pytest.raises(ValueError, match="X: the calibration set"):
        compress_mlp(net, X[:3], K=4)
    layer = codebook_layer(torch.randn(6, 7, generator=_g()), 8, [3, 3])
    with pytest.raises(ValueError, match="X: the calibration set"):
        learn_layer(layer, X[:5], torch.randn(5, 6))
    bad = X.clone()
    bad[1, 2] = float("inf")
    with pytest.raises(ValueError, match="X contains NaN"):
        compress_mlp(net, bad, K=4)
    badnet = _mlp(dtype=torch.float32)
    with torch.no_grad():
        badnet[2].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="W contains NaN"):
        compress_mlp(badnet, X, K=4)
    with pytest.raises(ValueError, match="learn_kw"):
        compress_mlp(net, X, K=4, steps=3)
    with pytest.raises(ValueError, match="only nn.Linear"):
        compress_mlp(nn.Sequential(nn.Linear(7, 4), nn.LayerNorm(4), nn.Linear(4, 2)), X)
    with pytest.raises(ValueError, match="perms entries must be permutations"):
        permute_hidden(net, [torch.zeros(24, dtype=torch.long), None])
    with pytest.raises(ValueError, match="bits must be >= 1"):
        pack_indices(torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match="f does not hold"):
        buf = io.BytesIO(); torch.save({"a": 1}, buf); buf.seek(0); load_compressed(buf)
