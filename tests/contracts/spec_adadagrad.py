import math

import torch
import torch.nn.functional as F

from common import model_data, optimizer_run, tiny_model, classification
from gradnotes import adadagrad as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec

PARAM = Arr(ndim=None, finite=False, empty_ok=True, grad=False, arrays=False, complex_ok=True)
# NaN propagates, as in torch.optim; complex: refused or handled (checked in test_optimizer_contracts.py)
PNAMES = ("params", "param_groups", "parameter", "parameters")
XY = dict(tensors={"X": Arr(), "y": Arr(floating=False, ndim=None)}, same_length=(("X", "y"),))


def _stats(): return m.grad_stats(**model_data())


def _gradstats(a):
    s = _stats()
    return s.mean(), s.variances(), s.ip_variances(), s.ip_variance_full(), s.mean_sq_norms()


def _train(a):
    a = dict(a)
    model = a.pop("model")
    return m.train_adaptive(model, torch.optim.SGD(model.parameters(), lr=0.1), a.pop("X"), a.pop("y"), **a)


SPECS = {
    "GradStats": Spec(dict, call=_gradstats),
    "grad_stats": Spec(lambda: dict(model_data(), chunk_size=3), ints={"chunk_size": POS_INT}, **XY),
    "required_batch_size": Spec(lambda: dict(stats=_stats(), test="norm", eta=0.1, theta=0.1, nu=0.1),
                                choices=("test",), numbers={"eta": POS, "theta": POS, "nu": POS}),
    # `required` is a number >= 0 or +inf: inf is what required_batch_size returns when no batch passes
    # the test, and it means the cap (tests/test_adadagrad.py), so the generic "inf is invalid" case does
    # not apply; every other invalid value of it is listed here
    "next_batch_size": Spec(lambda: dict(batch_size=4, required=6.0, max_batch_size=16),
                            ints={"batch_size": POS_INT, "max_batch_size": POS_INT},
                            extra={f"required:{k}": (lambda v: lambda a: dict(a, required=v))(v)
                                   for k, v in [("below", -1.0), ("nan", math.nan), ("-inf", -math.inf),
                                                ("bool", True), ("str", "6"), ("none", None)]}),
    "AdaGradNorm": Spec(lambda: dict(p=torch.randn(3, 2), g=torch.randn(3, 2), lr=0.5, momentum=0.0, lr_decay=0.0,
                                     weight_decay=0.0, initial_accumulator_value=0.01, eps=1e-10),
                        call=lambda a: optimizer_run(m.AdaGradNorm, a),
                        tensors={"p": PARAM},
                        numbers={"lr": NONNEG, "momentum": Num(0, 1, high_open=True), "lr_decay": NONNEG,
                                 "weight_decay": NONNEG, "initial_accumulator_value": NONNEG, "eps": NONNEG}, names={"p": PNAMES}),
    "AdaptiveRun": Spec(dict, call=lambda a: (m.AdaptiveRun(batch_sizes=[2, 4]).steps, m.AdaptiveRun().samples)),
    "train_adaptive": Spec(lambda: dict(model_data(n=12), batch_size=4, test="norm", eta=0.1, max_samples=24,
                                        max_batch_size=8, seed=0),
                           call=_train, choices=("test",), numbers={"eta": POS},
                           ints={"batch_size": Int(2), "max_batch_size": POS_INT, "max_samples": Int(1, huge=False),
                                 "seed": Int(0)}, **XY),
}
OPT_OUT = {"TESTS": "a tuple of test names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
