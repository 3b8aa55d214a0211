"""Mathematical contracts checked on generated inputs (hypothesis): shapes, symmetries, invariances,
idempotence and round trips that must hold for every valid input, not only for the examples in the
notebooks. Each property is a statement from the function's docstring or its paper."""
import math

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from gradnotes import coherence, diffusion, fewshot_clustering, implicit  # noqa: E402

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
# finite values of moderate size; magnitudes below 1e-100 become 0 (their squares underflow, a separate
# contract: see test_alpha_of_tiny_and_huge_gradients)
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64).map(lambda v: 0.0 if abs(v) < 1e-100 else v)


def matrices(min_rows=1, max_rows=6, min_cols=1, max_cols=5):
    shape = st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols))
    return arrays(np.float64, shape, elements=finite).map(torch.from_numpy)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


@SETTINGS
@given(matrices(max_rows=4, min_cols=1, max_cols=7))
def test_projection_simplex_lands_on_the_simplex_and_is_idempotent(V):
    P = implicit.projection_simplex(V)
    assert P.shape == V.shape
    assert bool((P >= 0).all())
    torch.testing.assert_close(P.sum(-1), torch.ones(V.shape[0], dtype=V.dtype), rtol=0, atol=1e-9)
    torch.testing.assert_close(implicit.projection_simplex(P), P, rtol=0, atol=1e-9)
    # the projection is the nearest point of the simplex: no vertex is nearer than P
    d = (V - P).norm(dim=-1)
    for k in range(V.shape[1]):
        e = torch.zeros_like(V); e[:, k] = 1
        assert bool(((V - e).norm(dim=-1) >= d - 1e-9).all())


@SETTINGS
@given(arrays(np.float64, st.integers(1, 20), elements=finite).map(torch.from_numpy),
       st.floats(0, 5), st.floats(1e-3, 5))
def test_prox_lasso_is_soft_thresholding(y, lam, step):
    x = implicit.prox_lasso(y, lam, step)
    t = lam * step
    assert x.shape == y.shape
    assert bool((x.abs() <= y.abs()).all()) and bool(((x == 0) | (torch.sign(x) == torch.sign(y))).all())
    assert bool((x[y.abs() <= t] == 0).all())
    # optimality: x minimizes 0.5 ||x - y||^2 + t ||x||_1, i.e. y - x lies in t * subdifferential of |.| at x
    r = y - x
    assert bool((r.abs() <= t + 1e-12).all())
    nz = x != 0
    torch.testing.assert_close(r[nz], t * torch.sign(x[nz]), rtol=0, atol=1e-12)


@SETTINGS
@given(matrices(max_cols=4), st.data())
def test_sqdist_matches_cdist_and_is_symmetric(X, data):
    Y = data.draw(matrices(min_cols=X.shape[1], max_cols=X.shape[1]))
    D = fewshot_clustering.sqdist(X, Y)
    assert D.shape == (X.shape[0], Y.shape[0])
    torch.testing.assert_close(D, torch.cdist(X, Y) ** 2, rtol=1e-9, atol=1e-8)
    torch.testing.assert_close(fewshot_clustering.sqdist(X, X), fewshot_clustering.sqdist(X, X).T)


@SETTINGS
@given(matrices(min_rows=2, max_rows=8, max_cols=5), st.floats(0.1, 10), st.randoms(use_true_random=False))
def test_coherence_is_invariant_to_order_and_scale(G, scale, rnd):
    if bool((G.norm(dim=1) == 0).all()): return  # no gradient at all: the ratio is undefined (and raises)
    a = coherence.alpha(G)
    assert -1e-12 <= a.item() <= 1 + 1e-12
    perm = list(range(G.shape[0])); rnd.shuffle(perm)
    torch.testing.assert_close(coherence.alpha(G[perm]), a)
    torch.testing.assert_close(coherence.alpha(scale * G), a)
    torch.testing.assert_close(coherence.m_coherence(G), G.shape[0] * a)


