import torch
import torch.nn.functional as F

from common import model_data, tiny_model
from gradnotes import coherence as m
from harness import Arr, Int, POS_INT, PROB, Spec

G_ARR = {"G": Arr(ndim=(2, 3))}
XY = dict(tensors={"X": Arr(), "y": Arr(floating=False, ndim=None)}, same_length=(("X", "y"),))


def _G(m_=5, d=4): return torch.randn(m_, d, generator=torch.Generator().manual_seed(0))


def _robust(cls, **kw):
    def call(a):
        a = dict(a)
        est = cls(a.pop("model"), a.pop("loss_fn"), **{k: a.pop(k) for k in kw})
        return est.backward(a["X"], a["y"])
    ints = {"c": Int(0)} if "c" in kw else {}
    choices = ("engine",) if "engine" in kw else ()
    return Spec(lambda: dict(model_data(), **kw), call=call, ints=ints, choices=choices, **XY)


SPECS = {
    "m_coherence": Spec(lambda: dict(G=_G()), tensors=G_ARR),
    "alpha": Spec(lambda: dict(G=_G()), tensors=G_ARR),
    "pairwise_alignment": Spec(lambda: dict(G=_G()), tensors=G_ARR),
    "model_coherence": Spec(lambda: dict(model_data(), chunk_size=3), ints={"chunk_size": POS_INT}, **XY),
    "winsorized_mean": Spec(lambda: dict(G=_G(), c=1, engine="auto"), tensors=G_ARR, ints={"c": Int(0)},
                            choices=("engine",), extra={"c:too_large": lambda a: dict(a, c=3)}),
    "median3": Spec(lambda: dict(a=_G(3, 4)[0], b=_G(3, 4)[1], c=_G(3, 4)[2]),
                    tensors={"a": Arr(ndim=None), "b": Arr(ndim=None), "c": Arr(ndim=None)},
                    same_length=(("a", "b"), ("a", "c"))),
    "m3_mean": Spec(lambda: dict(G=_G(6, 4)), tensors=G_ARR),
    "RobustGradient": Spec(dict, call=lambda a: m.MeanGradient(tiny_model(), F.cross_entropy).backward(
        *[model_data()[k] for k in ("X", "y")])),
    "MeanGradient": _robust(m.MeanGradient),
    "WinsorizedGradient": _robust(m.WinsorizedGradient, c=1, engine="auto"),
    "M3Gradient": _robust(m.M3Gradient),
    "RM3Gradient": _robust(m.RM3Gradient),
    "corrupt_labels": Spec(lambda: dict(y=torch.arange(10) % 3, fraction=0.3, n_classes=3, seed=0),
                           tensors={"y": Arr(floating=False, ndim=1, labels=3)}, numbers={"fraction": PROB},
                           ints={"n_classes": Int(2, huge=False), "seed": Int(0)}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
