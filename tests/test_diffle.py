"""DiffLLE: the exact Gaussian patch prior's noise prediction against autograd's score, the
calibration's DDIM walk against diffusers' DDIMScheduler, t0 = 0 as the identity, the Zero-DCE
losses at their ideal inputs, and bad input."""
import math

import pytest
import torch

from gradnotes.diffle import (CurveNet, GaussianPatchPrior, calibrate, color_constancy_loss,
                              darken, exposure_loss, fit_patch_prior, from_patches,
                              illumination_smoothness_loss, image_crops,
                              spatial_consistency_loss, to_patches, train_enhancer,
                              zero_dce_loss)
from gradnotes.core import torch_threads
from gradnotes.diffusion import make_schedule

DT = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny convolutions: one thread, no contention on a shared machine
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def clean():
    return image_crops(("astronaut", "coffee"), n=4, size=16, res=64).to(DT)


@pytest.fixture(scope="module")
def prior(clean):
    return fit_patch_prior(clean)


@pytest.mark.parametrize("a", [0.999, 0.5, 0.02])
def test_eps_is_scaled_score(prior, a):
    z = torch.randn(6, 192, dtype=DT, generator=torch.Generator().manual_seed(1))
    z.requires_grad_(True)
    score, = torch.autograd.grad(prior.log_prob(z, a).sum(), z)
    torch.testing.assert_close(prior.eps(z.detach(), a), -math.sqrt(1 - a) * score,
                               rtol=1e-7, atol=1e-8)


def test_eps_closed_form_dense(prior):
    z = torch.randn(3, 192, dtype=DT, generator=torch.Generator().manual_seed(2))
    a = 0.4
    C = a * prior.cov + (1 - a) * torch.eye(192, dtype=DT)
    want = math.sqrt(1 - a) * torch.linalg.solve(C, (z - math.sqrt(a) * prior.mean).T).T
    torch.testing.assert_close(prior.eps(z, a), want)


def test_t0_zero_is_identity(clean, prior):
    x = darken(clean, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(calibrate(x, prior, t0=0), x, rtol=0, atol=0)


def test_ddim_walk_matches_diffusers(clean, prior):
    diffusers = pytest.importorskip("diffusers")
    x, t0 = clean[:2], 20
    out = calibrate(x, prior, t0=t0, steps=t0, generator=torch.Generator().manual_seed(3))
    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                    clip_sample=False, set_alpha_to_one=True)
    sched.set_timesteps(1000)
    ours = make_schedule()
    z = 2 * x - 1
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(3), dtype=z.dtype)
    ab = ours.alpha_bar(t0 - 1).item()
    zt = math.sqrt(ab) * z + math.sqrt(1 - ab) * noise
    for t in range(t0 - 1, -1, -1):
        a = ours.alpha_bar(t).item()
        eps = from_patches(prior.eps(to_patches(zt), a), zt.shape)
        zt = sched.step(eps, t, zt, eta=0.0).prev_sample
    torch.testing.assert_close(out, ((zt + 1) / 2).clamp(0, 1), rtol=1e-4, atol=1e-4)


def test_losses_zero_at_ideal(clean):
    x = clean
    assert spatial_consistency_loss(x, x).item() == 0
    assert exposure_loss(torch.full_like(x, 0.6)).item() < 1e-12
    assert color_constancy_loss(x.mean(1, keepdim=True).expand_as(x)).item() < 1e-20
    assert illumination_smoothness_loss(torch.ones(2, 6, 8, 8)).item() == 0


def test_losses_positive_off_ideal(clean):
    x = clean
    assert spatial_consistency_loss(0.2 * x, x).item() > 0
    assert exposure_loss(torch.full_like(x, 0.2)).item() == pytest.approx(0.4)
    assert color_constancy_loss(x * torch.tensor([1.0, 0.5, 0.2], dtype=DT)[:, None, None]) > 0
    assert illumination_smoothness_loss(torch.randn(1, 3, 8, 8)).item() > 0


