import torch
from torch import nn

from gradnotes import meow as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, PROB, Spec

NOLOOP = Int(1, huge=False)  # a size or a step count: a huge one is a long run, not an error
FRACTION = Num(0, 1, high_open=True)
_g = lambda: torch.Generator().manual_seed(0)


def _graph(): return m.make_dblp_like(n_authors=24, n_papers=48, n_venues=8, n_terms=16, seed=0)


def _views(): return m.prepare_views(_graph(), nei_max=(2, 4, 3))


def _M(): return m.metapath_adjacency(_graph(), "APVPA")


def _emb(n=8, d=4): return torch.randn(n, d, generator=_g())


def _adj(n=8): return m.normalize_adj(m.pathsim_topk(m.metapath_adjacency(_graph(), "APA"), 2))


def _mlp(d=4): return nn.Sequential(nn.Linear(d, 3), nn.Tanh(), nn.Linear(3, 1))


def _fit(): return m.fit_meow(_graph(), "infonce", epochs=2)


LOSS = dict(tensors={"z_c": Arr(ndim=2), "z_f": Arr(ndim=2), "weights": Arr(ndim=2, bounds=(0, None))},
            numbers={"tau": POS}, same_length=(("z_c", "z_f", "weights"),),
            extra={"weights:all_zero": lambda a: dict(a, weights=torch.zeros(8, 8))})

