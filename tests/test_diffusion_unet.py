"""The class-conditional U-Net: shapes, the null class, classifier-free guidance through one
batched call, training with label dropout, a deterministic sampler, bad input, and CUDA."""
import pytest
import torch

from gradnotes.diffusion import (CondUNet, classifier_free_guidance, guided_model,
                                 make_schedule, train_denoiser)
from gradnotes.pndm import sample


def _net(**kw):
    torch.manual_seed(0)
    return CondUNet(3, **{"channels": (8, 16), "emb_dim": 16, **kw})


X = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
T = torch.tensor([0, 5, 100, 500, 900, 999])


@pytest.mark.parametrize("kw, shape", [
    (dict(), (6, 1, 8, 8)),
    (dict(in_channels=3), (6, 3, 8, 8)),
    (dict(channels=(8, 8, 16)), (6, 1, 8, 8)),
    (dict(channels=(8,)), (6, 1, 5, 7)),  # one level: any size
])
def test_shapes(kw, shape):
    net = _net(**kw)
    x = torch.randn(shape)
    assert net(x, T, torch.tensor([0, 1, 2, -1, 0, 1])).shape == shape
    assert net(x, T).shape == shape


def test_null_class_and_label_broadcast():
    net = _net()
    torch.testing.assert_close(net(X, T), net(X, T, torch.full((6,), -1)), rtol=0, atol=0)
    torch.testing.assert_close(net(X, T, 2), net(X, T, torch.full((6,), 2)), rtol=0, atol=0)
    # the label matters (embeddings differ)
    assert not torch.allclose(net(X, T, 0), net(X, T, 1))


@pytest.mark.parametrize("scale", [0.0, 1.0, 4.0])
def test_guidance_one_batched_call(scale):
    net, y = _net(), torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        got = guided_model(net, y, scale)(X, T)
        want = classifier_free_guidance(net(X, T), net(X, T, y), scale)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        if scale == 1.0:  # guidance at scale 1 is the conditional prediction
            torch.testing.assert_close(got, net(X, T, y), rtol=1e-5, atol=1e-5)


def test_trains_with_label_dropout_and_samples_with_ddim():
    sched = make_schedule("linear", T=100)
    Xd = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    y = torch.arange(32) % 3
    net = _net()
    losses = train_denoiser(net, Xd, sched, steps=5, batch_size=8, y=y, p_uncond=0.5)
    assert len(losses) == 5 and all(l == l for l in losses)
    out = sample(guided_model(net, 1, 2.0), torch.randn(4, 1, 8, 8), sched, num_steps=5,
                 method="ddim")
    assert out.shape == (4, 1, 8, 8) and torch.isfinite(out).all()


def test_label_dropout_zero_never_sees_the_null_class():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, y):
            seen.append(y.clone())
            return x * self.w

    sched = make_schedule("linear", T=10)
    Xd, y = torch.randn(16, 2), torch.arange(16) % 4
    train_denoiser(Spy(), Xd, sched, steps=3, batch_size=8, y=y, p_uncond=0.0)
    assert all(bool((s >= 0).all()) for s in seen)
    seen.clear()
    train_denoiser(Spy(), Xd, sched, steps=3, batch_size=8, y=y, p_uncond=1.0)
    assert all(bool((s == -1).all()) for s in seen)


@pytest.mark.parametrize("call, exc, message", [
    (lambda n: n(X[0], T), ValueError, "x must have 4 dimension"),
    (lambda n: n(X.long(), T), TypeError, "x must have a floating dtype"),
    (lambda n: n(X * float("nan"), T), ValueError, "x contains NaN"),
    (lambda n: n(X[:, :, :7], T), ValueError, "multiples of 2"),
    (lambda n: n(X.repeat(1, 2, 1, 1), T), ValueError, "x must have 1 channel"),
    (lambda n: n(X, T[:3]), ValueError, "t must have shape"),
    (lambda n: n(X, T, 3), ValueError, r"y must lie in \[0, 2\]"),
    (lambda n: n(X, T, -2), ValueError, "or be -1"),
    (lambda n: n(X, T, torch.tensor([0, 1])), ValueError, "one per sample"),
    (lambda n: n(X, T, torch.tensor(1.0)), TypeError, "y must have an integer dtype"),
])
def test_forward_refuses_bad_input(call, exc, message):
    with pytest.raises(exc, match=message):
        call(_net())


@pytest.mark.parametrize("kw, exc, message", [
    (dict(n_classes=0), ValueError, "n_classes must be >= 1"),
    (dict(n_classes=2.5), TypeError, "n_classes must be an integer"),
    (dict(n_classes=2, channels=()), TypeError, "channels must be a non-empty"),
    (dict(n_classes=2, channels=(8, 0)), ValueError, r"channels\[1\] must be >= 1"),
    (dict(n_classes=2, emb_dim=7), ValueError, "emb_dim must be even"),
    (dict(n_classes=2, in_channels=0), ValueError, "in_channels must be >= 1"),
])
def test_constructor_refuses(kw, exc, message):
    with pytest.raises(exc, match=message):
        CondUNet(**kw)


@pytest.mark.parametrize("kw, exc, message", [
    (dict(y=torch.arange(8) % 2 - 1), ValueError, "y must hold labels >= 0"),
    (dict(y=torch.zeros(7, dtype=torch.long)), ValueError, "y must have shape"),
    (dict(y=torch.zeros(8)), TypeError, "y must have an integer dtype"),
    (dict(y=torch.zeros(8, dtype=torch.long), p_uncond=1.5), ValueError, "p_uncond must be <= 1"),
])
def test_train_denoiser_refuses_bad_labels(kw, exc, message):
    with pytest.raises(exc, match=message):
        train_denoiser(_net(), torch.randn(8, 1, 8, 8), make_schedule(T=10), steps=1,
                       batch_size=4, **kw)


def test_guided_model_refuses():
    with pytest.raises(ValueError, match="scale must be >= 0"):
        guided_model(_net(), 0, -1.0)
    with pytest.raises(TypeError, match="y must be a label"):
        guided_model(_net(), None, 1.0)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    net, y = _net(), torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        cpu = guided_model(net, y, 3.0)(X, T)
        net_c = net.to("cuda")
        gpu = guided_model(net_c, y.cuda(), 3.0)(X.cuda(), T.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4)
    sched = make_schedule("linear", T=50)
    losses = train_denoiser(net_c, X.cuda(), sched, steps=3, batch_size=4, y=y.cuda())
    assert len(losses) == 3 and all(l == l for l in losses)
