import torch

from gradnotes import alm_sketch as m
from harness import ANY, Arr, Int, NONNEG, Num, POS, POS_INT, Spec

F64 = torch.float64

def _g(seed=0): return torch.Generator().manual_seed(seed)

def _K(n=6):
    "A small, well-conditioned square system (diagonally dominant)."
    return torch.randn(n, n, generator=_g(), dtype=F64) + 4 * n ** 0.5 * torch.eye(n, dtype=F64)

def _vec(n, seed=1): return torch.randn(n, generator=_g(seed), dtype=F64)

def _hs28(): return m.hock_schittkowski("HS28")   # quadratic: one or two Newton steps

def _parts():
    p = _hs28()
    return p.parts(p.x0, torch.zeros(p.m, dtype=F64))

def _HG():
    P = _parts()
    return dict(H=P.H, G=P.G)

def _logistic_args():
    X = torch.cat([torch.randn(20, 4, generator=_g(), dtype=F64), torch.ones(20, 1, dtype=F64)], 1)
    return dict(X=X, y=torch.arange(20) % 2, n_linear=2, seed=0)

def _problem(a):
    p = m.EqualityProblem(lambda x: (x ** 2).sum(), lambda x: x[:1] + x[1:2] - 1, a["x0"])
    return p.parts(p.x0, torch.zeros(p.m, dtype=p.x0.dtype))

def _poisson(a):
    p = m.PoissonControl(a["N"], a["alpha"], a["amplitude"])
    return p.parts(p.x0 + 0.1, torch.zeros(p.m, dtype=F64))

def _sketcher(a):
    sk = m.Sketcher(a["K"], method=a["method"], engine=a["engine"], check_every=a["check_every"])
    return sk.solve(_vec(6), 1e-6, max_steps=200)

OUTER = dict(problem=None, x0=Arr(ndim=1), lam0=Arr(ndim=1))

def _outer_args(**kw):
    def args():
        p = _hs28()
        return dict(problem=p, x0=p.x0.clone(), lam0=torch.zeros(p.m, dtype=F64), **kw)
    return args

OUTER_T = {"x0": Arr(ndim=1), "lam0": Arr(ndim=1)}
OUTER_NAMES = {"x0": ("x", "problem"), "lam0": ("lam", "problem")}

SPECS = {
    "mv": Spec(lambda: dict(A=_K(), v=_vec(6)), tensors={"A": Arr(ndim=2), "v": Arr(ndim=1)}),
    "fro": Spec(lambda: dict(A=_K()), tensors={"A": Arr(ndim=2)}),
    "KKTParts": Spec(dict, call=lambda a: _parts()),
    "EqualityProblem": Spec(lambda: dict(x0=_vec(3)), call=_problem, tensors={"x0": Arr(ndim=1)}),
    "hock_schittkowski": Spec(lambda: dict(name="HS6"), choices=("name",)),
    "constrained_logistic": Spec(_logistic_args, tensors={"X": Arr(ndim=2), "y": Arr(floating=False, ndim=1, labels=2)},
                                 ints={"n_linear": Int(0, 3), "seed": Int(0, huge=False)},
                                 same_length=(("X", "y"),)),
    "PoissonControl": Spec(lambda: dict(N=6, alpha=1e-3, amplitude=2.0), call=_poisson,
                           ints={"N": Int(2, huge=False)}, numbers={"alpha": POS, "amplitude": ANY}),
    "merit_value": Spec(lambda: dict(f=0.5, c=_vec(2), gL=_vec(3, 2), lam=_vec(2, 3), eta1=1.0, eta2=0.1),
                        tensors={"c": Arr(ndim=1), "gL": Arr(ndim=1), "lam": Arr(ndim=1)},
                        numbers={"f": ANY, "eta1": POS, "eta2": POS}, same_length=(("c", "lam"),)),
    "merit_gradient": Spec(lambda: dict(eta1=1.0, eta2=0.1, hessian="lagrangian"),
                           call=lambda a: m.merit_gradient(_parts(), **a),
                           numbers={"eta1": POS, "eta2": POS}, choices=("hessian",)),
    "augmented_lagrangian": Spec(lambda: dict(problem=_hs28(), x=_vec(3), lam=_vec(1, 2), eta1=1.0, eta2=0.1),
                                 tensors={"x": Arr(ndim=1), "lam": Arr(ndim=1)},
                                 numbers={"eta1": POS, "eta2": POS}),
    "jacobian_min_eig": Spec(lambda: dict(G=_HG()["G"]), tensors={"G": Arr(ndim=2)}),
    "reduced_hessian_min_eig": Spec(_HG, tensors={"H": Arr(ndim=2), "G": Arr(ndim=2)}),
    "modify_hessian": Spec(lambda: dict(H=-torch.eye(3, dtype=F64), G=_HG()["G"], xi_B=0.1, threshold=1e-6),
                           tensors={"H": Arr(ndim=2), "G": Arr(ndim=2)},
                           numbers={"xi_B": POS, "threshold": ANY}),
    "kkt_matrix": Spec(lambda: dict(B=_HG()["H"], G=_HG()["G"]), tensors={"B": Arr(ndim=2), "G": Arr(ndim=2)}),
    "SketchResult": Spec(dict, call=lambda a: m.sketch_solve(_K(), _vec(6), engine="torch", max_steps=200)),
    "Sketcher": Spec(lambda: dict(K=_K(), method="rk", engine="torch", check_every=6), call=_sketcher,
                     tensors={"K": Arr(ndim=2, arrays=False)}, choices=("method", "engine"),
                     ints={"check_every": Int(1, huge=False)}),
    "sketch_solve": Spec(lambda: dict(K=_K(), b=_vec(6), tol=1e-6, method="rk", max_steps=300, x0=None,
                                      seed=0, engine="torch"),
                         tensors={"K": Arr(ndim=2, arrays=False), "b": Arr(ndim=1)},
                         numbers={"tol": POS}, ints={"max_steps": Int(0), "seed": Int(0, huge=False)},
                         choices=("method", "engine"), same_length=(("K", "b"),)),
    "ALMResult": Spec(dict, call=lambda a: m.augmented_lagrangian_method(_hs28(), max_iter=5)),
    "adasketch_newton": Spec(_outer_args(solver="direct", tol=1e-6, max_iter=3, eta1=1.0, eta2=0.1,
                                         beta=0.1, nu=1.5, max_inner=1000),
                             tensors=OUTER_T, names=OUTER_NAMES, choices=("solver",),
                             numbers={"tol": POS, "eta1": POS, "eta2": POS, "beta": Num(0, 0.5, True, True),
                                      "nu": Num(1, low_open=True)},
                             ints={"max_iter": Int(0), "max_inner": POS_INT}),
    "l1_sqp_gmres": Spec(_outer_args(tol=1e-6, max_iter=3, mu=1.0, mu_margin=0.1, forcing=0.1, restart=10),
                         tensors=OUTER_T, names=OUTER_NAMES,
                         numbers={"tol": POS, "mu": POS, "mu_margin": NONNEG, "forcing": POS},
                         ints={"max_iter": Int(0), "restart": POS_INT}),
    "augmented_lagrangian_method": Spec(_outer_args(tol=1e-6, max_iter=3, mu=10.0, mu_factor=10.0),
                                       tensors=OUTER_T, names=OUTER_NAMES,
                                       numbers={"tol": POS, "mu": POS, "mu_factor": Num(1, low_open=True)},
                                       ints={"max_iter": Int(0)}),
}
OPT_OUT = {"HS_PROBLEMS": "a tuple of problem names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
