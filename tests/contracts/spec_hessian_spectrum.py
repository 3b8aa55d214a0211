import numpy as np
import torch

from common import classification, tiny_model
from gradnotes import hessian_spectrum as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec

XY = dict(tensors={"X": Arr(), "y": Arr(floating=False, labels=2)}, same_length=(("X", "y"),))


def _data(**kw):
    X, y = classification(dtype=torch.float64)
    return dict(model=tiny_model(dtype=torch.float64), X=X, y=y, **kw)


def _interp(a):
    model = tiny_model(dtype=torch.float64)
    w_a = {k: v.clone() for k, v in model.state_dict().items()}
    w_b = {k: v + 0.1 for k, v in w_a.items()}
    return m.interpolate(model, w_a, w_b, a["X"], a["y"], a["alphas"])


SPECS = {
    "blobs": Spec(lambda: dict(k=3, cluster_std=1.0, n=12, d=2, seed=0),
                  ints={"k": Int(2, huge=False), "n": Int(1, huge=False), "d": Int(1, huge=False), "seed": Int(0)},
                  numbers={"cluster_std": POS}),
    "gaussian_mlp": Spec(lambda: dict(sizes=[3, 4, 2], scale=0.1, seed=0), numbers={"scale": NONNEG},
                         ints={"seed": Int(0)}),
    "train": Spec(lambda: _data(lr=0.1, max_steps=3, grad_tol=1e-4, batch_size=4, seed=0),
                  numbers={"lr": POS, "grad_tol": NONNEG}, ints={"max_steps": Int(0, huge=False),
                                                                  "batch_size": POS_INT, "seed": Int(0)}, **XY),
    "spectra": Spec(_data, **XY),
    "spectrum_summary": Spec(lambda: dict(eigs=torch.tensor([5.0, 3.0, 1.0, 0.01, 0.0, -0.001], dtype=torch.float64),
                                          k=2, bulk_tol=1e-3, outlier_frac=0.05),
                             tensors={"eigs": Arr(ndim=1)}, ints={"k": POS_INT},
                             numbers={"bulk_tol": Num(0, 1, low_open=True), "outlier_frac": Num(0, 1, low_open=True)},
                             extra={"eigs:ascending": lambda a: dict(a, eigs=a["eigs"].flip(0))}),
    "interpolate": Spec(lambda: dict(X=classification(dtype=torch.float64)[0], y=classification()[1],
                                     alphas=[0.0, 0.5, 1.0]), call=_interp, **XY),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
}
