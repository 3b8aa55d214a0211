import torch

from common import spd
from gradnotes import implicit as m
from harness import Arr, Int, NONNEG, POS, POS_INT, Spec

F64 = torch.float64


def _system():
    A = spd(4)
    return dict(A=A, b=torch.randn(4, dtype=F64, generator=torch.Generator().manual_seed(1)))


SINGULAR = {"A:singular": lambda a: dict(a, A=torch.diag(torch.tensor([1.0, 2.0, 0.0, 1.0], dtype=F64)))}


def _solver(factory, **hyper):
    def call(a):
        A = a["A"]
        kw = {k: a[k] for k in hyper}
        return factory(**kw)(lambda v: A @ v, a["b"], lambda v: A.T @ v)
    return call


def _solver_spec(factory, numbers=None, ints=None, **hyper):
    return Spec(lambda: dict(_system(), **hyper), call=_solver(factory, **hyper),
                tensors={"b": Arr(ndim=1, empty_ok=True), "A": Arr(ndim=2, arrays=False)},
                numbers=numbers or {}, ints=ints or {},
                extra=dict(SINGULAR), names={"A": ("matvec", "system", "M"), "b": ("rhs", "right-hand side")})


def _quad(x, theta):  # 0.5 x'Ax - theta'x, minimized at A^{-1} theta
    return 0.5 * x @ (spd(4) @ x) - theta @ x


def _ridge_root(a):
    A = spd(4)
    F = m.gradient_map(_quad)

    @m.custom_root(F, argnums=a["argnums"], residual_tol=a["residual_tol"], solve=m.solve_cg())
    def solver(init, theta): return torch.linalg.solve(A, theta)
    theta = _leaf(a["theta"])
    x = solver(None, theta)
    x.sum().backward()
    return x.detach(), theta.grad


def _leaf(t):
    "A grad-requiring copy of a floating tensor (other inputs as they are)."
    return t.detach().requires_grad_(True) if isinstance(t, torch.Tensor) and t.is_floating_point() else t


def _fixed_point(a):
    @m.custom_fixed_point(lambda x, theta: 0.5 * x + theta, argnums=a["argnums"])
    def solver(init, theta): return 2 * theta
    theta = _leaf(a["theta"])
    x = solver(None, theta)
    x.sum().backward()
    return x.detach(), theta.grad


def _theta(): return torch.randn(4, dtype=F64, generator=torch.Generator().manual_seed(2))


def _root_jvp(a):
    A = spd(4)
    sol = torch.linalg.solve(A, _theta())  # the solution at the valid theta: root_jvp checks args
    return m.root_jvp(m.gradient_map(_quad), sol, (a["theta"],), (a["tangent"],))


THETA = {"theta": Arr(ndim=None, empty_ok=True)}  # any structure: the decorators are generic


def _prox(a):
    F = m.prox_gradient_map(_quad, m.prox_lasso, a["step"])
    return F(a["x"], 0.1, _theta())


def _proj(a):
    obj = lambda x, c: ((x - c) ** 2).sum()
    return m.projected_gradient_map(obj, m.projection_simplex, a["step"])(a["x"], torch.tensor([0.2, 0.3, 0.5], dtype=F64))


def _mirror(a):
    obj = lambda x, c: ((x - c) ** 2).sum()
    return m.mirror_descent_map(obj, a["step"])(a["x"], torch.tensor([0.2, 0.3, 0.5], dtype=F64))


def _kkt(a):
    F = m.kkt_map(lambda z, c: ((z - c) ** 2).sum(), eq=a.get("eq", lambda z, c: z.sum().reshape(1) - 1))
    return F((a["z"], torch.zeros(1, dtype=F64)), torch.tensor([0.2, 0.3, 0.5], dtype=F64))



def _pcg(a):
    A = a["A"]
    return m.pcg(lambda v: A @ v, a["b"], precond=lambda r: r / torch.diagonal(A), x0=a["x0"],
                 tol=a["tol"], maxiter=a["maxiter"])


def _symcheck(a):
    A = a["A"]
    return m.check_symmetric_operator(lambda v: A @ v, a["like"], rtol=a["rtol"])


NONSYM = {"A:asymmetric": lambda a: dict(a, A=torch.triu(a["A"]) + torch.eye(4, dtype=F64))}
SYS_NAMES = {"A": ("matvec", "system", "M"), "b": ("rhs", "right-hand side")}


# F(x) is defined off the simplex (its root lies on it) and for rows of simplex points; mirror
# descent needs x >= 0 (tests/test_implicit.py shows both meanings)
PROJ_X = {"x": Arr(ndim=(1, 2))}
MIRROR_X = {"x": Arr(ndim=(1, 2), bounds=(0, None))}

