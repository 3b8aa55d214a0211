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
XFAIL = {
    'newton_step:Y:empty': 'silent: empty Y accepted (returned float)',
    'newton_step:Y:ndim+1': 'silent: ndim+1 Y accepted (returned float)',
    'newton_step:Y:ndim-1': 'silent: ndim-1 Y accepted (returned float)',
    'newton_step:Y:nan': 'silent: nan Y accepted (returned float)',
    'newton_step:Y:inf': 'silent: inf Y accepted (returned float)',
    'newton_step:Y:int': 'silent: int Y accepted (returned float)',
    'newton_step:Y:complex': 'silent: complex Y accepted (returned float)',
    'newton_step:R:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (8) at ...',
    'newton_step:R:ndim+1': 'silent: ndim+1 R accepted (returned float)',
    'newton_step:R:ndim-1': 'silent: ndim-1 R accepted (returned float)',
    'newton_step:R:nan': 'silent: nan R accepted (returned float)',
    'newton_step:R:inf': 'silent: inf R accepted (returned float)',
    'newton_step:R:int': 'silent: int R accepted (returned float)',
    'newton_step:R:complex': 'silent: complex R accepted (returned float)',
    'newton_step:R:numpy': "unclear: TypeError: ones_like(): argument 'input' (position 1) must be Tensor, not nump...",
    'newton_step:R:list': "unclear: TypeError: ones_like(): argument 'input' (position 1) must be Tensor, not list",
    'newton_step:H:empty': 'unclear: RuntimeError: The size of tensor a (8) must match the size of tensor b (0) at ...',
    'newton_step:H:ndim+1': 'silent: ndim+1 H accepted (returned float)',
    'newton_step:H:ndim-1': 'silent: ndim-1 H accepted (returned float)',
    'newton_step:H:nan': 'silent: nan H accepted (returned float)',
    'newton_step:H:inf': 'silent: inf H accepted (returned float)',
    'newton_step:H:int': 'silent: int H accepted (returned float)',
    'newton_step:H:complex': 'silent: complex H accepted (returned float)',
    'newton_step:H:list': 'unclear: TypeError: only integer tensors of a single element can be converted to an index',
    'newton_step:H:mismatch': 'unclear: RuntimeError: The size of tensor a (8) must match the size of tensor b (7) at ...',
    'init_stage:d:below': 'silent: below d accepted (returned Stage)',
    'init_stage:d:fraction': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'init_stage:d:bool': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'init_stage:d:str': 'unclear: TypeError: can only concatenate str (not "int") to str',
    'init_stage:J:below': 'silent: below J accepted (returned Stage)',
    'init_stage:J:fraction': "unclear: TypeError: rand(): argument 'size' failed to unpack the object at pos 2 with e...",
    'init_stage:J:bool': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'init_stage:J:str': "unclear: TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    'init_stage:K:below': 'silent: below K accepted (returned Stage)',
    'init_stage:K:fraction': "unclear: TypeError: rand(): argument 'size' failed to unpack the object at pos 2 with e...",
    'init_stage:K:bool': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'init_stage:K:str': "unclear: TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    'stage_objective:X:empty': 'unclear: RuntimeError: The size of tensor a (8) must match the size of tensor b (0) at ...',
    'stage_objective:X:ndim+1': 'silent: ndim+1 X accepted (returned Tensor)',
    'stage_objective:X:ndim-1': 'silent: ndim-1 X accepted (returned Tensor)',
    'stage_objective:X:nan': 'silent: nan X accepted (returned Tensor)',
    'stage_objective:X:inf': 'silent: inf X accepted (returned Tensor)',
    'stage_objective:X:int': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: long int != ...',
    'stage_objective:X:float16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::Half !=...',
    'stage_objective:X:bfloat16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat1...',
    'stage_objective:X:complex': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex...',
    'stage_objective:X:numpy': "unclear: TypeError: unsupported operand type(s) for @: 'numpy.ndarray' and 'Tensor'",
    'stage_objective:X:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'stage_objective:R:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (8) at ...',
    'stage_objective:R:ndim+1': 'silent: ndim+1 R accepted (returned Tensor)',
    'stage_objective:R:ndim-1': 'silent: ndim-1 R accepted (returned Tensor)',
    'stage_objective:R:nan': 'silent: nan R accepted (returned Tensor)',
    'stage_objective:R:inf': 'silent: inf R accepted (returned Tensor)',
    'stage_objective:R:int': 'silent: int R accepted (returned Tensor)',
    'stage_objective:R:complex': 'silent: complex R accepted (returned Tensor)',
    'stage_objective:R:numpy': "unclear: TypeError: unsupported operand type(s) for -: 'numpy.ndarray' and 'Tensor'",
    'stage_objective:R:list': "unclear: TypeError: unsupported operand type(s) for -: 'list' and 'Tensor'",
    'stage_objective:alpha:below': 'silent: below alpha accepted (returned Tensor)',
    'stage_objective:alpha:nan': 'silent: nan alpha accepted (returned Tensor)',
    'stage_objective:alpha:inf': 'silent: inf alpha accepted (returned Tensor)',
    'stage_objective:alpha:bool': 'silent: bool alpha accepted (returned Tensor)',
    'stage_objective:alpha:str': "unclear: TypeError: unsupported operand type(s) for /: 'str' and 'int'",
    'stage_objective:R:mismatch': 'unclear: RuntimeError: The size of tensor a (7) must match the size of tensor b (8) at ...',
    'fit_stage:X:empty': 'unclear: RuntimeError: The size of tensor a (8) must match the size of tensor b (0) at ...',
    'fit_stage:X:ndim+1': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (8x3 and 8x2)',
    'fit_stage:X:ndim-1': 'unclear: IndexError: tuple index out of range',
    'fit_stage:X:nan': 'silent: nan X accepted (returned Stage)',
    'fit_stage:X:inf': 'silent: inf X accepted (returned Stage)',
    'fit_stage:X:int': 'unclear: NotImplementedError: "check_uniform_bounds" not implemented for \'Long\'',
    'fit_stage:X:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'fit_stage:X:requires_grad': "silent: requires_grad X accepted (filled X.grad of a caller's tensor)",
    'fit_stage:X:numpy': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'fit_stage:X:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'fit_stage:R:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (8) at ...',
    'fit_stage:R:ndim+1': 'silent: ndim+1 R accepted (returned Stage)',
    'fit_stage:R:ndim-1': 'unclear: IndexError: tuple index out of range',
    'fit_stage:R:nan': 'silent: nan R accepted (returned Stage)',
    'fit_stage:R:inf': 'silent: inf R accepted (returned Stage)',
    'fit_stage:R:int': 'silent: int R accepted (returned Stage)',
    'fit_stage:R:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'fit_stage:R:requires_grad': "silent: requires_grad R accepted (filled R.grad of a caller's tensor)",
    'fit_stage:R:numpy': "unclear: TypeError: unsupported operand type(s) for -: 'numpy.ndarray' and 'Tensor'",
    'fit_stage:R:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'fit_stage:alpha:below': 'silent: below alpha accepted (returned Stage)',
    'fit_stage:alpha:nan': 'silent: nan alpha accepted (returned Stage)',
    'fit_stage:alpha:inf': 'silent: inf alpha accepted (returned Stage)',
    'fit_stage:alpha:bool': 'silent: bool alpha accepted (returned Stage)',
    'fit_stage:alpha:str': "unclear: TypeError: unsupported operand type(s) for /: 'str' and 'int'",
    'fit_stage:tol:below': 'silent: below tol accepted (returned Stage)',
    'fit_stage:tol:nan': 'silent: nan tol accepted (returned Stage)',
    'fit_stage:tol:inf': 'silent: inf tol accepted (returned Stage)',
    'fit_stage:tol:bool': 'silent: bool tol accepted (returned Stage)',
    'fit_stage:tol:str': "unclear: TypeError: '<=' not supported between instances of 'Tensor' and 'str'",
    'fit_stage:units:below': 'silent: below units accepted (returned Stage)',
    'fit_stage:units:fraction': "unclear: TypeError: rand(): argument 'size' failed to unpack the object at pos 2 with e...",
    'fit_stage:units:bool': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'fit_stage:units:str': "unclear: TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    'fit_stage:max_iter:below': 'silent: below max_iter accepted (returned Stage)',
    'fit_stage:max_iter:fraction': 'silent: fraction max_iter accepted (returned Stage)',
    'fit_stage:max_iter:bool': 'silent: bool max_iter accepted (returned Stage)',
    'fit_stage:max_iter:str': "unclear: TypeError: unsupported operand type(s) for //: 'str' and 'int'",
    'fit_stage:R:mismatch': 'unclear: RuntimeError: The size of tensor a (7) must match the size of tensor b (8) at ...',
    'boost:X:empty': 'unclear: ValueError: subsample=0.5 leaves no row of 0 sample(s)',
    'boost:X:ndim+1': 'unclear: ValueError: subsample=0.5 leaves no row of 1 sample(s)',
    'boost:X:ndim-1': 'unclear: IndexError: tuple index out of range',
    'boost:X:nan': 'silent: nan X accepted (returned Boosted)',
    'boost:X:inf': 'silent: inf X accepted (returned Boosted)',
    'boost:X:int': 'unclear: NotImplementedError: "check_uniform_bounds" not implemented for \'Long\'',
    'boost:X:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'boost:X:requires_grad': 'unclear: RuntimeError: Trying to backward through the graph a second time (or directly ...',
    'boost:X:numpy': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'boost:X:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'boost:Y:empty': 'unclear: IndexError: index is out of bounds for dimension with size 0',
    'boost:Y:ndim+1': 'unclear: IndexError: index 1 is out of bounds for dimension 0 with size 1',
    'boost:Y:ndim-1': 'unclear: IndexError: index 1 is out of bounds for dimension 0 with size 1',
    'boost:Y:nan': 'silent: nan Y accepted (returned Boosted)',
    'boost:Y:inf': 'silent: inf Y accepted (returned Boosted)',
    'boost:Y:int': 'unclear: RuntimeError: mean(): could not infer output dtype. Input dtype must be either...',
    'boost:Y:complex': 'unclear: RuntimeError: grad can be implicitly created only for real scalar outputs but ...',
    'boost:Y:requires_grad': 'unclear: RuntimeError: Trying to backward through the graph a second time (or directly ...',
    'boost:Y:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'expand_as'",
    'boost:Y:list': "unclear: AttributeError: 'list' object has no attribute 'mean'",
    'boost:eta:below': 'silent: below eta accepted (returned Boosted)',
    'boost:eta:nan': 'silent: nan eta accepted (returned Boosted)',
    'boost:eta:inf': 'silent: inf eta accepted (returned Boosted)',
    'boost:eta:bool': 'silent: bool eta accepted (returned Boosted)',
    'boost:eta:str': "unclear: TypeError: can't multiply sequence by non-int of type 'float'",
    'boost:subsample:above': 'silent: above subsample accepted (returned Boosted)',
    'boost:subsample:nan': 'unclear: ValueError: cannot convert float NaN to integer',
    'boost:subsample:inf': 'unclear: OverflowError: cannot convert float infinity to integer',
    'boost:subsample:bool': 'silent: bool subsample accepted (returned Boosted)',
    'boost:subsample:str': "unclear: ValueError: invalid literal for int() with base 10: '0.10.10.10.10.10.10.10.1'",
    'boost:n_stages:below': 'silent: below n_stages accepted (returned Boosted)',
    'boost:n_stages:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'boost:n_stages:bool': 'silent: bool n_stages accepted (returned Boosted)',
    'boost:n_stages:str': "unclear: TypeError: 'str' object cannot be interpreted as an integer",
    'boost:units:below': 'silent: below units accepted (returned Boosted)',
    'boost:units:fraction': "unclear: TypeError: rand(): argument 'size' failed to unpack the object at pos 2 with e...",
    'boost:units:bool': 'unclear: TypeError: rand() received an invalid combination of arguments - got (tuple, d...',
    'boost:units:str': "unclear: TypeError: unsupported operand type(s) for +: 'int' and 'str'",
    'boost:Y:mismatch': 'unclear: IndexError: index 7 is out of bounds for dimension 0 with size 7',
    'staged_scores:X:empty': 'silent: empty X accepted (returned list)',
    'staged_scores:X:ndim+1': 'silent: ndim+1 X accepted (returned list)',
    'staged_scores:X:ndim-1': 'silent: ndim-1 X accepted (returned list)',
    'staged_scores:X:nan': 'silent: nan X accepted (returned list)',
    'staged_scores:X:inf': 'silent: inf X accepted (returned list)',
    'staged_scores:X:int': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: long int != ...',
    'staged_scores:X:float16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::Half !=...',
    'staged_scores:X:bfloat16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat1...',
    'staged_scores:X:complex': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex...',
    'staged_scores:X:numpy': "unclear: TypeError: unsupported operand type(s) for @: 'numpy.ndarray' and 'Tensor'",
    'staged_scores:X:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'GBNNClassifier:X:empty': 'unclear: ValueError: Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 i...',
    'GBNNClassifier:X:ndim+1': 'unclear: ValueError: Found array with dim 3, while dim <= 2 is required by GBNNClassifier.',
    'GBNNClassifier:X:ndim-1': 'unclear: ValueError: Expected 2D array, got 1D array instead:',
    'GBNNClassifier:X:bfloat16': 'unclear: TypeError: Got unsupported ScalarType BFloat16',
    'GBNNClassifier:X:complex': 'unclear: ValueError: Complex data not supported',
    'GBNNClassifier:X:requires_grad': "unclear: RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.deta...",
    'GBNNClassifier:y:empty': 'unclear: ValueError: Found input variables with inconsistent numbers of samples: [12, 0]',
    'GBNNClassifier:y:mismatch': 'unclear: ValueError: Found input variables with inconsistent numbers of samples: [12, 11]',
    'GBNNRegressor:X:empty': 'unclear: ValueError: Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 i...',
    'GBNNRegressor:X:ndim+1': 'unclear: ValueError: Found array with dim 3, while dim <= 2 is required by GBNNRegressor.',
    'GBNNRegressor:X:ndim-1': 'unclear: ValueError: Expected 2D array, got 1D array instead:',
    'GBNNRegressor:X:bfloat16': 'unclear: TypeError: Got unsupported ScalarType BFloat16',
    'GBNNRegressor:X:complex': 'unclear: ValueError: Complex data not supported',
    'GBNNRegressor:X:requires_grad': "unclear: RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.deta...",
    'GBNNRegressor:y:empty': 'unclear: ValueError: Found input variables with inconsistent numbers of samples: [12, 0]',
    'GBNNRegressor:y:bfloat16': 'unclear: TypeError: Got unsupported ScalarType BFloat16',
    'GBNNRegressor:y:complex': 'unclear: ValueError: Complex data not supported',
    'GBNNRegressor:y:requires_grad': "unclear: RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.deta...",
    'GBNNRegressor:y:mismatch': 'unclear: ValueError: Found input variables with inconsistent numbers of samples: [12, 11]',
}
