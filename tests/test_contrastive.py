"""gradnotes.contrastive: InfoNCE against PyTorch's cross-entropy and pytorch-metric-learning."""
import pytest
import torch
import torch.nn.functional as F

from gradnotes.contrastive import info_nce, info_nce_from_logits


def _views(n=12, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.05, 0.2, 1.0])
def test_in_batch_equals_ntxent(tau):
    from pytorch_metric_learning.losses import NTXentLoss
    q, k = _views()
    labels = torch.arange(len(q))
    peer = NTXentLoss(temperature=tau)(q, labels, ref_emb=k, ref_labels=labels.clone())
    assert torch.allclose(info_nce(q, k, temperature=tau), peer, atol=1e-10)


def test_gradients_match_cross_entropy():
    q, k = _views()
    q.requires_grad_(True)
    queue = torch.randn(20, 6, dtype=torch.float64)
    g1, = torch.autograd.grad(info_nce(q, k, queue, temperature=0.1), q)
    qn, kn, un = F.normalize(q, dim=1), F.normalize(k, dim=1), F.normalize(queue, dim=1)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ un.T], 1) / 0.1
    g2, = torch.autograd.grad(F.cross_entropy(logits, torch.zeros(12, dtype=torch.long)), q)
    assert torch.allclose(g1, g2, atol=1e-12)


def test_weights_scale_like_repeated_negatives():
    "An integer weight counts its negative that many times."
    pos, neg = torch.randn(3, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    w = torch.tensor([1.0, 2.0, 0.0, 3.0], dtype=torch.float64)
    rep = torch.cat([neg[:, :1], neg[:, 1:2], neg[:, 1:2], neg[:, 3:4].repeat(1, 3)], 1)
    assert torch.allclose(info_nce_from_logits(pos, neg, w), info_nce_from_logits(pos, rep))


def test_large_logits_stay_finite():
    pos, neg = torch.tensor([500.0]), torch.tensor([[499.0, -500.0]])
    loss = info_nce_from_logits(pos, neg)
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    q, k = _views()
    queue = torch.randn(20, 6, dtype=torch.float64)
    cpu = info_nce(q, k, queue)
    assert torch.allclose(info_nce(q.cuda(), k.cuda(), queue.cuda()).cpu(), cpu)


# --- MoCo key encoder and queue ---------------------------------------------------------------
from torch import nn

from gradnotes.contrastive import KeyQueue, moco_key_encoder, moco_keys


def test_key_encoder_is_momentum_average_from_the_first_update():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))
    key = moco_key_encoder(net, momentum=0.9)
    ref = [p.detach().clone() for p in net.parameters()]
    for step in range(3):
        with torch.no_grad():
            for p in net.parameters(): p.add_(torch.randn_like(p))
        key.update_parameters(net)
        ref = [0.9 * r + 0.1 * p.detach() for r, p in zip(ref, net.parameters())]
    for r, p in zip(ref, key.module.parameters()):
        assert torch.allclose(r, p, atol=1e-6)
    assert not any(p.requires_grad for p in key.parameters())
    k = moco_keys(key, torch.randn(6, 5))
    assert not k.requires_grad and torch.allclose(k.norm(dim=1), torch.ones(6), atol=1e-6)


@pytest.mark.parametrize("init", ["empty", "random"])
def test_queue_keeps_the_last_K_keys_like_a_cat_queue(init):
    g = torch.Generator().manual_seed(0)
    K, d = 7, 3
    q = KeyQueue(d, K, init=init, dtype=torch.float64, generator=g)
    ref = q.keys.clone()
    for n in (2, 5, 1, 9, 3, 7, 4):
        b = torch.randn(n, d, generator=g, dtype=torch.float64)
        q.enqueue(b)
        ref = torch.cat([ref, b])[-K:]
        got = q.keys
        assert len(q) == len(got) == len(ref)
        # same set of rows (the ring buffer's order is a rotation of the cat queue's)
        assert torch.equal(got[torch.argsort(got[:, 0])], ref[torch.argsort(ref[:, 0])])


