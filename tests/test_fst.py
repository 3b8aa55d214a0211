"""FST: the mean-teacher limit, the rollback, FST-W against FST-D, and the building blocks
against peers (AveragedModel's EMA, torchmetrics' Jaccard index)."""
import copy
import functools

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gradnotes.fst import FST, SegNet, class_mix, mean_iou, pseudo_labels, self_training_loss
from gradnotes.training import ema_teacher

torch.set_num_threads(1)


def _data(seed=0, n=24, size=12):
    g = torch.Generator().manual_seed(seed)
    X, XT = torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)
    Y = torch.randint(0, 5, (n, size, size), generator=g)
    return [(X[i:i + 4], Y[i:i + 4], XT[i:i + 4]) for i in range(0, n, 4)]


def _net(seed=0, opt=torch.optim.Adam, lr=1e-2, **kw):
    torch.manual_seed(seed)
    net = SegNet(width=4, dilations=(1, 2), **kw)
    return net, opt(net.parameters(), lr)


def _loss(seed):
    return functools.partial(self_training_loss, threshold=0.5,
                             generator=torch.Generator().manual_seed(seed))


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_k0_is_the_mean_teacher():
    batches = _data()
    net, opt = _net()
    fst = FST(net, opt, _loss(1), k=0, alpha=0.95)
    for b in batches:
        fst.step(b)
    ref, ropt = _net()
    teacher, loss = ema_teacher(ref, alpha=0.95), _loss(1)
    for t, b in enumerate(batches):
        if t > 0:
            teacher.n_averaged.fill_(t)
            teacher.update_parameters(ref)
        ropt.zero_grad(); loss(ref, teacher, b).backward(); ropt.step()
        if t == 0:
            teacher.update_parameters(ref)
    assert _same(net, ref) and _same(fst.teacher, teacher)


def _rollback_gap(opt_cls, restore_optimizer_state, variant="deep"):
    batches = _data(1)
    net, opt = _net(opt=opt_cls, lr=0.05)
    seen = []

    def loss(s, t, b):
        seen.append(copy.deepcopy(t.module))
        return _loss(2)(s, t, b)

    fst = FST(net, opt, loss, k=3, alpha=0.9, variant=variant,
              restore_optimizer_state=restore_optimizer_state)
    for b in batches[:3]:
        fst.step(b, future=batches[:3] if variant == "wide" and fst.t > 0 else None)
    ref = copy.deepcopy(net)
    ropt = opt_cls(ref.parameters(), 0.05)
    ropt.load_state_dict(copy.deepcopy(opt.state_dict()))
    fst.step(batches[3], future=batches[:3] if variant == "wide" else None)
    ropt.zero_grad(); _loss(2)(ref, seen[-1], batches[3]).backward(); ropt.step()
    return max(float((p - q).abs().max()) for p, q in zip(net.parameters(), ref.parameters()))


@pytest.mark.parametrize("variant", ["deep", "wide"])
def test_student_is_theta0_plus_one_real_update(variant):
    # a stateless optimizer: the official behaviour is exact
    assert _rollback_gap(torch.optim.SGD, False, variant) == 0.0
    # Adam: exact once its state is rolled back too; the official default is not
    assert _rollback_gap(torch.optim.Adam, True, variant) == 0.0
    assert _rollback_gap(torch.optim.Adam, False, variant) > 1e-5


def test_wide_k1_on_the_current_batch_equals_deep_k1():
    batches = _data(2)
    (n1, o1), (n2, o2) = _net(), _net()
    d = FST(n1, o1, _loss(3), k=1, alpha=0.9, warmup=False)
    w = FST(n2, o2, _loss(3), k=1, alpha=0.9, warmup=False, variant="wide")
    for b in batches:
        d.step(b)
        w.step(b, future=[b])
        assert _same(n1, n2)
    # FST-W's trailing update is FST-D's first update of the next step
    d.teacher.update_parameters(n1)
    assert _same(d.teacher, w.teacher)


