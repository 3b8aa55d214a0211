import functools

import torch

from gradnotes import maid as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec, UNIT_OPEN

F64 = torch.float64
NOLOOP = Int(1, huge=False)


@functools.cache
def _toy():
    return m.quadratic_bilevel(n=12, m=4, d=3, cond=10.0, seed=0)


def _problem(): return _toy()[0]


def _start(): return dict(problem=_problem(), theta0=torch.zeros(3, dtype=F64), x0=torch.zeros(4, dtype=F64))


START = {"theta0": Arr(ndim=1), "x0": Arr(ndim=1)}
MAID_NUMBERS = {"eps": POS, "delta": POS, "beta": POS, "eta": UNIT_OPEN, "rho": UNIT_OPEN, "tau": UNIT_OPEN,
                "nu": Num(1), "eps_min": POS, "budget": POS,
                # a huge step_growth only makes the run slower (about the time limit): no stable outcome to test
                "step_growth": Num(1, huge=False)}


def _bound(a):
    pr = _problem()
    x, th = torch.zeros(4, dtype=F64), torch.zeros(3, dtype=F64)
    hg = m.inexact_hypergradient(pr, x, th, delta=1e-3)
    return m.ErrorBound(pr, seed=a["seed"])(x, th, hg, a["eps"], a["delta"])


def _maid_class(a):
    a = dict(a)
    problem, theta0, x0, max_iter = a.pop("problem"), a.pop("theta0"), a.pop("x0"), a.pop("max_iter")
    budget = a.pop("budget")
    return m.MAID(problem, **a).run(theta0, x0, max_iter=max_iter, budget=budget)


def _images():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 6, 6, generator=g, dtype=F64)
    return clean + 0.1 * torch.randn(2, 6, 6, generator=g, dtype=F64), clean


def _logreg_args():
    g = torch.Generator().manual_seed(0)
    return dict(X_train=torch.randn(10, 3, generator=g, dtype=F64), y_train=torch.arange(10) % 3,
                X_val=torch.randn(6, 3, generator=g, dtype=F64), y_val=torch.arange(6) % 3, groups="feature")


def _logreg(a):
    problem, dim = m.logreg_penalties(**a)
    return m.hoag(problem, torch.zeros(dim, dtype=F64), torch.zeros(3, 3, dtype=F64), max_iter=1)


