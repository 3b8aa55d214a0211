import torch

from gradnotes import pndm as m
from gradnotes.diffusion import make_schedule
from harness import Arr, Int, Num, POS_INT, Spec

AB = Num(0, 1, low_open=True)


def _model(x, t): return 0.1 * x


SPECS = {
    "transfer_coefficients": Spec(lambda: dict(ab=0.5, ab_next=0.7), numbers={"ab": AB, "ab_next": AB}),
    "transfer": Spec(lambda: dict(x=torch.randn(4, 3), eps=torch.randn(4, 3), ab=0.5, ab_next=0.7),
                     tensors={"x": Arr(ndim=None), "eps": Arr(ndim=None)}, numbers={"ab": AB, "ab_next": AB},
                     same_length=(("x", "eps"),)),
    "time_grid": Spec(lambda: dict(T=20, num_steps=5), ints={"T": Int(1, huge=False), "num_steps": POS_INT},
                      extra={"num_steps:above_T": lambda a: dict(a, num_steps=21)}),
    "sample": Spec(lambda: dict(model=_model, x=torch.randn(3, 2, dtype=torch.float64), schedule=make_schedule(T=20),
                                num_steps=5, method="f-pndm", prediction="epsilon"),
                   tensors={"x": Arr(ndim=(2, 3))}, ints={"num_steps": POS_INT}, choices=("method", "prediction")),
}
OPT_OUT = {"METHODS": "a tuple of method names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'transfer_coefficients:ab:below': 'unclear: ZeroDivisionError: float division by zero',
    'transfer_coefficients:ab:above': 'unclear: ValueError: math domain error',
    'transfer_coefficients:ab:nan': 'silent: nan ab accepted (returned tuple)',
    'transfer_coefficients:ab:inf': 'unclear: ValueError: math domain error',
    'transfer_coefficients:ab:bool': 'silent: bool ab accepted (returned tuple)',
    'transfer_coefficients:ab:str': "unclear: TypeError: unsupported operand type(s) for -: 'float' and 'str'",
    'transfer_coefficients:ab_next:below': 'silent: below ab_next accepted (returned tuple)',
    'transfer_coefficients:ab_next:above': 'unclear: ValueError: math domain error',
    'transfer_coefficients:ab_next:nan': 'silent: nan ab_next accepted (returned tuple)',
    'transfer_coefficients:ab_next:inf': 'unclear: ValueError: math domain error',
    'transfer_coefficients:ab_next:bool': 'silent: bool ab_next accepted (returned tuple)',
    'transfer_coefficients:ab_next:str': "unclear: TypeError: unsupported operand type(s) for -: 'str' and 'float'",
    'transfer:x:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (4) at ...',
    'transfer:x:nan': 'silent: nan x accepted (returned Tensor)',
    'transfer:x:inf': 'silent: inf x accepted (returned Tensor)',
    'transfer:x:int': 'silent: int x accepted (returned Tensor)',
    'transfer:x:complex': 'silent: complex x accepted (returned Tensor)',
    'transfer:x:numpy': "unclear: TypeError: add(): argument 'input' (position 1) must be Tensor, not numpy.ndarray",
    'transfer:x:list': "unclear: TypeError: can't multiply sequence by non-int of type 'float'",
    'transfer:eps:empty': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (0) at ...',
    'transfer:eps:nan': 'silent: nan eps accepted (returned Tensor)',
    'transfer:eps:inf': 'silent: inf eps accepted (returned Tensor)',
    'transfer:eps:int': 'silent: int eps accepted (returned Tensor)',
    'transfer:eps:complex': 'silent: complex eps accepted (returned Tensor)',
    'transfer:eps:numpy': "unclear: TypeError: add(): argument 'other' (position 2) must be Tensor, not numpy.ndarray",
    'transfer:eps:list': "unclear: TypeError: add(): argument 'other' (position 2) must be Tensor, not list",
    'transfer:ab:below': 'unclear: ZeroDivisionError: float division by zero',
    'transfer:ab:above': 'unclear: ValueError: math domain error',
    'transfer:ab:nan': 'silent: nan ab accepted (returned Tensor)',
    'transfer:ab:inf': 'unclear: ValueError: math domain error',
    'transfer:ab:bool': 'silent: bool ab accepted (returned Tensor)',
    'transfer:ab:str': "unclear: TypeError: unsupported operand type(s) for -: 'float' and 'str'",
    'transfer:ab_next:below': 'silent: below ab_next accepted (returned Tensor)',
    'transfer:ab_next:above': 'unclear: ValueError: math domain error',
    'transfer:ab_next:nan': 'silent: nan ab_next accepted (returned Tensor)',
    'transfer:ab_next:inf': 'unclear: ValueError: math domain error',
    'transfer:ab_next:bool': 'silent: bool ab_next accepted (returned Tensor)',
    'transfer:ab_next:str': "unclear: TypeError: unsupported operand type(s) for -: 'str' and 'float'",
    'transfer:eps:mismatch': 'unclear: RuntimeError: The size of tensor a (4) must match the size of tensor b (3) at ...',
    'time_grid:T:below': 'unclear: ValueError: range() arg 3 must not be zero',
    'time_grid:T:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'time_grid:T:bool': 'unclear: ValueError: range() arg 3 must not be zero',
    'time_grid:T:str': "unclear: TypeError: unsupported operand type(s) for //: 'str' and 'int'",
    'time_grid:num_steps:below': 'unclear: ZeroDivisionError: integer division or modulo by zero',
    'time_grid:num_steps:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'time_grid:num_steps:bool': 'silent: bool num_steps accepted (returned list)',
    'time_grid:num_steps:str': "unclear: TypeError: unsupported operand type(s) for //: 'int' and 'str'",
    'time_grid:num_steps:huge': 'unclear: ValueError: range() arg 3 must not be zero',
    'time_grid:num_steps:above_T': 'unclear: ValueError: range() arg 3 must not be zero',
}
