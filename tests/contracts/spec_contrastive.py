import torch

from gradnotes import contrastive as m
from harness import Arr, POS, Spec

_g = lambda: torch.Generator().manual_seed(0)


def _emb(n=6, d=4): return torch.randn(n, d, generator=_g())


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
}
OPT_OUT = {}
XFAIL = {}
