import torch
import torch.nn.functional as F

from common import model_data, tiny_model
from gradnotes import autodiff as m
from harness import Arr, Int, Spec, POS_INT

# y goes only to the caller's loss_fn: its dtype, shape and label range are that function's business
XY = dict(tensors={"X": Arr(ndim=None), "y": Arr(floating=False, ndim=None)}, same_length=(("X", "y"),))

SPECS = {
    "trainable": Spec(lambda: dict(model=tiny_model())),
    "num_params": Spec(lambda: dict(model=tiny_model())),
    "flatten": Spec(lambda: dict(a=torch.randn(2, 3), b=torch.randn(4)),
                    call=lambda a: m.flatten([a["a"], a["b"]]),
                    tensors={"a": Arr(ndim=None, finite=False, complex_ok=True, int_ok=True, arrays=False,
                                           empty_ok=True)},
                    names={"a": ("tensors",)}),
    "unflatten": Spec(lambda: dict(vec=torch.randn(10), like={"w": torch.zeros(2, 3), "b": torch.zeros(4)}),
                      tensors={"vec": Arr(ndim=(1, 2), finite=False)}),
    "check_functional": Spec(lambda: dict(model=tiny_model())),
    "check_input": Spec(lambda: dict(name="X", X=torch.randn(5, 3), model=tiny_model()),
                        tensors={"X": Arr(ndim=None)}),
    "functional_loss": Spec(lambda: dict(model=tiny_model(), loss_fn=F.cross_entropy)),
    "flat_grad": Spec(model_data, **XY),
    "iter_per_sample_grads": Spec(lambda: dict(model_data(), chunk_size=3),
                                  call=lambda a: list(m.iter_per_sample_grads(**a)),
                                  ints={"chunk_size": POS_INT}, **XY),
    "per_sample_grads": Spec(lambda: dict(model_data(), chunk_size=3), ints={"chunk_size": POS_INT}, **XY),
    # the argument is a callable: the valid call, and a non-scalar loss, below
    "saved_bytes": Spec(lambda: dict(w=torch.randn(6, requires_grad=True)),
                        call=lambda a: m.saved_bytes(lambda: (a["w"] * a["w"]).sum())),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
