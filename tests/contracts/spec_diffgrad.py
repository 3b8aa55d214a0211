import torch

from common import optimizer_run
from gradnotes import diffgrad as m
from harness import Arr, NONNEG, POS, Spec

PARAM = Arr(ndim=None, finite=False, empty_ok=True, grad=False, arrays=False, complex_ok=True)
# NaN propagates, as in torch.optim; complex: refused or handled (checked in test_optimizer_contracts.py)
PNAMES = ("params", "param_groups", "parameter", "parameters")


def _kernel(fn, a):
    p, g = a["p"].clone(), a["g"]
    z = lambda: torch.zeros_like(p)
    fn([p], [g], [z()], [z()], [z()], [a["lr"]], 0.9, 0.999, 1e-8, 0.0)
    return p


def _args(): return dict(p=torch.randn(3, 2), g=torch.randn(3, 2), lr=0.1)


SPECS = {
    "diffgrad_single": Spec(_args, call=lambda a: _kernel(m.diffgrad_single, a)),
    "diffgrad_foreach": Spec(_args, call=lambda a: _kernel(m.diffgrad_foreach, a)),
    "diffgrad_fused": Spec(_args, call=lambda a: _kernel(m.diffgrad_fused, a)),
    "DiffGrad": Spec(lambda: dict(_args(), eps=1e-8, weight_decay=0.0), call=lambda a: optimizer_run(m.DiffGrad, a),
                     tensors={"p": PARAM}, numbers={"lr": NONNEG, "eps": NONNEG, "weight_decay": NONNEG}, names={"p": PNAMES}),
}
OPT_OUT = {"FUSED_DTYPES": "a tuple of dtypes, not a callable",
           "FUSED_MIN_NUMEL": "an integer constant, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
