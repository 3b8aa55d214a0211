import torch

from common import tiny_split
from gradnotes import noprop as m
from harness import Arr, Int, NONNEG, POS, POS_INT, Spec

NOLOOP = Int(1, huge=False)  # a block count or a layer width: a huge one is a huge model, not a bug
XY = dict(tensors={"x": Arr(ndim=2), "y": Arr(floating=False, ndim=1, labels=2)}, same_length=(("x", "y"),))


def _x(n=4, d=3): return torch.randn(n, d, generator=torch.Generator().manual_seed(0))


def _model(T=2): return m.NoPropDT(3, 2, T=T, hidden=4)


def _ctor_args():
    return dict(n_features=3, n_classes=2, T=2, hidden=4, embed="learned", eta=0.1, schedule="cosine",
                t=1, x=_x(), y=torch.arange(4) % 2)


def _ctor_call(a):
    a = dict(a)
    t, x, y = a.pop("t"), a.pop("x"), a.pop("y")
    model = m.NoPropDT(**a)
    loss = model.block_loss(t, x, y) + model.head_loss(y)
    return loss.detach(), model(x, generator=torch.Generator().manual_seed(1)).detach()


SPECS = {
    "noprop_schedule": Spec(lambda: dict(T=2, kind="cosine"), ints={"T": NOLOOP}, choices=("kind",)),
    "snr": Spec(lambda: dict(abar=m.noprop_schedule(2)), tensors={"abar": Arr(ndim=None, bounds=(0, 1, False, True))}),
    "posterior_coefficients": Spec(lambda: dict(abar=m.noprop_schedule(2)),
                                   tensors={"abar": Arr(ndim=1, bounds=(0, 1))},
                                   extra={"abar:decreasing": lambda a: dict(a, abar=a["abar"].flip(0))}),
    "NoPropDT": Spec(_ctor_args, call=_ctor_call,
                     ints={"n_features": NOLOOP, "n_classes": Int(2, huge=False), "T": NOLOOP, "hidden": NOLOOP,
                           "t": Int(1, 2)},
                     numbers={"eta": POS}, choices=("embed", "schedule"), **XY),
    "noprop_accuracy": Spec(lambda: dict(model=_model(), X=_x(), y=torch.arange(4) % 2, noise=True, seed=0),
                            tensors={"X": Arr(ndim=2), "y": Arr(floating=False, ndim=1, labels=2)},
                            same_length=(("X", "y"),), ints={"seed": Int(0)},
                            names={"X": ("x",)}),  # X is checked by the model as its input x
    "fit_noprop": Spec(lambda: dict(model=_model(), split=tiny_split(), epochs=1, batch_size=8, lr=1e-3,
                                    weight_decay=1e-3, seed=0),
                       ints={"epochs": NOLOOP, "batch_size": POS_INT, "seed": Int(0)},
                       numbers={"lr": NONNEG, "weight_decay": NONNEG},
                       names={"lr": ("learning rate",), "weight_decay": ("weight_decay value",)}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
