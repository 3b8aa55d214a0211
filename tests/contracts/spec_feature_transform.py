import torch
import torch.nn.functional as F

from gradnotes import feature_transform as m
from harness import Arr, Int, Num, POS, Spec

_g = lambda: torch.Generator().manual_seed(0)


def _unit(n, d=4): return F.normalize(torch.randn(n, d, generator=_g()), dim=1)


def _ft_call(a):
    a = dict(a)
    q, k, queue = a.pop("q"), a.pop("k"), a.pop("queue")
    return m.FeatureTransform(**a)(q, k, queue)[0]


def _tiny_run():
    torch.manual_seed(0)
    return m.train_moco(torch.nn.Linear(4, 4), torch.nn.Identity(), torch.randn(16, 4),
                        lambda x: x + 0.1 * torch.randn_like(x), epochs=1, batch_size=8,
                        queue_size=8)


def _train(a):
    a = dict(a)
    torch.manual_seed(0)
    return m.train_moco(torch.nn.Linear(4, 4), torch.nn.Identity(), a.pop("X"),
                        lambda x: x + 0.1 * torch.randn_like(x), **a).loss


SPECS = {
    "mix_coefficients": Spec(lambda: dict(shape=(3, 2), alpha=2.0, shift=1.0),
                             numbers={"alpha": POS, "shift": Num()}, choices=("distribution",)),
    "FeatureTransform": Spec(
        lambda: dict(pos_alpha=2.0, neg_alpha=1.6, q=_unit(5), k=_unit(5) + 0.1,
                     queue=_unit(12)),
        call=_ft_call, tensors={"q": Arr(ndim=2), "k": Arr(ndim=2), "queue": Arr(ndim=2)},
        numbers={"pos_alpha": POS, "neg_alpha": POS},
        choices=("positive", "distribution", "postmix_norm"),
        extra={"k:wrong_shape": lambda a: dict(a, k=_unit(4)),
               "queue:wrong_dim": lambda a: dict(a, queue=_unit(12, 3)),
               "negative:not_bool": lambda a: dict(a, negative=1)}),
    "moco_ft_loss": Spec(
        lambda: dict(q=_unit(5), k=_unit(5), queue=_unit(12), temperature=0.2,
                     transform=m.FeatureTransform()),
        tensors={"q": Arr(ndim=2), "k": Arr(ndim=2), "queue": Arr(ndim=2)},
        numbers={"temperature": POS},
        extra={"transform:not_transform": lambda a: dict(a, transform="ft"),
               "k:wrong_shape": lambda a: dict(a, k=_unit(4))}),
    "augment_images": Spec(lambda: dict(x=torch.rand(3, 1, 8, 8, generator=_g()), erase_size=2),
                           tensors={"x": Arr(ndim=4)}, ints={"erase_size": Int(1, 8)}),
    "augment_signals": Spec(lambda: dict(x=torch.randn(3, 20, generator=_g())),
                            tensors={"x": Arr(ndim=(2, 3))}),
    "conv_encoder": Spec(lambda: dict(width=2, out=3), ints={"width": Int(1, huge=False),
                                                            "out": Int(1, huge=False)}),
    "projection_head": Spec(lambda: dict(inp=4, hidden=3, out=2),
                            ints={"inp": Int(1, huge=False), "hidden": Int(1, huge=False),
                                  "out": Int(1, huge=False)}),
    "upsampled_digits": Spec(lambda: dict(seed=0, size=8), ints={"seed": Int(0),
                                                                 "size": Int(8, 256)}),
    "MoCoRun": Spec(dict, call=lambda a: _tiny_run().summary("neg", "var")),
    "train_moco": Spec(lambda: dict(X=torch.randn(16, 4, generator=_g()), epochs=1,
                                    batch_size=8, queue_size=8, temperature=0.2, lr=0.05),
                       call=_train, tensors={"X": Arr(ndim=None)},
                       numbers={"temperature": POS, "lr": POS},
                       ints={"epochs": Int(1, huge=False), "batch_size": Int(2, 16),
                             "queue_size": Int(1, huge=False)}),
    "score_histograms": Spec(lambda: dict(run=_tiny_run(), key="pos", bins=5),
                             ints={"bins": Int(1, huge=False)}, choices=("key",),
                             extra={"run:not_run": lambda a: dict(a, run=None),
                                    "low:above_high": lambda a: dict(a, low=1.0, high=0.0)}),
}
OPT_OUT = {"plot_scores": "draws a matplotlib figure from finished runs (score_histograms "
                          "checks its inputs)"}
XFAIL = {}
