import torch

from gradnotes import cgs as m
from harness import UNIT_OPEN, Arr, Int, Num, POS, POS_INT, Spec

SIZE = Int(1, huge=False)   # a layer or graph size: 10**12 would allocate, not loop
N = 8                       # two chains of four nodes


def _graph():
    g = m.long_range_chains(2, length=4, seed=0)
    return g["x"], g["edge_index"]


def _edges(): return _graph()[1]


EDGES = {"edge_index": Arr(floating=False, ndim=2, labels=N)}
EDGE_NAMES = {"edge_index": ("n_nodes",)}


def _w(E, H=3, seed=0):
    return 0.3 * torch.rand(E, H, generator=torch.Generator().manual_seed(seed))


def _b(H=3): return torch.randn(N, H, generator=torch.Generator().manual_seed(1))


def _solve_args():
    ei = _edges()
    w = m.transition_weights(ei, torch.rand(ei.shape[1], 3, generator=torch.Generator().manual_seed(0)), N)
    return dict(edge_index=ei, w=w, b=_b(), gamma=0.5, method="picard", backward="gmres", tol=1e-6,
                maxiter=200)


def _cgs_solve(a):
    a = dict(a)
    w, b = a["w"], a["b"]
    if isinstance(w, torch.Tensor) and w.is_floating_point():   # a leaf of our own: no caller's .grad
        w = w.detach().clone().requires_grad_(True)
    h = m.cgs_solve(**dict(a, w=w))
    if h.requires_grad: torch.autograd.grad(h.sum(), w)   # the backward solve runs too (no caller's .grad)
    return h.detach()


def _model(cls, **hyper):
    def args():
        x, ei = _graph()
        return dict(x=x, edge_index=ei, in_dim=2, out_dim=2, **hyper)

    def call(a):
        torch.manual_seed(0)
        kw = {k: a[k] for k in ("in_dim", "out_dim", *hyper)}
        return cls(**kw)(a["x"], a["edge_index"]).detach()
    return args, call


CGS_ARGS, CGS_CALL = _model(m.CGS, heads=3, hidden=4, gamma=0.5, method="picard", tol=1e-6)
GCN_ARGS, GCN_CALL = _model(m.GCN, layers=2, hidden=4)
X = {"x": Arr(ndim=2), **EDGES}
X_NAMES = {"x": ("in_dim",), **EDGE_NAMES}


def _mdp():
    d = m.gvi_graphs(2, n_states=(6, 8), n_actions=(2, 4), seed=0)
    return d["edge_index"], d["edge_attr"][:, 0], d["x"].shape[0]


def _vi_args():
    ei, r, n = _mdp()
    return dict(edge_index=ei, reward=r, n_nodes=n, gamma=0.9, atol=1e-3, maxiter=200,
                engine="auto")


def _policy_args():
    ei, r, n = _mdp()
    return dict(edge_index=ei, reward=r, values=torch.linspace(0, 1, n), gamma=0.9)


def _steady_args():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])   # a path 0 - 1 - 2 - 3
    return dict(edge_index=ei, conductance=torch.tensor([1.0, 1.0, 0.5, 0.5, 2.0, 2.0]),
                fixed=torch.tensor([True, False, False, True]),
                values=torch.tensor([1.0, 0.0, 0.0, 0.0]))


def _edge_model(cls, **hyper):
    def args():
        d = m.gvi_graphs(2, n_states=(6, 8), n_actions=(2, 4), seed=0)
        return dict(x=d["x"], edge_index=d["edge_index"], edge_attr=d["edge_attr"], in_dim=1,
                    out_dim=1, edge_dim=1, **hyper)

    def call(a):
        torch.manual_seed(0)
        kw = {k: a[k] for k in ("in_dim", "out_dim", "edge_dim", *hyper)}
        return cls(**kw)(a["x"], a["edge_index"], a["edge_attr"]).detach()
    return args, call


