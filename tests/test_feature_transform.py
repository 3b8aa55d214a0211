"""Feature transformation for MoCo: identity and closed forms of the mixing, harder positives in
expectation, the loss against the shared InfoNCE, the queue receiving the original keys, the
options, the score histograms, bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.contrastive import info_nce
from gradnotes.feature_transform import (FeatureTransform, MoCoRun, augment_images,
                                         augment_signals, conv_encoder, mix_coefficients,
                                         moco_ft_loss, projection_head, score_histograms,
                                         train_moco, upsampled_digits)


def _unit(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=dtype), dim=-1)


@pytest.mark.parametrize("opts", [dict(), dict(pos_per_dim=True, neg_per_dim=True),
                                  dict(distribution="uniform"), dict(postmix_norm="none")])
def test_no_weight_on_the_other_feature_is_the_identity(opts):
    q, k, Q = _unit(6, 5), _unit(6, 5, seed=1), _unit(30, 5, seed=2)
    lam = torch.ones(6, 5, dtype=torch.float64) if opts.get("pos_per_dim") else 1.0
    mu = torch.ones(30, 5, dtype=torch.float64) if opts.get("neg_per_dim") else 1.0
    out = FeatureTransform(**opts)(q, k, Q, lam=lam, mu=mu)
    for a, b in zip(out, (q, k, Q)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("lam", [1.0, 1.2, 1.5, 2.0])
def test_positive_score_closed_form(lam):
    q, k = _unit(50, 8), _unit(50, 8, seed=3)
    qh, kh, _ = FeatureTransform(negative=False)(q, k, _unit(4, 8), lam=lam)
    c = (q * k).sum(1)
    expect = 2 * lam * (1 - lam) * (1 - c) + c
    assert torch.allclose((qh * kh).sum(1), expect, atol=1e-12)
    assert ((qh * kh).sum(1) <= c + 1e-12).all()


@pytest.mark.parametrize("opts", [dict(), dict(pos_per_dim=True), dict(distribution="uniform"),
                                  dict(pos_alpha=0.5)])
def test_extrapolated_positives_score_lower_in_expectation(opts):
    torch.manual_seed(0)
    q = _unit(64, 16)
    k = F.normalize(q + 0.5 * _unit(64, 16, seed=5), dim=1)
    c = (q * k).sum(1)
    ft = FeatureTransform(negative=False, **opts)
    draws = torch.stack([(lambda a, b: (a * b).sum(1))(*ft(q, k, q[:2])[:2])
                         for _ in range(300)])
    assert (draws.mean(0) < c).all()


def test_interpolated_negatives_are_mixtures_of_two_queue_entries():
    torch.manual_seed(0)
    Q = _unit(40, 6)
    _, _, Qh = FeatureTransform(positive=None)(_unit(3, 6), _unit(3, 6, seed=1), Q, mu=0.3)
    # each new row is 0.3 Q_i + 0.7 Q_j for one j: solve for Q_j and find it in Q
    partner = (Qh - 0.3 * Q) / 0.7
    d = torch.cdist(partner, Q)
    assert d.min(1).values.max() < 1e-6     # cdist computes through a matmul
    assert sorted(d.argmin(1).tolist()) == list(range(40))   # a permutation


def test_loss_equals_shared_info_nce_and_gradient_reaches_query_through_the_key():
    q, k, Q = _unit(8, 6), _unit(8, 6, seed=1), _unit(50, 6, seed=2)
    loss, pos, neg = moco_ft_loss(q, k, Q, None, 0.1)
    assert torch.allclose(loss, info_nce(q, k, Q, temperature=0.1), atol=1e-12)
    assert torch.allclose(pos, (q * k).sum(1)) and neg.shape == (8, 50)
    ft = FeatureTransform()
    qg = q.clone().requires_grad_()
    torch.manual_seed(4)
    loss = moco_ft_loss(qg, k, Q, ft, 0.1)[0]
    torch.manual_seed(4)
    ref = info_nce(*ft(q, k, Q), temperature=0.1, normalize=False)
    assert torch.allclose(loss, ref, atol=1e-12)
    # the positive term alone: q' . k' depends on q through both q' and k'
    qg2 = q.clone().requires_grad_()
    qh, kh, _ = ft(qg2, k, Q, lam=1.5, mu=1.0)
    (qh * kh).sum().backward()
    assert torch.allclose(qg2.grad, 1.5 * kh.detach() - 0.5 * qh.detach(), atol=1e-12)


def test_postmix_norm_options():
    q, k, Q = _unit(5, 4), _unit(5, 4, seed=1), _unit(20, 4, seed=2)
    one = torch.ones(5, dtype=torch.float64)
    qh, kh, Qh = FeatureTransform(postmix_norm="pos")(q, k, Q, lam=1.7, mu=0.5)
    assert torch.allclose(qh.norm(dim=1), one) and torch.allclose(kh.norm(dim=1), one)
    assert Qh.norm(dim=1).min() < 0.999
    _, _, Qh = FeatureTransform(postmix_norm="both")(q, k, Q, lam=1.7, mu=0.5)
    assert torch.allclose(Qh.norm(dim=1), torch.ones(20, dtype=torch.float64))


def test_coefficient_distributions():
    torch.manual_seed(0)
    b = mix_coefficients((40000,), 1.6)
    assert abs(b.mean().item() - 0.5) < 0.01
    assert abs(b.var().item() - 1 / (4 * (2 * 1.6 + 1))) < 0.003
    u = mix_coefficients((40000,), 1.0, distribution="uniform", shift=1.0)
    assert 1 <= u.min() and u.max() <= 2 and abs(u.mean().item() - 1.5) < 0.01


def test_training_enqueues_the_original_keys_and_records_scores(monkeypatch):
    from gradnotes import contrastive
    seen = []
    orig = contrastive.KeyQueue.enqueue

    def spy(self, k):
        seen.append(torch.allclose(k.norm(dim=1), torch.ones(len(k)), atol=1e-5))
        return orig(self, k)

    monkeypatch.setattr(contrastive.KeyQueue, "enqueue", spy)
    sp = upsampled_digits(0)
    torch.set_num_threads(1)
    run = train_moco(conv_encoder(4, 16), projection_head(16, 16, 8), sp.X_train[:256],
                     augment_images, FeatureTransform(), epochs=2, batch_size=64,
                     queue_size=128)
    # unit keys: the mixed keys (lam in [1, 2], no renormalisation) are not unit
    assert len(seen) == 8 and all(seen)
    assert isinstance(run, MoCoRun) and len(run.loss) == 2 and np.isfinite(run.loss).all()
    assert run.scores[0]["pos"].shape == (256,) and run.scores[0]["neg"].shape == (256 * 16,)
    h, e = score_histograms(run, "neg_ft", bins=10)
    assert h.shape == (2, 10) and np.allclose(h.sum(1), 1)


def test_augmentations_keep_shape_and_change_the_input():
    torch.manual_seed(0)
    x = upsampled_digits(0).X_train[:8]
    v = augment_images(x)
    assert v.shape == x.shape and not torch.allclose(v, x)
    s = torch.randn(5, 40)
    assert augment_signals(s).shape == (5, 40)
    assert augment_signals(s[:, None]).shape == (5, 1, 40)
    quiet = augment_signals(s, shift=0, scale=(1, 1), gain=(1, 1), shear=0, noise=0)
    assert torch.allclose(quiet, s, atol=1e-5)


def test_bad_input():
    q, k, Q = _unit(4, 3, dtype=torch.float32), _unit(4, 3, seed=1, dtype=torch.float32), \
        _unit(9, 3, seed=2, dtype=torch.float32)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        moco_ft_loss(q, k, Q, temperature=-1)
    with pytest.raises(ValueError, match="queue must not be empty"):
        moco_ft_loss(q, k, Q[:0])
    with pytest.raises(ValueError, match="k must have shape"):
        moco_ft_loss(q, k[:2], Q)
    with pytest.raises(ValueError, match="queue must have shape"):
        FeatureTransform()(q, k, torch.randn(9, 4))
    with pytest.raises(ValueError, match="q contains NaN"):
        moco_ft_loss(q * float("inf"), k, Q)
    with pytest.raises(TypeError, match="transform must be FeatureTransform"):
        moco_ft_loss(q, k, Q, transform="ft")
    with pytest.raises(ValueError, match="positive must be one of"):
        FeatureTransform(positive="both")
    with pytest.raises(ValueError, match="pos_alpha must be > 0"):
        FeatureTransform(pos_alpha=0)
    with pytest.raises(ValueError, match="postmix_norm must be one of"):
        FeatureTransform(postmix_norm=True)
    with pytest.raises(ValueError, match="batch_size must be <= 4"):
        train_moco(nn.Linear(3, 3), nn.Identity(), torch.randn(4, 3), lambda x: x,
                   batch_size=8)
