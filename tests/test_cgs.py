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
