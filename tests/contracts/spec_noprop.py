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
XFAIL = {
    'snr:abar:empty': 'silent: empty abar accepted (returned Tensor)',
    'snr:abar:value<low': 'silent: value<low abar accepted (returned Tensor)',
    'snr:abar:value>high': 'silent: value>high abar accepted (returned Tensor)',
    'snr:abar:nan': 'silent: nan abar accepted (returned Tensor)',
    'snr:abar:inf': 'silent: inf abar accepted (returned Tensor)',
    'snr:abar:int': 'silent: int abar accepted (returned Tensor)',
    'snr:abar:complex': 'silent: complex abar accepted (returned Tensor)',
    'snr:abar:list': "unclear: TypeError: unsupported operand type(s) for -: 'int' and 'list'",
    'posterior_coefficients:abar:value<low': 'silent: value<low abar accepted (returned tuple)',
    'posterior_coefficients:abar:value>high': 'silent: value>high abar accepted (returned tuple)',
    'posterior_coefficients:abar:decreasing': 'silent: decreasing abar accepted (returned tuple)',
    'NoPropDT:x:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'NoPropDT:x:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'NoPropDT:hidden:below': 'unclear: ValueError: sizes must be >= 1, got 0',
    'NoPropDT:hidden:fraction': 'unclear: TypeError: sizes must be an integer, got float 4.5',
    'NoPropDT:hidden:bool': 'unclear: TypeError: sizes must be an integer, got bool True',
    'NoPropDT:hidden:str': "unclear: TypeError: sizes must be an integer, got str '3'",
    'NoPropDT:schedule:unknown': "unclear: ValueError: kind must be one of ['linear', 'quadratic', 'cosine'], got 'no-suc...",
    'NoPropDT:schedule:int': "unclear: ValueError: kind must be one of ['linear', 'quadratic', 'cosine'], got 3",
    'noprop_accuracy:X:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'noprop_accuracy:X:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'noprop_accuracy:X:list': "unclear: AttributeError: 'list' object has no attribute 'device'",
    'noprop_accuracy:y:empty': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (0) at ...',
    'noprop_accuracy:y:ndim+1': 'silent: ndim+1 y accepted (returned float)',
    'noprop_accuracy:y:ndim-1': 'silent: ndim-1 y accepted (returned float)',
    'noprop_accuracy:y:label-1': 'silent: label-1 y accepted (returned float)',
    'noprop_accuracy:y:label=n': 'silent: label=n y accepted (returned float)',
    'noprop_accuracy:y:list': "unclear: AttributeError: 'bool' object has no attribute 'double'",
    'noprop_accuracy:seed:below': 'silent: below seed accepted (returned float)',
    'noprop_accuracy:seed:fraction': 'unclear: RuntimeError: manual_seed expected a long, but got float',
    'noprop_accuracy:seed:bool': 'unclear: RuntimeError: manual_seed expected a long, but got bool',
    'noprop_accuracy:seed:str': 'unclear: RuntimeError: manual_seed expected a long, but got str',
    'noprop_accuracy:y:mismatch': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (3) at ...',
    'fit_noprop:lr:inf': 'unclear: ValueError: x0 contains NaN or infinite values',
    'fit_noprop:lr:bool': 'silent: bool lr accepted (returned tuple)',
    'fit_noprop:lr:str': "unclear: TypeError: '<=' not supported between instances of 'float' and 'str'",
    'fit_noprop:lr:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'fit_noprop:weight_decay:inf': 'unclear: ValueError: x0 contains NaN or infinite values',
    'fit_noprop:weight_decay:bool': 'silent: bool weight_decay accepted (returned tuple)',
    'fit_noprop:weight_decay:str': "unclear: TypeError: '<=' not supported between instances of 'float' and 'str'",
    'fit_noprop:weight_decay:huge': 'unclear: ValueError: x0 contains NaN or infinite values',
}
