import torch
import torch.nn.functional as F

from common import model_data, optimizer_run, tiny_model, classification
from gradnotes import adadagrad as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, Spec

PARAM = Arr(ndim=None, finite=False, empty_ok=True, grad=False, arrays=False, complex_ok=True)
# NaN propagates, as in torch.optim; complex: refused or handled (checked in test_optimizer_contracts.py)
PNAMES = ("params", "param_groups", "parameter", "parameters")
XY = dict(tensors={"X": Arr(), "y": Arr(floating=False, ndim=None)}, same_length=(("X", "y"),))


def _stats(): return m.grad_stats(**model_data())


def _gradstats(a):
    s = _stats()
    return s.mean(), s.variances(), s.ip_variances(), s.ip_variance_full(), s.mean_sq_norms()


def _train(a):
    a = dict(a)
    model = a.pop("model")
    return m.train_adaptive(model, torch.optim.SGD(model.parameters(), lr=0.1), a.pop("X"), a.pop("y"), **a)


SPECS = {
    "GradStats": Spec(dict, call=_gradstats),
    "grad_stats": Spec(lambda: dict(model_data(), chunk_size=3), ints={"chunk_size": POS_INT}, **XY),
    "required_batch_size": Spec(lambda: dict(stats=_stats(), test="norm", eta=0.1, theta=0.1, nu=0.1),
                                choices=("test",), numbers={"eta": POS, "theta": POS, "nu": POS}),
    "next_batch_size": Spec(lambda: dict(batch_size=4, required=6.0, max_batch_size=16),
                            ints={"batch_size": POS_INT, "max_batch_size": POS_INT}, numbers={"required": NONNEG}),
    "AdaGradNorm": Spec(lambda: dict(p=torch.randn(3, 2), g=torch.randn(3, 2), lr=0.5, momentum=0.0, lr_decay=0.0,
                                     weight_decay=0.0, initial_accumulator_value=0.01, eps=1e-10),
                        call=lambda a: optimizer_run(m.AdaGradNorm, a),
                        tensors={"p": PARAM},
                        numbers={"lr": NONNEG, "momentum": Num(0, 1, high_open=True), "lr_decay": NONNEG,
                                 "weight_decay": NONNEG, "initial_accumulator_value": NONNEG, "eps": NONNEG}, names={"p": PNAMES}),
    "AdaptiveRun": Spec(dict, call=lambda a: (m.AdaptiveRun(batch_sizes=[2, 4]).steps, m.AdaptiveRun().samples)),
    "train_adaptive": Spec(lambda: dict(model_data(n=12), batch_size=4, test="norm", eta=0.1, max_samples=24,
                                        max_batch_size=8, seed=0),
                           call=_train, choices=("test",), numbers={"eta": POS},
                           ints={"batch_size": Int(2), "max_batch_size": POS_INT, "max_samples": Int(1, huge=False),
                                 "seed": Int(0)}, **XY),
}
OPT_OUT = {"TESTS": "a tuple of test names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'grad_stats:X:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float',
    'grad_stats:X:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'grad_stats:X:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'grad_stats:X:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexFloat and...',
    'grad_stats:y:numpy': "unclear: TypeError: cross_entropy_loss(): argument 'target' (position 2) must be Tensor...",
    'grad_stats:y:list': "unclear: TypeError: cross_entropy_loss(): argument 'target' (position 2) must be Tensor...",
    'grad_stats:chunk_size:below': 'unclear: ValueError: range() arg 3 must not be zero',
    'grad_stats:chunk_size:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'grad_stats:chunk_size:str': "unclear: TypeError: 'str' object cannot be interpreted as an integer",
    'required_batch_size:eta:huge': "unclear: OverflowError: (34, 'Numerical result out of range')",
    'next_batch_size:required:below': 'silent: below required accepted (returned int)',
    'next_batch_size:required:inf': 'silent: inf required accepted (returned int)',
    'next_batch_size:required:bool': 'silent: bool required accepted (returned int)',
    'next_batch_size:required:str': "unclear: TypeError: '>=' not supported between instances of 'str' and 'int'",
    'AdaGradNorm:p:int': 'unclear: RuntimeError: Integer division with addcdiv is no longer supported, and in a f...',
    'AdaGradNorm:lr:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'AdaGradNorm:weight_decay:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'AdaGradNorm:initial_accumulator_value:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'AdaGradNorm:eps:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'train_adaptive:X:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float',
    'train_adaptive:X:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'train_adaptive:X:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'train_adaptive:X:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexFloat and...',
    'train_adaptive:eta:huge': "unclear: OverflowError: (34, 'Numerical result out of range')",
}
