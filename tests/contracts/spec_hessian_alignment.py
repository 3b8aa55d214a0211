import functools

import torch
import torch.nn.functional as F
from torch import nn

from gradnotes import hessian_alignment as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, PROB, Spec

NOLOOP = Int(1, huge=False)
TARGETS = Arr(floating=True, ndim=None, bounds=(0, 1))


def _head():
    torch.manual_seed(0)
    return nn.Linear(3, 1)


def _env(seed, n=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g), (torch.rand(n, 1, generator=g) > 0.5).float()


def _losses():
    head = _head()
    out = []
    for s in (0, 1):
        X, t = _env(s)
        out.append(F.binary_cross_entropy_with_logits(head(X), t))
    return head, out


def _loss_spec(fn, **kw):
    "Penalties over a list of environment losses: the losses are scalars on the head's graph."
    def args():
        head, (l0, l1) = _losses()
        return dict(head=head, l0=l0, l1=l1, **kw)
    def call(a):
        a = dict(a)
        head, losses = a.pop("head"), [a.pop("l0"), a.pop("l1")]
        return fn(losses, head, **a) if fn is not m.rex_penalty else fn(losses)
    extra = {"env_losses:nan": lambda a: dict(a, l0=a["l0"] * float("nan")),
             "env_losses:vector": lambda a: dict(a, l0=a["l0"].expand(2)),
             "env_losses:complex": lambda a: dict(a, l0=a["l0"].to(torch.complex64))}
    return call, args, extra


def _penalty(fn, **kw):
    call, args, extra = _loss_spec(fn, **kw)
    ints = {"n_probes": POS_INT} if "n_probes" in kw else {}
    return Spec(args, call=call, extra=extra, ints=ints)


def _two_env_args():
    (X0, t0), (X1, t1) = _env(0), _env(1)
    return dict(head=_head(), X0=X0, t0=t0, X1=X1, t1=t1)


TWO_ENV = dict(tensors={"X0": Arr(ndim=2), "t0": TARGETS, "X1": Arr(ndim=2), "t1": TARGETS},
               same_length=(("X0", "t0"), ("X1", "t1")),
               names={k: ("env_features", "env_targets", "features", "targets", "X", "y") for k in ("X0", "t0", "X1", "t1")})


@functools.cache
def _envs():
    return m.colored_digits(seed=0, test_fraction=0.5)


@functools.cache
def _runs():
    return tuple(m.alignment_benchmark(methods=("erm", "vrex"), seeds=(0,), env_kwargs=dict(test_fraction=0.5),
                                       hidden=4, steps=2, track_every=None))


def _method_penalty(a):
    head, (l0, l1) = _losses()
    feats = [_env(0)[0], _env(1)[0]]
    targets = [_env(0)[1], _env(1)[1]]
    logits = [head(f) for f in feats]
    return m.method_penalty(a["method"], head, feats, logits, targets, [l0, l1], n_probes=a["n_probes"])


def _diag_args():
    head, (l0, _) = _losses()
    return dict(g=m.loss_gradient(l0, head), params=head, n_probes=4)


def _gradient_args():
    head, (l0, _) = _losses()
    return dict(params=head, loss=l0)


