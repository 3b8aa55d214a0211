"""gradnotes.noisy_seg: loss identities, empty masks, seeding, bad input (metrics: test_metrics.py)."""
import pytest
import torch

from gradnotes.noisy_seg import (corrupt_masks, dice_score, evaluate_segmenter, fit_segmenter, hd95,
                                 make_scans, noise_weighted_dice_loss, nr_dice_loss, predict_masks,
                                 reliability_weights, shape_model_masks, soft_dice_loss)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_identities(seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(3, 9, 7, generator=g, dtype=torch.float64)
    y = torch.rand(3, 9, 7, generator=g, dtype=torch.float64)  # soft labels too
    soft = soft_dice_loss(p, y, reduction="none")
    torch.testing.assert_close(nr_dice_loss(p, y, gamma=2.0, reduction="none"), soft, rtol=0, atol=1e-12)
    torch.testing.assert_close(noise_weighted_dice_loss(p, y, torch.ones_like(p), reduction="none"), soft,
                               rtol=0, atol=1e-12)
    # uniform weights cancel up to the smoothing term
    torch.testing.assert_close(noise_weighted_dice_loss(p, y, torch.full_like(p, 3.0), eps=1e-30), soft_dice_loss(p, y, eps=1e-30))
    # a hard-label closed form: soft Dice of binary p and y is 1 - Dice coefficient
    pb, yb = (p > 0.5).double(), (y > 0.5).double()
    torch.testing.assert_close(1 - soft_dice_loss(pb, yb, eps=1e-30, reduction="none"), dice_score(pb, yb))


def test_noise_weighted_dice_ignores_zero_weight_pixels():
    p = torch.rand(2, 6, 6, dtype=torch.float64)
    y = (torch.rand(2, 6, 6) > 0.5).double()
    w = torch.ones_like(p); w[:, :3] = 0
    y2 = y.clone(); y2[:, :3] = 1 - y2[:, :3]  # flip the labels where the weight is 0
    torch.testing.assert_close(noise_weighted_dice_loss(p, y, w), noise_weighted_dice_loss(p, y2, w))
    torch.testing.assert_close(noise_weighted_dice_loss(p, y, w),
                               soft_dice_loss(p[:, 3:].contiguous(), y[:, 3:].contiguous()))


def test_gradients_finite_on_empty_masks():
    z = torch.zeros(2, 8, 8, dtype=torch.float64)
    for p0 in (torch.zeros_like(z), torch.rand_like(z)):
        for loss in (lambda p: soft_dice_loss(p, z), lambda p: nr_dice_loss(p, z, gamma=1.0),
                     lambda p: nr_dice_loss(p, z), lambda p: noise_weighted_dice_loss(p, z, reliability_weights(p, z)),
                     lambda p: noise_weighted_dice_loss(p, z, torch.zeros_like(p))):
            p = p0.clone().requires_grad_()
            val = loss(p)
            val.backward()
            assert torch.isfinite(val) and torch.isfinite(p.grad).all()


def test_gradcheck_losses():
    p = torch.rand(2, 5, 5, dtype=torch.float64).clamp(0.05, 0.95).requires_grad_()
    y = (torch.rand(2, 5, 5) > 0.5).double()
    w = torch.rand(2, 5, 5, dtype=torch.float64)
    torch.autograd.gradcheck(lambda p: soft_dice_loss(p, y), (p,))
    torch.autograd.gradcheck(lambda p: nr_dice_loss(p, y, gamma=1.5), (p,))
    torch.autograd.gradcheck(lambda p: noise_weighted_dice_loss(p, y, w), (p,))


def test_world_is_seeded_and_corruption_rate_is_honoured():
    a, b = make_scans(5, 16, seed=4), make_scans(5, 16, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert torch.isfinite(a.images).all()
    t = shape_model_masks(200, 32, seed=0)
    assert torch.equal(corrupt_masks(t, 0.0), t)
    changed = (corrupt_masks(t, 0.5, seed=1) != t).flatten(1).any(1).float().mean().item()
    assert 0.35 < changed < 0.6  # some corruptions of tiny masks change nothing


def test_training_is_seeded_and_refines():
    s = make_scans(16, 16, seed=0)
    y = corrupt_masks(s.masks, 0.5, seed=0)
    a = fit_segmenter(s.images, y, "nw_dice", epochs=2, rounds=2, batch_size=8, warmup=1, seed=3)
    b = fit_segmenter(s.images, y, "nw_dice", epochs=2, rounds=2, batch_size=8, warmup=1, seed=3)
    assert torch.equal(predict_masks(a, s.images), predict_masks(b, s.images))
    r = evaluate_segmenter(a, s.images, s.masks)
    assert set(r) == {"dice", "hd95", "empty"} and 0 <= r["dice"] <= 1


def test_bad_input():
    s = make_scans(4, 16, seed=0)
    with pytest.raises(ValueError, match="rate must be <= 1"):
        corrupt_masks(s.masks, 1.1)
    with pytest.raises(ValueError, match="rate must be >= 0"):
        corrupt_masks(s.masks, -0.1)
    with pytest.raises(ValueError, match="masks must hold binary"):
        corrupt_masks(s.masks * 0.5, 0.3)
    with pytest.raises(ValueError, match="labels must have shape"):
        fit_segmenter(s.images, s.masks[:3])
    with pytest.raises(ValueError, match="labels must have shape"):
        fit_segmenter(s.images, s.masks[:, :8])
    with pytest.raises(ValueError, match="labels must hold binary"):
        fit_segmenter(s.images, s.masks + 1)
    bad = s.images.clone(); bad[1, 0, 2, 2] = float("inf")
    with pytest.raises(ValueError, match="images contains NaN or infinite"):
        fit_segmenter(bad, s.masks)
    with pytest.raises(ValueError, match="loss must be one of"):
        fit_segmenter(s.images, s.masks, loss="focal")
    with pytest.raises(ValueError, match="target must have shape"):
        dice_score(s.masks, s.masks[:, :8])
    with pytest.raises(ValueError, match="target must have shape"):
        soft_dice_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 5))
    with pytest.raises(ValueError, match="prob must hold values in"):
        soft_dice_loss(torch.rand(2, 4, 4) + 1, torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="weight must be >= 0"):
        noise_weighted_dice_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 4), -torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match="gamma must be"):
        nr_dice_loss(torch.rand(2, 4, 4), torch.rand(2, 4, 4), gamma=0.5)


