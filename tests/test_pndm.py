"""PNDM samplers: equality with diffusers' schedulers, v-prediction, devices and bad input."""
import pytest
import torch

from gradnotes.diffusion import GaussianMixture, make_schedule
from gradnotes.pndm import METHODS, sample, time_grid

MEANS = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])


@pytest.fixture(scope="module")
def setup():
    sched = make_schedule("linear")
    gm = GaussianMixture(MEANS, var=0.3)
    xT = torch.randn(256, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return sched, gm, xT


def _diffusers_loop(scheduler, model, x, steps, **step_kw):
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        tt = torch.full((len(x),), float(t), dtype=x.dtype)
        x = scheduler.step(model(x, tt), int(t), x, **step_kw).prev_sample
    return x


def _schedulers():
    diffusers = pytest.importorskip("diffusers")
    common = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                  set_alpha_to_one=True, steps_offset=0)
    return (diffusers.PNDMScheduler(skip_prk_steps=False, **common),
            diffusers.DDIMScheduler(clip_sample=False, **common))


@pytest.mark.parametrize("steps", [10, 20, 50])
def test_f_pndm_matches_diffusers_pndm_scheduler(setup, steps):
    sched, gm, xT = setup
    pndm, _ = _schedulers()
    model = gm.model(sched)
    ours = sample(model, xT, sched, steps, "f-pndm")
    theirs = _diffusers_loop(pndm, model, xT.clone(), steps)
    assert (ours - theirs).abs().max().item() < 1e-4


@pytest.mark.parametrize("steps", [10, 50, 100])
def test_ddim_matches_diffusers_ddim_scheduler(setup, steps):
    sched, gm, xT = setup
    _, ddim = _schedulers()
    model = gm.model(sched)
    ours = sample(model, xT, sched, steps, "ddim")
    theirs = _diffusers_loop(ddim, model, xT.clone(), steps, eta=0.0)
    assert (ours - theirs).abs().max().item() < 1e-4


def test_official_grid():
    grid = time_grid(1000, 50)
    assert grid[0] == (980, 960) and grid[-1] == (0, -1) and len(grid) == 50
    assert len(time_grid(1000, 30)) == 31  # range(0, 1000, 33), as the official code builds it


def test_alpha_offset_changes_the_lookup(setup):
    sched, gm, xT = setup
    a = sample(gm.model(sched), xT, sched, 20, "ddim")
    b = sample(gm.model(sched, offset=1), xT, sched, 20, "ddim", alpha_offset=1)
    assert (a - b).abs().max().item() > 1e-6  # a real, if small, difference
    with pytest.raises(ValueError, match="reads ᾱ past the schedule's end"):
        sample(gm.model(sched), xT, sched, 1000, "ddim", alpha_offset=1)


def test_float32_model_keeps_dtype(setup):
    sched, gm, xT = setup
    model32 = lambda x, t: gm.model(sched)(x.double(), t).float()
    out = sample(model32, xT.float(), sched, 20, "f-pndm")
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), sample(gm.model(sched), xT, sched, 20, "f-pndm"), atol=1e-4)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(num_steps=0), ValueError, "num_steps must be >= 1"),
    (dict(num_steps=1001), ValueError, "num_steps must be <= 1000"),
    (dict(num_steps=1, method="s-pndm"), ValueError, "warm-up"),
    (dict(method="euler"), ValueError, "method must be one of"),
    (dict(prediction="x0"), ValueError, "prediction must be one of"),
    (dict(alpha_offset=2), ValueError, "alpha_offset must be one of"),
])
def test_bad_arguments(setup, kwargs, exc, message):
    sched, gm, xT = setup
    with pytest.raises(exc) as info:
        sample(gm.model(sched), xT, sched, **{"num_steps": 10, **kwargs})
    assert message in str(info.value)


def test_non_finite_noise_is_refused(setup):
    sched, gm, xT = setup
    x = xT.clone(); x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        sample(gm.model(sched), x, sched, 10)


@pytest.mark.cuda
@pytest.mark.parametrize("method", METHODS)
def test_cuda_matches_cpu(setup, method):
    sched, gm, xT = setup
    cpu = sample(gm.model(sched), xT, sched, 20, method)
    gpu = sample(gm.model(sched), xT.cuda(), sched, 20, method)
    assert gpu.is_cuda and torch.allclose(gpu.cpu(), cpu, atol=1e-8)


@pytest.mark.parametrize("args, exc, message", [
    ((-5, 3), ValueError, "T must be >= 1"),
    ((1000, 0), ValueError, "num_steps must be >= 1"),
    ((1000, -3), ValueError, "num_steps must be >= 1"),
    ((10, 20), ValueError, "num_steps must be <= 10"),
    ((1000, 2.5), TypeError, "num_steps must be an integer"),
    ((True, 1), TypeError, "T must be an integer"),
])
def test_time_grid_refuses_bad_arguments(args, exc, message):
    with pytest.raises(exc, match=message):
        time_grid(*args)