def test_queue_bad_input():
    q = KeyQueue(3, 4, init="empty")
    with pytest.raises(ValueError, match="k must have shape"):
        q.enqueue(torch.randn(2, 5))
    with pytest.raises(ValueError, match="k contains NaN"):
        q.enqueue(torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="k must not be empty"):
        q.enqueue(torch.randn(0, 3))
    with pytest.raises(ValueError, match="init must be one of"):
        KeyQueue(3, 4, init="zeros")
    with pytest.raises(ValueError, match="size must be >= 1"):
        KeyQueue(3, 0)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        KeyQueue(3, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        moco_key_encoder(nn.Linear(2, 2), momentum=1.5)


# --- evaluation of frozen features ------------------------------------------------------------
import numpy as np

from gradnotes.contrastive import embed, knn_accuracy, knn_predict, linear_probe


@pytest.mark.parametrize("k,tau", [(1, 0.1), (5, 0.07), (20, 0.5), (50, 1.0)])
def test_knn_matches_sklearn_cosine_weighted(k, tau):
    from sklearn.neighbors import KNeighborsClassifier
    g = torch.Generator().manual_seed(k)
    centres = torch.randn(4, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (300,), generator=g)
    X = centres[y] + 0.8 * torch.randn(300, 8, generator=g, dtype=torch.float64)
    pred = knn_predict(X[:200], y[:200], X[200:], k=k, temperature=tau, chunk=37)
    peer = KNeighborsClassifier(k, metric="cosine", algorithm="brute",
                                weights=lambda d: np.exp((1 - d) / tau))
    peer.fit(X[:200].numpy(), y[:200].numpy())
    assert np.array_equal(pred.numpy(), peer.predict(X[200:].numpy()))


def test_probe_and_embed():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (240,), generator=g)
    X = torch.nn.functional.one_hot(y, 3).float() * 3 + torch.randn(240, 3, generator=g)
    net = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU())
    net.train()
    feats = embed(net, X, batch_size=50)
    assert net.training and feats.shape == (240, 16) and not feats.requires_grad
    assert linear_probe(X[:160], y[:160], X[160:], y[160:]) > 0.8
    assert knn_accuracy(X[:160], y[:160], X[160:], y[160:], k=10) > 0.8


def test_evaluation_bad_input():
    X, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    with pytest.raises(ValueError, match="k must be <= 20"):
        knn_predict(X, y, X, k=21)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        knn_predict(X, y, X, k=3, temperature=0)
    with pytest.raises(ValueError, match="test_features must have shape"):
        knn_predict(X, y, torch.randn(5, 3), k=3)
    with pytest.raises(ValueError, match="train_labels must have one label"):
        linear_probe(X, y[:5], X, y)
    with pytest.raises(TypeError, match="train_labels must have an integer dtype"):
        linear_probe(X, y.float(), X, y)
    with pytest.raises(ValueError, match="test_features contains NaN"):
        knn_accuracy(X, y, X * float("nan"), y, k=3)


# --- k-means ----------------------------------------------------------------------------------
from gradnotes.contrastive import kmeans


@pytest.mark.parametrize("k,seed", [(3, 0), (8, 1), (15, 2), (6, 3), (4, 4)])
def test_torch_kmeans_reaches_sklearn_inertia(k, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(6, 5, generator=g, dtype=torch.float64)[torch.randint(0, 6, (400,),
                                                                          generator=g)]
    X = X + 0.3 * torch.randn(400, 5, generator=g, dtype=torch.float64)
    # both with 10 restarts: with few, either may stop in a worse local optimum
    C, lab, inert = kmeans(X, k, n_init=10, seed=seed)
    _, _, peer = kmeans(X, k, n_init=10, seed=seed, engine="sklearn")
    assert inert <= 1.02 * peer
    # the returned inertia is that of the returned centres and labels
    assert abs(((X - C[lab]) ** 2).sum().item() - inert) < 1e-8 * max(inert, 1)
    assert torch.equal(lab, torch.cdist(X, C).argmin(1))


def test_kmeans_bad_input():
    X = torch.randn(10, 2)
    with pytest.raises(ValueError, match="k must be <= 10"):
        kmeans(X, 11)
    with pytest.raises(ValueError, match="engine must be one of"):
        kmeans(X, 2, engine="faiss")
    with pytest.raises(ValueError, match="X contains NaN"):
        kmeans(X * float("nan"), 2)