# --- stage 1: the image <-> mask CycleGAN ---------------------------------------------------

from gradnotes.noisy_seg import MaskCycleGAN, MaskVAE, fit_mask_cyclegan, patch_discriminator, translate_masks  # noqa: E402


def test_vae_energy_is_the_negative_elbo_per_pixel():
    "Energy with the posterior mean against the ELBO written with torch.distributions."
    torch.manual_seed(0)
    vae = MaskVAE(16, width=2, latent=3, kl=0.7).double()
    m = shape_model_masks(4, 16, seed=1)[:, None].double()
    mu, logvar = vae.encode(m)
    q, prior = torch.distributions.Normal(mu, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    rec = -torch.distributions.Bernoulli(logits=vae.dec(mu)).log_prob(m).flatten(1).mean(1)
    kl = torch.distributions.kl_divergence(q, prior).sum(1) / 256
    torch.testing.assert_close(vae.energy(m, sample=False), rec + 0.7 * kl)
    assert (vae.energy(m) >= 0).all()


def test_calibration_starts_as_the_identity_and_then_acts():
    torch.manual_seed(0)
    net = MaskCycleGAN("vae", calibrate=True, size=16, width=4, depth=1).eval()
    x = make_scans(3, 16, seed=0).images
    with torch.no_grad():
        torch.testing.assert_close(net.segment(x), torch.sigmoid(net.G(x)))  # gains c = 1
        net.gate.bias.fill_(-2.0)  # every gain 2 sigmoid(-2) < 1: a different output
        assert not torch.allclose(net.segment(x), torch.sigmoid(net.G(x)))
        assert net._gain is None  # the gains never leak into a plain call of G


def test_generator_step_leaves_discriminators_alone():
    "One step with lr > 0 moves G, F and the gate; the discriminators move only by their own loss."
    s, aux = make_scans(4, 16, seed=0), shape_model_masks(4, 16, seed=1)
    a = fit_mask_cyclegan(s.images, aux, steps=1, batch_size=2, width=2, depth=1, seed=5)
    b = fit_mask_cyclegan(s.images, aux, steps=1, batch_size=2, width=2, depth=1, seed=5, cycle=0.0)
    # the discriminators' step does not depend on the generators' loss weights
    for pa, pb in zip(a.D_mask.parameters(), b.D_mask.parameters()):
        torch.testing.assert_close(pa, pb)
    assert any(not torch.equal(pa, pb) for pa, pb in zip(a.G.parameters(), b.G.parameters()))


@pytest.mark.parametrize("disc,calibrate", [("vae", True), ("vae", False), ("cnn", False)])
def test_stage1_is_seeded_and_gives_binary_masks(disc, calibrate):
    s, aux = make_scans(6, 16, seed=0), shape_model_masks(6, 16, seed=1)
    kw = dict(disc=disc, calibrate=calibrate, steps=2, batch_size=3, width=2, depth=1, seed=2)
    a, b = fit_mask_cyclegan(s.images, aux, **kw), fit_mask_cyclegan(s.images, aux, **kw)
    pa = translate_masks(a, s.images)
    assert torch.equal(pa, translate_masks(b, s.images)) and pa.shape == s.masks.shape
    assert set(pa.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(pa, translate_masks(a, s.images.half()))  # float16 scans: same masks
    assert patch_discriminator(2)(s.images).shape == (6, 1, 4, 4)


def test_stage1_bad_input():
    s, aux = make_scans(4, 16, seed=0), shape_model_masks(4, 16, seed=1)
    with pytest.raises(ValueError, match="masks must hold binary"):
        fit_mask_cyclegan(s.images, aux * 0.5, steps=1, batch_size=2)
    with pytest.raises(ValueError, match=r"masks must be \(m, 16, 16\)"):
        fit_mask_cyclegan(s.images, aux[:, :8, :8], steps=1, batch_size=2)
    with pytest.raises(ValueError, match="images must be"):
        fit_mask_cyclegan(s.images[:, :, :8], aux, steps=1, batch_size=2)
    with pytest.raises(ValueError, match="disc must be one of"):
        fit_mask_cyclegan(s.images, aux, disc="patch", steps=1, batch_size=2)
    with pytest.raises(ValueError, match="calibrate=True needs"):
        fit_mask_cyclegan(s.images, aux, disc="cnn", steps=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be <= 4"):
        fit_mask_cyclegan(s.images, aux, steps=1, batch_size=5)
    with pytest.raises(ValueError, match="size must be divisible by 8"):
        MaskVAE(20)
    with pytest.raises(ValueError, match="m must hold values in"):
        MaskVAE(16).energy(aux[:, None] * 2)
    with pytest.raises(TypeError, match="net must be MaskCycleGAN"):
        translate_masks(torch.nn.Identity(), s.images)


def test_channels_last_training_agrees_with_the_default_layout():
    "Same seed, same batches: the two layouts differ only by the convolutions' rounding."
    s = make_scans(16, 16, seed=0)
    y = corrupt_masks(s.masks, 0.3, seed=0)
    kw = dict(loss="nw_dice", epochs=1, batch_size=8, warmup=0, seed=3)
    a = fit_segmenter(s.images, y, **kw)
    b = fit_segmenter(s.images, y, channels_last=True, **kw)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(v.is_contiguous() for v in sb.values())  # returned in the default layout
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=1e-4, atol=1e-4)
    assert (predict_masks(a, s.images) != predict_masks(b, s.images)).float().mean() < 0.01
    assert s.images.is_contiguous()  # the caller's images are not touched
    with pytest.raises(TypeError, match="channels_last"):
        fit_segmenter(s.images, y, channels_last="yes")
