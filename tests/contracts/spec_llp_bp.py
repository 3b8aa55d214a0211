import torch

from gradnotes import llp_bp as m
from harness import Arr, Int, NONNEG, Num, POS, POS_INT, PROB, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)


def _X(n=16):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    return torch.randn(n, 2, generator=g, dtype=F64) + 2.0 * y[:, None], y


def _bags(n=16): return m.random_bags(n, 4, seed=0)


def _graph_args():
    X, y = _X()
    bag_index, sizes = m.check_bags(_bags(), 16)
    counts = m.bag_proportions(y, _bags()) * sizes
    edges, weights = m.knn_similarity(X, k=3)
    return dict(bag_index=bag_index, counts=counts, edges=edges, weights=weights, lam_bag=1.0, lam_sim=1.0)


# integer positive counts are the natural data (k_B = p_B |B|)
GRAPH_T = {"bag_index": Arr(floating=False, ndim=1, labels=4), "counts": Arr(ndim=1, bounds=(0, 4), int_ok=True),
           "weights": Arr(ndim=1, bounds=(0, None))}


def _bp(a):
    g = m.llp_graph(**_graph_args())
    return m.belief_propagation(m.LLPGraph(a["unary"], g.edges, a["pair"]), damping=a["damping"],
                                max_iter=a["max_iter"], tol=a["tol"], engine=a["engine"])


def _bp_args():
    g = m.llp_graph(**_graph_args())
    return dict(unary=g.unary, pair=g.pair, damping=0.5, max_iter=20, tol=1e-6, engine="auto")


def _exact(a):
    g = m.llp_graph(**_graph_args())
    return m.exact_marginals(m.LLPGraph(a["unary"], g.edges, a["pair"]))


def _estimator(cls, **params):
    def args():
        X, y = _X()
        return dict(X=X, proportions=m.bag_proportions(y, _bags()), **params)
    def call(a):
        a = dict(a)
        X, p = a.pop("X"), a.pop("proportions")
        est = cls(**a).fit(X, bags=_bags(), proportions=p)
        return est.predict(X), est.predict_proba(X)
    return args, call


def _est_spec(cls, numbers, ints, **params):
    args, call = _estimator(cls, **params)
    return Spec(args, call=call, numbers=numbers, ints=ints,
                # integer features and 0/1 proportions are valid data (scikit-learn accepts them)
                tensors={"X": Arr(ndim=2, int_ok=True), "proportions": Arr(ndim=1, bounds=(0, 1), int_ok=True)})


def _agg_args():
    torch.manual_seed(0)
    return dict(emb=torch.randn(8, 3, dtype=F64), bag_index=torch.arange(8) % 2, proportions=torch.tensor([0.25, 0.5], dtype=F64),
                head=torch.nn.Linear(3, 1).double())