def test_alpha_of_tiny_and_huge_gradients():
    # equal gradients are perfectly coherent at any scale: squares of 1e-161 would underflow and
    # squares of 1e200 overflow without the rescaling in coherence._sums
    for v in (4.8865e-161, 1e200):
        G = torch.full((2, 3), v, dtype=torch.float64)
        torch.testing.assert_close(coherence.alpha(G), torch.tensor(1.0, dtype=torch.float64))
        torch.testing.assert_close(coherence.m_coherence(G), torch.tensor(2.0, dtype=torch.float64))


@SETTINGS
@given(matrices(min_rows=1, max_rows=9, max_cols=4), st.randoms(use_true_random=False))
def test_winsorized_mean_engines_agree_and_c0_is_the_mean(G, rnd):
    torch.testing.assert_close(coherence.winsorized_mean(G, 0, engine="torch"), G.mean(0))
    c = rnd.randrange(0, (G.shape[0] + 1) // 2)
    w_torch = coherence.winsorized_mean(G, c, engine="torch")
    torch.testing.assert_close(coherence.winsorized_mean(G, c, engine="numba"), w_torch)
    perm = list(range(G.shape[0])); rnd.shuffle(perm)
    torch.testing.assert_close(coherence.winsorized_mean(G[perm], c, engine="torch"), w_torch)
    assert bool((w_torch >= G.min(0).values - 1e-12).all()) and bool((w_torch <= G.max(0).values + 1e-12).all())


@SETTINGS
@given(matrices(max_cols=3), st.floats(0.01, 0.99), st.randoms(use_true_random=False))
def test_median3_is_symmetric(A, _, rnd):
    B, C = A.flip(0), A.roll(1, 1) if A.shape[1] > 1 else -A
    out = coherence.median3(A, B, C)
    args = [A, B, C]; rnd.shuffle(args)
    torch.testing.assert_close(coherence.median3(*args), out)


@SETTINGS
@given(matrices(min_rows=1, max_rows=5), st.data())
def test_diffusion_parametrizations_round_trip(x0, data):
    n = x0.shape[0]
    ab = torch.tensor(data.draw(st.lists(st.floats(0.01, 0.99), min_size=n, max_size=n)), dtype=x0.dtype)
    eps = data.draw(matrices(min_rows=n, max_rows=n, min_cols=x0.shape[1], max_cols=x0.shape[1]))
    xt = diffusion.q_sample(x0, ab, eps)
    torch.testing.assert_close(diffusion.x0_from_eps(xt, eps, ab), x0, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(diffusion.eps_from_x0(xt, x0, ab), eps, rtol=1e-7, atol=1e-7)
    v = diffusion.v_from_eps(xt, eps, ab)
    torch.testing.assert_close(diffusion.eps_from_v(xt, v, ab), eps, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(diffusion.x0_from_v(xt, v, ab), x0, rtol=1e-7, atol=1e-7)


@SETTINGS
@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=6), st.integers(1, 8).map(lambda k: 2 * k))
def test_timestep_embedding_shape_and_unit_circle(ts, dim):
    t = torch.tensor(ts)
    e = diffusion.timestep_embedding(t, dim)
    assert e.shape == (len(ts), dim)
    half = dim // 2
    torch.testing.assert_close(e[:, :half] ** 2 + e[:, half:] ** 2, torch.ones(len(ts), half), rtol=0, atol=1e-5)


@SETTINGS
@given(matrices(min_rows=3, max_rows=8, min_cols=1, max_cols=3), st.data())
def test_frechet_distance_is_a_symmetric_square_distance(a, data):
    b = data.draw(matrices(min_rows=3, max_rows=8, min_cols=a.shape[1], max_cols=a.shape[1]))
    scale = 1 + a.abs().max().item() ** 2 + b.abs().max().item() ** 2
    assert abs(diffusion.frechet_distance(a, a)) <= 1e-6 * scale
    dab, dba = diffusion.frechet_distance(a, b), diffusion.frechet_distance(b, a)
    assert dab >= -1e-6 * scale
    assert math.isclose(dab, dba, rel_tol=1e-6, abs_tol=1e-6 * scale)
