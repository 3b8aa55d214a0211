"""MEOW / AdaMEOW: PathSim and its top-k graph against dense formulas (numba, torch and scipy
engines), context hops against dense path averages, the weighted losses against the shared
InfoNCE, AdaMEOW's weights against the official N^2 x d construction (values and gradients),
the weight collapse, and bad input."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.contrastive import info_nce
from gradnotes.core import torch_threads
from gradnotes.meow import (VARIANTS, HeteroGraph, adameow_loss, cluster_scores, cluster_weights,
                            fit_meow, hop_context, kmeans_prototypes, learned_weights,
                            linear_probe, make_dblp_like, meow_info_loss, metapath_adjacency,
                            metapath_hops, normalize_adj, pathsim, pathsim_topk, prepare_views,
                            proto_nce)


@pytest.fixture(scope="module")
def small():
    return make_dblp_like(n_authors=80, n_papers=160, n_venues=8, n_terms=40, seed=3)


def _dense_pathsim(M):
    M = M.toarray()
    d = np.diag(M)
    return 2 * M / (d[:, None] + d[None, :])


@pytest.mark.parametrize("path", ["APA", "APVPA", "APTPA"])
def test_pathsim_against_dense_formula(small, path):
    M = metapath_adjacency(small, path)
    # the counts themselves against dense products of the relations
    R = {p: small.relation(*p).toarray() for p in ("AP", "PV", "PT", "PA", "VP", "TP")}
    dense = R["AP"]
    for a, b in zip(path[1:], path[2:]): dense = dense @ R[a + b]
    np.testing.assert_array_equal(M.toarray(), dense)
    S = _dense_pathsim(M)
    np.testing.assert_allclose(pathsim(M).toarray(), np.where(M.toarray() > 0, S, 0), rtol=1e-14)


@pytest.mark.parametrize("engine", ["numba", "torch", "scipy"])
@pytest.mark.parametrize("k", [1, 3, 10, 80])
def test_topk_against_dense_argsort(small, engine, k):
    M = metapath_adjacency(small, "APVPA")
    S = np.where(M.toarray() > 0, _dense_pathsim(M), -1.0)
    n = S.shape[0]
    want = np.zeros_like(S, dtype=bool)
    for i in range(n):  # PathSim down, ties to the smaller column; only non-zeros count
        order = np.lexsort((np.arange(n), -S[i]))
        top = [j for j in order[:k] if S[i, j] >= 0]
        want[i, top] = True
    got = pathsim_topk(M, k, engine)
    np.testing.assert_array_equal(got.toarray() > 0, want)
    np.testing.assert_array_equal(got.toarray()[want], M.toarray()[want])  # counts kept


def test_topk_engines_agree_with_many_ties():
    rng = np.random.default_rng(0)
    B = sp.random(300, 40, density=0.1, random_state=1, data_rvs=lambda n: np.ones(n)).tocsr()
    B = B + sp.eye(300, 40)  # every row reaches something
    M = (B @ B.T).tocsr()  # small integer counts: many equal PathSims
    M = M + sp.eye(300)
    out = [pathsim_topk(M, k, e) for k in (2, 7) for e in ("numba", "torch", "scipy")]
    for k in range(2):
        for e in (1, 2):
            assert (out[3 * k + e] != out[3 * k]).nnz == 0
    assert rng is not None


def test_caller_matrix_untouched(small):
    M = metapath_adjacency(small, "APTPA")
    before = M.copy()
    for e in ("numba", "torch", "scipy"): pathsim_topk(M, 3, e)
    assert (M != before).nnz == 0 and M.nnz == before.nnz


def test_normalized_adjacency(small):
    A = pathsim_topk(metapath_adjacency(small, "APA"), 4)
    An = normalize_adj(A).to_dense().numpy()
    B = ((A.toarray() > 0) | np.eye(A.shape[0], dtype=bool)).astype(float)
    r = 1 / np.sqrt(B.sum(1))
    np.testing.assert_allclose(An, r[:, None] * B * r[None, :], rtol=1e-6)


def test_hops_are_path_instance_means(small):
    hops = metapath_hops(small, "APTPA")
    assert [t for t, _ in hops] == ["P", "T", "P"]
    AP, PT, TP = (small.relation(*p).toarray() for p in ("AP", "PT", "TP"))
    x = torch.randn(small.n("P"), 5, dtype=torch.float32)
    # mean over path instances, hop by hop
    step = lambda R: R / np.maximum(R.sum(1, keepdims=True), 1)
    want = step(AP) @ step(PT) @ step(TP) @ x.double().numpy()
    np.testing.assert_allclose(hop_context(hops[2][1], x).numpy(), want, rtol=1e-4, atol=1e-6)


def test_cluster_weights_formula():
    g = torch.Generator().manual_seed(0)
    labs = [torch.randint(0, k, (30,), generator=g) for k in (2, 5, 9)]
    w = cluster_weights(labs)
    for i in range(30):
        for j in range(30):
            assert w[i, j] == 3 - sum(int(c[i] == c[j]) for c in labs)
    assert (w.diagonal() == 0).all()


def test_unit_weights_equal_shared_info_nce():
    g = torch.Generator().manual_seed(1)
    zc, zf = torch.randn(40, 12, generator=g), torch.randn(40, 12, generator=g)
    ones = torch.ones(40, 40)
    for tau in (0.2, 0.9):
        torch.testing.assert_close(meow_info_loss(zc, zf, ones, tau),
                                   info_nce(zc, zf, temperature=tau, positive_in_denominator=False))
        torch.testing.assert_close(meow_info_loss(zc, zf, None, tau), info_nce(zc, zf, temperature=tau))
        torch.testing.assert_close(adameow_loss(zf, zc, ones, tau), info_nce(zf, zc, temperature=tau))


def test_weighted_losses_against_hand_formula():
    g = torch.Generator().manual_seed(2)
    zc, zf = (F.normalize(torch.randn(25, 6, generator=g, dtype=torch.float64), dim=1) for _ in range(2))
    w = torch.rand(25, 25, generator=g, dtype=torch.float64) + 0.05
    s = zc @ zf.T / 0.5
    off = ~torch.eye(25, dtype=torch.bool)
    ref = -(s.diagonal() - torch.log((w * s.exp() * off).sum(1))).mean()
    torch.testing.assert_close(meow_info_loss(zc, zf, w, 0.5), ref)
    s2 = zf @ zc.T / 0.5
    ref2 = -(s2.diagonal() - torch.log((w * s2.exp()).sum(1))).mean()
    torch.testing.assert_close(adameow_loss(zf, zc, w, 0.5), ref2)


@pytest.mark.parametrize("chunk", [None, 1, 7, 64])
def test_learned_weights_equal_naive(chunk):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    za = torch.randn(33, 10, dtype=torch.float64, requires_grad=True)
    zb = torch.randn(33, 10, dtype=torch.float64, requires_grad=True)
    naive = torch.sigmoid(mlp((za[:, None] + zb[None]).reshape(-1, 10))).reshape(33, 33)
    fast = learned_weights(mlp, za, zb, chunk=chunk)
    torch.testing.assert_close(fast, naive, rtol=1e-12, atol=1e-12)
    c = torch.randn(33, 33, dtype=torch.float64)
    params = [za, zb, *mlp.parameters()]
    g1 = torch.autograd.grad((naive * c).sum(), params)
    g2 = torch.autograd.grad((learned_weights(mlp, za, zb, chunk=chunk) * c).sum(), params)
    for a, b in zip(g1, g2): torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_kmeans_prototypes_concentration():
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(200, 8, generator=g), dim=1)
    cl = kmeans_prototypes(z, (5, 20), tau=0.7, seed=1)
    for c, k in zip(cl, (5, 20)):
        assert c["centroids"].shape == (k, 8) and c["labels"].max() < k
        torch.testing.assert_close(c["phi"].mean(), torch.tensor(0.7), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(c["centroids"].norm(dim=1), torch.ones(k))
    # ProtoNCE with one clustering is the cross-entropy of z.mu / phi
    c = cl[0]
    logits = z @ c["centroids"].T / c["phi"]
    ref = (torch.logsumexp(logits, 1) - logits.gather(1, c["labels"][:, None])[:, 0]).mean()
    torch.testing.assert_close(proto_nce(z, cl[:1]), ref)


def test_adameow_weights_collapse(small):
    """The weight MLP minimises the loss whose denominator its weights scale: at the official
    step size the mean weight keeps falling, and same-class and other-class pairs end
    with the same weight (the weights learn no class structure here)."""
    with torch_threads(1):
        r = fit_meow(small, "adameow", epochs=80, seed=0, patience=80)
    w = r.weight_mean
    assert len(w) == 80 and w[-1] < w[0] - 0.05
    first, middle, last = (float(np.mean(w[i:i + 10])) for i in (0, 35, 70))
    assert first > middle > last  # a steady fall (single steps are noisy: dropout)
    m = r.model
    with torch.no_grad():
        zc, zf, _ = m(r.views)
        W = learned_weights(m.weight_mlp, zf, zc)
    y = small.labels
    same = (y[:, None] == y[None]) & ~torch.eye(80, dtype=torch.bool)
    assert abs(W[same].mean() - W[y[:, None] != y[None]].mean()) < 0.02


def test_fit_and_evaluate_all_variants(small):
    for v in VARIANTS:
        with torch_threads(1): r = fit_meow(small, v, epochs=3, seed=0)
        assert r.embeddings.shape == (80, 64) and torch.isfinite(r.embeddings).all()
        assert len(r.losses) == 3
    lp = linear_probe(r.embeddings, small.labels, per_class=(5,), n_splits=2)
    assert set(lp[5]) == {"ma_f1", "mi_f1", "auc"} and len(lp[5]["auc"]) == 2
    cs = cluster_scores(r.embeddings, small.labels, runs=2)
    assert all(0 <= v.min() and v.max() <= 100 for v in cs.values())


def test_selection_never_reads_labels(small):
    """Training is label-blind: permuting the labels changes nothing."""
    perm = HeteroGraph(small.relations, small.features, small.labels[torch.randperm(80)])
    with torch_threads(1):
        a, b = fit_meow(small, "infonce", epochs=5), fit_meow(perm, "infonce", epochs=5)
    torch.testing.assert_close(a.embeddings, b.embeddings)


def test_views_masking(small):
    v = prepare_views(small, nei_max=(2, 5, 3), feat_mask=0.5, adj_mask=(0.0, 0.5, 0.9), seed=0)
    nz = int((small.features["A"] != 0).sum())
    assert int((v.masked_target != 0).sum()) == nz - int(0.5 * nz)
    assert v.masked_adjs[0]._nnz() == v.adjs[0]._nnz()


# bad input ---------------------------------------------------------------------------------

def test_isolated_target_nodes(small):
    rel = dict(small.relations)
    AP = rel["AP"].tolil(); AP[5, :] = 0
    rel["AP"] = AP.tocsr()
    g = HeteroGraph(rel, small.features, small.labels)
    M = metapath_adjacency(g, "APA")
    for f in (lambda: pathsim(M), lambda: pathsim_topk(M, 3), lambda: prepare_views(g)):
        with pytest.raises(ValueError, match="isolated target node"): f()


def test_bad_temperature_and_weights():
    z = torch.randn(6, 4)
    for tau in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="tau"): meow_info_loss(z, z, None, tau)
        with pytest.raises(ValueError, match="tau"): adameow_loss(z, z, torch.ones(6, 6), tau)
    with pytest.raises(ValueError, match="all-zero weights"): adameow_loss(z, z, torch.zeros(6, 6))
    with pytest.raises(ValueError, match="all-zero weights"):  # only the diagonal is positive
        meow_info_loss(z, z, torch.eye(6))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        meow_info_loss(z, z, -torch.ones(6, 6))
    with pytest.raises(ValueError, match="weights contains NaN"):
        adameow_loss(z, z, torch.full((6, 6), float("nan")))
    with pytest.raises(ValueError, match="tau"): fit_meow(make_dblp_like(40, 80), tau=0.0)


def test_non_finite_features_and_big_k(small):
    bad = dict(small.features)
    bad["A"] = bad["A"].clone(); bad["A"][0, 0] = float("inf")
    with pytest.raises(ValueError, match="features\\['A'\\] contains NaN"):
        prepare_views(HeteroGraph(small.relations, bad, small.labels))
    M = metapath_adjacency(small, "APA")
    with pytest.raises(ValueError, match="k must be <= 80"): pathsim_topk(M, 81)
    with pytest.raises(ValueError, match="n_clusters\\[0\\] must be <= 10"):
        kmeans_prototypes(torch.randn(10, 3), (11,))
    with pytest.raises(ValueError, match="nei_max needs one entry"):
        prepare_views(small, nei_max=(3, 3))
    with pytest.raises(ValueError, match="n_papers must be >= n_authors"):
        make_dblp_like(n_authors=50, n_papers=20)
    with pytest.raises(ValueError, match="variant must be one of"): fit_meow(small, "heco")
