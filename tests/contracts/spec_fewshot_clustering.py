import torch

from gradnotes import fewshot_clustering as m
from harness import Arr, Int, NONNEG, POS, POS_INT, Spec

NOLOOP = Int(1, huge=False)
LABELS = Arr(floating=False, ndim=(1,), labels=3)


def _episode():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(3, 4, generator=g)
    lab = torch.arange(3).repeat(2)          # two supports per class
    qlab = torch.arange(3).repeat(3)
    return dict(support=centres[lab] + 0.3 * torch.randn(6, 4, generator=g), support_labels=lab,
                query=centres[qlab] + 0.3 * torch.randn(9, 4, generator=g))


# K is read from the labels (0..K-1, every class present): a label K is a valid K+1-th class, -1 is not
EPISODE = dict(tensors={"support": Arr(ndim=(2, 3)), "support_labels": Arr(floating=False, ndim=(1, 2)),
                        "query": Arr(ndim=(2, 3))},
               same_length=(("support", "support_labels"),),
               names={"support": ("query",)},  # a support/query shape mismatch may name either
               extra={"support_labels:negative": lambda a: dict(a, support_labels=a["support_labels"] - 1),
                      "support_labels:missing_class": lambda a: dict(a, support_labels=2 * a["support_labels"])})


def _points(): return torch.randn(8, 3, generator=torch.Generator().manual_seed(1))


def _bound_args():
    X = _points()[None]
    nbrs = m.knn_graph(X, 3)
    A = torch.randn(1, 8, 3, generator=torch.Generator().manual_seed(2))
    return dict(A=A, nbrs=nbrs, lmd=0.5, max_iter=20, tol=1e-6)


def _features():
    g = torch.Generator().manual_seed(0)
    return dict(features=torch.randn(30, 4, generator=g), labels=torch.arange(30) % 5)


SPECS = {
    "cl2n": Spec(lambda: dict(x=_points(), base_mean=torch.zeros(3)),
                 tensors={"x": Arr(ndim=None), "base_mean": Arr(ndim=1)}),
    "shift_queries": Spec(lambda: dict(support=_points()[:4], query=_points()[4:]),
                          tensors={"support": Arr(ndim=(2, 3)), "query": Arr(ndim=(2, 3), empty_ok=True)}),
    "sqdist": Spec(lambda: dict(x=_points()[:4], y=_points()[4:]),  # no rows in: no rows out
                   tensors={"x": Arr(ndim=(2, 3), empty_ok=True), "y": Arr(ndim=(2, 3), empty_ok=True)}),
    "knn_graph": Spec(lambda: dict(X=_points(), knn=3), tensors={"X": Arr(ndim=(2, 3))}, ints={"knn": Int(2)}),
    "kernel_sigma": Spec(lambda: dict(X=_points(), nbrs=m.knn_graph(_points(), 3), divisor=5.0),
                         tensors={"X": Arr(ndim=(2, 3)), "nbrs": Arr(floating=False, ndim=2, labels=8)},
                         numbers={"divisor": POS}, same_length=(("X", "nbrs"),)),
    "bound_update": Spec(_bound_args, tensors={"A": Arr(ndim=3), "nbrs": Arr(floating=False, ndim=3, labels=8)},
                         numbers={"lmd": NONNEG, "tol": NONNEG}, ints={"max_iter": NOLOOP}),
    "SLKResult": Spec(dict, call=lambda a: m.slk(**_episode())),
    "slk": Spec(lambda: dict(_episode(), lmd=0.7, mode="kmeans", knn=3, outer_iter=10, inner_iter=20, engine="numba"),
                numbers={"lmd": NONNEG}, ints={"knn": Int(2), "outer_iter": NOLOOP, "inner_iter": NOLOOP},
                choices=("mode", "engine"), **EPISODE),
    "simpleshot": Spec(_episode, **EPISODE),
    "laplacianshot": Spec(lambda: dict(_episode(), lmd=0.7, knn=3, max_iter=10, tol=1e-6),
                          numbers={"lmd": NONNEG, "tol": NONNEG}, ints={"knn": Int(2), "max_iter": NOLOOP}, **EPISODE),
    "tim": Spec(lambda: dict(_episode(), iters=5, lr=1e-3, temp=15.0),
                numbers={"lr": POS, "temp": POS}, ints={"iters": NOLOOP}, **EPISODE),
    "Episodes": Spec(dict, call=lambda a: m.sample_episodes(**_features(), n_way=3, shot=1, n_query=2, n_episodes=2)),
    "sample_episodes": Spec(lambda: dict(_features(), n_way=3, shot=1, n_query=2, n_episodes=2, seed=0),
                            tensors={"features": Arr(ndim=2), "labels": Arr(floating=False, ndim=1)},
                            ints={"n_way": POS_INT, "shot": POS_INT, "n_query": POS_INT, "n_episodes": NOLOOP,
                                  "seed": Int(0)}, same_length=(("features", "labels"),)),
    "episode_accuracy": Spec(lambda: dict(pred=torch.tensor([[0, 1, 2, 2]]), labels=torch.tensor([[0, 1, 2, 1]]),
                                          hungarian=True, n_classes=3),
                             tensors={"pred": Arr(floating=False, ndim=2), "labels": Arr(floating=False, ndim=2)},
                             ints={"n_classes": POS_INT},
                             extra={"labels:huge_class": lambda a: dict(a, labels=torch.tensor([[0, 1, 2, 10**6]])),
                                    "labels:negative": lambda a: dict(a, labels=torch.tensor([[0, 1, 2, -1]])),
                                    "pred:negative": lambda a: dict(a, pred=torch.tensor([[0, 1, 2, -1]]))}),
    "mean_ci95": Spec(lambda: dict(acc=torch.tensor([0.5, 0.75, 1.0])), tensors={"acc": Arr(ndim=1, bounds=(0, 1))},
                      extra={"acc:one_episode": lambda a: dict(a, acc=torch.tensor([0.5]))}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
}
