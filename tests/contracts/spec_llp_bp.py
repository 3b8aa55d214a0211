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


GRAPH_T = {"bag_index": Arr(floating=False, ndim=1, labels=4), "counts": Arr(ndim=1, bounds=(0, 4)),
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
    "check_proportions": Spec(lambda: dict(proportions=torch.tensor([0.25, 0.5, 0.75, 0.0], dtype=F64), n_bags=4),
                              tensors={"proportions": Arr(ndim=1, bounds=(0, 1))}, ints={"n_bags": POS_INT}),
    "random_bags": Spec(lambda: dict(n=16, bag_size=4, seed=0), ints={"n": NOLOOP, "bag_size": POS_INT, "seed": Int(0)}),
    "bag_proportions": Spec(lambda: dict(y=_X()[1], bags=_bags()), tensors={"y": Arr(floating=False, ndim=1, labels=2)}),
    "knn_similarity": Spec(lambda: dict(X=_X()[0], k=3, neigh_thresh=2.0, chunk=5), tensors={"X": Arr(ndim=2)},
                           ints={"k": POS_INT, "chunk": POS_INT}, numbers={"neigh_thresh": NONNEG}),
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
XFAIL = {
    'check_bags:n:below': 'unclear: ValueError: bags hold indices outside [0, 0)',
    'check_bags:n:fraction': "unclear: TypeError: bincount(): argument 'minlength' must be int, not float",
    'check_bags:n:bool': 'unclear: ValueError: bags hold indices outside [0, True)',
    'check_bags:n:str': "unclear: TypeError: '>=' not supported between instances of 'Tensor' and 'str'",
    'check_bags:n:huge': 'unclear: RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocato...',
    'check_proportions:proportions:int': 'silent: int proportions accepted (returned Tensor)',
    'check_proportions:n_bags:below': 'unclear: ValueError: proportions must hold one value per bag (0), got shape (4,)',
    'check_proportions:n_bags:fraction': 'unclear: ValueError: proportions must hold one value per bag (4.5), got shape (4,)',
    'check_proportions:n_bags:bool': 'unclear: ValueError: proportions must hold one value per bag (True), got shape (4,)',
    'check_proportions:n_bags:str': 'unclear: ValueError: proportions must hold one value per bag (3), got shape (4,)',
    'bag_proportions:y:empty': 'unclear: IndexError: index is out of bounds for dimension with size 0',
    'bag_proportions:y:ndim+1': 'unclear: IndexError: index 12 is out of bounds for dimension 0 with size 1',
    'bag_proportions:y:ndim-1': 'unclear: IndexError: too many indices for tensor of dimension 0',
    'llp_graph:bag_index:label=n': 'unclear: IndexError: index 4 is out of bounds for dimension 0 with size 4',
    'llp_graph:counts:int': 'silent: int counts accepted (returned LLPGraph)',
    'llp_graph:counts:complex': 'silent: complex counts accepted (returned LLPGraph)',
    'belief_propagation:unary:requires_grad': "unclear: RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.deta...",
    'belief_propagation:pair:empty': 'silent: empty pair accepted (returned BPResult)',
    'belief_propagation:pair:requires_grad': "unclear: RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.deta...",
    'bag_aggregate_loss:emb:empty': 'unclear: RuntimeError: index_add_(): Number of indices (8) should be equal to source.si...',
    'bag_aggregate_loss:emb:ndim+1': 'unclear: RuntimeError: index_add_(): Number of indices (8) should be equal to source.si...',
    'bag_aggregate_loss:emb:ndim-1': 'unclear: IndexError: tuple index out of range',
    'bag_aggregate_loss:emb:nan': 'silent: nan emb accepted (returned Tensor)',
    'bag_aggregate_loss:emb:inf': 'silent: inf emb accepted (returned Tensor)',
    'bag_aggregate_loss:emb:int': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Float and Double',
    'bag_aggregate_loss:emb:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Double',
    'bag_aggregate_loss:emb:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Double',
    'bag_aggregate_loss:emb:complex': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexDouble an...',
    'bag_aggregate_loss:emb:numpy': 'unclear: TypeError: to() received an invalid combination of arguments - got (numpy.dtyp...',
    'bag_aggregate_loss:emb:list': "unclear: AttributeError: 'list' object has no attribute 'dtype'",
    'bag_aggregate_loss:bag_index:empty': 'unclear: RuntimeError: index_add_(): Number of indices (0) should be equal to source.si...',
    'bag_aggregate_loss:bag_index:ndim+1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'bag_aggregate_loss:bag_index:ndim-1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'bag_aggregate_loss:bag_index:label-1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'bag_aggregate_loss:bag_index:label=n': 'unclear: RuntimeError: index 2 is out of bounds for dimension 0 with size 2',
    'bag_aggregate_loss:bag_index:float': 'unclear: NotImplementedError: "bincount_cpu" not implemented for \'Float\'',
    'bag_aggregate_loss:bag_index:numpy': "unclear: TypeError: bincount(): argument 'input' (position 1) must be Tensor, not numpy...",
    'bag_aggregate_loss:bag_index:list': "unclear: TypeError: bincount(): argument 'input' (position 1) must be Tensor, not list",
    'bag_aggregate_loss:bag_index:mismatch': 'unclear: RuntimeError: index_add_(): Number of indices (7) should be equal to source.si...',
    'dllp_loss:logits:empty': 'unclear: RuntimeError: index_add_(): Number of indices (8) should be equal to source.si...',
    'dllp_loss:logits:ndim+1': 'unclear: RuntimeError: index_add_(): Number of indices (8) should be equal to source.si...',
    'dllp_loss:logits:ndim-1': 'unclear: IndexError: Dimension specified as 0 but tensor has no dimensions',
    'dllp_loss:logits:nan': 'silent: nan logits accepted (returned Tensor)',
    'dllp_loss:logits:inf': 'silent: inf logits accepted (returned Tensor)',
    'dllp_loss:logits:int': 'unclear: RuntimeError: index_add_(): self (Long) and source (Float) must have the same ...',
    'dllp_loss:logits:complex': 'unclear: NotImplementedError: clamp is not supported for complex types',
    'dllp_loss:logits:numpy': 'unclear: TypeError: to() received an invalid combination of arguments - got (numpy.dtyp...',
    'dllp_loss:logits:list': "unclear: AttributeError: 'list' object has no attribute 'dtype'",
    'dllp_loss:bag_index:empty': 'unclear: RuntimeError: index_add_(): Number of indices (0) should be equal to source.si...',
    'dllp_loss:bag_index:ndim+1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'dllp_loss:bag_index:ndim-1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'dllp_loss:bag_index:label-1': 'unclear: RuntimeError: bincount only supports 1-d non-negative integral inputs.',
    'dllp_loss:bag_index:label=n': 'unclear: IndexError: index out of range in self',
    'dllp_loss:bag_index:float': 'unclear: NotImplementedError: "bincount_cpu" not implemented for \'Float\'',
    'dllp_loss:bag_index:numpy': "unclear: TypeError: bincount(): argument 'input' (position 1) must be Tensor, not numpy...",
    'dllp_loss:bag_index:list': "unclear: TypeError: bincount(): argument 'input' (position 1) must be Tensor, not list",
    'dllp_loss:bag_index:mismatch': 'unclear: RuntimeError: index_add_(): Number of indices (7) should be equal to source.si...',
}
