"""Contracts of gradnotes.training: determinism, divergence handling, devices."""
import math

import pytest
import torch

from gradnotes.data import wine
from gradnotes.diffgrad import DiffGrad
from gradnotes.training import MLP, compare_optimizers, fit_classifier


def _fit(device=None, lr=1e-2, **kw):
    return fit_classifier(lambda: MLP([13, 16, 3]), lambda p: DiffGrad(p, lr=lr), wine(), epochs=4, batch_size=32,
                          device=device, **kw)[1]


def test_same_seed_same_run_other_seed_other_run():
    a, b, c = _fit(seed=1), _fit(seed=1), _fit(seed=2)
    assert a.train_loss == b.train_loss and a.train_loss != c.train_loss


def test_divergence_is_reported_not_raised():
    # a NaN learning rate turns every parameter into NaN at the first step: a divergence that always happens
    h = fit_classifier(lambda: MLP([13, 16, 3]), lambda p: torch.optim.SGD(p, lr=float("nan")), wine(), epochs=3)[1]
    assert h.diverged and math.isnan(h.test_acc)


def test_tuning_never_picks_a_diverged_rate():
    # the factory turns the largest rate into a NaN step, a run that always diverges
    nan_at_10 = lambda p, lr: torch.optim.SGD(p, lr=float("nan") if lr == 10.0 else lr)
    cmp = compare_optimizers(lambda: MLP([13, 16, 3]), {"SGD": (nan_at_10, [0.01, 0.1, 10.0])}, wine(), epochs=2, seeds=[0])
    assert cmp.tuning["SGD"][10.0].diverged
    assert cmp.best_lr["SGD"] in (0.01, 0.1)
    row = cmp.summary()[0]
    assert row["lr_at_grid_edge"] == (cmp.best_lr["SGD"] == 0.01) and row["diverged"] == 0


def test_diverged_seeds_are_counted_and_left_out():
    sgd = {"SGD": (lambda p, lr: torch.optim.SGD(p, lr), [0.1])}
    cmp = compare_optimizers(lambda: MLP([13, 16, 3]), sgd, wine(), epochs=2, seeds=[0, 1])
    cmp.runs["SGD"][1].diverged, cmp.runs["SGD"][1].test_acc = True, float("nan")  # as a diverged run reports itself
    row = cmp.summary()[0]
    assert row["diverged"] == 1 and row["test_acc"] == cmp.runs["SGD"][0].test_acc
    assert "1 diverged, left out" in cmp.table()


@pytest.mark.cuda
def test_training_runs_on_cuda():
    h_gpu = _fit(device="cuda")
    h_cpu = _fit()
    assert not h_gpu.diverged
    # same seed, same data order; float32 kernels differ slightly between devices
    assert abs(h_gpu.train_loss[-1] - h_cpu.train_loss[-1]) < 1e-3


def test_evaluation_helpers_check_their_inputs():
    from gradnotes.training import accuracy, rmse
    net = torch.nn.Linear(3, 2)
    X, y = torch.randn(6, 3), torch.arange(6) % 2
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 2\)"):
        accuracy(net, X, y + 1)
    with pytest.raises(ValueError, match="same number of examples"): accuracy(net, X, y[:4])
    with pytest.raises(ValueError, match="X contains NaN"): accuracy(net, X * float("nan"), y)
    with pytest.raises(ValueError, match="batch_size"): accuracy(net, X, y, batch_size=0)
    with pytest.raises(TypeError, match="y must have a floating dtype"):
        rmse(torch.nn.Linear(3, 1), X, y)


def test_unet_shapes_gradients_and_bad_input():
    from gradnotes.training import UNet
    torch.manual_seed(0)
    net = UNet(2, 3, width=4, depth=3)
    x = torch.randn(2, 2, 16, 24, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 3, 16, 24)
    y.square().mean().backward()
    assert x.grad.isfinite().all() and all(p.grad.isfinite().all() for p in net.parameters())
    # channels-last input gives the same logits as the default layout
    net.eval()
    a = net(x.detach())
    b = net(x.detach().to(memory_format=torch.channels_last))
    assert torch.allclose(a, b, atol=1e-5)
    assert UNet(1, 1, width=2, depth=0)(torch.randn(1, 1, 5, 7)).shape == (1, 1, 5, 7)
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.randn(1, 2, 12, 16))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2, H, W\)"):
        net(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match="width"):
        UNet(width=0)


def test_ema_teacher_resumes_from_its_state_dict():
    "The warm-up count lives in the teacher's state: a resumed teacher continues identically."
    from gradnotes.training import MLP, ema_teacher
    torch.manual_seed(0)
    student = MLP([3, 5, 2])
    a, b = ema_teacher(student, alpha=0.99), ema_teacher(student, alpha=0.99)
    for t in range(6):
        with torch.no_grad():
            for p in student.parameters(): p.mul_(0.9).add_(0.1)
        a.update_parameters(student)
        if t == 2: b.load_state_dict(a.state_dict())
        if t > 2: b.update_parameters(student)
    for p, q in zip(a.parameters(), b.parameters()): assert torch.equal(p, q)
