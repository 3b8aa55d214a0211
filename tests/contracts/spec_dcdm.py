import numpy as np
import torch

from gradnotes import dcdm as m
from harness import Arr, Int, POS, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)  # a grid size, a loop count or a layer width: a huge one is a long run


def _A(n=6, count=1):
    return m.PoissonOperator((n, n), m.random_obstacles(n, count=count, seed=0))


def _rhs(A, batch=None):
    g = torch.Generator().manual_seed(0)
    shape = A.shape if batch is None else (batch,) + A.shape
    return A.project(torch.randn(shape, generator=g, dtype=F64))


def _in_solid(A, b):
    "b with one solid cell set: there is no unknown there."
    b = b.clone()
    b[torch.as_tensor(A.solid)] = 1.0
    return b


def _solve_args():
    A = _A()
    return dict(A=A, b=_rhs(A), model=None, tol=1e-6, maxiter=40, n_orth=2, patience=10)


def _train_args():
    torch.manual_seed(0)
    A = _A()
    return dict(model=m.DCDMNet(2, 2, 1).double(), A=A, rhs=_rhs(A, 4), steps=2, batch_size=2,
                lr=1e-3, seed=0)


SPECS = {
    "random_obstacles": Spec(lambda: dict(n=8, dim=2, count=2, radius=(0.1, 0.2), seed=0),
                             ints={"n": Int(3, huge=False), "dim": Int(2, 3), "count": Int(0, huge=False),
                                   "seed": Int(0)},
                             extra={"radius:reversed": lambda a: dict(a, radius=(0.2, 0.1)),
                                    "radius:negative": lambda a: dict(a, radius=(-0.1, 0.2))}),
    "PoissonOperator": Spec(lambda: dict(shape=(6, 6), solid=m.random_obstacles(6, count=1, seed=0),
                                         boundary="neumann", x=torch.randn(6, 6, dtype=F64)),
                            call=lambda a: m.PoissonOperator(a["shape"], a["solid"], a["boundary"])(a["x"]),
                            tensors={"x": Arr(ndim=(2, 3))}, choices=("boundary",),
                            extra={"shape:one_axis": lambda a: dict(a, shape=(6,)),
                                   "shape:too_small": lambda a: dict(a, shape=(1, 6)),
                                   "solid:float": lambda a: dict(a, solid=a["solid"].astype(float)),
                                   "solid:wrong_shape": lambda a: dict(a, solid=a["solid"][:-1]),
                                   "solid:all": lambda a: dict(a, solid=np.ones((6, 6), dtype=bool))}),
    "DCDMNet": Spec(lambda: dict(dim=2, channels=2, blocks=1, r=torch.randn(2, 6, 6)),
                    call=lambda a: m.DCDMNet(a["dim"], a["channels"], a["blocks"])(a["r"]),
                    ints={"dim": Int(2, 3), "channels": NOLOOP, "blocks": NOLOOP},
                    tensors={"r": Arr(ndim=3)}),
    "dcdm_solve": Spec(_solve_args, tensors={"b": Arr(ndim=2)}, numbers={"tol": POS},
                       ints={"maxiter": NOLOOP, "n_orth": Int(0), "patience": Int(1)},
                       extra={"A:type": lambda a: dict(a, A=torch.eye(2)),
                              "b:in_solid": lambda a: dict(a, b=_in_solid(a["A"], a["b"])),
                              "model:type": lambda a: dict(a, model=3)}),
    "dcdm_loss": Spec(lambda: dict(A=_A(), q=torch.randn(2, 6, 6, dtype=F64), b=_rhs(_A(), 2)),
                      tensors={"q": Arr(ndim=3), "b": Arr(ndim=3)}, same_length=(("q", "b"),)),
    "ritz_rhs": Spec(lambda: dict(A=m.PoissonOperator((5, 5)), n_rhs=2, m=6, low_boost=9.0, seed=0),
                     ints={"n_rhs": NOLOOP, "m": Int(2, 25), "seed": Int(0)}, numbers={"low_boost": POS}),
    "train_dcdm": Spec(_train_args, tensors={"rhs": Arr(ndim=3)}, numbers={"lr": POS},
                       ints={"steps": NOLOOP, "batch_size": NOLOOP, "seed": Int(0)},
                       extra={"model:type": lambda a: dict(a, model=lambda r: r)}),
}
OPT_OUT = {}
XFAIL = {}
