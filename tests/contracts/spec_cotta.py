import torch
from torch import nn

from gradnotes import cotta as m
from harness import Arr, Int, Num, POS, PROB, Spec


def _x(n=6):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def _net():
    torch.manual_seed(0)
    return m.bn_cnn(width=2, size=8)


def _adapt(cls, **fixed):
    def call(a):
        a = dict(a)
        x = a.pop("x")
        return cls(_net(), **fixed, **a)(x)
    return call


def _stream(a):
    from gradnotes.data import CorruptionStream
    run = m.run_stream(m.BNAdapt(_net()), CorruptionStream(a["X"], a["y"], ["fog"], batch_size=4))
    return m.error_table(run)


X = Arr(ndim=4, bounds=None)

SPECS = {
    "batch_norm_layers": Spec(dict, call=lambda a: len(m.batch_norm_layers(_net()))),
    "use_batch_stats": Spec(dict, call=lambda a: m.use_batch_stats(_net())(_x())),
    "bn_cnn": Spec(lambda: dict(n_classes=3, width=2, size=8),
                   call=lambda a: m.bn_cnn(**a)(torch.rand(2, 1, a["size"], a["size"])),
                   ints={"n_classes": Int(2, huge=False), "width": Int(1, huge=False),
                         "size": Int(4, huge=False)}),
    "BNAdapt": Spec(lambda: dict(x=_x()), call=lambda a: m.BNAdapt(_net())(a["x"]),
                    tensors={"x": X}),
    "entropy": Spec(lambda: dict(logits=torch.randn(4, 3)), tensors={"logits": Arr(ndim=2)}),
    "Tent": Spec(lambda: dict(x=_x(), lr=1e-3, steps=1), call=_adapt(m.Tent),
                 tensors={"x": X}, numbers={"lr": POS}, ints={"steps": Int(1, huge=False)}),
    "cotta_augment": Spec(lambda: dict(x=_x(), degrees=15.0, noise=0.005),
                          tensors={"x": Arr(ndim=(4, 5))}),
    "CoTTA": Spec(lambda: dict(x=_x(), lr=1e-3, alpha=0.999, p=0.01, threshold=0.92, n_aug=2,
                               chunk=1, seed=0),
                  call=_adapt(m.CoTTA), tensors={"x": X},
                  numbers={"lr": POS, "alpha": PROB, "p": PROB, "threshold": PROB},
                  ints={"n_aug": Int(1, huge=False), "chunk": Int(1, huge=False),
                        "seed": Int(0, huge=False)}),
    "run_stream": Spec(lambda: dict(X=_x(), y=torch.arange(6) % 3), call=_stream,
                       tensors={"X": Arr(ndim=4, bounds=(0, 1)), "y": Arr(floating=False, ndim=1)},
                       same_length=(("X", "y"),), names={"X": ("x",)}),
    "error_table": Spec(dict, call=lambda a: m.error_table(
        dict(rows=[("fog", 0, 1, 4)], probs=torch.full((4, 2), 0.5), labels=torch.zeros(4)))),
}
OPT_OUT = {}
XFAIL = {}
