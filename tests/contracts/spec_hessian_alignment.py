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
XFAIL = {}
