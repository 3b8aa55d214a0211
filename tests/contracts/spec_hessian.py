import torch
import torch.nn.functional as F

from common import classification, spd, tiny_model
from gradnotes import hessian as m
from harness import Arr, Int, NONNEG, POS, POS_INT, Spec

XY = dict(tensors={"X": Arr(), "y": Arr(floating=False, ndim=None)}, same_length=(("X", "y"),))


def _data():
    X, y = classification()
    return dict(X=X, y=y)


def _op(a):
    A = a["A"]
    op = m.SymmetricOperator(lambda V: A @ V, A.shape[0], dtype=A.dtype)
    return (op.eigenvalues(k=a["k"], tol=a["tol"]), op.trace(n_probes=a["n_probes"]), op.diagonal(n_probes=4),
            op.dense(), op.matvec(a["v"]), op.density(n_probes=1, n_steps=3).moment(1))


def _hop(a):
    H = m.HessianOperator(tiny_model(), F.cross_entropy, (a["X"], a["y"]))
    return H.dense(), H.loss(), H.gradient(), H.trace(n_probes=3), H.eigenvalues(k=1)


def _density(a):
    op = m.SymmetricOperator(lambda V: 2 * V, 4)
    d = op.density(n_probes=2, n_steps=3)
    return d.evaluate(a["grid"], a["sigma"]), d.moment(2)


SPECS = {
    # as_batches knows no model: integer X is valid data here (token ids for an embedding);
    # HessianOperator refuses it unless the model embeds it
    "as_batches": Spec(lambda: _data(), call=lambda a: m.as_batches((a["X"], a["y"])),
                       tensors={"X": Arr(int_ok=True), "y": Arr(floating=False, ndim=None)},
                       same_length=(("X", "y"),), names={"X": ("data",), "y": ("data",)}),
    "check_deterministic": Spec(lambda: dict(model=tiny_model())),
    "TraceEstimate": Spec(dict, call=lambda a: m.TraceEstimate(1.0, 0.1)),
    "SpectralDensity": Spec(lambda: dict(grid=torch.linspace(0, 3, 5), sigma=0.1), call=_density,
                            numbers={"sigma": POS}, tensors={"grid": Arr(ndim=1, grad=False, empty_ok=True)}),
    "SymmetricOperator": Spec(lambda: dict(A=spd(4), k=1, tol=1e-6, n_probes=3, v=torch.randn(4, dtype=torch.float64)),
                              call=_op, ints={"k": POS_INT, "n_probes": Int(2, huge=False)}, numbers={"tol": NONNEG},
                              tensors={"v": Arr(ndim=(1, 2)), "A": Arr(ndim=2, arrays=False)},
                              extra={"A:asymmetric": lambda a: dict(a, A=torch.triu(a["A"]))},
                              # A reaches the operator only through matmat: messages speak of the product
                              names={"A": ("matmat", "SymmetricOperator", "dim")}),
    "HessianOperator": Spec(_data, call=_hop, **XY),
    "GaussNewtonOperator": Spec(_data, call=lambda a: m.GaussNewtonOperator(
        m.HessianOperator(tiny_model(), F.cross_entropy, (a["X"], a["y"]))).dense(), **XY),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