SPECS = {
    "check_bags": Spec(lambda: dict(bags=_bags(), n=16), ints={"n": POS_INT},
                       extra={"bags:overlap": lambda a: dict(a, bags=[a["bags"][0]] * 4),
                              "bags:float": lambda a: dict(a, bags=[b.double() for b in a["bags"]])}),
    # 0/1 integer proportions are valid data (bags of one class), as the estimators take them
    "check_proportions": Spec(lambda: dict(proportions=torch.tensor([0.25, 0.5, 0.75, 0.0], dtype=F64), n_bags=4),
                              tensors={"proportions": Arr(ndim=1, bounds=(0, 1), int_ok=True)}, ints={"n_bags": POS_INT}),
    "random_bags": Spec(lambda: dict(n=16, bag_size=4, seed=0), ints={"n": NOLOOP, "bag_size": POS_INT, "seed": Int(0)}),
    "bag_proportions": Spec(lambda: dict(y=_X()[1], bags=_bags()), tensors={"y": Arr(floating=False, ndim=1, labels=2)}),
    "knn_similarity": Spec(lambda: dict(X=_X()[0], k=3, neigh_thresh=2.0, chunk=5), tensors={"X": Arr(ndim=2)},
                           ints={"k": POS_INT, "chunk": POS_INT}, numbers={"neigh_thresh": NONNEG}),
    "knn_indices": Spec(lambda: dict(X=_X()[0], k=3, backend="auto", chunk=5, seed=0), tensors={"X": Arr(ndim=(2, 3))},
                        ints={"k": POS_INT, "chunk": POS_INT, "seed": Int(0)}, choices=("backend",)),
    "LLPGraph": Spec(dict, call=lambda a: m.llp_graph(**_graph_args()).n),
    "llp_graph": Spec(_graph_args, tensors=GRAPH_T, numbers={"lam_bag": NONNEG, "lam_sim": NONNEG},
                      same_length=(("edges", "weights"),),
                      extra={"edges:self_loop": lambda a: dict(a, edges=torch.tensor([[1, 1]]), weights=torch.ones(1, dtype=F64)),
                             "counts:above_bag_size": lambda a: dict(a, counts=a["counts"] + 5)}),
    "gibbs_log_weight": Spec(lambda: dict(_graph_args(), y=(torch.arange(16) % 2)[None]),
                             tensors={"y": Arr(floating=False, ndim=2, labels=2, empty_ok=True)},
                             numbers={"lam_bag": NONNEG, "lam_sim": NONNEG}),
    "BPResult": Spec(dict, call=lambda a: _bp(_bp_args())),
    "belief_propagation": Spec(_bp_args, call=_bp, tensors={"unary": Arr(ndim=1, arrays=False), "pair": Arr(ndim=1, arrays=False)},
                               numbers={"damping": Num(0, 1, high_open=True), "tol": NONNEG},
                               ints={"max_iter": NOLOOP}, choices=("engine",),
                               names={"unary": ("graph.unary", "graph"), "pair": ("graph.pair", "graph")}),
    "exact_marginals": Spec(lambda: {k: v for k, v in _bp_args().items() if k in ("unary", "pair")}, call=_exact,
                            tensors={"unary": Arr(ndim=1, arrays=False)}, names={"unary": ("graph.unary", "graph")}),
    "bag_aggregate_loss": Spec(_agg_args, tensors={"emb": Arr(ndim=2), "bag_index": Arr(floating=False, ndim=1, labels=2),
                                                   "proportions": Arr(ndim=1, bounds=(0, 1))},
                               same_length=(("emb", "bag_index"),)),
    "dllp_loss": Spec(lambda: dict(logits=torch.randn(8, dtype=F64), bag_index=torch.arange(8) % 2,
                                   proportions=torch.tensor([0.25, 0.5], dtype=F64)),
                      tensors={"logits": Arr(ndim=1), "bag_index": Arr(floating=False, ndim=1, labels=2),
                               "proportions": Arr(ndim=1, bounds=(0, 1))}, same_length=(("logits", "bag_index"),)),
    "DLLP": _est_spec(m.DLLP, numbers={"lr": POS, "weight_decay": NONNEG},
                      ints={"epochs": NOLOOP, "batch_size": POS_INT, "seed": Int(0)},
                      hidden=(4,), epochs=2, lr=1e-2, weight_decay=0.0, batch_size=8, seed=0),
    "LLPBP": _est_spec(m.LLPBP, numbers={"lam_bag": NONNEG, "lam_sim": NONNEG, "damping": Num(0, 1, high_open=True),
                                         "threshold": PROB, "lr": POS},
                       ints={"k": POS_INT, "epochs": NOLOOP, "rounds": Int(1, 2), "max_iter": NOLOOP},
                       lam_bag=1.0, lam_sim=1.0, k=3, damping=0.5, threshold=0.5, rounds=2, hidden=(4,), epochs=2,
                       lr=1e-2, max_iter=20),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
