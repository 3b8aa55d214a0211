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
                                 # a 0/1 integer adjacency has the same edges (tests/test_cgs.py)
                                 tensors={"adj": Arr(ndim=2, bounds=(0, None), int_ok=True)}),
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
XFAIL = {}
