import torch

from gradnotes import variational_pde as m
from harness import Arr, Int, Num, POS, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)  # a step count, a width or a batch: a huge one is a long run
LAG = m.Lagrangian(1.0, 2.0, 1.5)


def _grid(shape=(8, 6), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _points(n=16, d=2):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(0), dtype=F64)


def _ridge_call(a):
    prob = m.CosineRidgeProblem(a["d"], a["n_terms"], a["support"], a["seed"])
    return prob.u(a["x"]), prob.f(a["x"], LAG), prob.barron_norm()


def _net_call(a):
    torch.manual_seed(0)
    return m.TorusNet(a["d"], a["width"])(a["x"])


def _ritz_args():
    torch.manual_seed(0)
    return dict(model=m.TorusNet(2, 4), x=_points(), f=torch.ones(16, dtype=F64), lag=LAG)


def _train_args():
    torch.manual_seed(0)
    return dict(model=m.TorusNet(2, 4), f_fn=lambda x: torch.cos(6.283 * x[:, 0]), lag=LAG, d=2,
                steps=2, batch_size=8, lr=1e-2, seed=0)


GRID = Arr(ndim=(1, 2, 3))
SPECS = {
    "Lagrangian": Spec(lambda: dict(mass=1.0, alpha=2.0, gamma=1.5),
                       numbers={"mass": Num(0, 1e6, low_open=True), "alpha": Num(None, 1e6),
                                "gamma": Num(None, 1e6)},
                       extra={"gamma:non_convex": lambda a: dict(a, gamma=-1.0),
                              "alpha:non_convex": lambda a: dict(a, mass=0.5, alpha=-0.6)}),
    "torus_grid": Spec(lambda: dict(shape=(4, 5)),
                       extra={"shape:one_point": lambda a: dict(a, shape=(4, 1)),
                              "shape:four_axes": lambda a: dict(a, shape=(2, 2, 2, 2)),
                              "shape:fraction": lambda a: dict(a, shape=(4, 2.5))}),
    "spectral_grad": Spec(lambda: dict(u=_grid()), tensors={"u": GRID},
                          extra={"u:one_point_axis": lambda a: dict(a, u=torch.ones(8, 1, dtype=F64))}),
    "spectral_div": Spec(lambda: dict(q=torch.randn(2, 8, 6, dtype=F64)), tensors={"q": Arr(ndim=3)},
                         extra={"q:wrong_components": lambda a: dict(a, q=torch.ones(3, 8, 6, dtype=F64))}),
    "energy": Spec(lambda: dict(u=_grid(), f=_grid(seed=1), lag=LAG), tensors={"u": GRID, "f": Arr()},
                   extra={"f:shape": lambda a: dict(a, f=_grid((8, 5))),
                          "lag:str": lambda a: dict(a, lag="quadratic")}),
    "euler_lagrange": Spec(lambda: dict(u=_grid(), f=_grid(seed=1), lag=LAG), tensors={"u": GRID, "f": Arr()},
                           extra={"f:shape": lambda a: dict(a, f=_grid((8, 5))),
                                  "lag:none": lambda a: dict(a, lag=None)}),
    "helmholtz_inverse": Spec(lambda: dict(g=_grid(), mass=1.0), tensors={"g": GRID},
                              numbers={"mass": POS}),
    "h1_dual_norm": Spec(lambda: dict(g=_grid()), tensors={"g": GRID}),
    "h1_norm": Spec(lambda: dict(u=_grid()), tensors={"u": GRID}),
    "barron_norm": Spec(lambda: dict(u=_grid(), s=1.0), tensors={"u": GRID}, numbers={"s": Num(0, 10)}),
    "DescentResult": Spec(lambda: dict(u=_grid(), n_iter=1, converged=True)),
    "default_step": Spec(lambda: dict(lag=LAG, shape=(8, 8)),
                         extra={"lag:str": lambda a: dict(a, lag="quadratic")}),
    "gradient_descent": Spec(lambda: dict(f=_grid(), lag=LAG, preconditioned=True, eta=0.5, tol=1e-6,
                                          max_iter=20, u0=None, track_barron=True),
                             tensors={"f": GRID}, numbers={"eta": Num(0, 1e6, low_open=True),
                                                           "tol": Num(0, 1, low_open=True)},
                             ints={"max_iter": Int(0, 10**7, huge=False)},
                             extra={"u0:shape": lambda a: dict(a, u0=_grid((8, 5))),
                                    "u0:nan": lambda a: dict(a, u0=_grid() * float("nan")),
                                    "lag:str": lambda a: dict(a, lag="quadratic")}),
    "CosineRidgeProblem": Spec(lambda: dict(d=3, n_terms=3, support=2, seed=0, x=_points(d=3)),
                               call=_ridge_call, tensors={"x": Arr(ndim=2)},
                               ints={"d": Int(1, 1000, huge=False), "n_terms": Int(1, 1000, huge=False),
                                     "support": Int(1, huge=False), "seed": Int(0)},
                               extra={"x:wrong_d": lambda a: dict(a, x=_points(d=2)),
                                      "n_terms:too_many": lambda a: dict(a, d=1)}),
    "TorusNet": Spec(lambda: dict(d=2, width=4, x=_points()), call=_net_call,
                     ints={"d": Int(1, 10**4, huge=False), "width": Int(1, 10**6, huge=False)}),
    "ritz_energy": Spec(_ritz_args, tensors={"x": Arr(ndim=2), "f": Arr(ndim=1)},
                        extra={"f:length": lambda a: dict(a, f=torch.ones(15, dtype=F64)),
                               "lag:str": lambda a: dict(a, lag="quadratic")}),
    "train_deep_ritz": Spec(_train_args, numbers={"lr": Num(0, 10, low_open=True)},
                            ints={"d": Int(1, huge=False), "steps": Int(1, 10**7, huge=False),
                                  "batch_size": Int(1, 10**8, huge=False), "seed": Int(0)},
                            extra={"model:str": lambda a: dict(a, model="net"),
                                   "lag:str": lambda a: dict(a, lag="quadratic")}),
}
OPT_OUT = {}
XFAIL = {}
