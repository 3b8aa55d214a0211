"""Score distillation estimators: closed forms on Gaussian cases, the guidance direction as the
classifier score, SDS at s = 1 as the noised class score, the DSD/VSD identity, the chain rule
through a renderer, and bad input."""
import math

import pytest
import torch

from gradnotes.core import torch_threads
from gradnotes.diffusion import ClassConditionalMixture, EpsMLP, GaussianMixture, make_schedule
from gradnotes.score_distillation import (distill_particles, distillation_loss, dsd_grad,
                                          fit_variational, nfsd_grad, sample_timesteps,
                                          sds_grad, sliced_wasserstein, vsd_grad)

SCHED = make_schedule("linear", T=1000)
DT = torch.float64
MU0, V0 = torch.tensor([0.5, 0.0, -1.0], dtype=DT), 1.0
MU1, V1 = torch.tensor([2.0, -1.0, 0.5], dtype=DT), 0.2
MQ, UQ = torch.tensor([-1.0, 0.5, 0.0], dtype=DT), 0.7
G0, G1, GQ = (GaussianMixture(m[None], var=v) for m, v in ((MU0, V0), (MU1, V1), (MQ, UQ)))


def gauss_model(xt, t, y):
    return (G0 if y is None else G1).eps(xt, SCHED.alpha_bar(t).to(xt))


def gauss_psi(xt, t):
    return GQ.eps(xt, SCHED.alpha_bar(t).to(xt))


def _gauss_eps(mu, v, xt, ab):
    "ε of N(mu, v I) at x_t, written out by hand."
    return math.sqrt(1 - ab) * (xt - math.sqrt(ab) * mu) / (ab * v + 1 - ab)


@pytest.mark.parametrize("step", [30, 199, 200, 600, 970])
@pytest.mark.parametrize("weighting", ["sigma2", "one"])
def test_each_estimator_equals_its_closed_form_pointwise(step, weighting):
    g = torch.Generator().manual_seed(step)
    n = 16
    x = torch.randn(n, 3, dtype=DT, generator=g)
    eps = torch.randn(n, 3, dtype=DT, generator=g)
    t = torch.full((n,), step)
    ab = SCHED.alpha_bar(step).item()
    xt = math.sqrt(ab) * x + math.sqrt(1 - ab) * eps
    e0, e1, eq = (_gauss_eps(m, v, xt, ab) for m, v in ((MU0, V0), (MU1, V1), (MQ, UQ)))
    w = 1 - ab if weighting == "sigma2" else 1.0
    s, lc, lv = 5.0, 2.5, 0.75
    kw = dict(t=t, noise=eps, weighting=weighting)
    cases = {
        "sds": (sds_grad(x, 1, gauss_model, SCHED, s, **kw), w * (e0 + s * (e1 - e0) - eps)),
        "vsd": (vsd_grad(x, 1, gauss_model, gauss_psi, SCHED, s, **kw),
                w * (e0 + s * (e1 - e0) - eq)),
        "dsd": (dsd_grad(x, 1, gauss_model, gauss_psi, SCHED, lc, lv, **kw),
                w * (lc * (e1 - e0) + lv * (e1 - eq))),
        "nfsd": (nfsd_grad(x, 1, gauss_model, SCHED, s, **kw),
                 w * ((e0 if step < 200 else 0) + s * (e1 - e0))),
    }
    for name, (got, want) in cases.items():
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=name)


def test_expected_gradients_match_gaussian_closed_forms():
    "Monte Carlo means over the noise agree with the affine closed forms (|z| < 5)."
    n, x = 20_000, torch.tensor([0.7, 1.2, -0.4], dtype=DT)
    g = torch.Generator().manual_seed(0)
    s, lc, lv = 4.0, 3.0, 0.5
    for step in (150, 500, 900):
        ab = SCHED.alpha_bar(step).item()
        d = [(x - m) / (ab * v + 1 - ab) for m, v in ((MU0, V0), (MU1, V1), (MQ, UQ))]
        c = (1 - ab) * math.sqrt(1 - ab) * math.sqrt(ab)
        want = {"sds": c * ((1 - s) * d[0] + s * d[1]),
                "vsd": c * ((1 - s) * d[0] + s * d[1] - d[2]),
                "dsd": c * (lc * (d[1] - d[0]) + lv * (d[1] - d[2])),
                "nfsd": c * (float(step < 200) * d[0] + s * (d[1] - d[0]))}
        xs, kw = x.expand(n, 3), dict(t=torch.full((n,), step), generator=g)
        got = {"sds": sds_grad(xs, 1, gauss_model, SCHED, s, **kw),
               "vsd": vsd_grad(xs, 1, gauss_model, gauss_psi, SCHED, s, **kw),
               "dsd": dsd_grad(xs, 1, gauss_model, gauss_psi, SCHED, lc, lv, **kw),
               "nfsd": nfsd_grad(xs, 1, gauss_model, SCHED, s, **kw)}
        for k, gm in got.items():
            z = ((gm.mean(0) - want[k]) / (gm.std(0) / math.sqrt(n) + 1e-15)).abs().max()
            assert z < 5, (k, step, z.item())


