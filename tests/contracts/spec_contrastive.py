import torch

from gradnotes import contrastive as m
from harness import Arr, Int, Num, POS, Spec

_g = lambda: torch.Generator().manual_seed(0)


def _emb(n=6, d=4): return torch.randn(n, d, generator=_g())


def _net(): torch.manual_seed(0); return torch.nn.Linear(4, 3)


def _queue(a):
    q = m.KeyQueue(a["dim"], a["size"], init=a["init"])
    return q.enqueue(a["k"]).keys


SPECS = {
    "info_nce_from_logits": Spec(
        lambda: dict(pos_logits=torch.randn(4), neg_logits=torch.randn(4, 5), weights=torch.rand(4, 5)),
        tensors={"pos_logits": Arr(), "neg_logits": Arr(), "weights": Arr(ndim=None)},
        choices=("reduction",), same_length=(("pos_logits", "neg_logits"),),
        extra={"weights:negative": lambda a: dict(a, weights=-torch.ones(4, 5)),
               "weights:too_big": lambda a: dict(a, weights=torch.ones(4, 5, 2)),
               "weights:all_zero": lambda a: dict(a, weights=torch.zeros(4, 5), positive_in_denominator=False),
               "positive_in_denominator:not_bool": lambda a: dict(a, positive_in_denominator="yes")}),
    "info_nce": Spec(
        lambda: dict(query=_emb(), positive=_emb() + 1, negatives=torch.randn(7, 4), temperature=0.2),
        tensors={"query": Arr(), "positive": Arr(), "negatives": Arr(ndim=(2, 3))},
        numbers={"temperature": POS},
        extra={"positive:wrong_shape": lambda a: dict(a, positive=torch.randn(6, 3)),
               "negatives:wrong_dim": lambda a: dict(a, negatives=torch.randn(7, 5)),
               "negatives:wrong_rows": lambda a: dict(a, negatives=torch.randn(5, 2, 4)),
               "query:one_in_batch": lambda a: dict(query=torch.randn(1, 4), positive=torch.randn(1, 4)),
               "normalize:not_bool": lambda a: dict(a, normalize=1)}),
    "moco_key_encoder": Spec(
        lambda: dict(encoder=_net(), momentum=0.99),
        call=lambda a: m.moco_key_encoder(**a)(torch.randn(2, 4)),
        numbers={"momentum": Num(0, 1)},
        extra={"encoder:not_module": lambda a: dict(a, encoder="net"),
               "use_buffers:not_bool": lambda a: dict(a, use_buffers=1)}),
    "moco_keys": Spec(
        lambda: dict(key_encoder=m.moco_key_encoder(_net()), x=_emb()),
        tensors={"x": Arr(ndim=None)},
        extra={"key_encoder:not_module": lambda a: dict(a, key_encoder=None)}),
    "KeyQueue": Spec(
        lambda: dict(dim=4, size=8, init="empty", k=_emb()), call=_queue,
        tensors={"k": Arr(ndim=2)}, ints={"dim": Int(1, huge=False), "size": Int(1, huge=False)},
        choices=("init",),
        extra={"k:wrong_dim": lambda a: dict(a, k=torch.randn(6, 3))}),
    "embed": Spec(
        lambda: dict(encoder=_net(), X=_emb(), batch_size=4),
        tensors={"X": Arr(ndim=None)}, ints={"batch_size": Int(1)},
        extra={"encoder:not_module": lambda a: dict(a, encoder="net")}),
    "linear_probe": Spec(
        lambda: dict(train_features=_emb(20), train_labels=torch.arange(20) % 3,
                     test_features=_emb(8), test_labels=torch.arange(8) % 3, C=1.0),
        tensors={"train_features": Arr(ndim=2), "test_features": Arr(ndim=2),
                 "train_labels": Arr(ndim=1, floating=False, labels=None),
                 "test_labels": Arr(ndim=1, floating=False, labels=None)},
        numbers={"C": POS}, ints={"max_iter": Int(1, huge=False)},
        same_length=(("train_features", "train_labels"), ("test_features", "test_labels")),
        timeout=60),
    "knn_predict": Spec(
        lambda: dict(train_features=_emb(20), train_labels=torch.arange(20) % 3,
                     test_features=_emb(8), k=5, temperature=0.1),
        tensors={"train_features": Arr(ndim=2), "test_features": Arr(ndim=2),
                 "train_labels": Arr(ndim=1, floating=False, labels=None)},
        numbers={"temperature": POS}, ints={"k": Int(1, 20), "chunk": Int(1)},
        same_length=(("train_features", "train_labels"),)),
    "knn_accuracy": Spec(
        lambda: dict(train_features=_emb(20), train_labels=torch.arange(20) % 3,
                     test_features=_emb(8), test_labels=torch.arange(8) % 3, k=5),
        tensors={"train_features": Arr(ndim=2), "test_features": Arr(ndim=2),
                 "train_labels": Arr(ndim=1, floating=False, labels=None),
                 "test_labels": Arr(ndim=1, floating=False, labels=None)},
        numbers={"temperature": POS}, ints={"k": Int(1, 20)},
        same_length=(("train_features", "train_labels"), ("test_features", "test_labels"))),
    "kmeans": Spec(
        lambda: dict(X=_emb(30, 3), k=3, n_init=2, iters=20, tol=1e-4, seed=0),
        tensors={"X": Arr(ndim=2)}, ints={"k": Int(1, 30), "n_init": Int(1, huge=False),
                                          "iters": Int(1, huge=False), "seed": Int(0)},
        numbers={"tol": Num(0)}, choices=("engine",)),
}
OPT_OUT = {}
XFAIL = {}
