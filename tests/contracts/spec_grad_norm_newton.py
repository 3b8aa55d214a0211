import functools

import torch

from common import spd
from gradnotes import grad_norm_newton as m
from harness import ANY, Arr, Int, NONNEG, Num, POS, POS_INT, Spec

F64 = torch.float64
NOLOOP = Int(0, huge=False)


def _lse():
    g = torch.Generator().manual_seed(0)
    return m.LogSumExp(torch.randn(6, 3, generator=g, dtype=F64), torch.randn(6, generator=g, dtype=F64))


def _g(): return torch.randn(4, generator=torch.Generator().manual_seed(1), dtype=F64)


def _block(a):
    H = m.BlockDiagonal(a["blocks"])
    return H.dense(), m.regularized_step(H, a["g"], 0.5)


def _rank_one(a):
    H = m.RankOne(a["alpha"], a["v"])
    return H.dense(), m.regularized_step(H, a["g"], 0.5)


def _metric(a):
    met = m.Metric(a["B"], 4, a["g"])
    return met.inv(a["g"]), met.dual_norm(a["g"])


def _solver(a):
    s = m.StepSolver(a["H"], a["g"], m.Metric(None, 4, a["g"]))
    return s(a["lam"])


MIN_ARGS = lambda: dict(oracle=_lse(), x0=torch.zeros(3, dtype=F64), max_iter=3, f_tol=1e-8)
MIN_COMMON = dict(tensors={"x0": Arr(ndim=1)}, ints={"max_iter": NOLOOP}, numbers={"f_tol": POS})


def _oracle_spec(cls, args, tensors, numbers=None, ints=None, same_length=(), names=None):
    def call(a):
        a = dict(a)
        w = a.pop("w")
        o = cls(**a)
        return o.value(w), o.grad(w), m.as_dense(o.approx_hess(w)), o.hess(w)
    return Spec(args, call=call, tensors=tensors, numbers=numbers or {}, ints=ints or {}, same_length=same_length,
                names=names or {})


def _softmax_args():
    g = torch.Generator().manual_seed(0)
    return dict(X=torch.randn(8, 3, generator=g, dtype=F64), y=torch.arange(8) % 3, n_classes=3, reg=0.1,
                w=torch.zeros(9, dtype=F64))


def _pnorm_args():
    g = torch.Generator().manual_seed(0)
    return dict(A=torch.randn(6, 3, generator=g, dtype=F64), b=torch.randn(6, generator=g, dtype=F64), p=4.0,
                w=torch.zeros(3, dtype=F64))


def _lse_args():
    g = torch.Generator().manual_seed(0)
    return dict(A=torch.randn(6, 3, generator=g, dtype=F64), b=torch.randn(6, generator=g, dtype=F64), mu=1.0,
                w=torch.zeros(3, dtype=F64))


def _cheb(a):
    o = m.ChebyshevRosenbrock(a["n"], a["p"])
    x = torch.full((a["n"],), 0.5, dtype=F64) if isinstance(a["n"], int) and 0 < a["n"] < 100 else torch.zeros(3)
    return o.value(x), o.grad(x), m.as_dense(o.approx_hess(x)), o.hess(x)


SPECS = {
    "BlockDiagonal": Spec(lambda: dict(blocks=torch.stack([spd(2), spd(2, seed=1)]), g=_g()), call=_block,
                          tensors={"blocks": Arr(ndim=3), "g": Arr(ndim=1)}, names={"blocks": ("H", "BlockDiagonal")},
                          extra={"blocks:asymmetric": lambda a: dict(a, blocks=torch.triu(a["blocks"]))}),
    "RankOne": Spec(lambda: dict(alpha=2.0, v=_g(), g=_g()), call=_rank_one, numbers={"alpha": NONNEG},
                    tensors={"v": Arr(ndim=1), "g": Arr(ndim=1)}, names={"v": ("H", "RankOne")}),
    "as_dense": Spec(lambda: dict(H=spd(4))),  # a tensor passes through unchanged
    "Metric": Spec(lambda: dict(B=spd(4), g=_g()), call=_metric, tensors={"B": Arr(ndim=2), "g": Arr(ndim=1)},
                   names={"g": ("like", "s")},  # g is passed as the metric's `like` and `s`
                   extra={"B:indefinite": lambda a: dict(a, B=-a["B"])}),
    "StepSolver": Spec(lambda: dict(H=spd(4), g=_g(), lam=0.5), call=_solver, numbers={"lam": POS},
                       names={"g": ("like",)},  # the call passes g as its metric's `like` too
                       tensors={"H": Arr(ndim=2, arrays=False), "g": Arr(ndim=1)}, same_length=(("H", "g"),)),
    "regularized_step": Spec(lambda: dict(H=spd(4), g=_g(), lam=0.5), numbers={"lam": POS},
                             tensors={"H": Arr(ndim=2, arrays=False), "g": Arr(ndim=1)}, same_length=(("H", "g"),),
                             extra={"H:asymmetric": lambda a: dict(a, H=a["H"] + torch.triu(torch.ones(4, 4, dtype=F64), 1)),
                                    "H:inf_upper": lambda a: dict(a, H=a["H"] + torch.triu(torch.full((4, 4), float("inf"), dtype=F64), 1))}),
    "MinimizeResult": Spec(dict, call=lambda a: m.gns_minimize(**MIN_ARGS())),
    "gns_minimize": Spec(lambda: dict(MIN_ARGS(), hess="exact", gamma0=1.0, max_trials=10), choices=("hess",),
                         tensors={"x0": Arr(ndim=1)}, ints={"max_iter": NOLOOP, "max_trials": Int(1, huge=False)},
                         numbers={"f_tol": POS, "gamma0": POS}),
    "gradient_method": Spec(lambda: dict(MIN_ARGS(), L0=1.0, max_trials=10), tensors={"x0": Arr(ndim=1)},
                            ints={"max_iter": NOLOOP, "max_trials": Int(1, huge=False)},
                            numbers={"f_tol": POS, "L0": POS}),
    "super_universal_newton": Spec(lambda: dict(MIN_ARGS(), H0=1.0, alpha=1.0, max_trials=10),
                                   tensors={"x0": Arr(ndim=1)},
                                   ints={"max_iter": NOLOOP, "max_trials": Int(1, huge=False)},
                                   numbers={"f_tol": POS, "H0": POS, "alpha": NONNEG}),
    "LogSumExp": _oracle_spec(m.LogSumExp, _lse_args, {"A": Arr(ndim=2), "b": Arr(ndim=1), "w": Arr(ndim=1)},
                              numbers={"mu": POS}, same_length=(("A", "b"),),
                              names={"w": ("x",)}),  # the oracle's methods call the point x
    "SoftmaxRegression": _oracle_spec(m.SoftmaxRegression, _softmax_args,
                                      {"X": Arr(ndim=2), "y": Arr(floating=False, ndim=1, labels=3), "w": Arr(ndim=1)},
                                      numbers={"reg": NONNEG}, ints={"n_classes": Int(2, huge=False)},
                                      same_length=(("X", "y"),)),
    "PNormResidual": _oracle_spec(m.PNormResidual, _pnorm_args, {"A": Arr(ndim=2), "b": Arr(ndim=1), "w": Arr(ndim=1)},
                                  numbers={"p": Num(2)}, same_length=(("A", "b"),),
                                  names={"w": ("x",)}),
    "ChebyshevRosenbrock": Spec(lambda: dict(n=3, p=4.0), call=_cheb, ints={"n": Int(2, huge=False)},
                                numbers={"p": Num(2)}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
