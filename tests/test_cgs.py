"""CGS: bad input, the fixed point against a dense solve, and implicit gradients."""
import pytest
import torch

from gradnotes.cgs import (CGS, GCN, cgs_solve, check_graph, dense_transition,
                           edges_from_adjacency, gcn_norm_weights, long_range_chains,
                           propagate, transition_weights)


def _graph(n=10, e=30, h=2, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    w = transition_weights(ei, torch.rand(e, h, generator=g, dtype=dtype), n)
    return ei, w, torch.randn(n, h, generator=g, dtype=dtype)


@pytest.mark.parametrize("gamma", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_gamma_outside_unit_interval(gamma):
    ei, w, b = _graph()
    with pytest.raises(ValueError, match="gamma"):
        cgs_solve(ei, w, b, gamma=gamma)
    with pytest.raises(ValueError, match="gamma"):
        CGS(3, 2, gamma=gamma)


def test_bad_adjacency():
    with pytest.raises(ValueError, match="adj must be square"):
        edges_from_adjacency(torch.ones(3, 2))
    with pytest.raises(ValueError, match="adj must be non-negative"):
        edges_from_adjacency(-torch.eye(3))
    with pytest.raises(ValueError, match="adj contains NaN"):
        edges_from_adjacency(torch.tensor([[0.0, float("inf")], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="adj must have 2"):
        edges_from_adjacency(torch.ones(3))


def test_bad_edges_and_shapes():
    ei, w, b = _graph()
    with pytest.raises(ValueError, match="edge_index must lie"):
        check_graph(torch.tensor([[0, 10], [1, 2]]), 10)
    with pytest.raises(TypeError, match="edge_index must hold integer"):
        check_graph(torch.tensor([[0.0], [1.0]]), 10)
    with pytest.raises(ValueError, match="edge_index must have shape"):
        check_graph(torch.zeros(3, 4, dtype=torch.long), 10)
    with pytest.raises(ValueError, match="w must have shape"):
        cgs_solve(ei, w[:, :1], b)
    with pytest.raises(ValueError, match="w must be non-negative"):
        cgs_solve(ei, -w, b)
    with pytest.raises(ValueError, match="b contains NaN"):
        cgs_solve(ei, w, b * float("nan"))
    with pytest.raises(ValueError, match="method must be one of"):
        cgs_solve(ei, w, b, method="newton")
    with pytest.raises(ValueError, match="logits must have shape"):
        transition_weights(ei, torch.rand(5, 2), 10)
    model = CGS(3, 2)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(10, 4), ei)
    with pytest.raises(ValueError, match="edge_index must lie"):
        model(torch.randn(5, 3), ei)
    with pytest.raises(ValueError, match="layers must be >= 1"):
        GCN(3, 2, layers=0)
    with pytest.raises(ValueError, match="n_graphs must be >= 1"):
        long_range_chains(0)


@pytest.mark.parametrize("method", ["picard", "gmres", "direct"])
def test_fixed_point_equals_dense_solve(method):
    ei, w, b = _graph(n=15, e=50, h=3, seed=3)
    A = dense_transition(ei, w, 15)
    assert (torch.linalg.matrix_norm(A, ord=1) <= 1 + 1e-12).all()
    ref = torch.linalg.solve(torch.eye(15) - 0.8 * A, b.T.unsqueeze(-1)).squeeze(-1).T
    h = cgs_solve(ei, w, b, 0.8, method=method, tol=1e-13)
    assert torch.allclose(h, ref, atol=1e-9, rtol=0)


def test_picard_cap_raises():
    ei, w, b = _graph()
    with pytest.raises(RuntimeError, match="raise maxiter"):
        cgs_solve(ei, w, b, 0.99, maxiter=3)


@pytest.mark.parametrize("backward", ["gmres", "dense"])
def test_gradcheck(backward):
    g = torch.Generator().manual_seed(5)
    ei = torch.randint(0, 8, (2, 20), generator=g)
    lg = (torch.rand(20, 2, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    b = torch.randn(8, 2, generator=g, dtype=torch.float64, requires_grad=True)
    f = lambda lg, b: cgs_solve(ei, transition_weights(ei, lg, 8), b, 0.6, tol=1e-13,
                                backward=backward)
    assert torch.autograd.gradcheck(f, (lg, b), nondet_tol=1e-9)


def test_gcn_norm_and_propagate():
    ei = edges_from_adjacency(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    ei2, nw = gcn_norm_weights(ei, 2, torch.float64)
    h = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    out = propagate(ei2, nw[:, None], h)
    assert torch.allclose(out, torch.tensor([[2.0], [2.0]], dtype=torch.float64))


def test_layer_backward_runs_and_is_finite():
    torch.manual_seed(0)
    d = long_range_chains(4, 8)
    model = CGS(2, 2, heads=4, gamma=0.9)
    loss = torch.nn.functional.cross_entropy(model(d["x"], d["edge_index"]), d["y"])
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.last_iters is not None and model.last_iters > 1


# --- data generators, value iteration, the MPNN baseline --------------------------------------
from gradnotes.cgs import (MPNN, MPNNLayer, diffusion_graphs, greedy_policy, gvi_graphs,
                           steady_state, value_iteration)


def _mdp(seed=0):
    d = gvi_graphs(3, seed=seed)
    return d["edge_index"], d["edge_attr"][:, 0].double(), d["x"].shape[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_iteration_numba_equals_torch(seed):
    ei, r, n = _mdp(seed)
    Vn, kn = value_iteration(ei, r, n, atol=1e-10, maxiter=500, engine="numba")
    Vt, kt = value_iteration(ei, r, n, atol=1e-10, maxiter=500, engine="torch")
    assert kn == kt
    assert torch.allclose(Vn, Vt, atol=1e-12, rtol=0)


def test_value_iteration_against_dense_bellman():
    # a dense (N, N) Bellman iteration with -inf where there is no edge
    ei, r, n = _mdp(3)
    R = torch.full((n, n), -float("inf"), dtype=torch.float64)
    R.index_put_((ei[1], ei[0]), r, accumulate=False)
    # duplicate edges (drawn with replacement): keep the best reward of each pair
    for e in range(ei.shape[1]):
        R[ei[1, e], ei[0, e]] = max(R[ei[1, e], ei[0, e]], r[e])
    V = torch.zeros(n, dtype=torch.float64)
    for _ in range(400): V = (R + 0.9 * V[None, :]).max(1).values
    Vn, _ = value_iteration(ei, r, n, atol=1e-12, maxiter=1000)
    assert torch.allclose(Vn, V, atol=1e-10, rtol=0)


def test_gvi_recipe():
    d = gvi_graphs(6, seed=4)
    ei, b = d["edge_index"], d["batch"]
    assert (ei[0] != ei[1]).all()                            # no self edges
    assert (b[ei[0]] == b[ei[1]]).all()                      # edges stay inside a graph
    sizes = torch.bincount(b)
    assert ((sizes >= 20) & (sizes < 50)).all()
    indeg = torch.bincount(ei[1], minlength=len(b))
    for g in range(6):                                       # n_A incoming edges per state
        k = indeg[b == g]
        assert (k == k[0]).all() and 5 <= int(k[0]) < 10
    assert d["edge_attr"].abs().max() <= 1
    assert all(0 < s <= 200 for s in d["sweeps"])


def test_steady_state_against_dense_solve():
    d = diffusion_graphs(2, seed=1)
    ei, c = d["edge_index"], d["edge_attr"][:, 0].double()
    n, fx = d["x"].shape[0], d["fixed"]
    C = torch.zeros(n, n, dtype=torch.float64).index_put_((ei[1], ei[0]), c, accumulate=True)
    L = torch.diag(C.sum(1)) - C
    p = d["x"][:, 0].double().clone()
    free = ~fx
    p[free] = torch.linalg.solve(L[free][:, free], C[free][:, fx] @ p[fx])
    assert torch.allclose(steady_state(ei, c, fx, d["x"][:, 0].double()), p, atol=1e-10)
    assert torch.allclose(d["y"][:, 0].double(), p, atol=1e-6)


def test_graph_bad_input():
    ei, r, n = _mdp()
    with pytest.raises(ValueError, match="gamma must be < 1"):
        value_iteration(ei, r, n, gamma=1.0)
    with pytest.raises(ValueError, match="gamma must be < 1"):
        gvi_graphs(2, gamma=1.5)
    with pytest.raises(ValueError, match="reward contains NaN"):
        value_iteration(ei, r * float("nan"), n)
    with pytest.raises(ValueError, match="edge_index must lie"):
        value_iteration(ei, r, n - 1)
    with pytest.raises(ValueError, match="edge_index: node 2 has no incoming edge"):
        value_iteration(torch.tensor([[1, 0], [0, 1]]), torch.zeros(2), 3)
    with pytest.raises(ValueError, match="edge_index must not be empty"):
        value_iteration(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), 3)
    with pytest.raises(RuntimeError, match="raise maxiter"):
        value_iteration(ei, r, n, maxiter=2)
    with pytest.raises(ValueError, match="n_actions must stay below"):
        gvi_graphs(2, n_states=(5, 8), n_actions=(3, 6))
    with pytest.raises(ValueError, match="n_states must have lo < hi"):
        gvi_graphs(2, n_states=(30, 30))
    with pytest.raises(TypeError, match="n_states must be a pair"):
        gvi_graphs(2, n_states=30)
    # diffusion: a component without a held node, non-positive or non-finite conductances
    ei2 = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    fixed = torch.tensor([True, False, False, False])
    with pytest.raises(ValueError, match="disconnected"):
        steady_state(ei2, torch.ones(4), fixed, torch.zeros(4))
    with pytest.raises(ValueError, match="conductance must be positive"):
        steady_state(ei2, -torch.ones(4), fixed, torch.zeros(4))
    with pytest.raises(ValueError, match="conductance contains NaN"):
        steady_state(ei2, torch.full((4,), float("nan")), fixed, torch.zeros(4))
    with pytest.raises(ValueError, match="edge_index must lie"):
        steady_state(ei2 + 1, torch.ones(4), fixed, torch.zeros(4))
    with pytest.raises(TypeError, match="fixed"):
        steady_state(ei2, torch.ones(4), fixed.float(), torch.zeros(4))
    with pytest.raises(ValueError, match="degree must be > 0"):
        diffusion_graphs(2, degree=0.0)


def test_models_bad_input():
    d = gvi_graphs(2)
    x, ei, ea = d["x"], d["edge_index"], d["edge_attr"]
    for model in (MPNN(1, 1, edge_dim=1), CGS(1, 1, edge_dim=1, enc_layers=1)):
        assert model(x, ei, ea).shape == (x.shape[0], 1)
        with pytest.raises(ValueError, match="edge_attr is required"):
            model(x, ei)
        with pytest.raises(ValueError, match="edge_attr must have shape"):
            model(x, ei, ea[:-1])
        with pytest.raises(ValueError, match="edge_attr contains NaN"):
            model(x, ei, ea * float("nan"))
        with pytest.raises(ValueError, match="edge_index must lie"):
            model(x[:-1], ei, ea)
    with pytest.raises(ValueError, match="edge_attr was given"):
        MPNN(1, 1)(x, ei, ea)
    with pytest.raises(ValueError, match="aggr must be one of"):
        MPNNLayer(4, aggr="median")
    with pytest.raises(ValueError, match="h must have shape"):
        MPNNLayer(4)(torch.randn(3, 5), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="backward must be one of"):
        cgs_solve(*_graph(), backward="newton")


@pytest.mark.parametrize("backward", ["gmres", "picard", "dense"])
def test_adjoint_solvers_agree_and_count(backward):
    ei, w, b = _graph(n=15, e=50, h=3, seed=5)
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    stats = {}
    h = cgs_solve(ei, w, b, 0.8, backward=backward, tol=1e-12, stats=stats)
    gw, gb = torch.autograd.grad((h ** 2).sum(), (w, b))
    A = dense_transition(ei, w, 15)
    hd = torch.linalg.solve(torch.eye(15) - 0.8 * A, b.T.unsqueeze(-1)).squeeze(-1).T
    rw, rb = torch.autograd.grad((hd ** 2).sum(), (w, b))
    assert torch.allclose(gw, rw, atol=1e-8) and torch.allclose(gb, rb, atol=1e-8)
    assert stats["forward"] > 0 and stats["backward"] > 0


def test_mpnn_sees_k_hops():
    # a path 0 -> 1 -> ... -> 5: node 5's output depends on node 5 - K and no further
    ei = torch.stack([torch.arange(5), torch.arange(1, 6)])
    torch.manual_seed(0)
    m = MPNN(1, 1, layers=2)
    x = torch.randn(6, 1, requires_grad=True)
    g, = torch.autograd.grad(m(x, ei)[5].sum(), x)
    assert (g[:3] == 0).all() and g[3].abs() > 0


def test_integer_adjacency_gives_the_same_edges():
    adj = torch.tensor([[0, 1, 0], [1, 0, 2], [0, 1, 0]])
    torch.testing.assert_close(edges_from_adjacency(adj), edges_from_adjacency(adj.double()))
    torch.testing.assert_close(edges_from_adjacency(adj > 0), edges_from_adjacency(adj.double()))
    with pytest.raises(TypeError, match="adj must be real"):
        edges_from_adjacency(adj.to(torch.complex64))


def test_propagate_and_dense_transition_check_their_inputs():
    ei, w, b = _graph()
    for bad, exc, message in [
        ((ei, w, b * float("nan")), ValueError, "h contains NaN"),
        ((ei, w * float("inf"), b), ValueError, "w contains NaN"),
        ((ei, w.float(), b), TypeError, "w must have dtype torch.float64"),
        ((ei, w[:, 0], b), ValueError, "w must have 2 dimension"),
        ((ei - 1, w, b), ValueError, "edge_index must lie in"),
        ((ei, w, b.to(torch.complex128)), TypeError, "h must be real"),
        ((ei.tolist(), w, b), TypeError, "edge_index must be a torch.Tensor"),
    ]:
        with pytest.raises(exc, match=message):
            propagate(*bad)
    with pytest.raises(ValueError, match="n_nodes must be >= 1"):
        dense_transition(ei, w, 0)
    with pytest.raises(TypeError, match="w must have a floating dtype"):
        dense_transition(ei, w.long(), 10)
    with pytest.raises(ValueError, match="edge_index must lie in"):
        dense_transition(ei, w, 5)


def test_models_refuse_half_features_and_bad_sizes():
    ei = torch.tensor([[0, 1], [1, 0]])
    x = torch.randn(2, 3)
    for model in (CGS(3, 2, heads=2, hidden=4), GCN(3, 2, hidden=4)):
        with pytest.raises(TypeError, match="x has dtype torch.float16 but the model's parameters"):
            model(x.half(), ei)
    with pytest.raises(TypeError, match="b must have dtype torch.float32 or torch.float64"):
        cgs_solve(ei, torch.full((2, 1), 0.5, dtype=torch.float16), torch.ones(2, 1, dtype=torch.float16))
    for kw, message in [(dict(in_dim=0), "in_dim must be >= 1"), (dict(hidden=1.5), "hidden must be an integer"),
                        (dict(out_dim=0), "out_dim must be >= 1")]:
        with pytest.raises((TypeError, ValueError), match=message):
            GCN(**{**dict(in_dim=3, out_dim=2), **kw})
    with pytest.raises(ValueError, match="seed must be >= 0"):
        long_range_chains(2, seed=-1)
    with pytest.raises(ValueError, match="n_nodes must be >= 1"):
        gcn_norm_weights(ei, 0)
