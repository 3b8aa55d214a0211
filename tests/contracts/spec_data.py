import torch

from gradnotes import data as m
from harness import Arr, Int, Num, POS_INT, Spec

FRACTION = Num(0, 1, high_open=True)
SEED = Int(0)
TABLE = dict(numbers={"val": FRACTION, "test": FRACTION}, ints={"seed": SEED})


def _split_args():
    g = torch.Generator().manual_seed(0)
    return dict(X_train=torch.randn(6, 2, generator=g), y_train=torch.arange(6) % 2,
                X_val=torch.randn(2, 2, generator=g), y_val=torch.arange(2), X_test=torch.randn(2, 2, generator=g),
                y_test=torch.arange(2), part="train", batch_size=4)


def _loader(a):
    a = dict(a)
    part, bs = a.pop("part"), a.pop("batch_size")
    return list(m.Split(**a).loader(part, batch_size=bs))


def _graph(a):
    g = m.karate_club()
    return repr(m.Graph(g.x, g.edge_index, g.y, g.train_mask, g.val_mask, g.test_mask))


SPECS = {
    "Split": Spec(_split_args, call=_loader, choices=("part",), ints={"batch_size": POS_INT},
                  same_length=(("X_train", "y_train"),)),
    "split_arrays": Spec(lambda: dict(X=torch.randn(20, 3), y=torch.arange(20) % 2, val=0.2, test=0.2),
                         tensors={"X": Arr(int_ok=True), "y": Arr(floating=False)},
                         numbers={"val": FRACTION, "test": FRACTION}, ints={"seed": SEED},
                         same_length=(("X", "y"),)),
    "cache_dir": Spec(dict),
    "digits": Spec(lambda: dict(seed=0, val=0.15, test=0.15), **TABLE),
    "breast_cancer": Spec(lambda: dict(seed=0, val=0.15, test=0.15), **TABLE),
    "wine": Spec(lambda: dict(seed=0, val=0.15, test=0.15), **TABLE),
    "diabetes": Spec(lambda: dict(seed=0, val=0.15, test=0.15), **TABLE),
    "mnist1d": Spec(lambda: dict(seed=0, val=0.1), numbers={"val": FRACTION}, ints={"seed": SEED}),
    "sample_image": Spec(lambda: dict(name="camera", size=8), choices=("name",), ints={"size": POS_INT}),
    "Graph": Spec(dict, call=_graph),
    "karate_club": Spec(lambda: dict(seed=0, val=0.2, test=0.4), **TABLE),
    "DomainShift": Spec(lambda: dict(blur=0.5, noise=0.05, contrast=0.7),
                        numbers={"blur": Num(0, 8), "noise": Num(0, 1),
                                 "contrast": Num(0, 4, low_open=True)}),
    "shapes_segmentation": Spec(lambda: dict(n_train=4, n_val=2, n_test=2, size=16, max_shapes=2,
                                             fidelity=0.8, seed=0),
                                ints={"n_train": POS_INT, "n_val": POS_INT, "n_test": POS_INT,
                                      "size": Int(8, 1024), "max_shapes": Int(1, 64), "seed": SEED},
                                numbers={"fidelity": Num(0, 1)},
                                extra={"shift:not a DomainShift": lambda a: dict(a, shift="blur")}),
    "corrupt": Spec(lambda: dict(x=torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0)),
                                 name="fog", severity=3, seed=0),
                    tensors={"x": Arr(ndim=4, bounds=(0, 1))}, choices=("name",),
                    ints={"severity": Int(1, 5, huge=False), "seed": SEED}),
    "digit_images": Spec(lambda: dict(size=8, seed=0, val=0.1, test=0.3),
                         ints={"size": Int(8, 256, huge=False), "seed": SEED},
                         numbers={"val": FRACTION, "test": FRACTION}),
    "StreamBatch": Spec(dict, call=lambda a: m.StreamBatch(torch.zeros(1, 1, 2, 2), torch.zeros(1), "fog", 1, 0)),
    "CorruptionStream": Spec(lambda: dict(X=torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0)),
                                          y=torch.arange(5), severity=2, batch_size=2, rounds=1, seed=0),
                             call=lambda a: [b.x for b in m.CorruptionStream(**a)],
                             tensors={"X": Arr(ndim=4, bounds=(0, 1)), "y": Arr(ndim=1, floating=False)},
                             ints={"severity": Int(1, 5, huge=False), "batch_size": POS_INT,
                                   "rounds": Int(1, huge=False), "seed": SEED},
                             same_length=(("X", "y"),)),
}
OPT_OUT = {"SAMPLE_IMAGES": "a tuple of image names, not a callable",
           "SHAPE_CLASSES": "a tuple of class names, not a callable",
           "CORRUPTIONS": "a tuple of corruption names, not a callable"}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
