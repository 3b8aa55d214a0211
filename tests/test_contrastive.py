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