def test_curves_stay_in_unit_interval(clean):
    y = CurveNet().double()(clean)
    assert 0 <= y.min() and y.max() <= 1


def test_training_brightens():
    train = image_crops(("astronaut",), n=8, size=32, res=64)
    net = train_enhancer(train, steps=30, batch=4)
    low = darken(train, photons=None, read=0.0)
    with torch.no_grad():
        assert net(low).mean() > 1.5 * low.mean()


def test_bad_input(clean, prior):
    x = darken(clean, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="t0 must be"):
        calibrate(x, prior, t0=1001)
    with pytest.raises(ValueError, match="t0 must be"):
        calibrate(x, prior, t0=-1)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        calibrate(x + 1, prior)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        darken(clean - 0.5)
    with pytest.raises(ValueError, match="x contains NaN"):
        calibrate(x + float("nan"), prior)
    with pytest.raises(ValueError, match="images contains NaN"):
        fit_patch_prior(clean * float("inf"))
    with pytest.raises(ValueError, match="guidance must be"):
        calibrate(x, prior, guidance=1.5)
    with pytest.raises(ValueError, match="x must have 3 colour channels"):
        calibrate(x[:, :1], prior)
    with pytest.raises(ValueError, match="multiples of patch"):
        to_patches(x[..., :15, :15])
    with pytest.raises(ValueError, match="cov must be symmetric"):
        GaussianPatchPrior(prior.mean, prior.cov + torch.triu(torch.ones_like(prior.cov)))
    with pytest.raises(ValueError, match="scale must be"):
        darken(clean, scale=0.0)
    with pytest.raises(TypeError, match="cast must be"):
        darken(clean, cast=(1.0, 1.0))
    with pytest.raises(ValueError, match="names must name colour images"):
        image_crops(("camera",), n=1)
    with pytest.raises(ValueError, match="low must have shape"):
        spatial_consistency_loss(x, x[:1])
    with pytest.raises(ValueError, match="w_tv must be"):
        zero_dce_loss(x, x, torch.zeros(1, 3, 16, 16, dtype=DT), w_tv=-1.0)


# --- distillation of the calibrated outputs (FTD) and the trained patch prior ---------

from gradnotes.diffle import (TrainedPatchPrior, distill_enhancer, distillation_loss,
                              image_patches, pseudo_references, train_patch_prior)


@pytest.fixture(scope="module")
def ftd_case():
    train = image_crops(("astronaut",), n=4, size=16, res=64)
    torch.manual_seed(0)
    net = CurveNet(width=8, depth=2, n_iter=4)
    low = darken(train, generator=torch.Generator().manual_seed(0))
    target = train * 0.8 + 0.1  # a fixed target the curves can approach
    return net, low, target


def _ftd(net, low, target, w_nr):
    with torch.no_grad():
        y, A = net(low, return_curves=True)
    return distillation_loss(y, target, low, A, w_nr=w_nr).item()


@pytest.mark.parametrize("w_nr", [0.0, 0.1])
def test_distillation_decreases_loss_on_fixed_target(ftd_case, w_nr):
    net, low, target = ftd_case
    start = [p.clone() for p in net.parameters()]
    student = distill_enhancer(net, low, target, steps=40, batch=4, lr=3e-3, w_nr=w_nr)
    assert _ftd(student, low, target, w_nr) < 0.8 * _ftd(net, low, target, w_nr)
    assert student is not net and not student.training
    assert all(torch.equal(a, b) for a, b in zip(start, net.parameters()))  # E untouched


