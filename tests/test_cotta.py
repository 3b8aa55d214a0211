"""Checks of gradnotes.cotta: the CoTTA identities, TENT's parameter set, the restore rate,
the batched augmentation average, and bad input."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.cotta import (BNAdapt, CoTTA, Tent, batch_norm_layers, bn_cnn, cotta_augment,
                             entropy, error_table, run_stream, use_batch_stats)
from gradnotes.pskd import soft_cross_entropy


def _model(seed=0):
    torch.manual_seed(seed)
    return bn_cnn(width=4, size=8)


def _x(n=16, seed=1):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_alpha_one_p_zero_is_self_training_on_source_pseudo_labels():
    src, x = _model(), _x()
    c = CoTTA(src, alpha=1.0, p=0.0, threshold=0.0)  # never augment: the plain teacher
    ref = use_batch_stats(copy.deepcopy(src))
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3, betas=(0.9, 0.999))
    source = _params(ref)
    for step in range(3):
        xb = _x(seed=10 + step)
        with torch.no_grad(): target = F.softmax(use_batch_stats(copy.deepcopy(src))(xb), 1)
        loss = soft_cross_entropy(ref(xb), target)  # self-training on source pseudo-labels
        opt.zero_grad(); loss.backward(); opt.step()
        out = c(xb)
        # the teacher is still the source, and its prediction is the source's
        assert _same(_params(c.teacher.module), source)
        torch.testing.assert_close(F.softmax(out, 1), target)
        torch.testing.assert_close(_params(c.student), _params(ref))
    assert not _same(_params(c.student), source)


def test_p_one_resets_the_student_every_step():
    src = _model()
    c = CoTTA(src, p=1.0, n_aug=2)
    source = _params(use_batch_stats(copy.deepcopy(src)))
    for s in range(3):
        c(_x(seed=s))
        assert _same(_params(c.student), source)
    # while the teacher still moves (EMA of the stepped student, before the reset)
    assert not _same(_params(c.teacher.module), source)


def test_deterministic_augmentation_gives_the_plain_teacher():
    c = CoTTA(_model(), n_aug=5, augment=lambda x, g: x, threshold=1.0)
    x = _x()
    with torch.no_grad(): plain = c.teacher(x)
    torch.testing.assert_close(c.averaged_teacher(x), plain)
    torch.testing.assert_close(c(x), plain)  # threshold 1: always augmented


def test_batched_average_equals_a_loop_of_forwards():
    c = CoTTA(_model(), n_aug=6, chunk=4, seed=3)
    x = _x()
    g = torch.Generator().manual_seed(7)
    c.generator = torch.Generator().manual_seed(7)
    batched = c.averaged_teacher(x)
    xs = cotta_augment(x.expand(6, *x.shape), g)
    with torch.no_grad(): loop = torch.stack([c.teacher.module(xi) for xi in xs]).mean(0)
    torch.testing.assert_close(batched, loop, rtol=1e-5, atol=1e-5)
    # each copy keeps its own BatchNorm statistics: one forward of all copies differs
    with torch.no_grad():
        pooled = c.teacher.module(xs.flatten(0, 1)).view(6, *loop.shape).mean(0)
    assert (pooled - loop).abs().max() > 1e-4


def test_teacher_is_an_ema_of_the_student():
    src = _model()
    c = CoTTA(src, alpha=0.9, p=0.0, threshold=0.0)
    before = _params(c.teacher.module)
    c(_x())
    expect = [0.9 * t + 0.1 * s for t, s in zip(before, _params(c.student))]
    for a, b in zip(_params(c.teacher.module), expect):
        torch.testing.assert_close(a, b)


def test_tent_updates_only_batchnorm_affine_parameters():
    src = _model()
    t = Tent(src, lr=1e-2)
    before = dict((k, v.detach().clone()) for k, v in t.model.named_parameters())
    for s in range(2): t(_x(seed=s))
    bn_names = {f"{n}.{w}" for n, m in t.model.named_modules()
                if isinstance(m, nn.BatchNorm2d) for w in ("weight", "bias")}
    for k, v in t.model.named_parameters():
        moved = not torch.equal(v, before[k])
        assert moved == (k in bn_names), k
    # the source model itself is left alone
    assert batch_norm_layers(src)[0].running_mean is not None


def test_tent_step_is_entropy_descent():
    src, x = _model(), _x()
    t = Tent(src, optimizer=lambda p: torch.optim.SGD(p, lr=0.5))
    with torch.no_grad(): h0 = entropy(t.model(x)).mean()
    t(x)
    with torch.no_grad(): h1 = entropy(t.model(x)).mean()
    assert h1 < h0


def test_bn_adapt_uses_batch_statistics():
    src, x = _model().eval(), _x()
    a = BNAdapt(src)
    train_mode = copy.deepcopy(src).train()
    with torch.no_grad(): torch.testing.assert_close(a(x), train_mode(x))
    assert not torch.allclose(a(x), src(x))


@pytest.mark.parametrize("p", [0.01, 0.3])
def test_restored_fraction_is_close_to_p(p):
    # no learning (lr 0): any entry equal to the source after moving all weights away was reset
    c = CoTTA(_model(), lr=1e-12, p=p, n_aug=1, threshold=0.0, seed=0)
    with torch.no_grad():
        for w in c.student.parameters(): w.add_(1.0)
    c(_x())
    n = sum(w.numel() for w in c.student.parameters())
    reset = sum(int(torch.isclose(w, s, atol=1e-6, rtol=0).sum())
                for w, s in zip(c.student.parameters(), c.source))
    # five binomial standard deviations around n p
    assert abs(reset - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, (reset, n * p)


def test_run_stream_scores_online():
    from gradnotes.data import CorruptionStream
    X, y = _x(12).clamp(0, 1), torch.arange(12) % 10
    run = run_stream(BNAdapt(_model()), CorruptionStream(X, y, ["fog", "jpeg"], batch_size=5))
    assert len(run["rows"]) == 6 and run["probs"].shape == (24, 10)
    table = error_table(run)
    assert list(table) == [(0, "fog"), (0, "jpeg")]
    assert all(0 <= v <= 1 for v in table.values())


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(p=1.5), ValueError, "p must be <= 1"),
    (dict(p=-0.1), ValueError, "p must be >= 0"),
    (dict(alpha=1.01), ValueError, "alpha must be <= 1"),
    (dict(alpha=float("nan")), ValueError, "alpha must be finite"),
    (dict(threshold=2), ValueError, "threshold"),
    (dict(n_aug=0), ValueError, "n_aug"),
    (dict(lr=0), ValueError, "lr"),
    (dict(augment="flip"), TypeError, "augment"),
])
def test_cotta_bad_hyperparameters(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        CoTTA(_model(), **kw)


def test_non_finite_batches_are_refused():
    x = _x()
    x[0, 0, 0, 0] = float("nan")
    for m in (CoTTA(_model(), n_aug=2), Tent(_model()), BNAdapt(_model())):
        with pytest.raises(ValueError, match="x contains NaN"):
            m(x)


def test_models_without_batchnorm():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    for cls in (Tent, BNAdapt):
        with pytest.raises(ValueError, match="model has no BatchNorm"):
            cls(mlp)
    with pytest.raises(ValueError, match="affine"):
        Tent(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, affine=False)))
    with pytest.raises(TypeError, match="model"):
        CoTTA("resnet")
    # CoTTA itself takes any model: with no BatchNorm it adapts all weights
    out = CoTTA(mlp, n_aug=2)(_x())
    assert out.shape == (16, 10)


def test_cotta_augment_draws_once_per_copy():
    x = _x(4)
    # a pure brightness gain (every other part switched off): one factor per copy
    kw = dict(degrees=0.0, translate=0.0, scale=(1.0, 1.0), contrast=(1.0, 1.0),
              gamma=(1.0, 1.0), blur=(1e-3, 1e-3), noise=0.0, brightness=(0.5, 0.9))
    out = cotta_augment(x.expand(3, *x.shape), torch.Generator().manual_seed(0), **kw)
    ratio = out / x.clamp(min=1e-3)
    for k in range(3):
        r = ratio[k][x > 0.05]
        assert torch.allclose(r, r[0].expand_as(r), atol=1e-4)
    assert not torch.allclose(ratio[0][x > 0.05], ratio[1][x > 0.05], atol=1e-3)


def test_cotta_augment_is_seeded_and_in_range():
    x = _x()
    a = cotta_augment(x, torch.Generator().manual_seed(0))
    b = cotta_augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape and 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, cotta_augment(x, torch.Generator().manual_seed(1)))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cotta_on_cuda_matches_cpu():
    src, x = _model(), _x()
    cpu = CoTTA(src, n_aug=4, p=0.0, augment=lambda x, g: x)
    gpu = CoTTA(src.cuda(), n_aug=4, p=0.0, augment=lambda x, g: x)
    for _ in range(3):
        a, b = cpu(x), gpu(x.cuda())
    torch.testing.assert_close(a, b.cpu(), rtol=1e-3, atol=1e-3)
