import torch

from gradnotes import pndm as m
from gradnotes.diffusion import make_schedule
from harness import Arr, Int, Num, POS_INT, Spec

AB = Num(0, 1, low_open=True)


def _model(x, t): return 0.1 * x


def _ddim(clip_sample=False):
    from diffusers import DDIMScheduler
    return dict(scheduler=DDIMScheduler(num_train_timesteps=20, clip_sample=clip_sample))


def _scheduler_loop(a):
    """Build, set the steps, and run the step loop: every argument of the constructor, of
    set_timesteps and of step goes through the contract."""
    sch = m.Scheduler(a["schedule"], a["method"], a["prediction"])
    sch.set_timesteps(a["num_steps"])
    x = a["x"]
    for t in sch.timesteps:  # (a model would refuse a list itself; the step must too)
        out = _model(x, t) if isinstance(x, torch.Tensor) else torch.zeros(3, 2, dtype=torch.float64)
        x = sch.step(out, t, x)
    return x


SPECS = {
    "Scheduler": Spec(lambda: dict(x=torch.randn(3, 2, dtype=torch.float64), schedule=make_schedule(T=20),
                                   num_steps=5, method="f-pndm", prediction="epsilon"),
                      call=_scheduler_loop, tensors={"x": Arr(ndim=(2, 3))}, ints={"num_steps": POS_INT},
                      choices=("method", "prediction"),
                      names={"x": ("sample",)}),
    "transfer_coefficients": Spec(lambda: dict(ab=0.5, ab_next=0.7), numbers={"ab": AB, "ab_next": AB}),
    "transfer": Spec(lambda: dict(x=torch.randn(4, 3), eps=torch.randn(4, 3), ab=0.5, ab_next=0.7),
                     tensors={"x": Arr(ndim=None), "eps": Arr(ndim=None)}, numbers={"ab": AB, "ab_next": AB},
                     same_length=(("x", "eps"),)),
    "time_grid": Spec(lambda: dict(T=20, num_steps=5), ints={"T": Int(1, huge=False), "num_steps": POS_INT},
                      extra={"num_steps:above_T": lambda a: dict(a, num_steps=21)}),
    "sample": Spec(lambda: dict(model=_model, x=torch.randn(3, 2, dtype=torch.float64), schedule=make_schedule(T=20),
                                num_steps=5, method="f-pndm", prediction="epsilon"),
                   tensors={"x": Arr(ndim=(2, 3))}, ints={"num_steps": POS_INT}, choices=("method", "prediction"),
                   extra={"final_alpha_cumprod:zero": lambda a: dict(a, final_alpha_cumprod=0.0),
                          "final_alpha_cumprod:above_one": lambda a: dict(a, final_alpha_cumprod=1.5),
                          "timestep_spacing:unknown": lambda a: dict(a, timestep_spacing="uniform"),
                          "steps_offset:official_grid": lambda a: dict(a, steps_offset=1),
                          "differentiable:not_bool": lambda a: dict(a, differentiable="yes")}),
    "diffusers_grid": Spec(lambda: dict(T=20, num_steps=5, spacing="leading", steps_offset=1),
                           ints={"T": Int(1, huge=False), "num_steps": POS_INT, "steps_offset": Int(0, huge=False)},
                           choices=("spacing",),
                           extra={"steps_offset:past_end": lambda a: dict(a, steps_offset=20)}),
    "diffusers_options": Spec(_ddim, extra={"scheduler:not_a_scheduler": lambda a: dict(scheduler=object()),
                                            "scheduler:clip_sample": lambda a: dict(scheduler=_ddim(clip_sample=True)["scheduler"])}),
}
OPT_OUT = {"METHODS": "a tuple of method names, not a callable",
           "SPACINGS": "a tuple of spacing names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