def test_time_grid_never_negative():
    for T, n in [(1, 1), (7, 3), (1000, 1000), (1000, 30)]:
        grid = time_grid(T, n)
        assert all(t >= 0 and t_next >= -1 and t_next < t for t, t_next in grid)


_x = torch.randn(4, 3, dtype=torch.float64)


@pytest.mark.parametrize("args, exc, message", [
    ((_x, _x, -0.1, 0.5), ValueError, "ab must be > 0"),
    ((_x, _x, 1.0, 1.0), ValueError, "ab must be < 1"),
    ((_x, _x, 0.3, 1.5), ValueError, "ab_next must be <= 1"),
    ((_x, _x, float("nan"), 0.5), ValueError, "ab must be finite"),
    ((_x, _x, 0.3, 1j), TypeError, "ab_next must be a real number"),
    ((_x, _x, torch.tensor([0.3, 0.4]), 0.5), ValueError, "ab must have shape"),
    ((_x, _x, torch.tensor([0.3, 0.4, 2.0, 0.5]), 0.9), ValueError, "ab must lie in"),
    ((_x, _x, 0.3, torch.full((4,), 0.5, dtype=torch.cfloat)), TypeError,
     "ab_next must be real"),
    ((_x, _x[:2], 0.3, 0.5), ValueError, "eps must have shape"),
    ((_x.to(torch.cdouble), _x, 0.3, 0.5), TypeError, "x must be real"),
    ((_x.long(), _x, 0.3, 0.5), TypeError, "x must have a floating dtype"),
    ((_x * float("nan"), _x, 0.3, 0.5), ValueError, "x contains NaN"),
    ((_x, _x * float("inf"), 0.3, 0.5), ValueError, "eps contains NaN"),
])
def test_transfer_refuses_bad_arguments(args, exc, message):
    from gradnotes.pndm import transfer
    with pytest.raises(exc, match=message):
        transfer(*args)


def test_transfer_accepts_clean_data_level():
    from gradnotes.pndm import transfer
    out = transfer(_x, _x, 0.3, 1.0)
    assert torch.isfinite(out).all()


def test_complex_noise_is_refused(setup):
    sched, gm, xT = setup
    with pytest.raises(TypeError, match="x must be real"):
        sample(gm.model(sched), xT[:4].to(torch.cdouble), sched, 10, "ddim")


def test_transfer_coefficients_check_the_noise_levels():
    from gradnotes.pndm import transfer_coefficients
    with pytest.raises(ValueError, match="ab must be < 1"): transfer_coefficients(1.0, 0.5)
    with pytest.raises(ValueError, match="ab_next must be finite"):
        transfer_coefficients(0.5, float("nan"))
    with pytest.raises(ValueError, match=r"ab_next must lie in \(0, 1\]"):
        transfer_coefficients(torch.tensor([0.5]), torch.tensor([1.5]))


# --- any diffusers DDIM/PNDM configuration: matched to 1e-4, or refused ---------------------

def _exact_models(sched, prediction):
    from gradnotes.diffusion import v_from_eps
    gm = GaussianMixture(MEANS, var=0.3)
    eps = gm.model(sched)
    if prediction == "epsilon": return eps
    return lambda x, t: v_from_eps(x, eps(x, t), sched.alpha_bar(t.cpu()).to(x))


# every combination, less the PNDM ones diffusers_options refuses (test_pndm_settings_that_are_refused)
CONFIGS = [(kind, spacing, to_one, offset, prediction)
           for kind in ("DDIMScheduler", "PNDMScheduler") for spacing in ("leading", "trailing", "linspace")
           for to_one in (True, False) for offset in (0, 1) for prediction in ("epsilon", "v_prediction")
           if kind == "DDIMScheduler" or (prediction == "epsilon" and spacing != "linspace")]


