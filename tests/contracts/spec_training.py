import torch

from common import classification, tiny_model, tiny_split
from gradnotes import training as m
from harness import Arr, Int, POS_INT, PROB, Spec

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
    "UNet": Spec(lambda: dict(in_channels=1, out_channels=2, width=2, depth=1, x=torch.randn(2, 1, 8, 8)),
                 call=lambda a: m.UNet(a["in_channels"], a["out_channels"], a["width"], a["depth"])(a["x"]),
                 ints={"in_channels": NOLOOP, "out_channels": NOLOOP, "width": NOLOOP,
                       "depth": Int(0, 8, huge=False)},
                 tensors={"x": Arr(ndim=4, finite=False)}),
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
    "ema_teacher": Spec(lambda: dict(model=tiny_model(), alpha=0.9),
                        call=lambda a: m.ema_teacher(**a).update_parameters(a["model"]),
                        numbers={"alpha": PROB},
                        extra={"model:not_module": lambda a: dict(a, model=torch.randn(3))}),
    "snapshot": Spec(lambda: dict(params=[torch.randn(3), torch.randn(2, 2)]),
                     extra={"params:one_tensor": lambda a: dict(params=torch.randn(3)),
                            "params:int_entry": lambda a: dict(params=[torch.ones(3, dtype=torch.long)]),
                            "params:not_iterable": lambda a: dict(params=3)}),
    "restore": Spec(lambda: dict(params=[torch.randn(3)], saved=[torch.randn(3)]),
                    extra={"saved:too_few": lambda a: dict(a, saved=[]),
                           "saved:wrong_shape": lambda a: dict(a, saved=[torch.randn(4)]),
                           "saved:wrong_dtype": lambda a: dict(a, saved=[torch.randn(3, dtype=torch.float64)])}),
    "stochastic_restore": Spec(lambda: dict(params=[torch.randn(3)], source=[torch.randn(3)], p=0.5),
                               numbers={"p": PROB},
                               extra={"source:wrong_shape": lambda a: dict(a, source=[torch.randn(4)]),
                                      "params:one_tensor": lambda a: dict(a, params=torch.randn(3))}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