def test_ema_teacher_without_warmup_is_averaged_model_ema():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ours = ema_teacher(net, alpha=0.9, warmup=False)
    peer = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    opt = torch.optim.SGD(net.parameters(), 0.1)
    for _ in range(10):
        opt.zero_grad(); net(torch.randn(16, 4)).pow(2).mean().backward(); opt.step()
        ours.update_parameters(net); peer.update_parameters(net)
    for p, q in zip(ours.parameters(), peer.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_restore_buffers_rolls_back_batchnorm():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 5, 1))
    opt = torch.optim.SGD(net.parameters(), 0.1)
    b = _data()[0]
    loss = _loss(0)
    for restore_buffers in (False, True):
        fst = FST(net, opt, loss, k=2, restore_buffers=restore_buffers)
        fst.step(b)
        before = [x.clone() for x in net.buffers()]
        calls = []
        fst.loss_fn = lambda s, t, bb: (calls.append([x.clone() for x in net.buffers()]),
                                        loss(s, t, bb))[1]
        fst.step(b)
        real = calls[-1]  # the buffers the real step started from
        rolled = all(torch.equal(x, y) for x, y in zip(before, real))
        assert rolled == restore_buffers


def test_class_mix_and_pseudo_labels():
    g = torch.Generator().manual_seed(0)
    ys = torch.randint(0, 5, (8, 10, 10), generator=g)
    yt = torch.randint(0, 5, (8, 10, 10), generator=g)
    xs, xt = torch.ones(8, 3, 10, 10), torch.zeros(8, 3, 10, 10)
    x, y, m = class_mix(xs, ys, xt, yt, generator=g)
    for i in range(8):
        chosen = ys[i][m[i]].unique()
        assert len(chosen) == (len(ys[i].unique()) + 1) // 2
        assert torch.equal(m[i], torch.isin(ys[i], chosen))  # whole classes are pasted
    assert torch.equal(x[:, 0] == 1, m) and torch.equal(y, torch.where(m, ys, yt))
    logits = torch.randn(2, 5, 4, 4, generator=g) * 5
    lab, w = pseudo_labels(logits, 0.9)
    assert torch.equal(lab, logits.argmax(1))
    assert float(w) == float((logits.softmax(1).amax(1) >= 0.9).float().mean())


@pytest.mark.parametrize("kw, exc, message", [
    (dict(k=-1), ValueError, "k must be >= 0"),
    (dict(k=1.5), TypeError, "k must be an integer"),
    (dict(alpha=-0.1), ValueError, "alpha must be >= 0"),
    (dict(alpha=1.2), ValueError, "alpha must be <= 1"),
    (dict(variant="wider"), ValueError, "variant must be one of"),
    (dict(restore_optimizer_state=1), TypeError, "restore_optimizer_state must be bool"),
])
def test_fst_bad_hyperparameters(kw, exc, message):
    net, opt = _net()
    with pytest.raises(exc, match=message):
        FST(net, opt, _loss(0), **kw)


def test_fst_bad_batches_and_masks():
    net, opt = _net()
    b = _data()[0]
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        FST(net, opt, "ce")
    with pytest.raises(TypeError, match="optimizer must be Optimizer"):
        FST(net, None, _loss(0))
    fst = FST(net, opt, _loss(0), k=2)
    with pytest.raises(ValueError, match="batch must not be empty"):
        fst.step((b[0][:0], b[1][:0], b[2][:0]))
    with pytest.raises(TypeError, match="batch must be a tensor or a tuple"):
        fst.step("images")
    with pytest.raises(ValueError, match="future is only used by variant='wide'"):
        fst.step(b, future=[b, b])
    with pytest.raises(ValueError, match="y_src must be"):
        fst.step((b[0], b[1][:, :5], b[2]))
    with pytest.raises(ValueError, match=r"y_src must hold class labels in \[0, 5\)"):
        fst.step((b[0], b[1] + 5, b[2]))
    w = FST(net, opt, _loss(0), k=2, variant="wide")
    w.step(b)
    with pytest.raises(ValueError, match="future must be a list of k=2"):
        w.step(b, future=[b])
    with pytest.raises(ValueError, match=r"future\[1\] must not be empty"):
        w.step(b, future=[b, (b[0][:0], b[1][:0], b[2][:0])])
    with pytest.raises(ValueError, match="x_tgt must have the shape of x_src"):
        class_mix(b[0], b[1], b[2][:2], b[1][:2])
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        mean_iou(b[1][:2], b[1], 5)


@pytest.mark.cuda
def test_fst_on_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    batches = _data()
    out = []
    for dev in ("cpu", "cuda"):
        net, opt = _net(opt=torch.optim.SGD, lr=0.05)
        net.to(dev)
        opt = torch.optim.SGD(net.parameters(), 0.05)
        fst = FST(net, opt, functools.partial(self_training_loss, mix=False), k=2)
        for b in batches:
            fst.step(tuple(t.to(dev) for t in b))
        out.append([p.detach().cpu() for p in net.parameters()])
    for p, q in zip(*out):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)