def test_distillation_is_seeded(ftd_case):
    net, low, target = ftd_case
    a = distill_enhancer(net, low, target, steps=5, batch=2, seed=3)
    b = distill_enhancer(net, low, target, steps=5, batch=2, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_distillation_loss_terms(ftd_case):
    net, low, target = ftd_case
    y, A = net(low, return_curves=True)
    l1 = (y - target).abs().mean()
    torch.testing.assert_close(distillation_loss(y, target, low, A, w_nr=0.0), l1)
    torch.testing.assert_close(distillation_loss(y, target, low, A, w_nr=0.5),
                               l1 + 0.5 * zero_dce_loss(y, low, A))


def test_pseudo_references_are_the_calibrated_outputs(ftd_case, prior):
    net, low, _ = ftd_case
    low = low.double()
    net = CurveNet(width=8, depth=2, n_iter=4).double()
    ref = pseudo_references(net, low, prior, t0=30, guidance=1.0, chunk=2,
                            generator=torch.Generator().manual_seed(5))
    assert ref.shape == low.shape and not ref.requires_grad
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        want = torch.cat([calibrate(net(x), prior, t0=30, guidance=1.0, generator=g)
                          for x in low.split(2)])
    torch.testing.assert_close(ref, want)


def test_trained_prior_wrapper_gives_back_an_exact_model(clean, prior):
    sched = make_schedule()

    class Exact(torch.nn.Module):
        def forward(self, x, t):
            assert (t == t[0]).all()
            return prior.eps(x, sched.alpha_bar(t[0]).item())

    tp = TrainedPatchPrior(Exact(), sched)
    z = torch.randn(4, 192, dtype=DT, generator=torch.Generator().manual_seed(0))
    for t in (0, 99, 999):
        a = sched.alpha_bar(t).item()
        assert tp.step_of(a) == t
        torch.testing.assert_close(tp.eps(z, a), prior.eps(z, a))
    x = darken(clean, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        calibrate(x, tp, t0=80, generator=torch.Generator().manual_seed(1)),
        calibrate(x, prior, t0=80, generator=torch.Generator().manual_seed(1)))


def test_image_patches_match_the_exact_prior_fit(clean):
    P = image_patches(clean, stride=4)
    assert P.shape == (len(clean) * 3 * 3, 192)
    torch.testing.assert_close(fit_patch_prior(clean).mean, P.mean(0))


def test_train_patch_prior_shapes_and_loss(clean):
    tp = train_patch_prior(clean.float(), steps=5, hidden=16, depth=1, batch=8)
    a = make_schedule().alpha_bar(50).item()
    out = tp.eps(torch.zeros(3, 192), a)
    assert out.shape == (3, 192) and torch.isfinite(out).all()


def test_ftd_bad_input(ftd_case, prior):
    net, low, target = ftd_case
    with pytest.raises(ValueError, match="targets must have low's shape"):
        distill_enhancer(net, low, target[:2])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        distill_enhancer(net, low, target + 1)
    with pytest.raises(ValueError, match="low contains NaN"):
        distill_enhancer(net, low * float("nan"), target)
    with pytest.raises(ValueError, match="w_nr must be"):
        distill_enhancer(net, low, target, w_nr=-1.0)
    with pytest.raises(ValueError, match="steps must be"):
        distill_enhancer(net, low, target, steps=0)
    with pytest.raises(TypeError, match="net must be CurveNet"):
        distill_enhancer(torch.nn.Linear(2, 2), low, target)
    with pytest.raises(TypeError, match="net must be CurveNet"):
        pseudo_references(None, low, prior)
    with pytest.raises(ValueError, match="target must have shape"):
        distillation_loss(low, target[:1], low, torch.zeros(4, 12, 16, 16))
    tp = TrainedPatchPrior(torch.nn.Identity(), make_schedule())
    with pytest.raises(ValueError, match="not a step of the model's schedule"):
        tp.eps(torch.zeros(2, 192), 0.5)
    with pytest.raises(ValueError, match="x must have shape"):
        tp.eps(torch.zeros(2, 48), make_schedule().alpha_bar(3).item())
    with pytest.raises(TypeError, match="schedule must be NoiseSchedule"):
        TrainedPatchPrior(torch.nn.Identity(), None)
    with pytest.raises(ValueError, match="batch must be"):
        train_patch_prior(low, steps=1, batch=0)
