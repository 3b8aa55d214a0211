"""The kNN graph of LLP-BP: scikit-learn's exact search gives the edges of the torch search."""
import pytest
import torch

from gradnotes.llp_bp import knn_similarity


@pytest.mark.parametrize("n,d,k,seed", [(300, 8, 5, 0), (1000, 16, 10, 1), (50, 2, 3, 2)])
def test_sklearn_and_torch_give_the_same_graph(n, d, k, seed):
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    e_t, w_t = knn_similarity(X, k=k, backend="torch", chunk=97)
    e_s, w_s = knn_similarity(X, k=k, backend="sklearn")
    torch.testing.assert_close(e_s, e_t, rtol=0, atol=0)
    torch.testing.assert_close(w_s, w_t, rtol=0, atol=0)


def test_auto_is_sklearn_on_cpu_and_threshold_applies():
    X = torch.randn(200, 4, generator=torch.Generator().manual_seed(3))
    e_a, _ = knn_similarity(X, k=4, neigh_thresh=0.2)
    e_t, _ = knn_similarity(X, k=4, neigh_thresh=0.2, backend="torch")
    torch.testing.assert_close(e_a, e_t, rtol=0, atol=0)
    assert e_a.shape[0] < knn_similarity(X, k=4)[0].shape[0]


def test_duplicate_points_never_link_to_themselves():
    X = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.05]])
    for backend in ("torch", "sklearn"):
        e, _ = knn_similarity(X, k=2, backend=backend)
        assert bool((e[:, 0] != e[:, 1]).all())


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        knn_similarity(torch.randn(10, 2), k=2, backend="faiss")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_uses_torch_on_cuda():
    X = torch.randn(500, 8, generator=torch.Generator().manual_seed(4))
    e_c, w_c = knn_similarity(X.cuda(), k=5)
    e_s, w_s = knn_similarity(X, k=5, backend="sklearn")
    assert e_c.is_cuda
    torch.testing.assert_close(e_c.cpu(), e_s, rtol=0, atol=0)
    torch.testing.assert_close(w_c.cpu(), w_s, rtol=1e-5, atol=1e-6)
