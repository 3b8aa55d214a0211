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
    theta = a["theta"].detach().requires_grad_(True) if a["theta"].is_floating_point() else a["theta"]
    x = solver(None, theta)
    x.sum().backward()
    return x.detach(), theta.grad


def _fixed_point(a):
    @m.custom_fixed_point(lambda x, theta: 0.5 * x + theta, argnums=a["argnums"])
    def solver(init, theta): return 2 * theta
    theta = a["theta"].detach().requires_grad_(True) if a["theta"].is_floating_point() else a["theta"]
    x = solver(None, theta)
    x.sum().backward()
    return x.detach(), theta.grad


def _theta(): return torch.randn(4, dtype=F64, generator=torch.Generator().manual_seed(2))


def _root_jvp(a):
    A = spd(4)
    theta = a["theta"]
    sol = torch.linalg.solve(A, theta)
    return m.root_jvp(m.gradient_map(_quad), sol, (theta,), (a["tangent"],))


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
    F = m.kkt_map(lambda z, c: ((z - c) ** 2).sum(), eq=lambda z, c: z.sum().reshape(1) - 1)
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


SIMPLEX_X = {"x": Arr(ndim=1, bounds=(0, 1))}

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
                                   numbers={"step": POS}, tensors=SIMPLEX_X),
    "mirror_descent_map": Spec(lambda: dict(x=torch.tensor([0.3, 0.3, 0.4], dtype=F64), step=0.1), call=_mirror,
                               numbers={"step": POS}, tensors=SIMPLEX_X),
    "kkt_map": Spec(lambda: dict(z=torch.tensor([0.3, 0.3, 0.4], dtype=F64)), call=_kkt,
                    tensors={"z": Arr(ndim=None)}, extra={"eq:none": lambda a: dict(a, eq=None)}),
    "prox_lasso": Spec(lambda: dict(y=torch.randn(5, dtype=F64), lam=0.1, step=0.5),
                       tensors={"y": Arr(ndim=None, empty_ok=True)}, numbers={"lam": NONNEG, "step": POS}),
    "projection_simplex": Spec(lambda: dict(v=torch.randn(5, dtype=F64)), tensors={"v": Arr(ndim=(1, 2))}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'solve_cg:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_cg:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_cg:A:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (4) at ...',
    'solve_cg:A:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x4 and 1x4)',
    'solve_cg:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_cg:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_cg:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_cg:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'solve_normal_cg:b:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Long, Doub...',
    'solve_normal_cg:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_normal_cg:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_normal_cg:b:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'solve_normal_cg:A:empty': 'unclear: RuntimeError: size mismatch, got input (4), mat (4x0), vec (4)',
    'solve_normal_cg:A:ndim+1': 'unclear: RuntimeError: Expected size for first two dimensions of batch2 tensor to be: [...',
    'solve_normal_cg:A:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 0D...',
    'solve_normal_cg:A:nan': 'unclear: ValueError: solve_normal_cg: b contains NaN or infinite values; use solve_norm...',
    'solve_normal_cg:A:inf': 'unclear: ValueError: solve_normal_cg: b contains NaN or infinite values; use solve_norm...',
    'solve_normal_cg:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_normal_cg:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_normal_cg:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_normal_cg:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'solve_normal_cg:A:singular': 'silent: singular A accepted (returned Tensor)',
    'solve_gmres:b:int': 'unclear: RuntimeError: linalg.vector_norm: Expected a floating point or complex tensor ...',
    'solve_gmres:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_gmres:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_gmres:b:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'solve_gmres:A:empty': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (0) at ...',
    'solve_gmres:A:ndim+1': 'silent: ndim+1 A accepted (returned Tensor)',
    'solve_gmres:A:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 0D...',
    'solve_gmres:A:nan': 'unclear: RuntimeError: false INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/A...',
    'solve_gmres:A:inf': 'unclear: RuntimeError: false INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/A...',
    'solve_gmres:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_gmres:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_gmres:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_gmres:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'solve_bicgstab:b:int': 'unclear: RuntimeError: linalg.vector_norm: Expected a floating point or complex tensor ...',
    'solve_bicgstab:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_bicgstab:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_bicgstab:b:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'solve_bicgstab:A:empty': 'unclear: RuntimeError: inconsistent tensor size, expected tensor [4] and src [0] to hav...',
    'solve_bicgstab:A:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x4 and 1x4)',
    'solve_bicgstab:A:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 1D...',
    'solve_bicgstab:A:nan': 'silent: nan A accepted (returned Tensor)',
    'solve_bicgstab:A:inf': 'silent: inf A accepted (returned Tensor)',
    'solve_bicgstab:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_bicgstab:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_bicgstab:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_bicgstab:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'pcg:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'pcg:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'pcg:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'pcg:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'pcg:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'pcg:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'pcg:x0:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'pcg:x0:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_pcg:b:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x4 and 1x4)',
    'solve_pcg:b:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 2D...',
    'solve_pcg:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_pcg:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_pcg:A:empty': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (0) at ...',
    'solve_pcg:A:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x4 and 1x4)',
    'solve_pcg:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_pcg:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_pcg:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_pcg:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'check_symmetric_operator:rtol:below': 'unclear: ValueError: matvec is not symmetric: u.(Av) - v.(Au) = 3.553e-15 for random u,...',
    'solve_dense:b:ndim+1': 'unclear: ValueError: solve_dense: the system is singular (linalg.solve: Incompatible sh...',
    'solve_dense:b:ndim-1': 'unclear: RuntimeError: size mismatch, got input (4), mat (4x4), vec (1)',
    'solve_dense:b:nan': 'unclear: ValueError: solve_dense: the system is singular to working precision',
    'solve_dense:b:inf': 'unclear: ValueError: solve_dense: the system is singular to working precision',
    'solve_dense:b:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Long, Doub...',
    'solve_dense:b:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'solve_dense:b:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'solve_dense:b:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'solve_dense:b:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'numel'",
    'solve_dense:b:list': "unclear: AttributeError: 'list' object has no attribute 'numel'",
    'solve_dense:A:ndim+1': 'silent: ndim+1 A accepted (returned Tensor)',
    'solve_dense:A:ndim-1': 'unclear: IndexError: Dimension out of range (expected to be in range of [-1, 0], but go...',
    'solve_dense:A:int': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Lo...',
    'solve_dense:A:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Ha...',
    'solve_dense:A:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, BF...',
    'solve_dense:A:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Double, Co...',
    'solve_dense:max_dim:fraction': 'silent: fraction max_dim accepted (returned Tensor)',
    'solve_dense:max_dim:str': "unclear: TypeError: '>' not supported between instances of 'int' and 'str'",
    'custom_root:theta:nan': 'unclear: ValueError: the solver returned a solution with NaN or infinite values',
    'custom_root:theta:inf': 'unclear: ValueError: the solver returned a solution with NaN or infinite values',
    'custom_root:theta:int': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'custom_root:theta:float16': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'custom_root:theta:bfloat16': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'custom_root:theta:complex': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'custom_root:theta:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'is_floating_point'",
    'custom_root:theta:list': "unclear: AttributeError: 'list' object has no attribute 'is_floating_point'",
    'custom_root:residual_tol:below': 'silent: below residual_tol accepted (returned tuple)',
    'custom_root:residual_tol:nan': 'silent: nan residual_tol accepted (returned tuple)',
    'custom_root:residual_tol:inf': 'silent: inf residual_tol accepted (returned tuple)',
    'custom_root:residual_tol:bool': 'silent: bool residual_tol accepted (returned tuple)',
    'custom_root:residual_tol:str': "unclear: TypeError: '>' not supported between instances of 'float' and 'str'",
    'custom_root:argnums:fraction': "unclear: TypeError: 'float' object is not iterable",
    'custom_fixed_point:theta:nan': 'unclear: ValueError: the solver returned a solution with NaN or infinite values',
    'custom_fixed_point:theta:inf': 'unclear: ValueError: the solver returned a solution with NaN or infinite values',
    'custom_fixed_point:theta:int': 'unclear: RuntimeError: linalg.vector_norm: Expected a floating point or complex tensor ...',
    'custom_fixed_point:theta:complex': 'unclear: RuntimeError: element 0 of tensors does not require grad and does not have a g...',
    'custom_fixed_point:theta:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'is_floating_point'",
    'custom_fixed_point:theta:list': "unclear: AttributeError: 'list' object has no attribute 'is_floating_point'",
    'custom_fixed_point:argnums:fraction': "unclear: TypeError: 'float' object is not iterable",
    'root_jvp:theta:empty': 'unclear: RuntimeError: linalg.solve: Incompatible shapes of A and B for the equation AX...',
    'root_jvp:theta:ndim+1': 'unclear: RuntimeError: linalg.solve: Incompatible shapes of A and B for the equation AX...',
    'root_jvp:theta:ndim-1': 'unclear: RuntimeError: linalg.solve: The input tensor B must have at least 2 dimensions.',
    'root_jvp:theta:nan': 'silent: nan theta accepted (returned Tensor)',
    'root_jvp:theta:inf': 'silent: inf theta accepted (returned Tensor)',
    'root_jvp:theta:int': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'root_jvp:theta:float16': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'root_jvp:theta:bfloat16': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'root_jvp:theta:complex': 'unclear: RuntimeError: linalg.solve: Expected A and B to have the same dtype, but found...',
    'root_jvp:theta:numpy': "unclear: TypeError: linalg_solve(): argument 'B' (position 2) must be Tensor, not numpy...",
    'root_jvp:theta:list': "unclear: TypeError: linalg_solve(): argument 'B' (position 2) must be Tensor, not list",
    'root_jvp:tangent:empty': 'unclear: RuntimeError: Mismatch in shape: grad_output[0] has a shape of torch.Size([0])...',
    'root_jvp:tangent:ndim+1': 'silent: ndim+1 tangent accepted (returned Tensor)',
    'root_jvp:tangent:ndim-1': 'unclear: RuntimeError: Mismatch in shape: grad_output[0] has a shape of torch.Size([1])...',
    'root_jvp:tangent:nan': 'unclear: ValueError: solve_normal_cg: the system is not positive definite (p^T A p = na...',
    'root_jvp:tangent:inf': 'unclear: ValueError: solve_normal_cg: the system is not positive definite (p^T A p = na...',
    'root_jvp:tangent:int': 'silent: int tangent accepted (returned Tensor)',
    'root_jvp:tangent:complex': 'unclear: RuntimeError: For complex Tensors, both grad_output and output are required to...',
    'root_jvp:tangent:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'root_jvp:tangent:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'gradient_map:x:empty': 'unclear: RuntimeError: size mismatch, got input (4), mat (4x4), vec (0)',
    'gradient_map:x:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x4 and 1x4)',
    'gradient_map:x:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 2D...',
    'gradient_map:x:nan': 'silent: nan x accepted (returned Tensor)',
    'gradient_map:x:inf': 'silent: inf x accepted (returned Tensor)',
    'gradient_map:x:int': 'unclear: RuntimeError: only Tensors of floating point dtype can require gradients',
    'gradient_map:x:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'gradient_map:x:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'gradient_map:x:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'gradient_map:x:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'gradient_map:x:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'prox_gradient_map:x:empty': 'unclear: RuntimeError: size mismatch, got input (4), mat (4x4), vec (0)',
    'prox_gradient_map:x:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x4 and 1x4)',
    'prox_gradient_map:x:ndim-1': 'unclear: RuntimeError: both arguments to matmul need to be at least 1D, but they are 2D...',
    'prox_gradient_map:x:nan': 'silent: nan x accepted (returned Tensor)',
    'prox_gradient_map:x:inf': 'silent: inf x accepted (returned Tensor)',
    'prox_gradient_map:x:int': 'unclear: RuntimeError: only Tensors of floating point dtype can require gradients',
    'prox_gradient_map:x:float16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got Half, Doub...',
    'prox_gradient_map:x:bfloat16': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got BFloat16, ...',
    'prox_gradient_map:x:complex': 'unclear: RuntimeError: addmv input tensors must have the same dtype, but got ComplexDou...',
    'prox_gradient_map:x:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'prox_gradient_map:x:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'projected_gradient_map:x:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (3) at ...',
    'projected_gradient_map:x:ndim+1': 'silent: ndim+1 x accepted (returned Tensor)',
    'projected_gradient_map:x:ndim-1': 'unclear: IndexError: tuple index out of range',
    'projected_gradient_map:x:value<low': 'silent: value<low x accepted (returned Tensor)',
    'projected_gradient_map:x:value>high': 'silent: value>high x accepted (returned Tensor)',
    'projected_gradient_map:x:nan': 'unclear: RuntimeError: index -1 is out of bounds for dimension 0 with size 3',
    'projected_gradient_map:x:inf': 'unclear: RuntimeError: index -1 is out of bounds for dimension 0 with size 3',
    'projected_gradient_map:x:int': 'unclear: RuntimeError: only Tensors of floating point dtype can require gradients',
    'projected_gradient_map:x:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'projected_gradient_map:x:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'projected_gradient_map:x:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'projected_gradient_map:step:huge': 'unclear: RuntimeError: index -1 is out of bounds for dimension 0 with size 3',
    'mirror_descent_map:x:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (3) at ...',
    'mirror_descent_map:x:ndim+1': 'silent: ndim+1 x accepted (returned Tensor)',
    'mirror_descent_map:x:ndim-1': 'silent: ndim-1 x accepted (returned Tensor)',
    'mirror_descent_map:x:value<low': 'silent: value<low x accepted (returned Tensor)',
    'mirror_descent_map:x:value>high': 'silent: value>high x accepted (returned Tensor)',
    'mirror_descent_map:x:nan': 'silent: nan x accepted (returned Tensor)',
    'mirror_descent_map:x:inf': 'silent: inf x accepted (returned Tensor)',
    'mirror_descent_map:x:int': 'unclear: RuntimeError: only Tensors of floating point dtype can require gradients',
    'mirror_descent_map:x:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'mirror_descent_map:x:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'mirror_descent_map:x:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'kkt_map:z:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (3) at ...',
    'kkt_map:z:nan': 'silent: nan z accepted (returned tuple)',
    'kkt_map:z:inf': 'silent: inf z accepted (returned tuple)',
    'kkt_map:z:int': 'unclear: RuntimeError: only Tensors of floating point dtype can require gradients',
    'kkt_map:z:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'kkt_map:z:numpy': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got ndarray',
    'kkt_map:z:list': 'unclear: TypeError: expected a tensor or a tuple/list of tensors, got float',
    'kkt_map:eq:none': 'silent: none eq accepted (returned tuple)',
    'projection_simplex:v:nan': 'unclear: RuntimeError: index -1 is out of bounds for dimension 0 with size 5',
    'projection_simplex:v:inf': 'unclear: RuntimeError: index -1 is out of bounds for dimension 0 with size 5',
}