@pytest.mark.parametrize("kind, spacing, to_one, offset, prediction", CONFIGS)
def test_matches_diffusers_under_its_configurations(kind, spacing, to_one, offset, prediction):
    diffusers = pytest.importorskip("diffusers")
    from gradnotes.pndm import diffusers_options
    extra = dict(clip_sample=False) if kind == "DDIMScheduler" else dict(skip_prk_steps=False)
    sch = getattr(diffusers, kind)(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                   set_alpha_to_one=to_one, steps_offset=offset, timestep_spacing=spacing,
                                   prediction_type=prediction, **extra)
    opts = diffusers_options(sch)
    model = _exact_models(opts["schedule"], prediction)
    xT = torch.randn(128, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for steps in (10, 25):
        ours = sample(model, xT, num_steps=steps, **opts)
        theirs = _diffusers_loop(sch, model, xT.clone(), steps, **({"eta": 0.0} if kind == "DDIMScheduler" else {}))
        assert (ours - theirs).abs().max().item() < 1e-4, (steps, (ours - theirs).abs().max().item())


@pytest.mark.parametrize("setting, message", [
    (dict(clip_sample=True), "clip_sample=True"), (dict(thresholding=True), "thresholding=True"),
    (dict(prediction_type="sample"), "prediction_type 'sample'")])
def test_unsupported_ddim_settings_are_refused(setting, message):
    diffusers = pytest.importorskip("diffusers")
    from gradnotes.pndm import diffusers_options
    base = dict(clip_sample=False)
    with pytest.raises(ValueError, match=message):
        diffusers_options(diffusers.DDIMScheduler(**{**base, **setting}))


def test_pndm_settings_that_are_refused():
    """diffusers' PNDM combines raw v outputs of several steps, then converts them (0.32 away
    from PNDM at 10 steps here); with linspace spacing its warm-up points do not match its
    steps (0.24 away)."""
    diffusers = pytest.importorskip("diffusers")
    from gradnotes.pndm import diffusers_options
    with pytest.raises(ValueError, match="combines v-predictions of different steps"):
        diffusers_options(diffusers.PNDMScheduler(prediction_type="v_prediction"))
    with pytest.raises(ValueError, match="timestep_spacing='linspace'"):
        diffusers_options(diffusers.PNDMScheduler(timestep_spacing="linspace"))


def test_skip_prk_steps_and_other_schedulers_are_refused():
    diffusers = pytest.importorskip("diffusers")
    from gradnotes.pndm import diffusers_options
    with pytest.raises(ValueError, match="skip_prk_steps=True"):
        diffusers_options(diffusers.PNDMScheduler(skip_prk_steps=True))
    with pytest.raises(TypeError, match="DDIMScheduler or PNDMScheduler"):
        diffusers_options(diffusers.EulerDiscreteScheduler())


def test_callback_and_gradients_through_sampling(setup):
    sched, gm, xT = setup
    model = gm.model(sched)
    seen = []
    x = xT[:8].clone().requires_grad_(True)
    out = sample(model, x, sched, 10, "ddim", differentiable=True,
                 callback=lambda i, t, y: seen.append((i, t, tuple(y.shape))))
    assert seen[0] == (0, 900, (8, 2)) and len(seen) == 10
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not sample(model, x, sched, 10, "ddim").requires_grad  # the default keeps no graph


def test_steps_offset_needs_a_diffusers_spacing(setup):
    sched, gm, xT = setup
    with pytest.raises(ValueError, match="steps_offset needs one of diffusers' spacings"):
        sample(gm.model(sched), xT, sched, 10, steps_offset=1)
    with pytest.raises(ValueError, match="past the schedule's last step"):
        sample(gm.model(sched), xT, sched, 1000, "ddim", timestep_spacing="leading", steps_offset=1)


@pytest.mark.parametrize("offset", [0, 1])
def test_stepper_lookup_matches_alpha_bar(offset):
    "The walk's ᾱ list gives what NoiseSchedule.alpha_bar gives, on and between steps."
    from gradnotes.pndm import _Stepper
    for sched in (make_schedule("linear"), make_schedule("cosine", T=100)):
        s = _Stepper(sched, "epsilon", offset, torch.zeros(2, 3), final_alpha=0.7)
        for t in [0, 0.5, 1, 7.5, 10, sched.T // 2 + 0.25, sched.T - 1 - offset]:
            assert s.ab(t) == float(sched.alpha_bar(float(t), offset))
        assert s.ab(-1) == s.ab(-0.5) == 0.7
        with pytest.raises(ValueError, match="t \\+ offset"):
            s.ab(sched.T - offset)


@pytest.mark.parametrize("method", ["ddim", "pie", "prk", "s-pndm", "f-pndm", "fon"])
def test_sample_equals_the_scheduler_loop(method):
    "sample (no listing walk) and Scheduler.step (after set_timesteps) give equal tensors."
    from gradnotes.pndm import Scheduler
    sched = make_schedule("linear")
    x0 = torch.randn(3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = lambda x, t: torch.sin(x) * (1 + t[:, None] / 1000)
    ours = sample(model, x0, sched, 10, method)
    sch = Scheduler(sched, method).set_timesteps(10)
    x = x0
    for t in sch.timesteps:
        x = sch.step(model(x, torch.full((3,), float(t), dtype=x.dtype)), t, x)
    assert torch.equal(ours, x)
