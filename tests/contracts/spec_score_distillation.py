import torch

from gradnotes import score_distillation as m
from gradnotes.diffusion import ClassConditionalMixture, EpsMLP, make_schedule
from harness import NONNEG, Arr, Int, Num, POS, POS_INT, Spec

SCHED = make_schedule(T=50)
_CCM = ClassConditionalMixture(torch.tensor([[2.0, 0], [-2, 0], [0, 2]]), torch.tensor([0, 0, 1]),
                               var=0.1)
MODEL = _CCM.model(SCHED)


def PSI(x, t): return 0.5 * x


X = Arr(ndim=2)
ANY = Arr(ndim=None)  # renders of any shape (batch, ...)
STEPS = Arr(floating=False, ndim=1, bounds=(0, 50, False, True))


def _est(fn, **nums):
    "An estimator spec: fixed t and noise so every tensor argument is exercised."
    def args():
        g = torch.Generator().manual_seed(0)
        return dict(x=torch.randn(4, 2, dtype=torch.float64, generator=g), t=torch.tensor([0, 10, 30, 49]),
                    noise=torch.randn(4, 2, dtype=torch.float64, generator=g), weighting="sigma2",
                    **{k: v for k, (v, _) in nums.items()})
    psi = fn in (m.vsd_grad, m.dsd_grad)

    def call(a):
        kw = {k: a[k] for k in nums}
        head = (a["x"], 0, MODEL, PSI, SCHED) if psi else (a["x"], 0, MODEL, SCHED)
        return fn(*head, t=a["t"], noise=a["noise"], weighting=a["weighting"], **kw)
    return Spec(args, call=call, tensors={"x": ANY, "t": STEPS, "noise": ANY},
                numbers={k: d for k, (_, d) in nums.items()}, choices=("weighting",),
                same_length=(("x", "t"), ("x", "noise")))


def _fit(a):
    torch.manual_seed(0)
    psi = EpsMLP(2, hidden=8, depth=1, time_dim=4).double()
    return m.fit_variational(psi, torch.optim.SGD(psi.parameters(), lr=0.01), a["x"], SCHED, a["steps"],
                             torch.Generator().manual_seed(0))


SPECS = {
    "sample_timesteps": Spec(lambda: dict(n=5), call=lambda a: m.sample_timesteps(a["n"], SCHED),
                             ints={"n": Int(1, huge=False)}),
    "sds_grad": _est(m.sds_grad, guidance=(7.5, NONNEG)),
    "nfsd_grad": _est(m.nfsd_grad, guidance=(7.5, NONNEG), switch=(0.2, Num(0, 1))),
    "vsd_grad": _est(m.vsd_grad, guidance=(7.5, NONNEG)),
    "dsd_grad": _est(m.dsd_grad, cfg_weight=(7.5, NONNEG), var_weight=(1.0, NONNEG)),
    "fit_variational": Spec(lambda: dict(x=torch.randn(6, 2, dtype=torch.float64), steps=2), call=_fit,
                            tensors={"x": ANY}, ints={"steps": Int(1, huge=False)}),
    "distillation_loss": Spec(lambda: dict(x=torch.randn(4, 2), grad=torch.randn(4, 2)),
                              tensors={"x": ANY, "grad": ANY}, same_length=(("x", "grad"),)),
    "distill_particles": Spec(
        lambda: dict(x0=torch.randn(8, 2, dtype=torch.float64), y=0, method="dsd", steps=2, lr=0.05, seed=0,
                     psi_lr=1e-3, psi_warmup=1),
        call=lambda a: m.distill_particles(a["x0"], a["y"], MODEL, SCHED, a["method"], a["steps"], a["lr"],
                                           a["seed"], a["psi_lr"], a["psi_warmup"]),
        tensors={"x0": X}, choices=("method",),
        ints={"y": Int(0, 1), "steps": Int(1, huge=False), "seed": Int(0), "psi_warmup": Int(0, huge=False)},
        numbers={"lr": POS, "psi_lr": POS}),
    "sliced_wasserstein": Spec(lambda: dict(a=torch.randn(6, 2), b=torch.randn(9, 2), n_proj=8),
                               tensors={"a": X, "b": X}, ints={"n_proj": Int(1, huge=False)}),
}
OPT_OUT = {}
XFAIL = {}
