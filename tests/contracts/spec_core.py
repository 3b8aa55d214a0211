import torch

from gradnotes import core as m
from harness import ANY, NONNEG, Arr, Int, POS, Spec

X = ("x",)


def _threads(a):
    with m.torch_threads(a["n"]): return torch.get_num_threads()  # the checks name the argument by the `name` they are given

def _symmetric(a):
    u, v, S = torch.randn(4), torch.randn(4), torch.eye(4) * 2
    return m.check_symmetric("A", u, v, S @ u, S @ v, a["rtol"])


SPECS = {
    "infer_device": Spec(lambda: dict(x=torch.zeros(2)), call=lambda a: m.infer_device(a["x"])),
    "default_device": Spec(dict),
    "infer_dtype": Spec(lambda: dict(x=torch.zeros(2)), call=lambda a: m.infer_dtype(a["x"])),
    "to_tensor": Spec(lambda: dict(x=torch.randn(3)),
                      tensors={"x": Arr(ndim=None, finite=False, empty_ok=True, complex_ok=True, int_ok=True)}),
    "check_type": Spec(lambda: dict(name="x", value=1, types=int)),
    "check_number": Spec(lambda: dict(name="x", value=0.5), numbers={"value": ANY}, names={"value": X}),
    "check_int": Spec(lambda: dict(name="x", value=3), ints={"value": Int()}, names={"value": X}),
    "check_positive": Spec(lambda: dict(name="x", value=0.5), numbers={"value": POS}, names={"value": X}),
    "check_betas": Spec(lambda: dict(name="x", betas=(0.9, 0.99))),
    "check_choice": Spec(lambda: dict(name="x", value="a", choices=("a", "b")), choices=("value",),
                         names={"value": X}),
    "check_tensor": Spec(lambda: dict(name="x", x=torch.randn(3, 2)),
                         call=lambda a: m.check_tensor(a["name"], a["x"], ndim=2, floating=True),
                         tensors={"x": Arr()}),
    "group_by_device_dtype": Spec(lambda: dict(tensors=[torch.zeros(2), torch.zeros(1, dtype=torch.float64)])),
    "rank_world": Spec(lambda: dict(group=None)),
    "all_reduce_sum": Spec(lambda: dict(tensors=[torch.ones(2)], group=None)),
    "all_reduce_grads": Spec(lambda: dict(params=[torch.ones(2)], group=None)),
    "broadcast_from_first": Spec(lambda: dict(tensors=[torch.ones(2)], group=None)),
    "all_gather_rows": Spec(lambda: dict(t=torch.ones(3, 2), group=None)),
    "check_params": Spec(lambda: dict(name="params", p=torch.randn(3)),
                         call=lambda a: m.check_params(a["name"], [a["p"]]),
                         tensors={"p": Arr(ndim=None, finite=False, empty_ok=True, complex_ok=True, grad=False)},
                         names={"p": ("params",)}),
    "check_symmetric": Spec(lambda: dict(rtol=1e-8), call=_symmetric, numbers={"rtol": NONNEG}),
    "seed_everything": Spec(lambda: dict(seed=3), ints={"seed": Int(0, 2**32 - 1)}),
    "require": Spec(lambda: dict(module="math")),
    "njit": Spec(lambda: dict(fn=lambda v: v)),
    "use_numba": Spec(lambda: dict(x=torch.zeros(2)), call=lambda a: m.use_numba(a["x"])),
    "torch_threads": Spec(lambda: dict(n=1), call=_threads, ints={"n": Int(1)}),
    "quiet": Spec(dict),
    "progress": Spec(lambda: dict(iterable=range(3)), call=lambda a: list(m.progress(**a))),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
