import torch

from gradnotes import gbnn as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)  # a stage count, a width or an iteration count: a huge one is a long run
FRACTION = Num(0, 1, low_open=True)


def _gen(): return torch.Generator().manual_seed(0)


def _X(n=8, d=3):
    return torch.randn(n, d, generator=_gen(), dtype=F64)


def _Y(n=8, K=1):
    return torch.randn(n, K, generator=torch.Generator().manual_seed(1), dtype=F64)


def _losses(loss, Y):
    F = loss.init(Y).expand_as(Y).clone()
    R = loss.residuals(Y, F)
    return loss.hessian(Y, R), loss.loss(Y, F)


def _onehot(n=8, K=3): return torch.nn.functional.one_hot(torch.arange(n) % K, K).double()


def _boosted():
    return m.boost(_X(), _Y(), m.SquaredLoss(), 2, units=1, rng=0, engine="torch", max_iter=5)


def _estimator(cls, y):
    def args():
        return dict(X=_X(12, 2), y=y(), total_units=2, units_per_stage=1, eta=1.0, subsample=0.5,
                    max_iter=5, alpha=1e-4, engine="torch")
    def call(a):
        a = dict(a)
        X, y_ = a.pop("X"), a.pop("y")
        est = cls(random_state=0, **a).fit(X, y_)
        return est.predict(X), est.predict(X, n_units=1)
    return args, call


def _est_spec(cls, y, y_decl):
    args, call = _estimator(cls, y)
    # scikit-learn estimators convert integer features (and real targets) to float64, as usual
    return Spec(args, call=call, tensors={"X": Arr(ndim=2, int_ok=True), "y": y_decl},
                numbers={"eta": POS, "subsample": FRACTION, "alpha": NONNEG},
                ints={"total_units": NOLOOP, "units_per_stage": POS_INT, "max_iter": NOLOOP},
                choices=("engine",), same_length=(("X", "y"),))


SPECS = {
    "SquaredLoss": Spec(dict, call=lambda a: _losses(m.SquaredLoss(), _Y())),
    "LogExponentialLoss": Spec(dict, call=lambda a: _losses(m.LogExponentialLoss(),
                                                           (2.0 * (torch.arange(8) % 2) - 1).double()[:, None])),
    "SoftmaxLoss": Spec(dict, call=lambda a: _losses(m.SoftmaxLoss(), _onehot())),
    "newton_step": Spec(lambda: dict(loss=m.SquaredLoss(), Y=_Y(), R=_Y() - 0.5, H=_X(8, 1)),
                        tensors={"Y": Arr(ndim=2), "R": Arr(ndim=2), "H": Arr(ndim=2)},
                        same_length=(("Y", "R", "H"),)),
    "Stage": Spec(dict, call=lambda a: (lambda s: (s(_X()), s.units))(m.init_stage(3, 2, 1, _gen()))),
    "init_stage": Spec(lambda: dict(d=3, J=2, K=1, generator=_gen()),
                       ints={"d": NOLOOP, "J": NOLOOP, "K": NOLOOP}),
    "stage_objective": Spec(lambda: dict(stage=m.init_stage(3, 2, 1, _gen()), X=_X(), R=_Y(), alpha=1e-4),
                            tensors={"X": Arr(ndim=2), "R": Arr(ndim=2)}, numbers={"alpha": NONNEG},
                            same_length=(("X", "R"),)),
    "fit_stage": Spec(lambda: dict(X=_X(), R=_Y(), units=2, generator=_gen(), alpha=1e-4, max_iter=5,
                                   tol=1e-10, engine="torch"),
                      tensors={"X": Arr(ndim=2), "R": Arr(ndim=2)}, numbers={"alpha": NONNEG, "tol": NONNEG},
                      ints={"units": NOLOOP, "max_iter": NOLOOP}, choices=("engine",),
                      same_length=(("X", "R"),)),
    "Boosted": Spec(dict, call=lambda a: _boosted().train_loss),
    "boost": Spec(lambda: dict(X=_X(), Y=_Y(), loss=m.SquaredLoss(), n_stages=2, units=1, eta=1.0,
                               subsample=0.5, rng=0, engine="torch", max_iter=5),
                  tensors={"X": Arr(ndim=2), "Y": Arr(ndim=2)}, numbers={"eta": POS, "subsample": FRACTION},
                  ints={"n_stages": NOLOOP, "units": NOLOOP}, same_length=(("X", "Y"),)),
    "staged_scores": Spec(lambda: dict(b=_boosted(), X=_X(4)),
                          call=lambda a: list(m.staged_scores(a["b"], a["X"])),
                          tensors={"X": Arr(ndim=2)}),
    "assemble": Spec(lambda: dict(b=_boosted(), n_units=1, logits=True), ints={"n_units": Int(0, 2)}),
    "GBNNClassifier": _est_spec(m.GBNNClassifier, lambda: torch.arange(12) % 2, Arr(floating=False, ndim=1)),
    "GBNNRegressor": _est_spec(m.GBNNRegressor, lambda: _X(12, 1)[:, 0], Arr(ndim=1, int_ok=True)),
}
OPT_OUT = {}
XFAIL = {}
