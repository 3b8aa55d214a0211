"""`pndm.Scheduler`: the samplers one model evaluation at a time, as diffusers' schedulers run.
Its loop is `sample` (the same walk, so the same numbers), it walks diffusers' timesteps and
matches their `step` loops, and it refuses steps out of order."""
import pytest
import torch

from gradnotes.diffusion import GaussianMixture, make_schedule
from gradnotes.pndm import METHODS, Scheduler, sample

MEANS = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])


def _loop(sch, model, x, steps):
    sch.set_timesteps(steps)
    for t in sch.timesteps:
        x = sch.step(model(x, torch.full((len(x),), float(t), dtype=x.dtype)), t, x)
    return x


# on diffusers' grids the last step goes below 0 (to -T/n), where a one-step method (pie, prk,
# fon) would ask the model at that step: only the multistep methods finish there
@pytest.mark.parametrize("method, spacing", [(m, "official") for m in METHODS]
                         + [(m, "leading") for m in ("ddim", "s-pndm", "f-pndm")])
def test_step_loop_is_sample(method, spacing):
    sched = make_schedule("linear")
    model = GaussianMixture(MEANS, var=0.3).model(sched)
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sch = Scheduler(sched, method, timestep_spacing=spacing)
    got = _loop(sch, model, x, 10)
    want, nfe = sample(model, x, sched, 10, method, return_nfe=True, timestep_spacing=spacing)
    assert torch.equal(got, want)
    assert len(sch.timesteps) == nfe == sch.stepper.nfe


def _configs():
    out = []
    for kind in ("DDIMScheduler", "PNDMScheduler"):
        for spacing in ("leading", "trailing", "linspace"):
            for prediction in ("epsilon", "v_prediction"):
                # the PNDM configurations diffusers_options refuses are tested in test_pndm
                if kind == "PNDMScheduler" and (prediction != "epsilon" or spacing == "linspace"):
                    continue
                out += [(kind, spacing, prediction, to_one) for to_one in (True, False)]
    return out


@pytest.mark.parametrize("kind, spacing, prediction, to_one", _configs())
def test_from_diffusers_walks_their_timesteps_and_matches_their_steps(kind, spacing, prediction,
                                                                     to_one):
    diffusers = pytest.importorskip("diffusers")
    from gradnotes.diffusion import v_from_eps
    extra = dict(clip_sample=False) if kind == "DDIMScheduler" else dict(skip_prk_steps=False)
    theirs = getattr(diffusers, kind)(beta_schedule="scaled_linear", beta_start=0.00085,
                                      beta_end=0.012, set_alpha_to_one=to_one, steps_offset=1,
                                      timestep_spacing=spacing, prediction_type=prediction,
                                      **extra)
    ours = Scheduler.from_diffusers(theirs)
    eps = GaussianMixture(MEANS, var=0.3).model(ours.schedule)
    model = eps if prediction == "epsilon" else (
        lambda x, t: v_from_eps(x, eps(x, t), ours.schedule.alpha_bar(t).to(x)))
    x0 = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kw = {"eta": 0.0} if kind == "DDIMScheduler" else {}
    got = _loop(ours, model, x0, 10)
    theirs.set_timesteps(10)
    assert [int(t) for t in ours.timesteps] == theirs.timesteps.tolist()
    x = x0.clone()
    for t in theirs.timesteps:
        out = model(x, torch.full((len(x),), float(t), dtype=x.dtype))
        x = theirs.step(out, int(t), x, **kw).prev_sample
    assert (got - x).abs().max().item() < 1e-4


def test_steps_out_of_order_are_refused():
    sched = make_schedule("linear")
    model = GaussianMixture(MEANS, var=0.3).model(sched)
    x = torch.randn(4, 2, dtype=torch.float64)
    sch = Scheduler(sched, "ddim")
    with pytest.raises(ValueError, match="call set_timesteps"):
        sch.step(x, 900, x)
    sch.set_timesteps(2)  # timesteps 500, 0
    out = model(x, torch.full((4,), 500.0, dtype=x.dtype))
    with pytest.raises(ValueError, match="timestep must be 500"):
        sch.step(out, 0, x)
    x1 = sch.step(out, 500, x)
    with pytest.raises(ValueError, match="sample must be the tensor the previous step returned"):
        sch.step(out, 0, x1 + 1)
    sch.step(model(x1, torch.zeros(4, dtype=x.dtype)), 0, x1)
    with pytest.raises(ValueError, match="the walk is finished"):
        sch.step(out, 0, x1)
    with pytest.raises(ValueError, match="f-pndm"):
        Scheduler(sched).set_timesteps(3)  # no room after the warm-up