CCM = ClassConditionalMixture(torch.tensor([[2.0, 0], [-2, 0], [0, 2], [0, -2], [1.5, 1.5]]),
                              torch.tensor([0, 0, 1, 1, 2]), var=0.1)
CCM_MODEL = CCM.model(SCHED)


@pytest.mark.parametrize("step", [10, 250, 700, 990])
def test_cfg_direction_is_the_difference_of_exact_scores(step):
    g = torch.Generator().manual_seed(step)
    x = 2 * torch.randn(32, 2, dtype=DT, generator=g)
    y = torch.randint(0, 3, (32,), generator=g)
    eps = torch.randn(32, 2, dtype=DT, generator=g)
    ab = SCHED.alpha_bar(step).item()
    xr = (math.sqrt(ab) * x + math.sqrt(1 - ab) * eps).requires_grad_(True)
    s_y = torch.autograd.grad(CCM.log_prob(xr, ab, y).sum(), xr)[0]
    s_0 = torch.autograd.grad(CCM.log_prob(xr, ab).sum(), xr)[0]
    got = dsd_grad(x, y, CCM_MODEL, lambda a, b: a, SCHED, 1.0, 0.0, t=torch.full((32,), step),
                   noise=eps, weighting="one")
    torch.testing.assert_close(got, -math.sqrt(1 - ab) * (s_y - s_0), rtol=1e-8, atol=1e-10)
    # NFSD above its switch and without a negative condition is s times the same direction
    if step >= 200:
        nf = nfsd_grad(x, y, CCM_MODEL, SCHED, 3.0, t=torch.full((32,), step), noise=eps,
                       weighting="one")
        torch.testing.assert_close(nf, 3 * got, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("step", [10, 250, 700, 990])
def test_sds_at_guidance_one_is_the_noised_class_score(step):
    g = torch.Generator().manual_seed(100 + step)
    x = 2 * torch.randn(32, 2, dtype=DT, generator=g)
    y = torch.randint(0, 3, (32,), generator=g)
    eps = torch.randn(32, 2, dtype=DT, generator=g)
    ab = SCHED.alpha_bar(step).item()
    xr = (math.sqrt(ab) * x + math.sqrt(1 - ab) * eps).requires_grad_(True)
    s_y = torch.autograd.grad(CCM.log_prob(xr, ab, y).sum(), xr)[0]
    got = sds_grad(x, y, CCM_MODEL, SCHED, 1.0, t=torch.full((32,), step), noise=eps,
                   weighting="one")
    torch.testing.assert_close(got + eps, -math.sqrt(1 - ab) * s_y, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("lc, lv", [(0.0, 1.0), (2.0, 1.0), (6.5, 1.0), (3.0, 0.5)])
def test_dsd_is_vsd_at_guidance_one_plus_ratio(lc, lv):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 2, dtype=DT, generator=g)
    kw = dict(t=torch.randint(20, 980, (20,), generator=g), noise=torch.randn(20, 2, dtype=DT))
    psi = lambda a, b: 0.3 * a - 0.1
    d = dsd_grad(x, 0, CCM_MODEL, psi, SCHED, lc, lv, **kw)
    v = vsd_grad(x, 0, CCM_MODEL, psi, SCHED, 1 + lc / lv, **kw)
    torch.testing.assert_close(d, lv * v, rtol=1e-10, atol=1e-12)


def test_nfsd_negative_condition_enters_above_the_switch():
    x = torch.randn(6, 2, dtype=DT)
    t = torch.tensor([10, 100, 199, 200, 500, 900])
    eps = torch.randn(6, 2, dtype=DT)
    ab = SCHED.alpha_bar(t)
    xt = ab.sqrt()[:, None] * x + (1 - ab).sqrt()[:, None] * eps
    e_u, e_c, e_n = CCM.eps(xt, ab), CCM.eps(xt, ab, 0), CCM.eps(xt, ab, 2)
    got = nfsd_grad(x, 0, CCM_MODEL, SCHED, 2.0, y_neg=2, t=t, noise=eps, weighting="one")
    small = (t < 200)[:, None]
    want = torch.where(small, e_u, e_u - e_n) + 2.0 * (e_c - e_u)
    torch.testing.assert_close(got, want)


def test_gradient_flows_through_a_renderer():
    A = torch.randn(6, 2, dtype=DT, generator=torch.Generator().manual_seed(0))
    theta = torch.randn(5, 2, dtype=DT, requires_grad=True)
    x = theta @ A.T[:2, :2]
    grad = sds_grad(x, 1, CCM_MODEL, SCHED, generator=torch.Generator().manual_seed(2))
    distillation_loss(x, grad).backward()
    torch.testing.assert_close(theta.grad, grad @ A.T[:2, :2].T)


def test_estimators_keep_device_dtype_and_do_not_touch_x_grad():
    x = torch.randn(8, 2, dtype=torch.float32, requires_grad=True)
    g = dsd_grad(x, 0, CCM_MODEL, lambda a, b: 0 * a, SCHED)
    assert g.dtype == torch.float32 and g.shape == x.shape and not g.requires_grad
    assert x.grad is None


def test_sample_timesteps_range_and_seed():
    t = sample_timesteps(5000, SCHED, (0.1, 0.3), torch.Generator().manual_seed(0))
    assert t.min() == 100 and t.max() == 300
    t2 = sample_timesteps(5000, SCHED, (0.1, 0.3), torch.Generator().manual_seed(0))
    assert torch.equal(t, t2)


def test_fit_variational_learns_a_gaussian():
    "After training on samples of N(m, u), ε_ψ is close to the exact Gaussian prediction."
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X = (MQ[:2] + math.sqrt(UQ) * torch.randn(512, 2, dtype=DT, generator=g))
    psi = EpsMLP(2, hidden=64, depth=2, time_dim=16).double()
    opt = torch.optim.Adam(psi.parameters(), lr=3e-3)
    with torch_threads(1):
        losses = fit_variational(psi, opt, X, SCHED, 400, g)
    assert len(losses) == 400
    gq = GaussianMixture(MQ[:2][None], var=UQ)
    xt = torch.randn(256, 2, dtype=DT, generator=g)
    t = torch.full((256,), 400)
    err = (psi(xt, t) - gq.eps(xt, SCHED.alpha_bar(t).to(xt))).pow(2).mean()
    scale = gq.eps(xt, SCHED.alpha_bar(t).to(xt)).pow(2).mean()
    assert err < 0.05 * scale, (err.item(), scale.item())


def test_vsd_particles_match_the_class_distribution():
    "VSD at s = 1 with exact scores lands near p(x | y); SDS at s = 1 does not."
    prior = ClassConditionalMixture(torch.tensor([[2.0, 0], [-2, 0], [0, 2], [0, -2]]),
                                    torch.tensor([0, 0, 1, 1]), var=0.05)
    model = prior.model(SCHED)
    x0 = torch.randn(64, 2, dtype=DT, generator=torch.Generator().manual_seed(0))
    ref = prior.sample(2000, 0, torch.Generator().manual_seed(1))
    with torch_threads(1):
        xv, psi = distill_particles(x0, 0, model, SCHED, "vsd", steps=200, guidance=1.0)
        xs, none = distill_particles(x0, 0, model, SCHED, "sds", steps=200, guidance=1.0)
    assert none is None and isinstance(psi, torch.nn.Module)
    g = torch.Generator().manual_seed(2)
    sw_v, sw_s = sliced_wasserstein(xv, ref, generator=g), sliced_wasserstein(xs, ref, generator=g)
    assert sw_v < 0.6 < sw_s, (sw_v, sw_s)


def test_sliced_wasserstein_of_a_shift():
    g = torch.Generator().manual_seed(0)
    b = torch.randn(3000, 2, dtype=DT, generator=g)
    sw = sliced_wasserstein(b + torch.tensor([0.0, 2.0], dtype=DT), b, 2048, g)
    assert abs(sw - 2 / math.sqrt(2)) < 0.08


# --- bad input -----------------------------------------------------------------------------
X4 = torch.zeros(4, 2, dtype=DT)
PSI = lambda a, b: 0 * a
ESTIMATORS = {
    "sds": lambda **kw: sds_grad(kw.pop("x", X4), 0, CCM_MODEL, SCHED, **kw),
    "nfsd": lambda **kw: nfsd_grad(kw.pop("x", X4), 0, CCM_MODEL, SCHED, **kw),
    "vsd": lambda **kw: vsd_grad(kw.pop("x", X4), 0, CCM_MODEL, PSI, SCHED, **kw),
    "dsd": lambda **kw: dsd_grad(kw.pop("x", X4), 0, CCM_MODEL, PSI, SCHED, **kw),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(t=torch.tensor([0, 1, 2, 1000])), ValueError, r"t must lie in the schedule's steps"),
    (dict(t=torch.tensor([0, -1, 2, 3])), ValueError, r"t must lie in the schedule's steps"),
    (dict(t=torch.tensor([0, 1, 2])), ValueError, "t must have shape"),
    (dict(t=torch.tensor([0.0, 1.0, 2.0, 3.0])), TypeError, "t must have an integer dtype"),
    (dict(x=X4[:0]), ValueError, "x must not be empty"),
    (dict(x=X4 + float("nan")), ValueError, "x contains NaN"),
    (dict(x=X4 + float("inf")), ValueError, "x contains NaN"),
    (dict(x=X4.long()), TypeError, "x must have a floating dtype"),
    (dict(noise=torch.zeros(4, 3, dtype=DT)), ValueError, "noise must have shape"),
    (dict(noise=torch.full((4, 2), float("nan"), dtype=DT)), ValueError, "noise contains NaN"),
    (dict(t_range=(0.5, 0.1)), ValueError, r"t_range\[1\] must be >= 0.5"),
    (dict(t_range=(0.1, 1.5)), ValueError, r"t_range\[1\] must be <= 1"),
    (dict(t_range=0.5), TypeError, "t_range must be a pair"),
    (dict(weighting="snr"), ValueError, "weighting must be one of"),
])
def test_estimators_refuse_bad_input(name, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        ESTIMATORS[name](**kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda: sds_grad(X4, 0, CCM_MODEL, SCHED, -1.0), "guidance must be >= 0"),
    (lambda: sds_grad(X4, 0, CCM_MODEL, SCHED, float("nan")), "guidance must be finite"),
    (lambda: nfsd_grad(X4, 0, CCM_MODEL, SCHED, -0.1), "guidance must be >= 0"),
    (lambda: nfsd_grad(X4, 0, CCM_MODEL, SCHED, switch=1.5), "switch must be <= 1"),
    (lambda: vsd_grad(X4, 0, CCM_MODEL, PSI, SCHED, -2.0), "guidance must be >= 0"),
    (lambda: dsd_grad(X4, 0, CCM_MODEL, PSI, SCHED, -1.0), "cfg_weight must be >= 0"),
    (lambda: dsd_grad(X4, 0, CCM_MODEL, PSI, SCHED, 1.0, -1.0), "var_weight must be >= 0"),
    (lambda: sds_grad(X4, 0, CCM_MODEL, "linear"), "schedule must be"),
    (lambda: sds_grad(X4, 0, lambda a, b, c: a[:, :1], SCHED), "model must return a tensor"),
    (lambda: vsd_grad(X4, 0, CCM_MODEL, lambda a, b: None, SCHED), "eps_psi must return"),
    (lambda: sds_grad(X4, 5, CCM_MODEL, SCHED), r"y must lie in \[0, 2\]"),
    (lambda: sample_timesteps(0, SCHED), "n must be >= 1"),
    (lambda: distillation_loss(X4, torch.zeros(4, 3, dtype=DT)), "grad must have shape"),
    (lambda: distill_particles(X4, 0, CCM_MODEL, SCHED, "adam"), "method must be one of"),
    (lambda: distill_particles(X4[:0], 0, CCM_MODEL, SCHED), "x0 must not be empty"),
    (lambda: distill_particles(X4, 0, CCM_MODEL, SCHED, steps=0), "steps must be >= 1"),
    (lambda: distill_particles(X4, 0, CCM_MODEL, SCHED, lr=0.0), "lr must be > 0"),
    (lambda: sliced_wasserstein(X4, torch.zeros(3, 3)), "same dimension"),
    (lambda: fit_variational(EpsMLP(2), torch.optim.SGD(EpsMLP(2).parameters(), lr=0.1),
                             X4 + float("inf"), SCHED), "x contains NaN"),
])
def test_other_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=1e300), "at step .*reduce lr=1e\\+300 or psi_lr=0.001"),
    (dict(lr=1e300, method="sds"), "at step .*reduce lr=1e\\+300$"),
    (dict(psi_lr=1e300, method="vsd"), "at step .*psi_lr=1e\\+300"),
])
def test_distill_particles_names_a_diverging_step_size(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distill_particles(X4 + 0.1, 0, CCM_MODEL, SCHED, **{"steps": 3, "psi_warmup": 1, **kwargs})


def test_distill_particles_refuses_half_precision():
    with pytest.raises(TypeError, match="x0"):
        distill_particles(X4.half(), 0, CCM_MODEL, SCHED, steps=2)