def _layer_args():
    d = m.gvi_graphs(2, n_states=(6, 8), n_actions=(2, 4), seed=0)
    return dict(h=torch.randn(d["x"].shape[0], 4, generator=torch.Generator().manual_seed(0)),
                edge_index=d["edge_index"], edge_attr=d["edge_attr"], hidden=4, edge_dim=1,
                aggr="mean")


def _layer_call(a):
    torch.manual_seed(0)
    return m.MPNNLayer(a["hidden"], a["edge_dim"], a["aggr"])(
        a["h"], a["edge_index"], a["edge_attr"]).detach()


MPNN_ARGS, MPNN_CALL = _edge_model(m.MPNN, layers=2, hidden=4, aggr="max")
N_MDP = _mdp()[2]              # nodes of the small MDP batch (fixed by its seed)

SPECS = {
    "check_graph": Spec(lambda: dict(edge_index=_edges(), n_nodes=N), tensors=dict(EDGES),
                        ints={"n_nodes": POS_INT}, names=EDGE_NAMES),
    "edges_from_adjacency": Spec(lambda: dict(adj=(torch.rand(5, 5, generator=torch.Generator().manual_seed(0))
                                                   > 0.5).double()),
                                 tensors={"adj": Arr(ndim=2, bounds=(0, None))}),
    "transition_weights": Spec(lambda: dict(edge_index=_edges(), logits=_w(_edges().shape[1]), n_nodes=N),
                               tensors={**EDGES, "logits": Arr(ndim=2)}, ints={"n_nodes": SIZE},
                               names=EDGE_NAMES),
    "propagate": Spec(lambda: dict(edge_index=_edges(), w=_w(_edges().shape[1]), h=_b()),
                      tensors={**EDGES, "w": Arr(ndim=2), "h": Arr(ndim=2)}),
    "dense_transition": Spec(lambda: dict(edge_index=_edges(), w=_w(_edges().shape[1]), n_nodes=N),
                             tensors={**EDGES, "w": Arr(ndim=2)}, ints={"n_nodes": SIZE}, names=EDGE_NAMES),
    "cgs_solve": Spec(_solve_args, call=_cgs_solve,
                      tensors={**EDGES, "w": Arr(ndim=2, bounds=(0, None)), "b": Arr(ndim=2)},
                      numbers={"gamma": UNIT_OPEN, "tol": POS}, ints={"maxiter": POS_INT},
                      choices=("method", "backward"), names={**EDGE_NAMES, "w": ("edge_index",)}),
    "CGS": Spec(CGS_ARGS, call=CGS_CALL, tensors=dict(X),
                ints={"in_dim": SIZE, "out_dim": SIZE, "heads": SIZE, "hidden": SIZE},
                numbers={"gamma": UNIT_OPEN, "tol": POS}, choices=("method",), names=X_NAMES),
    "gcn_norm_weights": Spec(lambda: dict(edge_index=_edges(), n_nodes=N), tensors=dict(EDGES),
                             ints={"n_nodes": SIZE}, names=EDGE_NAMES),
    "GCN": Spec(GCN_ARGS, call=GCN_CALL, tensors=dict(X),
                ints={"in_dim": SIZE, "out_dim": SIZE, "layers": SIZE, "hidden": SIZE}, names=X_NAMES),
    "MPNNLayer": Spec(_layer_args, call=_layer_call,
                      tensors={"h": Arr(ndim=2), "edge_index": Arr(floating=False, ndim=2),
                               "edge_attr": Arr(ndim=2)},
                      ints={"hidden": SIZE, "edge_dim": Int(0, huge=False)}, choices=("aggr",),
                      names={"h": ("hidden",), "edge_index": ("n_nodes",),
                             "edge_attr": ("edge_dim",)}),
    "MPNN": Spec(MPNN_ARGS, call=MPNN_CALL,
                 tensors={"x": Arr(ndim=2), "edge_index": Arr(floating=False, ndim=2),
                          "edge_attr": Arr(ndim=2)},
                 ints={"in_dim": SIZE, "out_dim": SIZE, "edge_dim": Int(0, huge=False),
                       "layers": SIZE, "hidden": SIZE}, choices=("aggr",),
                 names={"x": ("in_dim",), "edge_index": ("n_nodes",), "edge_attr": ("edge_dim",)}),
    "value_iteration": Spec(_vi_args, tensors={"edge_index": Arr(floating=False, ndim=2,
                                                                 labels=N_MDP),
                                               "reward": Arr(ndim=1)},
                            numbers={"gamma": Num(0, 1, high_open=True), "atol": POS},
                            ints={"n_nodes": SIZE, "maxiter": POS_INT}, choices=("engine",),
                            names={"edge_index": ("n_nodes",), "reward": ("edge_index",),
                                   "n_nodes": ("edge_index",)}),
    "greedy_policy": Spec(_policy_args, tensors={"edge_index": Arr(floating=False, ndim=2,
                                                               labels=N_MDP),
                                                 "reward": Arr(ndim=1), "values": Arr(ndim=1)},
                          numbers={"gamma": Num(0, 1, high_open=True)},
                          names={"edge_index": ("n_nodes",), "reward": ("edge_index",),
                                 "values": ("edge_index",)}),
    "gvi_graphs": Spec(lambda: dict(n_graphs=2, n_states=(6, 8), n_actions=(2, 4), gamma=0.9,
                                    seed=0, engine="auto"),
                       numbers={"gamma": Num(0, 1, high_open=True)},
                       ints={"n_graphs": SIZE, "seed": Int(0, huge=False)}, choices=("engine",)),
    "steady_state": Spec(_steady_args,
                         tensors={"edge_index": Arr(floating=False, ndim=2, labels=4),
                                  "conductance": Arr(ndim=1, bounds=(0, None, True, False)),
                                  "fixed": Arr(floating=False, ndim=1),
                                  "values": Arr(ndim=1)},
                         names={"edge_index": ("n_nodes",), "conductance": ("edge_index",),
                                "values": ("fixed",), "fixed": ("edge_index",)}),
    "diffusion_graphs": Spec(lambda: dict(n_graphs=1, n_nodes=(20, 24), degree=6.0, seed=0),
                             numbers={"degree": POS},
                             ints={"n_graphs": SIZE, "seed": Int(0, huge=False)}),
    "long_range_chains": Spec(lambda: dict(n_graphs=2, length=4, seed=0),
                              ints={"n_graphs": SIZE, "length": Int(2, huge=False), "seed": Int(0, huge=False)}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'edges_from_adjacency:adj:int': 'silent: int adj accepted (returned Tensor)',
    'edges_from_adjacency:adj:complex': 'unclear: NotImplementedError: "lt_cpu" not implemented for \'ComplexDouble\'',
    'propagate:edge_index:empty': 'unclear: ValueError: not enough values to unpack (expected 2, got 0)',
    'propagate:edge_index:ndim+1': 'unclear: ValueError: not enough values to unpack (expected 2, got 1)',
    'propagate:edge_index:ndim-1': 'unclear: ValueError: too many values to unpack (expected 2)',
    'propagate:edge_index:label-1': 'silent: label-1 edge_index accepted (returned Tensor)',
    'propagate:edge_index:label=n': 'unclear: IndexError: index 8 is out of bounds for dimension 0 with size 8',
    'propagate:edge_index:float': 'unclear: IndexError: tensors used as indices must be long, int, byte or bool tensors',
    'propagate:edge_index:numpy': "unclear: TypeError: index_add_(): argument 'index' (position 2) must be Tensor, not num...",
    'propagate:edge_index:list': "unclear: TypeError: index_add_(): argument 'index' (position 2) must be Tensor, not list",
    'propagate:w:empty': 'unclear: RuntimeError: The size of tensor a (0) must match the size of tensor b (12) at...',
    'propagate:w:ndim+1': 'unclear: RuntimeError: index_add_(): Number of indices (12) should be equal to source.s...',
    'propagate:w:ndim-1': 'silent: ndim-1 w accepted (returned Tensor)',
    'propagate:w:nan': 'silent: nan w accepted (returned Tensor)',
    'propagate:w:inf': 'silent: inf w accepted (returned Tensor)',
    'propagate:w:int': 'silent: int w accepted (returned Tensor)',
    'propagate:w:complex': 'unclear: RuntimeError: index_add_(): self (Float) and source (ComplexFloat) must have t...',
    'propagate:w:numpy': "unclear: TypeError: unsupported operand type(s) for *: 'numpy.ndarray' and 'Tensor'",
    'propagate:w:list': 'unclear: TypeError: only integer tensors of a single element can be converted to an index',
    'propagate:h:empty': 'unclear: IndexError: index is out of bounds for dimension with size 0',
    'propagate:h:ndim+1': 'unclear: IndexError: index 1 is out of bounds for dimension 0 with size 1',
    'propagate:h:ndim-1': 'unclear: IndexError: index 4 is out of bounds for dimension 0 with size 3',
    'propagate:h:nan': 'silent: nan h accepted (returned Tensor)',
    'propagate:h:inf': 'silent: inf h accepted (returned Tensor)',
    'propagate:h:int': 'unclear: RuntimeError: index_add_(): self (Long) and source (Float) must have the same ...',
    'propagate:h:float16': 'unclear: RuntimeError: index_add_(): self (Half) and source (Float) must have the same ...',
    'propagate:h:bfloat16': 'unclear: RuntimeError: index_add_(): self (BFloat16) and source (Float) must have the s...',
    'propagate:h:complex': 'silent: complex h accepted (returned Tensor)',
    'propagate:h:numpy': "unclear: TypeError: zeros_like(): argument 'input' (position 1) must be Tensor, not num...",
    'propagate:h:list': "unclear: TypeError: zeros_like(): argument 'input' (position 1) must be Tensor, not list",
    'dense_transition:edge_index:empty': 'unclear: IndexError: index 1 is out of bounds for dimension 0 with size 0',
    'dense_transition:edge_index:ndim+1': 'unclear: IndexError: index 1 is out of bounds for dimension 0 with size 1',
    'dense_transition:edge_index:ndim-1': 'unclear: RuntimeError: index_add_(): Number of indices (1) should be equal to source.si...',
    'dense_transition:edge_index:label-1': 'silent: label-1 edge_index accepted (returned Tensor)',
    'dense_transition:edge_index:label=n': 'silent: label=n edge_index accepted (returned Tensor)',
    'dense_transition:edge_index:float': 'unclear: RuntimeError: index_add_(): Expected dtype int32/int64 for index but got: Float',
    'dense_transition:edge_index:numpy': "unclear: TypeError: index_add(): argument 'index' (position 2) must be Tensor, not nump...",
    'dense_transition:edge_index:list': "unclear: TypeError: index_add(): argument 'index' (position 2) must be Tensor, not list",
    'dense_transition:w:empty': 'unclear: RuntimeError: index_add_(): Number of indices (12) should be equal to source.s...',
    'dense_transition:w:ndim+1': 'unclear: RuntimeError: index_add_(): Number of indices (12) should be equal to source.s...',
    'dense_transition:w:ndim-1': 'unclear: IndexError: tuple index out of range',
    'dense_transition:w:nan': 'silent: nan w accepted (returned Tensor)',
    'dense_transition:w:inf': 'silent: inf w accepted (returned Tensor)',
    'dense_transition:w:int': 'silent: int w accepted (returned Tensor)',
    'dense_transition:w:complex': 'silent: complex w accepted (returned Tensor)',
    'dense_transition:w:numpy': "unclear: TypeError: zeros(): argument 'dtype' must be torch.dtype, not numpy.dtypes.Flo...",
    'dense_transition:w:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'dense_transition:n_nodes:below': 'silent: below n_nodes accepted (returned Tensor)',
    'dense_transition:n_nodes:fraction': 'unclear: TypeError: zeros() takes 1 positional argument but 2 were given',
    'dense_transition:n_nodes:bool': 'unclear: RuntimeError: index 1 is out of bounds for dimension 0 with size 1',
    'dense_transition:n_nodes:str': "unclear: TypeError: can't multiply sequence by non-int of type 'str'",
    'cgs_solve:b:float16': 'unclear: RuntimeError: index_add_(): self (Half) and source (Float) must have the same ...',
    'cgs_solve:b:bfloat16': 'unclear: RuntimeError: index_add_(): self (BFloat16) and source (Float) must have the s...',
    'CGS:x:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'CGS:x:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'gcn_norm_weights:edge_index:empty': 'unclear: RuntimeError: Sizes of tensors must match except in dimension 1. Expected size...',
    'gcn_norm_weights:edge_index:ndim+1': 'unclear: RuntimeError: Tensors must have same number of dimensions: got 3 and 2',
    'gcn_norm_weights:edge_index:ndim-1': 'unclear: IndexError: Dimension out of range (expected to be in range of [-1, 0], but go...',
    'gcn_norm_weights:edge_index:label-1': 'silent: label-1 edge_index accepted (returned tuple)',
    'gcn_norm_weights:edge_index:label=n': 'unclear: IndexError: index 8 is out of bounds for dimension 0 with size 8',
    'gcn_norm_weights:edge_index:float': 'unclear: RuntimeError: index_add_(): Expected dtype int32/int64 for index but got: Float',
    'gcn_norm_weights:edge_index:numpy': 'unclear: TypeError: expected Tensor as element 0 in argument 0, but got numpy.ndarray',
    'gcn_norm_weights:edge_index:list': "unclear: AttributeError: 'list' object has no attribute 'device'",
    'gcn_norm_weights:n_nodes:below': 'unclear: IndexError: index out of range in self',
    'gcn_norm_weights:n_nodes:fraction': "unclear: TypeError: zeros(): argument 'size' (position 1) must be tuple of ints, not float",
    'gcn_norm_weights:n_nodes:bool': "unclear: TypeError: zeros(): argument 'size' (position 1) must be tuple of ints, not bool",
    'gcn_norm_weights:n_nodes:str': 'unclear: TypeError: arange() received an invalid combination of arguments - got (str, d...',
    'GCN:x:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'GCN:x:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'GCN:in_dim:below': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (8x2 and 0x4)',
    'GCN:in_dim:fraction': "unclear: TypeError: empty(): argument 'size' failed to unpack the object at pos 2 with ...",
    'GCN:in_dim:bool': 'unclear: RuntimeError: mat1 and mat2 shapes cannot be multiplied (8x2 and 1x4)',
    'GCN:in_dim:str': "unclear: TypeError: empty(): argument 'size' failed to unpack the object at pos 2 with ...",
    'GCN:out_dim:below': 'silent: below out_dim accepted (returned Tensor)',
    'GCN:out_dim:fraction': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'GCN:out_dim:bool': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'GCN:out_dim:str': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'GCN:hidden:below': 'silent: below hidden accepted (returned Tensor)',
    'GCN:hidden:fraction': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'GCN:hidden:bool': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'GCN:hidden:str': "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, but fo...",
    'MPNN:x:float16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got Half and Float',
    'MPNN:x:bfloat16': 'unclear: RuntimeError: mat1 and mat2 must have the same dtype, but got BFloat16 and Float',
    'long_range_chains:seed:below': 'silent: below seed accepted (returned dict)',
    'long_range_chains:seed:fraction': 'unclear: RuntimeError: manual_seed expected a long, but got float',
    'long_range_chains:seed:bool': 'unclear: RuntimeError: manual_seed expected a long, but got bool',
    'long_range_chains:seed:str': 'unclear: RuntimeError: manual_seed expected a long, but got str',
}
