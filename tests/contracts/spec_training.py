import torch

from common import classification, tiny_model, tiny_split
from gradnotes import training as m
from harness import Arr, Int, POS_INT, Spec

NOLOOP = Int(1, huge=False)  # an iteration count or a layer width: a huge one is a long run, not a bug


def _make_opt(params, lr=0.1): return torch.optim.SGD(params, lr=lr)


def _reg_model(): return tiny_model(3, 1)


def _reg_split(n: int = 12):
    from gradnotes.data import Split
    X = classification(n + 8)[0]
    y = X.sum(1)
    return Split(X[:n], y[:n], X[n:n + 4], y[n:n + 4], X[n + 4:], y[n + 4:], name="tiny-reg")


def _comparison(a):
    c = m.compare_optimizers(lambda: tiny_model(), {"sgd": (_make_opt, [0.1]), "sgd2": (_make_opt, [0.05])},
                             tiny_split(), epochs=1, batch_size=8, seeds=(0, 1))
    return c.table(), c.verdict("sgd"), c.summary()


SPECS = {
    "MLP": Spec(lambda: dict(sizes=[3, 4, 2]), call=lambda a: m.MLP(a["sizes"])(torch.randn(2, 3))),
    "ConvNet1d": Spec(lambda: dict(length=12, n_classes=3, channels=2),
                      call=lambda a: m.ConvNet1d(**a)(torch.randn(2, 12)),
                      ints={"length": NOLOOP, "n_classes": Int(2, huge=False), "channels": NOLOOP}),
    "accuracy": Spec(lambda: dict(model=tiny_model(), X=classification()[0], y=classification()[1], batch_size=3),
                     tensors={"X": Arr(), "y": Arr(floating=False, labels=2)}, ints={"batch_size": POS_INT},
                     same_length=(("X", "y"),)),
    "History": Spec(dict, call=lambda a: m.History(train_loss=[1.0], val_acc=[0.5])),
    "fit_classifier": Spec(lambda: dict(make_model=tiny_model, make_optimizer=_make_opt, split=tiny_split(),
                                        epochs=1, batch_size=8, seed=0),
                           ints={"epochs": NOLOOP, "batch_size": POS_INT, "seed": Int(0)}),
    "Comparison": Spec(dict, call=_comparison),
    "compare_optimizers": Spec(lambda: dict(make_model=tiny_model, optimizers={"sgd": (_make_opt, [0.1])},
                                            split=tiny_split(), epochs=1, batch_size=8, seeds=(0,), tune_seed=1),
                               ints={"epochs": NOLOOP, "batch_size": POS_INT, "tune_seed": Int(0)}),
    "rmse": Spec(lambda: dict(model=_reg_model(), X=classification()[0], y=classification()[0].sum(1), batch_size=3),
                 tensors={"X": Arr(), "y": Arr(ndim=1)}, ints={"batch_size": POS_INT}, same_length=(("X", "y"),)),
    "RegressionHistory": Spec(dict, call=lambda a: m.RegressionHistory(train_loss=[1.0], val_rmse=[0.5])),
    "fit_regressor": Spec(lambda: dict(make_model=_reg_model, make_optimizer=_make_opt, split=_reg_split(),
                                       epochs=1, batch_size=8, seed=0),
                          ints={"epochs": NOLOOP, "batch_size": POS_INT, "seed": Int(0)},
                          extra={"split:int_targets": lambda a: dict(a, split=tiny_split())}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'accuracy:X:ndim+1': 'unclear: RuntimeError: The size of tensor a (2) must match the size of tensor b (3) at ...',
    'accuracy:X:ndim-1': 'unclear: IndexError: Dimension out of range (expected to be in range of [-1, 0], but go...',
    'accuracy:X:nan': 'silent: nan X accepted (returned float)',
    'accuracy:X:inf': 'silent: inf X accepted (returned float)',
    'accuracy:X:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float',
    'accuracy:X:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'accuracy:X:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'accuracy:X:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexFloat and...',
    'accuracy:X:numpy': "unclear: TypeError: linear(): argument 'input' (position 1) must be Tensor, not numpy.n...",
    'accuracy:X:list': "unclear: TypeError: linear(): argument 'input' (position 1) must be Tensor, not list",
    'accuracy:y:empty': 'unclear: RuntimeError: The size of tensor a (3) must match the size of tensor b (0) at ...',
    'accuracy:y:ndim+1': 'unclear: RuntimeError: The size of tensor a (3) must match the size of tensor b (8) at ...',
    'accuracy:y:ndim-1': 'unclear: IndexError: slice() cannot be applied to a 0-dim tensor.',
    'accuracy:y:label-1': 'silent: label-1 y accepted (returned float)',
    'accuracy:y:label=n': 'silent: label=n y accepted (returned float)',
    'accuracy:y:list': "unclear: AttributeError: 'bool' object has no attribute 'sum'",
    'accuracy:batch_size:below': 'unclear: ValueError: range() arg 3 must not be zero',
    'accuracy:batch_size:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'accuracy:batch_size:bool': 'silent: bool batch_size accepted (returned float)',
    'accuracy:batch_size:str': "unclear: TypeError: 'str' object cannot be interpreted as an integer",
    'accuracy:y:mismatch': 'silent: mismatch y accepted (returned float)',
    'compare_optimizers:tune_seed:below': 'unclear: ValueError: seed must be >= 0, got -1',
    'compare_optimizers:tune_seed:fraction': 'unclear: TypeError: seed must be an integer, got float 1.5',
    'compare_optimizers:tune_seed:bool': 'unclear: TypeError: seed must be an integer, got bool True',
    'compare_optimizers:tune_seed:str': "unclear: TypeError: seed must be an integer, got str '3'",
    'compare_optimizers:tune_seed:huge': 'unclear: ValueError: seed must be <= 4294967295, got 1000000000000',
    'rmse:X:ndim+1': 'unclear: RuntimeError: The size of tensor a (8) must match the size of tensor b (3) at ...',
    'rmse:X:ndim-1': 'silent: ndim-1 X accepted (returned float)',
    'rmse:X:nan': 'silent: nan X accepted (returned float)',
    'rmse:X:inf': 'silent: inf X accepted (returned float)',
    'rmse:X:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float',
    'rmse:X:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'rmse:X:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'rmse:X:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexFloat and...',
    'rmse:X:numpy': "unclear: TypeError: linear(): argument 'input' (position 1) must be Tensor, not numpy.n...",
    'rmse:X:list': "unclear: TypeError: linear(): argument 'input' (position 1) must be Tensor, not list",
    'rmse:y:empty': 'unclear: RuntimeError: The size of tensor a (3) must match the size of tensor b (0) at ...',
    'rmse:y:ndim+1': 'unclear: RuntimeError: The size of tensor a (3) must match the size of tensor b (8) at ...',
    'rmse:y:ndim-1': 'unclear: IndexError: slice() cannot be applied to a 0-dim tensor.',
    'rmse:y:nan': 'silent: nan y accepted (returned float)',
    'rmse:y:inf': 'silent: inf y accepted (returned float)',
    'rmse:y:int': 'silent: int y accepted (returned float)',
    'rmse:y:complex': 'silent: complex y accepted (returned complex)',
    'rmse:y:list': "unclear: TypeError: unsupported operand type(s) for -: 'Tensor' and 'list'",
    'rmse:batch_size:below': 'unclear: ValueError: range() arg 3 must not be zero',
    'rmse:batch_size:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'rmse:batch_size:bool': 'silent: bool batch_size accepted (returned float)',
    'rmse:batch_size:str': "unclear: TypeError: 'str' object cannot be interpreted as an integer",
    'rmse:y:mismatch': 'silent: mismatch y accepted (returned float)',
}