SPECS = {
    "HeteroGraph": Spec(dict, call=lambda a: _graph().relation("P", "A").shape),
    "make_dblp_like": Spec(lambda: dict(n_authors=24, n_papers=48, n_venues=8, n_terms=16, n_classes=4,
                                        topic_noise=0.2, coauthor_noise=0.4, venue_noise=0.3, term_signal=0.2,
                                        terms_per_paper=3, seed=0),
                           call=lambda a: m.make_dblp_like(**a).labels,
                           ints={"n_authors": NOLOOP, "n_papers": NOLOOP, "n_venues": NOLOOP, "n_terms": NOLOOP,
                                 "n_classes": Int(2, huge=False), "terms_per_paper": NOLOOP},
                           numbers={"topic_noise": PROB, "coauthor_noise": PROB, "venue_noise": PROB,
                                    "term_signal": PROB}),
    "metapath_adjacency": Spec(lambda: dict(graph=_graph(), path="APVPA"),
                               call=lambda a: m.metapath_adjacency(**a).toarray()),
    "pathsim": Spec(lambda: dict(M=_M()), call=lambda a: m.pathsim(**a).toarray()),
    "pathsim_topk": Spec(lambda: dict(M=_M(), k=3, engine="numba"),
                         call=lambda a: m.pathsim_topk(**a).toarray(),
                         ints={"k": Int(1)}, choices=("engine",)),
    "normalize_adj": Spec(lambda: dict(A=_M()), call=lambda a: m.normalize_adj(**a).to_dense()),
    "metapath_hops": Spec(lambda: dict(graph=_graph(), path="APTPA"),
                          call=lambda a: [t for t, _ in m.metapath_hops(**a)]),
    "hop_context": Spec(lambda: dict(steps=m.metapath_hops(_graph(), "APVPA")[1][1], x=_emb(8, 3)),
                        tensors={"x": Arr(ndim=2)}),
    "MEOWViews": Spec(dict, call=lambda a: _views().metapaths),
    "prepare_views": Spec(lambda: dict(graph=_graph(), nei_max=(2, 4, 3), feat_mask=0.2,
                                       adj_mask=(0.2, 0.5, 0.6), seed=0),
                          call=lambda a: m.prepare_views(**a).masked_target,
                          numbers={"feat_mask": FRACTION}, ints={"seed": Int(0)}),
    "GCN": Spec(lambda: dict(dim=4, dropout=0.2, x=_emb(24, 4)),
                call=lambda a: m.GCN(a["dim"], a["dropout"]).eval()(a["x"], _adj()),
                ints={"dim": NOLOOP}, numbers={"dropout": FRACTION}, tensors={"x": Arr(ndim=2)}),
    "SemanticAttention": Spec(lambda: dict(dim=4, dropout=0.2),
                              call=lambda a: m.SemanticAttention(**a).eval()([_emb(), _emb() + 1])[1],
                              ints={"dim": NOLOOP}, numbers={"dropout": FRACTION}),
    "MEOW": Spec(lambda: dict(dim=4, dropout=0.2, weight_hidden=3),
                 call=lambda a: m.MEOW(_views(), contexts=True, weight_mlp=True, **a).eval()(_views())[2],
                 ints={"dim": NOLOOP, "weight_hidden": NOLOOP}, numbers={"dropout": FRACTION}),
    "cluster_weights": Spec(lambda: dict(labelings=[torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 2])]),
                            extra={"labelings:float": lambda a: dict(labelings=[torch.zeros(4)]),
                                   "labelings:lengths": lambda a: dict(labelings=[torch.zeros(4, dtype=torch.long),
                                                                                 torch.zeros(3, dtype=torch.long)]),
                                   "labelings:none": lambda a: dict(labelings=[])}),
    "meow_info_loss": Spec(lambda: dict(z_c=_emb(), z_f=_emb() + 1, weights=torch.rand(8, 8, generator=_g()) + 0.1,
                                        tau=0.9), **LOSS),
    "kmeans_prototypes": Spec(lambda: dict(z=_emb(12, 3), n_clusters=(2, 4), tau=0.9, seed=0, n_init=1),
                              tensors={"z": Arr(ndim=2)}, numbers={"tau": POS},
                              ints={"seed": Int(0), "n_init": NOLOOP},
                              extra={"n_clusters:too_many": lambda a: dict(a, n_clusters=(13,))}),
    "proto_nce": Spec(lambda: dict(z=_emb(12, 3), clusterings=m.kmeans_prototypes(_emb(12, 3), (2, 4))),
                      tensors={"z": Arr(ndim=2)},
                      extra={"clusterings:none": lambda a: dict(a, clusterings=[])}),
    "learned_weights": Spec(lambda: dict(mlp=_mlp(), za=_emb(), zb=_emb() + 1, chunk=3),
                            tensors={"za": Arr(ndim=2), "zb": Arr(ndim=2)}, ints={"chunk": POS_INT}),
    "adameow_loss": Spec(lambda: dict(z_f=_emb(), z_c=_emb() + 1, weights=torch.rand(8, 8, generator=_g()) + 0.1,
                                      tau=0.9),
                         tensors={"z_f": Arr(ndim=2), "z_c": Arr(ndim=2), "weights": Arr(ndim=2, bounds=(0, None))},
                         numbers={"tau": POS}, same_length=(("z_f", "z_c", "weights"),),
                         extra={"weights:all_zero": lambda a: dict(a, weights=torch.zeros(8, 8))}),
    "MEOWResult": Spec(dict, call=lambda a: _fit().losses),
    "fit_meow": Spec(lambda: dict(graph=_graph(), variant="meow", epochs=2, seed=0, tau=0.9, lr=1e-3,
                                  weight_decay=0.0, patience=5, clusters=(2, 4), nei_max=(2, 4, 3),
                                  lam_proto=1.0, dim=4, dropout=0.2),
                     call=lambda a: m.fit_meow(**a).embeddings,
                     numbers={"tau": POS, "lr": POS, "weight_decay": NONNEG, "lam_proto": NONNEG,
                              "dropout": FRACTION},
                     ints={"epochs": NOLOOP, "patience": POS_INT, "seed": Int(0), "dim": NOLOOP},
                     choices=("variant",)),
    "linear_probe": Spec(lambda: dict(X=_emb(24, 3), y=torch.arange(24) % 2, per_class=(3,), n_splits=2, seed=0),
                         call=lambda a: m.linear_probe(**a)[3]["ma_f1"],
                         tensors={"X": Arr(ndim=2), "y": Arr(floating=False)},
                         ints={"n_splits": NOLOOP, "seed": Int(0)}, same_length=(("X", "y"),)),
    "cluster_scores": Spec(lambda: dict(X=_emb(24, 3), y=torch.arange(24) % 2, runs=2, seed=0),
                           call=lambda a: m.cluster_scores(**a)["nmi"],
                           tensors={"X": Arr(ndim=2), "y": Arr(floating=False)},
                           ints={"runs": NOLOOP, "seed": Int(0)}, same_length=(("X", "y"),)),
}
OPT_OUT = {"VARIANTS": "a dict of variant settings, not a callable"}
XFAIL = {}