SPECS = {
    "solve_cg": _solver_spec(m.solve_cg, numbers={"tol": POS, "ridge": NONNEG}, ints={"maxiter": POS_INT},
                             tol=1e-10, maxiter=50, ridge=0.0),
    "solve_normal_cg": _solver_spec(m.solve_normal_cg, numbers={"tol": POS, "ridge": NONNEG},
                                    ints={"maxiter": POS_INT}, tol=1e-10, maxiter=50, ridge=0.0),
    "solve_gmres": _solver_spec(m.solve_gmres, numbers={"tol": POS}, ints={"maxiter": POS_INT, "restart": POS_INT},
                                tol=1e-10, restart=4, maxiter=50),
    "solve_bicgstab": _solver_spec(m.solve_bicgstab, numbers={"tol": POS}, ints={"maxiter": POS_INT},
                                   tol=1e-10, maxiter=50),
    "pcg": Spec(lambda: dict(_system(), x0=torch.zeros(4, dtype=F64), tol=1e-10, maxiter=50), call=_pcg,
                tensors={"b": Arr(ndim=1, empty_ok=True), "A": Arr(ndim=2, arrays=False), "x0": Arr(ndim=1)},
                numbers={"tol": POS}, ints={"maxiter": POS_INT}, same_length=(("b", "x0"),),
                extra=dict(SINGULAR, **NONSYM), names=dict(SYS_NAMES, b=SYS_NAMES["b"] + ("x0",))),
    "solve_pcg": _solver_spec(m.solve_pcg, numbers={"tol": POS}, ints={"maxiter": POS_INT},
                              tol=1e-10, maxiter=50),
    "check_symmetric_operator": Spec(lambda: dict(A=spd(4), like=torch.zeros(4, dtype=F64), rtol=1e-8),
                                     call=_symcheck, tensors={"like": Arr(ndim=None, empty_ok=True)},
                                     numbers={"rtol": POS}, extra=dict(NONSYM), names={"A": ("matvec",)}),
    "KrylovResult": Spec(dict, call=lambda a: m.pcg(lambda v: spd(4) @ v, torch.ones(4, dtype=F64))),
    "solve_dense": _solver_spec(m.solve_dense, ints={"max_dim": POS_INT}, max_dim=16),
    "custom_root": Spec(lambda: dict(theta=_theta(), argnums=1, residual_tol=1e-4), call=_ridge_root,
                        tensors=THETA, ints={"argnums": Int(1, huge=False)}, numbers={"residual_tol": NONNEG}),
    "custom_fixed_point": Spec(lambda: dict(theta=_theta(), argnums=1), call=_fixed_point, tensors=THETA,
                               ints={"argnums": Int(1, huge=False)}),
    "root_jvp": Spec(lambda: dict(theta=_theta(), tangent=torch.ones(4, dtype=F64)), call=_root_jvp,
                     tensors={"theta": Arr(ndim=1), "tangent": Arr(ndim=1)},
                     names={"theta": ("args",), "tangent": ("tangents",)}),
    "gradient_map": Spec(lambda: dict(x=torch.randn(4, dtype=F64), theta=_theta()),
                         call=lambda a: m.gradient_map(_quad)(a["x"], a["theta"]),
                         tensors={"x": Arr(ndim=1)}),
    "prox_gradient_map": Spec(lambda: dict(x=torch.randn(4, dtype=F64), step=0.1), call=_prox,
                              numbers={"step": POS}, tensors={"x": Arr(ndim=1)}),
    "projected_gradient_map": Spec(lambda: dict(x=torch.tensor([0.3, 0.3, 0.4], dtype=F64), step=0.1), call=_proj,
                                   numbers={"step": POS}, tensors=PROJ_X),
    "mirror_descent_map": Spec(lambda: dict(x=torch.tensor([0.3, 0.3, 0.4], dtype=F64), step=0.1), call=_mirror,
                               numbers={"step": POS}, tensors=MIRROR_X),
    "kkt_map": Spec(lambda: dict(z=torch.tensor([0.3, 0.3, 0.4], dtype=F64)), call=_kkt,
                    tensors={"z": Arr(ndim=None)}, extra={"eq:none": lambda a: dict(a, eq=None)}),
    "prox_lasso": Spec(lambda: dict(y=torch.randn(5, dtype=F64), lam=0.1, step=0.5),
                       tensors={"y": Arr(ndim=None, empty_ok=True)}, numbers={"lam": NONNEG, "step": POS}),
    "projection_simplex": Spec(lambda: dict(v=torch.randn(5, dtype=F64)), tensors={"v": Arr(ndim=(1, 2))}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
