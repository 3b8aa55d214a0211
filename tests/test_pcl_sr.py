"""PCL-SR: the Haar front end against PyWavelets, sharpness against PIL, the losses against the
official formulas, the gradient of the contrastive term (ours) against its absence (the official
no_grad), luma PSNR/SSIM against scikit-image, and bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradnotes.pcl_sr import (EDSR, ContrastiveSamples, PatchDiscriminator, SRPair,
                              bicubic_down, bicubic_up, contrastive_samples,
                              dual_contrastive_loss, gaussian_blur, haar_dwt, haar_high,
                              haar_idwt, pcl_infonce, psnr_y, random_patches, rgb_to_y, sharpen,
                              sr_image, sr_pairs, ssim_y, train_sr)


def _gen(seed=0): return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    hr = torch.rand(3, 3, 32, 32, generator=_gen())
    lr = bicubic_down(hr)
    s = contrastive_samples(hr, lr, n_aug=2, generator=_gen(1))
    return hr, lr, s


@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (2, 3, 8, 6), (1, 2, 16, 10)])
def test_haar_matches_pywt(shape):
    pywt = pytest.importorskip("pywt")
    x = torch.randn(*shape, dtype=torch.float64, generator=_gen())
    cA, (cH, cV, cD) = pywt.dwt2(x.numpy(), "haar", axes=(-2, -1))
    for ours, ref in zip(haar_dwt(x), (cA, cH, cV, cD)):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(haar_high(x).numpy(), np.concatenate([cH, cV, cD], 1),
                               atol=1e-12)


def test_haar_inverse_matches_pywt():
    pywt = pytest.importorskip("pywt")
    bands = [torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=_gen(k)) for k in range(4)]
    ref = pywt.idwt2((bands[0].numpy(), tuple(b.numpy() for b in bands[1:])), "haar",
                     axes=(-2, -1))
    np.testing.assert_allclose(haar_idwt(*bands).numpy(), ref, atol=1e-12)


def test_haar_orthogonal_and_perfect_reconstruction():
    E = torch.eye(36, dtype=torch.float64).reshape(36, 1, 6, 6)
    M = torch.cat([b.reshape(36, -1) for b in haar_dwt(E)], 1)
    torch.testing.assert_close(M @ M.T, torch.eye(36, dtype=torch.float64))
    x = torch.rand(2, 3, 10, 14, generator=_gen())  # float32 too
    torch.testing.assert_close(haar_idwt(*haar_dwt(x)), x, atol=1e-6, rtol=0)
    assert haar_dwt(x)[0].dtype == torch.float32


def test_sharpen_matches_pil():
    Image = pytest.importorskip("PIL.Image")
    ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
    img = (sr_image("coffee")[:, :64, :80] * 255).round().to(torch.uint8)
    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    for f in (0.5, 1.0, 2.0, 3.0):
        ref = np.asarray(ImageEnhance.Sharpness(pil).enhance(f)).astype(np.float64)
        ours = sharpen(img[None].double() / 255, f)[0].permute(1, 2, 0).numpy() * 255
        assert np.abs(ours - ref).max() <= 1.0  # PIL rounds to 8 bits


def test_blur_keeps_constants_and_is_per_image():
    x = torch.full((2, 3, 20, 20), 0.3)
    torch.testing.assert_close(gaussian_blur(x, torch.tensor([[1.0, 2.0], [0.5, 0.5]])), x)
    img = torch.rand(1, 3, 40, 40, generator=_gen()).repeat(2, 1, 1, 1)
    out = gaussian_blur(img, torch.tensor([[0.1, 0.1], [2.0, 2.0]]), (11, 11))
    torch.testing.assert_close(out[0], img[0], atol=1e-6, rtol=0)  # sigma 0.1: identity
    assert (out[1] - img[1]).abs().mean() > 0.1  # noise is smoothed away


def test_samples_are_sharper_and_blurrier(batch):
    hr, lr, s = batch
    hf = lambda z: haar_high(z).abs().mean().item()
    assert len(s.positives) == len(s.negatives) == 3
    torch.testing.assert_close(s.positives[0], hr)
    torch.testing.assert_close(s.negatives[0], bicubic_up(lr, (32, 32)))
    assert all(hf(n) < hf(hr) for n in s.negatives)


def _official_nce(D, sr, s, layer=4, tau=1.0):
    f = lambda z: F.normalize(D(z, True)[1][layer], dim=1)
    sim = lambda a, b: (a * b).sum(1).mean((-2, -1))[:, None]
    q, zero = f(sr), torch.zeros(len(sr), dtype=torch.long)
    negs = [sim(q, f(n)) for n in s.negatives]
    return sum(F.cross_entropy(torch.cat([sim(q, f(p))] + negs, 1) / tau, zero)
               for p in s.positives) / len(s.positives)


@pytest.mark.parametrize("wavelet", [True, False])
def test_infonce_matches_official_formula(batch, wavelet):
    hr, lr, s = batch
    torch.manual_seed(0)
    D = PatchDiscriminator(width=8, wavelet=wavelet)
    sr = bicubic_up(lr, (32, 32))
    for tau in (1.0, 0.5):  # the official code uses 1
        torch.testing.assert_close(pcl_infonce(D, sr, s, temperature=tau),
                                   _official_nce(D, sr, s, tau=tau), atol=1e-5, rtol=1e-5)


def test_dual_contrastive_loss_formula():
    r, f = torch.randn(6, generator=_gen()), torch.randn(5, generator=_gen(1))
    ref = (torch.stack([torch.logsumexp(torch.cat([r[i:i + 1], f]), 0) - r[i]
                        for i in range(6)]).mean()
           + torch.stack([torch.logsumexp(torch.cat([-f[j:j + 1], -r]), 0) + f[j]
                          for j in range(5)]).mean())
    torch.testing.assert_close(dual_contrastive_loss(r.reshape(2, 3), f), ref)


def test_gradient_nonzero_ours_and_absent_official(batch):
    hr, lr, s = batch
    torch.manual_seed(0)
    D = PatchDiscriminator(width=8)
    sr = bicubic_up(lr, (32, 32)).requires_grad_()
    g, = torch.autograd.grad(pcl_infonce(D, sr, s), sr)
    assert g.norm() > 1e-3
    official = pcl_infonce(D, sr, s, detach_sr=True)
    assert not official.requires_grad  # no path from the term to the SR output
    # the generator's gradient under the official option is L1's, exactly
    torch.manual_seed(1)
    net = EDSR(n_resblocks=1, n_feats=8)
    grads = []
    for cl in (None, "official", "ours"):
        net.zero_grad()
        out = net(lr)
        loss = F.l1_loss(out, hr)
        if cl is not None:
            loss = loss + 5 * pcl_infonce(D, out, s, detach_sr=cl == "official")
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.equal(grads[0], grads[1])
    assert not torch.allclose(grads[0], grads[2])
    assert all(p.grad is None for p in D.parameters())


def test_official_option_trains_like_l1():
    pairs = sr_pairs(["camera"], crop=64)
    def weights(**kw):
        torch.manual_seed(0)
        net = EDSR(n_resblocks=1, n_feats=8)
        train_sr(net, pairs, 2, batch_size=2, patch_size=32, d_width=8, seed=5, **kw)
        return torch.cat([p.detach().flatten() for p in net.parameters()])
    assert torch.equal(weights(loss="l1"), weights(loss="pcl", detach_sr=True))
    assert torch.equal(weights(loss="pcl"), weights(loss="pcl"))  # seeded
    assert not torch.equal(weights(loss="l1"), weights(loss="pcl"))


def test_luma_psnr_ssim_match_skimage():
    color = pytest.importorskip("skimage.color")
    metrics = pytest.importorskip("skimage.metrics")
    hr = sr_image("chelsea")[None, :, :90, :120]
    noise = 0.03 * torch.randn(hr.shape, generator=_gen())
    sr = (hr + noise).clamp(0, 1)
    y = lambda t: color.rgb2ycbcr(t[0].permute(1, 2, 0).double().numpy())[..., 0] / 255
    ys, yh = y(torch.round(sr * 255) / 255)[2:-2, 2:-2], y(hr)[2:-2, 2:-2]
    np.testing.assert_allclose(rgb_to_y(hr)[0].numpy(), y(hr), atol=1e-5)
    np.testing.assert_allclose(psnr_y(sr, hr).item(),
                               metrics.peak_signal_noise_ratio(yh, ys, data_range=1),
                               atol=1e-3)
    np.testing.assert_allclose(
        ssim_y(sr, hr).item(),
        metrics.structural_similarity(yh, ys, data_range=1, gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False), atol=1e-5)
    assert psnr_y(hr, hr).isinf().all() and torch.allclose(ssim_y(hr, hr), torch.ones(1))


def test_edsr_shapes_and_patches():
    pairs = sr_pairs(["camera", "china"], crop=64)
    x, y = random_patches(pairs, 3, 32, _gen())
    assert x.shape == (3, 3, 16, 16) and y.shape == (3, 3, 32, 32)
    assert EDSR(n_resblocks=1, n_feats=4)(x).shape == y.shape
    assert sr_image("camera").shape[0] == 3  # grayscale repeated on 3 channels


# bad input ------------------------------------------------------------------------------------

def test_image_smaller_than_patch():
    pairs = sr_pairs(["camera"], crop=32)
    with pytest.raises(ValueError, match="smaller than patch_size 48"):
        random_patches(pairs, 2, 48)
    with pytest.raises(ValueError, match="crop 2000 is larger"):
        sr_pairs(["camera"], crop=2000)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_images(bad, batch):
    hr, lr, s = batch
    x = hr.clone(); x[0, 0, 0, 0] = bad
    for fn in (haar_dwt, bicubic_down, lambda z: sharpen(z, 2.0)):
        with pytest.raises(ValueError, match="NaN or infinite"):
            fn(x)
    with pytest.raises(ValueError, match="hr contains NaN"):
        contrastive_samples(x, lr)
    with pytest.raises(ValueError, match="sr contains NaN"):
        pcl_infonce(PatchDiscriminator(width=4), x, s)
    with pytest.raises(ValueError, match="sr contains NaN"):
        psnr_y(x, hr)


@pytest.mark.parametrize("tau", [0.0, -1.0])
def test_temperature_must_be_positive(tau, batch):
    hr, lr, s = batch
    with pytest.raises(ValueError, match="temperature must be > 0"):
        pcl_infonce(PatchDiscriminator(width=4), hr, s, temperature=tau)


@pytest.mark.parametrize("scale", [3, 4, 1])
def test_scale_must_be_two(scale):
    with pytest.raises(ValueError, match="scale must be 2"):
        EDSR(scale=scale)
    with pytest.raises(ValueError, match="scale must be 2"):
        bicubic_down(torch.rand(1, 3, 8, 8), scale)
    with pytest.raises(ValueError, match="scale must be 2"):
        psnr_y(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), scale)


def test_other_bad_input(batch):
    hr, lr, s = batch
    with pytest.raises(ValueError, match="even height and width"):
        haar_dwt(torch.rand(1, 3, 5, 4))
    with pytest.raises(ValueError, match="x must have 4 dimension"):
        haar_dwt(torch.rand(3, 4, 4))
    with pytest.raises(TypeError, match="x must have a floating"):
        haar_dwt(torch.ones(1, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="samples must have sr's shape"):
        pcl_infonce(PatchDiscriminator(width=4), hr[:, :, :16, :16], s)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gaussian_blur(hr, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="factor must have one entry per image"):
        sharpen(hr, torch.ones(2))
    with pytest.raises(ValueError, match="loss must be one of"):
        train_sr(EDSR(1, 4), sr_pairs(["camera"], crop=64), 1, loss="l2")
    with pytest.raises(ValueError, match="sr must have hr's shape"):
        psnr_y(hr, hr[:, :, :30])
    with pytest.raises(ValueError, match="patch_size must be even"):
        random_patches(sr_pairs(["camera"], crop=64), 1, 33)
    with pytest.raises(ValueError, match="pairs must not be empty"):
        random_patches([], 1, 32)
