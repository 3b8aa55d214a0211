import torch

from gradnotes import convex_relu as m
from harness import Arr, Int, NONNEG, Num, POS, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)  # a pattern or iteration count: a huge one is a long run


def _X(n=10):
    X = torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    return torch.cat([X, torch.ones(n, 1, dtype=F64)], 1)


def _y(n=10): return torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=F64)


def _gates(): return torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=F64)


def _pb(constrained=True): return m.convex_problem(_X(), _y(), _gates(), 0.1, constrained)


def _W(pb=None):
    pb = pb or _pb()
    return torch.randn(1, pb.n_neurons, 3, generator=torch.Generator().manual_seed(3), dtype=F64)


def _estimator(cls, y, y_decl):
    def args():
        return dict(X=_X(12)[:, :2], y=y(), n_patterns=4, beta=0.5, rho=1.0, gamma=1.0,
                    max_iter=5, tol=1e-5)
    def call(a):
        a = dict(a)
        X, y_ = a.pop("X"), a.pop("y")
        return cls(random_state=0, **a).fit(X, y_).predict(X)
    return Spec(args, call=call, tensors={"X": Arr(ndim=2, int_ok=True), "y": y_decl},
                numbers={"beta": POS, "rho": POS, "gamma": Num(0, 1.618, low_open=True),
                         "tol": Num(0, 1)},
                ints={"n_patterns": NOLOOP, "max_iter": NOLOOP}, same_length=(("X", "y"),))


SPECS = {
    "activation_patterns": Spec(lambda: dict(X=_X(), gates=_gates()),
                                tensors={"X": Arr(ndim=2), "gates": Arr(ndim=2)}),
    "sample_gates": Spec(lambda: dict(X=_X(), n_patterns=5, generator=torch.Generator().manual_seed(0)),
                         tensors={"X": Arr(ndim=2)}, ints={"n_patterns": NOLOOP}),
    "ConvexProblem": Spec(dict, call=lambda a: _pb().n_neurons),
    "convex_problem": Spec(lambda: dict(X=_X(), y=_y(), gates=_gates(), beta=0.1),
                           call=lambda a: m.convex_problem(**a).D,
                           tensors={"X": Arr(ndim=2), "y": Arr(ndim=(1, 2)), "gates": Arr(ndim=2)},
                           numbers={"beta": POS}, same_length=(("X", "y"),)),
    "objective": Spec(lambda: dict(pb=_pb(), W=_W()), tensors={"W": Arr(ndim=3)}),
    "violation": Spec(lambda: dict(pb=_pb(), W=_W()), tensors={"W": Arr(ndim=3)}),
    "ADMMResult": Spec(dict, call=lambda a: m.admm(_pb(), max_iter=3).n_iter),
    "admm": Spec(lambda: dict(pb=_pb(), rho=1.0, gamma=1.0, max_iter=5, tol=1e-6),
                 call=lambda a: m.admm(**a).W,
                 numbers={"rho": POS, "gamma": Num(0, 1.618, low_open=True), "tol": Num(0, 1)},
                 ints={"max_iter": NOLOOP}),
    "solve_cvxpy": Spec(lambda: dict(pb=_pb(False), loss="squared"),
                        call=lambda a: m.solve_cvxpy(**a)[1], choices=("loss",)),
    "enumerate_gates": Spec(lambda: dict(X=_X(), tol=1e-9), tensors={"X": Arr(ndim=2)},
                            numbers={"tol": Num(0, 1e-3)}),
    "solve_robust_cvxpy": Spec(lambda: dict(pb=_pb(), eps=0.1, loss="squared"),
                               call=lambda a: m.solve_robust_cvxpy(**a)[1],
                               numbers={"eps": NONNEG}, choices=("loss",)),
    "robust_objective": Spec(lambda: dict(pb=_pb(), W=_W(), eps=0.1, loss="squared"),
                             call=lambda a: m.robust_objective(**a)[0],
                             tensors={"W": Arr(ndim=3)}, numbers={"eps": NONNEG},
                             choices=("loss",)),
    "relu_network": Spec(lambda: dict(pb=_pb(), W=_W(), tol=0.0), call=lambda a: m.relu_network(**a)(_X()),
                         tensors={"W": Arr(ndim=3)}, numbers={"tol": NONNEG}),
    "network_objective": Spec(lambda: dict(net=m.relu_network(_pb(), _W()), X=_X(), Y=_y()[:, None], beta=0.1),
                              tensors={"X": Arr(ndim=2), "Y": Arr(ndim=2)}, numbers={"beta": NONNEG},
                              same_length=(("X", "Y"),)),
    "network_output": Spec(lambda: dict(pb=_pb(), W=_W(), X=_X(4)),
                           tensors={"W": Arr(ndim=3), "X": Arr(ndim=2)}),
    "ConvexReLUClassifier": _estimator(m.ConvexReLUClassifier, lambda: torch.arange(12) % 2,
                                       Arr(floating=False, ndim=1)),
    "ConvexReLURegressor": _estimator(m.ConvexReLURegressor, lambda: _y(12), Arr(ndim=1, int_ok=True)),
}
OPT_OUT = {}
XFAIL = {}
