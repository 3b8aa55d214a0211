"""SLK few-shot clustering: numba vs torch, a K-means peer check, contracts, bad input and CUDA."""
import numpy as np
import pytest
import torch

from gradnotes.fewshot_clustering import (_wz, bound_update, cl2n, episode_accuracy, knn_graph, laplacianshot, sample_episodes,
                                          shift_queries, simpleshot, slk, tim)


def blobs(B, K=5, shot=1, n_query=15, D=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mu = 0.8 * torch.randn(B, K, D, generator=g, dtype=dtype)
    ys = torch.arange(K).repeat_interleave(shot).expand(B, -1)
    yq = torch.arange(K).repeat_interleave(n_query).expand(B, -1)
    Xs = cl2n(mu.gather(1, ys[..., None].expand(-1, -1, D)) + torch.randn(B, K * shot, D, generator=g, dtype=dtype))
    Xq = cl2n(mu.gather(1, yq[..., None].expand(-1, -1, D)) + torch.randn(B, K * n_query, D, generator=g, dtype=dtype))
    return Xs, ys, shift_queries(Xs, Xq), yq


@pytest.mark.parametrize("mode", ["kmeans", "ms"])
@pytest.mark.parametrize("lmd", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("shot", [1, 5])
@pytest.mark.parametrize("clamp", [True, False])
def test_numba_and_torch_agree(mode, lmd, shot, clamp):
    Xs, ys, Xq, _ = blobs(12, shot=shot, seed=shot)
    a = slk(Xs, ys, Xq, lmd=lmd, mode=mode, clamp_supports=clamp, engine="numba", trace=True)
    b = slk(Xs, ys, Xq, lmd=lmd, mode=mode, clamp_supports=clamp, engine="torch", trace=True)
    assert torch.equal(a.n_outer, b.n_outer) and torch.equal(a.pred, b.pred)
    assert (a.Z - b.Z).abs().max() < 1e-6
    assert (a.prototypes - b.prototypes).abs().max() < 1e-6
    assert torch.equal(torch.isnan(a.trace), torch.isnan(b.trace))
    ok = ~torch.isnan(a.trace)
    assert (a.trace[ok] - b.trace[ok]).abs().max() < 1e-6 if ok.any() else True


def test_float32_agrees_with_float64():
    Xs, ys, Xq, _ = blobs(20)
    a = slk(Xs, ys, Xq, engine="torch")
    b = slk(Xs.float(), ys, Xq.float(), engine="torch")
    assert b.Z.dtype == torch.float32 and (a.pred == b.pred).float().mean() > 0.98


def test_single_episode_matches_batch_row():
    Xs, ys, Xq, _ = blobs(4)
    batch = slk(Xs, ys, Xq)
    one = slk(Xs[2], ys[2], Xq[2])
    assert one.pred.shape == (75,) and torch.equal(one.pred, batch.pred[2])


def test_kmeans_lambda0_matches_sklearn():
    KMeans = pytest.importorskip("sklearn.cluster").KMeans
    Xs, ys, Xq, _ = blobs(8, shot=1, seed=4)
    ours = slk(Xs, ys, Xq, lmd=0.0, clamp_supports=False)
    for b in range(8):
        X = torch.cat([Xs[b], Xq[b]]).numpy()
        km = KMeans(5, init=Xs[b].numpy(), n_init=1, max_iter=300, tol=0, algorithm="lloyd").fit(X)
        assert np.array_equal(ours.pred[b].numpy(), km.labels_[5:])


def test_each_update_minimizes_the_linearized_bound():
    # A_i(Z) = sum z log z + z.a - lmd z.(W Z_i) is minimized over the simplex by softmax(-a + lmd W Z_i)
    g = torch.Generator().manual_seed(0)
    A = torch.rand(1, 20, 4, dtype=torch.float64, generator=g)
    nb = knn_graph(torch.randn(1, 20, 3, dtype=torch.float64, generator=g))
    Zi = torch.softmax(torch.randn(1, 20, 4, dtype=torch.float64, generator=g), -1)
    M = _wz(Zi, nb)
    bound = lambda Z: (Z * Z.log() - 0.0 + Z * A - 0.7 * Z * M).sum()
    Zn = torch.softmax(-A + 0.7 * M, -1)
    for scale in (1e-3, 1e-1, 1.0):
        for _ in range(50):
            other = torch.softmax(Zn.log() + scale * torch.randn(1, 20, 4, dtype=torch.float64, generator=g), -1)
            assert bound(Zn) <= bound(other) + 1e-12


def test_supports_clamped_and_labels_recovered():
    Xs, ys, Xq, yq = blobs(10, D=8)
    res = slk(Xs, ys, Xq)
    assert torch.equal(res.Z[:, :5].argmax(-1), ys)
    assert (res.pred == yq).double().mean() > 0.5


def test_baselines_shapes_and_bound_update_lambda0():
    Xs, ys, Xq, yq = blobs(3)
    for p in (simpleshot(Xs, ys, Xq), laplacianshot(Xs, ys, Xq), tim(Xs, ys, Xq, iters=20)):
        assert p.shape == yq.shape
    A = torch.rand(2, 7, 3, dtype=torch.float64)
    Z, _, n = bound_update(A, knn_graph(torch.randn(2, 7, 2, dtype=torch.float64)), 0.0)
    assert torch.allclose(Z, torch.softmax(-A, -1)) and n.tolist() == [3, 3]


def test_hungarian_accuracy():
    y = torch.arange(5).repeat_interleave(3)[None]
    assert episode_accuracy((y + 2) % 5, y).item() == 0.0
    assert episode_accuracy((y + 2) % 5, y, hungarian=True).item() == 1.0


def test_bad_input():
    Xs, ys, Xq, _ = blobs(1)
    Xs, ys, Xq = Xs[0], ys[0], Xq[0]
    with pytest.raises(ValueError, match="shot \\+ n_query"):
        sample_episodes(torch.randn(20, 3), torch.arange(20) % 5, shot=5)
    with pytest.raises(ValueError, match="support_labels must hold at least two classes"):
        slk(Xs[:1], torch.tensor([0]), Xq)
    with pytest.raises(ValueError, match="support_labels must use every class"):
        slk(Xs[:2], torch.tensor([0, 2]), Xq)
    bad = Xq.clone(); bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="query contains NaN"):
        slk(Xs, ys, bad)
    with pytest.raises(ValueError, match="lmd"):
        slk(Xs, ys, Xq, lmd=float("nan"))
    with pytest.raises(ValueError, match="knn"):
        slk(Xs, ys, Xq, knn=1000)
    with pytest.raises(ValueError, match="engine"):
        slk(Xs, ys, Xq, engine="jax")
    with pytest.raises(TypeError, match="support_labels must hold integer"):
        slk(Xs, ys.float(), Xq)
    with pytest.raises(ValueError, match="feature size"):
        slk(Xs, ys, Xq[:, :3])


@pytest.mark.cuda
def test_torch_path_on_cuda_matches_cpu():
    Xs, ys, Xq, _ = blobs(16, shot=5)
    for mode in ("kmeans", "ms"):
        cpu = slk(Xs, ys, Xq, mode=mode, engine="numba")
        gpu = slk(Xs.cuda(), ys.cuda(), Xq.cuda(), mode=mode)
        assert gpu.Z.device.type == "cuda"
        assert torch.equal(gpu.pred.cpu(), cpu.pred) and (gpu.Z.cpu() - cpu.Z).abs().max() < 1e-6
    with pytest.raises(ValueError, match="engine='numba' needs CPU tensors"):
        slk(Xs.cuda(), ys.cuda(), Xq.cuda(), engine="numba")


# ---- argument names, labels, intervals, dtypes before dispatch -----------------------------------

def test_mismatched_episode_dims_name_both_arguments():
    from gradnotes.fewshot_clustering import slk
    s, y, q = torch.randn(3, 4), torch.arange(3), torch.randn(9, 4)
    for engine in ("numba", "torch"):
        with pytest.raises(ValueError, match=r"support and query must both be one episode.*support \(3, 4\)"):
            slk(s, y, q[None], engine=engine)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_features_refused_before_dispatch(dtype):
    from gradnotes.fewshot_clustering import cl2n, knn_graph, simpleshot, slk
    s, y, q = torch.randn(3, 4).to(dtype), torch.arange(3), torch.randn(9, 4).to(dtype)
    for call in (lambda: slk(s, y, q, engine="numba"), lambda: slk(s, y, q, engine="torch"),
                 lambda: simpleshot(s, y, q)):
        with pytest.raises(TypeError, match="support must be real"):
            call()
    with pytest.raises(TypeError, match="X must be real"):
        knn_graph(q)
    with pytest.raises(TypeError, match="x must be real"):
        cl2n(q)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_numba_matches_float32(dtype):
    from gradnotes.fewshot_clustering import slk
    g = torch.Generator().manual_seed(0)
    s, q = torch.randn(3, 8, generator=g), torch.randn(30, 8, generator=g)
    s, q = s.to(dtype), q.to(dtype)
    a = slk(s, torch.arange(3), q, engine="numba")
    b = slk(s.float(), torch.arange(3), q.float(), engine="numba")
    assert a.Z.dtype == dtype and torch.equal(a.pred, b.pred)


def test_knn_graph_rejects_non_finite_points():
    from gradnotes.fewshot_clustering import knn_graph
    for bad in (float("nan"), float("inf")):
        X = torch.randn(5, 2)
        X[1, 0] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinite"):
            knn_graph(X, 2)


def test_episode_accuracy_labels():
    from gradnotes.fewshot_clustering import episode_accuracy
    labels = torch.tensor([[0, 1, 2, 2]])
    with pytest.raises(ValueError, match="labels must hold classes >= 0"):
        episode_accuracy(labels, torch.tensor([[-1, 1, 2, 2]]))
    with pytest.raises(ValueError, match="pred must hold classes >= 0"):
        episode_accuracy(torch.tensor([[-1, 1, 2, 2]]), labels)
    with pytest.raises(TypeError, match="labels must hold integer classes"):
        episode_accuracy(labels, labels.float())
    with pytest.raises(TypeError, match="pred must be a torch.Tensor"):
        episode_accuracy([[0, 1, 2, 2]], labels)
    # large class numbers: the strict score compares them as they are; the matching renumbers them
    big = torch.tensor([[10**6, 7, 3, 3]])
    assert episode_accuracy(big, labels).item() == 0.0
    assert episode_accuracy(big, labels, hungarian=True).item() == 1.0
    assert episode_accuracy(torch.tensor([[5, 5, 0, 1]]), labels, hungarian=True).item() == 0.5


def test_mean_ci95_needs_two_episodes():
    from gradnotes.fewshot_clustering import mean_ci95
    for bad in (torch.tensor([]), torch.tensor([0.5])):
        with pytest.raises(ValueError, match="acc must hold at least 2 episodes"):
            mean_ci95(bad)
    with pytest.raises(ValueError, match="acc contains NaN"):
        mean_ci95(torch.tensor([0.5, float("nan")]))
    with pytest.raises(TypeError, match="acc must be a torch.Tensor"):
        mean_ci95([0.5, 0.6])
    m, h = mean_ci95(torch.tensor([0.5, 0.7]))
    assert m == pytest.approx(0.6) and h == pytest.approx(1.96 * 0.1 / 2 ** 0.5)


def test_low_level_helpers_check_their_inputs():
    from gradnotes.fewshot_clustering import (bound_update, kernel_sigma, knn_graph, mean_ci95,
                                              shift_queries, sqdist)
    X = torch.randn(8, 3)
    nbrs = knn_graph(X, 3)
    with pytest.raises(ValueError, match="nbrs must hold point indices"):
        kernel_sigma(X, nbrs.clone().fill_(8))
    with pytest.raises(ValueError, match="divisor"): kernel_sigma(X, nbrs, divisor=-1.0)
    with pytest.raises(ValueError, match="X contains NaN"):
        kernel_sigma(X.clone().fill_(float("nan")), nbrs)
    with pytest.raises(ValueError, match="must have the dtype"): sqdist(X, X.double())
    with pytest.raises(ValueError, match="query"): shift_queries(X, torch.randn(4, 2))
    A = torch.randn(1, 8, 2)
    with pytest.raises(ValueError, match="lmd"): bound_update(A, nbrs[None], lmd=-1.0)
    with pytest.raises(ValueError, match="max_iter"): bound_update(A, nbrs[None], 1.0, max_iter=0)
    with pytest.raises(ValueError, match=r"acc must hold accuracies in \[0, 1\]"):
        mean_ci95(torch.tensor([0.5, 1.5]))


def test_episode_accuracy_checks_classes_against_n_classes():
    from gradnotes.fewshot_clustering import episode_accuracy
    pred, labels = torch.tensor([[0, 1, 2, 2]]), torch.tensor([[0, 1, 2, 7]])
    assert episode_accuracy(pred, labels).item() == 0.75  # any class number without n_classes
    with pytest.raises(ValueError, match="labels must hold classes < n_classes"):
        episode_accuracy(pred, labels, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        episode_accuracy(pred, labels, n_classes=0)