SPECS = {
    "BilevelProblem": Spec(lambda: dict(mu=0.5, L=2.0, L_upper=1.0),
                           call=lambda a: m.BilevelProblem(lambda x, t: ((x - t) ** 2).sum(), lambda x: (x ** 2).sum(),
                                                           a["mu"], a["L"], a["L_upper"]),
                           numbers={"mu": POS, "L": POS, "L_upper": POS},
                           extra={"mu:above_L": lambda a: dict(a, mu=4.0, L=2.0)}),
    "fista": Spec(lambda: dict(problem=_problem(), x0=torch.zeros(4, dtype=F64), theta=torch.zeros(3, dtype=F64),
                               tol=1e-6, maxiter=50),
                  # maxiter=0 is accepted: no step, x0 returned with its bound (one gradient)
                  tensors={"x0": Arr(ndim=1), "theta": Arr(ndim=1)}, numbers={"tol": POS}, ints={"maxiter": Int(0)}),
    "quadratic_bilevel": Spec(lambda: dict(n=12, m=4, d=3, cond=10.0, seed=0),
                              ints={"n": NOLOOP, "m": NOLOOP, "d": NOLOOP, "seed": Int(0)}, numbers={"cond": Num(1)}),
    "Hypergradient": Spec(dict, call=lambda a: m.inexact_hypergradient(_problem(), torch.zeros(4, dtype=F64),
                                                                       torch.zeros(3, dtype=F64), 1e-3)),
    "inexact_hypergradient": Spec(lambda: dict(problem=_problem(), x=torch.zeros(4, dtype=F64),
                                               theta=torch.zeros(3, dtype=F64), delta=1e-3, cg_maxiter=50),
                                  tensors={"x": Arr(ndim=1), "theta": Arr(ndim=1)}, numbers={"delta": POS},
                                  ints={"cg_maxiter": POS_INT}),
    "ErrorBound": Spec(lambda: dict(seed=0, eps=1e-2, delta=1e-3), call=_bound, ints={"seed": Int(0)},
                       numbers={"eps": POS, "delta": POS}),
    "BilevelResult": Spec(dict, call=lambda a: m.hoag(**_start(), max_iter=1)),
    "MAID": Spec(lambda: dict(_start(), max_iter=2, budget=1e6, eps=0.1, delta=0.1, beta=0.1, eta=1e-4, rho=0.9, tau=0.5,
                              nu=1.05, step_growth=1.1, eps_min=1e-12, max_backtrack=5, seed=0),
                 call=_maid_class, tensors=START, numbers=MAID_NUMBERS,
                 ints={"max_iter": Int(0, huge=False), "max_backtrack": NOLOOP, "seed": Int(0)}, timeout=6),
    "maid": Spec(lambda: dict(_start(), max_iter=2, budget=1e6, beta=0.1),
                 tensors=START, numbers={"beta": POS, "budget": POS}, ints={"max_iter": Int(0, huge=False)}, timeout=6),
    "accuracy_schedule": Spec(lambda: dict(kind="geometric", eps0=0.1, k=3, decay=0.9), choices=("kind",),
                              # decay = 1 is accepted: the geometric schedule is then constant
                              numbers={"eps0": POS, "decay": Num(0, 1, low_open=True)}, ints={"k": Int(0)},
                              names={"kind": ("schedule",)}),
    "hoag": Spec(lambda: dict(_start(), eps0=0.1, schedule="geometric", decay=0.9, max_iter=2, budget=1e6),
                 tensors=START, choices=("schedule",), numbers={"eps0": POS, "decay": UNIT_OPEN, "budget": POS},
                 ints={"max_iter": Int(0, huge=False)}),
    # images (..., H, W): any number of leading batch dimensions is valid
    "image_gradient": Spec(lambda: dict(x=torch.rand(2, 5, 5, dtype=F64)), tensors={"x": Arr(ndim=None, empty_ok=True)}),
    "image_gradient_adjoint": Spec(lambda: dict(px=torch.rand(2, 5, 5, dtype=F64), py=torch.rand(2, 5, 5, dtype=F64)),
                                   tensors={"px": Arr(ndim=None), "py": Arr(ndim=None)},
                                   same_length=(("px", "py"),)),
    "smoothed_tv": Spec(lambda: dict(x=torch.rand(2, 5, 5, dtype=F64), nu=0.1),
                        tensors={"x": Arr(ndim=None, empty_ok=True)},
                        numbers={"nu": POS}),
    "tv_denoising": Spec(lambda: dict(noisy=_images()[0], clean=_images()[1], engine="auto"),
                         call=lambda a: m.maid(m.tv_denoising(**a), torch.zeros(2, dtype=F64),
                                               a["noisy"].clone(), max_iter=1),
                         tensors={"noisy": Arr(ndim=(2, 3)), "clean": Arr(ndim=(2, 3))}, choices=("engine",),
                         same_length=(("noisy", "clean"),)),
    "logreg_penalties": Spec(_logreg_args, call=_logreg, choices=("groups",),
                             # K comes from the labels (n_classes=None): a label K is one more class
                             tensors={"X_train": Arr(ndim=2), "y_train": Arr(floating=False, ndim=1),
                                      "X_val": Arr(ndim=2), "y_val": Arr(floating=False, ndim=1)},
                             extra={"y_train:negative": lambda a: dict(a, y_train=a["y_train"] - 1),
                                    "y_val:negative": lambda a: dict(a, y_val=a["y_val"] - 1)},
                             same_length=(("X_train", "y_train"), ("X_val", "y_val"))),
    "psnr": Spec(lambda: dict(x=torch.rand(5, 5, dtype=F64), ref=torch.rand(5, 5, dtype=F64)),
                 tensors={"x": Arr(ndim=None), "ref": Arr(ndim=None)},
                 extra={"ref:other_shape": lambda a: dict(a, ref=a["ref"][:4])}),
}
OPT_OUT = {"SCHEDULES": "a tuple of schedule names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
