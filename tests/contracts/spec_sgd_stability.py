import functools

import matplotlib
import torch

from gradnotes import sgd_stability as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec

NOLOOP = Int(1, huge=False)
F64 = torch.float64


def _data(n=12, d=3):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g, dtype=F64)
    return X, X[:, 0] - X[:, 1]


def _G(): return torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=F64)


def _reg():
    X, y = _data()
    return m.RegressionData(X[:8], y[:8], X[8:], y[8:], "tiny")


@functools.cache
def _rows():
    return m.lr_sweep(lambda s: m.DiagonalLinearNet(3), _reg(), [0.05], batch_sizes=(None, 1), steps=20, tol=1e-10)


def _plot(a):
    import matplotlib.pyplot as plt
    m.plot_sweep(a["rows"])
    plt.close("all")


def _train_args(engine):
    X, y = _data()
    return lambda: dict(model=m.DiagonalLinearNet(3), X=X, y=y, lr=0.05, steps=20, batch_size=2, seed=0, engine=engine,
                        record_every=5, tol=0.0, blowup=1e8)


def _train_spec(engine):
    return Spec(_train_args(engine), tensors={"X": Arr(ndim=2), "y": Arr(ndim=1)}, same_length=(("X", "y"),),
                numbers={"lr": POS, "tol": NONNEG, "blowup": POS},
                ints={"steps": Int(0, huge=False), "batch_size": POS_INT, "seed": Int(0), "record_every": POS_INT},
                choices=("engine",), extra={"batch_size:above_n": lambda a: dict(a, batch_size=10**6)})


SPECS = {
    "square_loss": Spec(lambda: dict(output=torch.randn(5, dtype=F64), target=torch.randn(5, dtype=F64)),
                        # a non-finite output is accepted: its loss is non-finite, how a diverging run shows
                        tensors={"output": Arr(ndim=(1, 2), finite=False), "target": Arr(ndim=1)},
                        same_length=(("output", "target"),)),
    "DiagonalLinearNet": Spec(lambda: dict(d=3, alpha=1.0, X=_data()[0]),
                              call=lambda a: m.DiagonalLinearNet(a["d"], a["alpha"])(a["X"]),
                              ints={"d": NOLOOP}, numbers={"alpha": POS},
                              tensors={"X": Arr(ndim=2, empty_ok=True)},  # a module maps an empty batch to one
                              names={"X": ("x",)}),  # forward's argument
    "TwoLayerReLU": Spec(lambda: dict(d=3, width=4, scale=1.0, seed=0, X=_data()[0]),
                         call=lambda a: m.TwoLayerReLU(a["d"], a["width"], a["scale"], seed=a["seed"])(a["X"]),
                         ints={"d": NOLOOP, "width": NOLOOP, "seed": Int(0)}, numbers={"scale": POS},
                         tensors={"X": Arr(ndim=2, empty_ok=True)}, names={"X": ("x",)}),
    "TrainResult": Spec(dict, call=lambda a: m.train_sgd(**_train_args("torch")())),
    "sample_indices": Spec(lambda: dict(n=12, steps=5, batch_size=2, seed=0),
                           ints={"n": POS_INT, "steps": Int(0, huge=False), "batch_size": POS_INT, "seed": Int(0)}),
    "train_sgd": _train_spec("numba"),
    "output_gradients": Spec(lambda: dict(model=m.DiagonalLinearNet(3), X=_data()[0], chunk_size=4),
                             tensors={"X": Arr(ndim=2)}, ints={"chunk_size": POS_INT}),
    "Sharpness": Spec(dict, call=lambda a: m.gauss_newton_sharpness(_G())),
    "gauss_newton_sharpness": Spec(lambda: dict(G=_G()), tensors={"G": Arr(ndim=2)}),
    "Threshold": Spec(dict, call=lambda a: m.stability_threshold(_G())),
    "stability_threshold": Spec(lambda: dict(G=_G(), batch_size=1, method="lanczos", tol=1e-9, max_iter=200, rtol=1e-10),
                                tensors={"G": Arr(ndim=2)}, ints={"batch_size": POS_INT, "max_iter": Int(1, huge=False)},
                                numbers={"tol": POS, "rtol": Num(0, 1)}, choices=("method",)),
    "second_moment_matrix": Spec(lambda: dict(G=_G(), lr=0.1, batch_size=2),
                                 tensors={"G": Arr(ndim=2)}, numbers={"lr": NONNEG}, ints={"batch_size": POS_INT}),
    "mean_square_radius": Spec(lambda: dict(G=_G(), lr=0.1, batch_size=2, rtol=1e-10),
                               tensors={"G": Arr(ndim=2)}, numbers={"lr": NONNEG, "rtol": Num(0, 1)},
                               ints={"batch_size": POS_INT}),
    "RegressionData": Spec(lambda: dict(X=_data()[0], y=_data()[1]),
                           call=lambda a: m.RegressionData(a["X"], a["y"], a["X"], a["y"]),
                           tensors={"X": Arr(ndim=2), "y": Arr(ndim=1)}, same_length=(("X", "y"),)),
    "sparse_regression": Spec(lambda: dict(n=8, d=6, k=2, n_test=5, noise=0.1, seed=0),
                              ints={"n": NOLOOP, "d": NOLOOP, "k": POS_INT, "n_test": NOLOOP, "seed": Int(0)},
                              numbers={"noise": NONNEG}),
    "teacher_regression": Spec(lambda: dict(n=8, d=5, n_test=5, noise=0.1, seed=0),
                               ints={"n": NOLOOP, "d": Int(4, huge=False), "n_test": NOLOOP, "seed": Int(0)},
                               numbers={"noise": NONNEG}),
    "diabetes_regression": Spec(lambda: dict(seed=0), ints={"seed": Int(0)}),
    "stability_norm": Spec(lambda: dict(model=m.DiagonalLinearNet(3), X=_data()[0]), tensors={"X": Arr(ndim=2)}),
    "measure": Spec(lambda: dict(model=m.DiagonalLinearNet(3), data=_reg(), hessian=True, n_probes=3),
                    ints={"n_probes": Int(2, huge=False)}),
    "lr_sweep": Spec(lambda: dict(make_model=lambda s: m.DiagonalLinearNet(3), data=_reg(), lrs=[0.05],
                                  batch_sizes=(None,), steps=10, tol=1e-10, engine="torch"),
                     ints={"steps": Int(0, huge=False)}, numbers={"tol": NONNEG}, choices=("engine",)),
    "plot_sweep": Spec(lambda: dict(rows=_rows()), call=_plot),
    "sweep_table": Spec(lambda: dict(rows=_rows())),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