SPECS = {
    "loss_gradient": Spec(_gradient_args, extra={"loss:vector": lambda a: dict(a, loss=a["loss"].expand(3)),
                                                 "loss:nan": lambda a: dict(a, loss=a["loss"] * float("nan"))}),
    "hessian_gradient_product": Spec(_gradient_args,
                                     extra={"loss:vector": lambda a: dict(a, loss=a["loss"].expand(3)),
                                            "loss:nan": lambda a: dict(a, loss=a["loss"] * float("nan"))}),
    "rademacher": Spec(lambda: dict(n=3, dim=4), ints={"n": NOLOOP, "dim": NOLOOP}),
    "hutchinson_diagonal": Spec(_diag_args, ints={"n_probes": NOLOOP}),
    "hgp_penalty": _penalty(m.hgp_penalty),
    "hutchinson_penalty": _penalty(m.hutchinson_penalty, n_probes=4),
    "irm_penalty": Spec(lambda: dict(z0=torch.randn(6, 1), t0=_env(0)[1], z1=torch.randn(6, 1), t1=_env(1)[1]),
                        call=lambda a: m.irm_penalty([a["z0"], a["z1"]], [a["t0"], a["t1"]]),
                        tensors={"z0": Arr(ndim=2), "t0": TARGETS}, same_length=(("z0", "t0"),),
                        names={"z0": ("env_logits", "logits"), "t0": ("env_targets", "targets")}),
    "rex_penalty": _penalty(m.rex_penalty),
    "per_sample_head_grads": Spec(lambda: dict(head=_head(), features=_env(0)[0], targets=_env(0)[1]),
                                  tensors={"features": Arr(ndim=2), "targets": TARGETS},
                                  same_length=(("features", "targets"),)),
    "fishr_penalty": Spec(_two_env_args, call=lambda a: m.fishr_penalty(a["head"], [a["X0"], a["X1"]], [a["t0"], a["t1"]]),
                          **TWO_ENV),
    "penalty_weight_at": Spec(lambda: dict(step=5, weight=10.0, anneal_iters=3),
                              ints={"step": Int(0), "anneal_iters": Int(0)}, numbers={"weight": NONNEG}),
    "invariance_loss": Spec(lambda: dict(mean_loss=torch.tensor(0.7), penalty=torch.tensor(0.1), weight=10.0, l2=0.01,
                                         params=list(_head().parameters())),
                            numbers={"weight": NONNEG, "l2": NONNEG},
                            tensors={"mean_loss": Arr(ndim=0, arrays=False), "penalty": Arr(ndim=0, arrays=False)}),
    "Environments": Spec(dict, call=lambda a: repr(_envs())),
    "colored_digits": Spec(lambda: dict(seed=0, label_noise=0.25, test_flip=0.9, test_fraction=0.5),
                           ints={"seed": Int(0)}, numbers={"label_noise": PROB, "test_flip": PROB,
                                                           "test_fraction": Num(0, 1, True, True)}),
    "colored_mlp": Spec(lambda: dict(in_features=8, hidden=4), ints={"in_features": NOLOOP, "hidden": NOLOOP}),
    "head_hessian": Spec(lambda: dict(head=_head(), features=_env(0)[0], targets=_env(0)[1]),
                         tensors={"features": Arr(ndim=2), "targets": TARGETS},
                         same_length=(("features", "targets"),)),
    "head_hessian_distance": Spec(_two_env_args, call=lambda a: m.head_hessian_distance(
        a["head"], [a["X0"], a["X1"]], [a["t0"], a["t1"]]), **TWO_ENV),
    "AlignmentRun": Spec(dict, call=lambda a: m.AlignmentRun("erm", 0, {"test": 0.5})),
    "method_penalty": Spec(lambda: dict(method="hutchinson", n_probes=4), call=_method_penalty, choices=("method",),
                           ints={"n_probes": POS_INT}),
    "fit_alignment": Spec(lambda: dict(method="hgp", envs=_envs(), seed=0, hidden=4, steps=2, lr=1e-3, l2=1e-3,
                                       penalty_weight=10.0, anneal_iters=1, n_probes=4, track_every=1),
                          choices=("method",), ints={"seed": Int(0), "hidden": NOLOOP, "steps": NOLOOP,
                                                     "anneal_iters": Int(0), "n_probes": POS_INT,
                                                     "track_every": POS_INT},
                          numbers={"lr": POS, "l2": NONNEG, "penalty_weight": NONNEG}),
    "alignment_benchmark": Spec(lambda: dict(methods=("erm",), seeds=(0,), env_kwargs=dict(test_fraction=0.5),
                                             hidden=4, steps=2, track_every=None),
                                extra={"methods:unknown": lambda a: dict(a, methods=("erm", "nope")),
                                       "seeds:negative": lambda a: dict(a, seeds=(-1,)),
                                       "methods:empty": lambda a: dict(a, methods=())}),
    "summary_table": Spec(lambda: dict(runs=list(_runs()))),
}
OPT_OUT = {"METHODS": "a tuple of method names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'hgp_penalty:env_losses:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'hutchinson_penalty:n_probes:huge': 'unclear: RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocato...',
    'hutchinson_penalty:env_losses:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'irm_penalty:z0:empty': 'unclear: ValueError: Target size (torch.Size([6, 1])) must be the same as input size (t...',
    'irm_penalty:z0:ndim+1': 'unclear: ValueError: Target size (torch.Size([6, 1])) must be the same as input size (t...',
    'irm_penalty:z0:ndim-1': 'unclear: ValueError: Target size (torch.Size([6, 1])) must be the same as input size (t...',
    'irm_penalty:z0:nan': 'silent: nan z0 accepted (returned Tensor)',
    'irm_penalty:z0:inf': 'silent: inf z0 accepted (returned Tensor)',
    'irm_penalty:z0:int': 'unclear: RuntimeError: Only Tensors of floating point and complex dtype can require gra...',
    'irm_penalty:z0:complex': 'unclear: NotImplementedError: "log_sigmoid_cpu" not implemented for \'ComplexFloat\'',
    'irm_penalty:z0:numpy': "unclear: TypeError: ones(): argument 'dtype' must be torch.dtype, not numpy.dtypes.Floa...",
    'irm_penalty:z0:list': "unclear: AttributeError: 'list' object has no attribute 'dtype'",
    'irm_penalty:t0:empty': 'unclear: ValueError: Target size (torch.Size([0, 1])) must be the same as input size (t...',
    'irm_penalty:t0:value<low': 'silent: value<low t0 accepted (returned Tensor)',
    'irm_penalty:t0:value>high': 'silent: value>high t0 accepted (returned Tensor)',
    'irm_penalty:t0:nan': 'silent: nan t0 accepted (returned Tensor)',
    'irm_penalty:t0:inf': 'silent: inf t0 accepted (returned Tensor)',
    'irm_penalty:t0:int': "unclear: RuntimeError: result type Float can't be cast to the desired output type Long",
    'irm_penalty:t0:complex': 'unclear: RuntimeError: binary_cross_entropy_with_logits does not support automatic diff...',
    'irm_penalty:t0:numpy': "unclear: TypeError: 'int' object is not callable",
    'irm_penalty:t0:list': "unclear: AttributeError: 'list' object has no attribute 'size'",
    'irm_penalty:t0:mismatch': 'unclear: ValueError: Target size (torch.Size([5, 1])) must be the same as input size (t...',
    'rex_penalty:env_losses:complex': 'silent: complex env_losses accepted (returned Tensor)',
    'per_sample_head_grads:features:float16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::Half !=...',
    'per_sample_head_grads:features:bfloat16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat1...',
    'per_sample_head_grads:targets:value<low': 'silent: value<low targets accepted (returned Tensor)',
    'per_sample_head_grads:targets:value>high': 'silent: value>high targets accepted (returned Tensor)',
    'per_sample_head_grads:targets:nan': 'silent: nan targets accepted (returned Tensor)',
    'per_sample_head_grads:targets:inf': 'silent: inf targets accepted (returned Tensor)',
    'per_sample_head_grads:targets:int': 'silent: int targets accepted (returned Tensor)',
    'per_sample_head_grads:targets:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'per_sample_head_grads:targets:numpy': 'unclear: TypeError: y must be a torch.Tensor, got ndarray; convert it with torch.as_tensor',
    'per_sample_head_grads:targets:list': 'unclear: TypeError: y must be a torch.Tensor, got list; convert it with torch.as_tensor',
    'fishr_penalty:t0:value<low': 'silent: value<low t0 accepted (returned Tensor)',
    'fishr_penalty:t0:value>high': 'silent: value>high t0 accepted (returned Tensor)',
    'fishr_penalty:t0:nan': 'silent: nan t0 accepted (returned Tensor)',
    'fishr_penalty:t0:inf': 'silent: inf t0 accepted (returned Tensor)',
    'fishr_penalty:t0:int': 'silent: int t0 accepted (returned Tensor)',
    'fishr_penalty:t0:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'fishr_penalty:t1:value<low': 'silent: value<low t1 accepted (returned Tensor)',
    'fishr_penalty:t1:value>high': 'silent: value>high t1 accepted (returned Tensor)',
    'fishr_penalty:t1:nan': 'silent: nan t1 accepted (returned Tensor)',
    'fishr_penalty:t1:inf': 'silent: inf t1 accepted (returned Tensor)',
    'fishr_penalty:t1:int': 'silent: int t1 accepted (returned Tensor)',
    'fishr_penalty:t1:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'invariance_loss:mean_loss:ndim+1': 'silent: ndim+1 mean_loss accepted (returned Tensor)',
    'invariance_loss:mean_loss:ndim-1': 'silent: ndim-1 mean_loss accepted (returned Tensor)',
    'invariance_loss:penalty:ndim+1': 'silent: ndim+1 penalty accepted (returned Tensor)',
    'invariance_loss:penalty:ndim-1': 'silent: ndim-1 penalty accepted (returned Tensor)',
    'head_hessian:features:empty': 'unclear: ValueError: data batch 0 is empty: X has shape (0, 3)',
    'head_hessian:features:ndim+1': 'unclear: ValueError: data batch 0: y has shape (6, 1) but X has 1 rows',
    'head_hessian:features:ndim-1': 'unclear: ValueError: data batch 0: y has shape (6, 1) but X has 3 rows',
    'head_hessian:features:nan': 'unclear: ValueError: data batch 0 X contains NaN or infinite values',
    'head_hessian:features:inf': 'unclear: ValueError: data batch 0 X contains NaN or infinite values',
    'head_hessian:features:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float',
    'head_hessian:features:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexFloat and...',
    'head_hessian:features:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'detach'",
    'head_hessian:features:list': "unclear: AttributeError: 'list' object has no attribute 'detach'",
    'head_hessian:targets:empty': 'unclear: ValueError: data batch 0: y has shape (0, 1) but X has 6 rows',
    'head_hessian:targets:value<low': 'silent: value<low targets accepted (returned Tensor)',
    'head_hessian:targets:value>high': 'silent: value>high targets accepted (returned Tensor)',
    'head_hessian:targets:nan': 'unclear: ValueError: data batch 0 y contains NaN or infinite values',
    'head_hessian:targets:inf': 'unclear: ValueError: data batch 0 y contains NaN or infinite values',
    'head_hessian:targets:int': "unclear: RuntimeError: result type Float can't be cast to the desired output type Long",
    'head_hessian:targets:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'head_hessian:targets:numpy': "unclear: TypeError: 'int' object is not callable",
    'head_hessian:targets:list': "unclear: AttributeError: 'list' object has no attribute 'size'",
    'head_hessian:targets:mismatch': 'unclear: ValueError: data batch 0: y has shape (5, 1) but X has 6 rows',
    'head_hessian_distance:X0:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'detach'",
    'head_hessian_distance:X0:list': "unclear: AttributeError: 'list' object has no attribute 'detach'",
    'head_hessian_distance:t0:value<low': 'silent: value<low t0 accepted (returned tuple)',
    'head_hessian_distance:t0:value>high': 'silent: value>high t0 accepted (returned tuple)',
    'head_hessian_distance:t0:int': "unclear: RuntimeError: result type Float can't be cast to the desired output type Long",
    'head_hessian_distance:t0:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'head_hessian_distance:t0:numpy': "unclear: TypeError: 'int' object is not callable",
    'head_hessian_distance:t0:list': "unclear: AttributeError: 'list' object has no attribute 'size'",
    'head_hessian_distance:X1:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'detach'",
    'head_hessian_distance:X1:list': "unclear: AttributeError: 'list' object has no attribute 'detach'",
    'head_hessian_distance:t1:value<low': 'silent: value<low t1 accepted (returned tuple)',
    'head_hessian_distance:t1:value>high': 'silent: value>high t1 accepted (returned tuple)',
    'head_hessian_distance:t1:int': "unclear: RuntimeError: result type Float can't be cast to the desired output type Long",
    'head_hessian_distance:t1:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'head_hessian_distance:t1:numpy': "unclear: TypeError: 'int' object is not callable",
    'head_hessian_distance:t1:list': "unclear: AttributeError: 'list' object has no attribute 'size'",
    'method_penalty:n_probes:huge': 'unclear: RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocato...',
    'fit_alignment:lr:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'fit_alignment:l2:huge': 'unclear: FloatingPointError: hgp: the loss became inf at step 0',
    'fit_alignment:penalty_weight:huge': 'unclear: FloatingPointError: hgp: the loss became nan at step 1',
}
