import torch

from gradnotes import fst as m
from harness import Arr, Int, PROB, Spec

IMAGES = Arr(ndim=4)
MASKS = Arr(floating=False, ndim=3, labels=5)
ANY_LABELS = Arr(floating=False, ndim=3)  # class_mix takes any number of classes
SIZE = Int(1, 4096)


def _images(n=4, seed=0):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def _masks(n=4, seed=0):
    return torch.randint(0, 5, (n, 8, 8), generator=torch.Generator().manual_seed(seed))


def _batch(): return dict(x_src=_images(), y_src=_masks(), x_tgt=_images(seed=1))


def _net():
    torch.manual_seed(0)
    return m.SegNet(width=4, dilations=(1,))


def _fst(a):
    net = _net()
    f = m.FST(net, torch.optim.SGD(net.parameters(), 0.1), m.self_training_loss, k=a["k"],
              alpha=a["alpha"], variant=a["variant"])
    b = (a["x_src"], a["y_src"], a["x_tgt"])
    f.step(b)
    f.step(b, future=[b] * a["k"] if a["variant"] == "wide" and a["k"] else None)
    return [p.detach() for p in net.parameters()]


def _loss(a):
    net = _net()
    return m.self_training_loss(net, net, (a["x_src"], a["y_src"], a["x_tgt"]),
                                threshold=a["threshold"]).detach()


BATCH_NAMES = {"x_src": ("batch",), "y_src": ("batch",), "x_tgt": ("batch",)}

SPECS = {
    "FST": Spec(lambda: dict(k=2, alpha=0.9, variant="deep", **_batch()), call=_fst,
                ints={"k": Int(0, 1000)}, numbers={"alpha": PROB}, choices=("variant",),
                tensors={"x_src": IMAGES, "y_src": MASKS, "x_tgt": IMAGES},
                same_length=(("x_src", "y_src"),), names=BATCH_NAMES,
                extra={"batch:empty": lambda a: dict(a, x_src=a["x_src"][:0], y_src=a["y_src"][:0],
                                                     x_tgt=a["x_tgt"][:0])}),
    "SegNet": Spec(lambda: dict(in_channels=3, n_classes=5, width=4),
                   call=lambda a: m.SegNet(**a)(torch.zeros(1, 3, 4, 4)).detach(),
                   ints={"in_channels": SIZE, "n_classes": Int(2, 4096), "width": SIZE}),
    "pseudo_labels": Spec(lambda: dict(logits=torch.randn(2, 5, 4, 4), threshold=0.9),
                          tensors={"logits": IMAGES}, numbers={"threshold": PROB}),
    "class_mix": Spec(lambda: dict(x_src=_images(), y_src=_masks(), x_tgt=_images(seed=1),
                                   y_tgt=_masks(seed=1)),
                      tensors={"x_src": IMAGES, "y_src": ANY_LABELS, "x_tgt": IMAGES,
                               "y_tgt": ANY_LABELS},
                      same_length=(("x_src", "y_src"), ("x_tgt", "y_tgt"), ("x_src", "x_tgt"))),
    "self_training_loss": Spec(lambda: dict(threshold=0.9, **_batch()), call=_loss,
                               tensors={"x_src": IMAGES, "y_src": MASKS, "x_tgt": IMAGES},
                               numbers={"threshold": PROB}, same_length=(("x_src", "y_src"),),
                               names=BATCH_NAMES),
}
OPT_OUT = {}
XFAIL = {}
