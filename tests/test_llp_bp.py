"""LLP-BP: BP against exact enumeration, numba vs torch, the estimator contract, bad input and CUDA."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import torch

from gradnotes.llp_bp import (DLLP, LLPBP, LLPGraph, bag_proportions, belief_propagation, check_bags, exact_marginals,
                              gibbs_log_weight, knn_similarity, llp_graph, random_bags)


def problem(n=16, bag_size=4, k=2, seed=0, lam_bag=0.5, lam_sim=1.0, d=3):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.4).long()
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + y[:, None]
    bags = random_bags(n, bag_size, seed=seed)
    bi, sz = check_bags(bags, n)
    counts = bag_proportions(y, bags) * sz
    e, w = knn_similarity(X, k=k)
    return llp_graph(bi, counts, e, w, lam_bag, lam_sim), (bi, counts, e, w), (X, y, bags)


@pytest.mark.parametrize("seed", range(4))
def test_mrf_equals_gibbs_distribution(seed):
    G, parts, _ = problem(n=10, seed=seed, lam_bag=2.0, lam_sim=3.0)
    states = ((torch.arange(2 ** 10)[:, None] >> torch.arange(10)) & 1).double()
    mrf = states @ G.unary + (states[:, G.edges[:, 0]] * states[:, G.edges[:, 1]]) @ G.pair
    diff = mrf - gibbs_log_weight(states, *parts, lam_bag=2.0, lam_sim=3.0)
    assert (diff.max() - diff.min()).item() < 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_loopy_bp_close_to_enumeration(seed):
    G, _, _ = problem(seed=seed)
    ex, bp = exact_marginals(G), belief_propagation(G, max_iter=1000, tol=1e-10)
    assert bp.converged
    assert (ex - bp.marginals).abs().max() < 0.15
    assert ((ex >= 0.5) == (bp.marginals >= 0.5)).double().mean() >= 0.9


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_bp_exact_on_a_tree(engine):
    g = torch.Generator().manual_seed(1)
    bi = torch.arange(14) // 2
    chain = torch.stack([torch.arange(1, 13, 2), torch.arange(2, 14, 2)], 1)
    G = llp_graph(bi, torch.randint(0, 3, (7,), generator=g).double(), chain, torch.rand(6, generator=g, dtype=torch.float64), 1.5, 2.0)
    r = belief_propagation(G, max_iter=500, tol=1e-13, engine=engine)
    assert r.converged and (r.marginals - exact_marginals(G)).abs().max() < 1e-10


def test_no_edges_gives_unary_marginals():
    G = LLPGraph(torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64), torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, dtype=torch.float64))
    for engine in ("numba", "torch"):
        r = belief_propagation(G, engine=engine)
        assert torch.allclose(r.marginals, torch.sigmoid(G.unary)) and r.converged


@pytest.mark.parametrize("bag_size", [4, 16, 64])
def test_numba_and_torch_agree(bag_size):
    G, _, _ = problem(n=400, bag_size=bag_size, k=5, seed=bag_size, lam_bag=0.1, lam_sim=10.0, d=6)
    a, b = belief_propagation(G, engine="numba"), belief_propagation(G, engine="torch")
    assert a.n_iter == b.n_iter and a.converged == b.converged
    assert (a.marginals - b.marginals).abs().max() < 1e-6
    G10, _, _ = problem(n=400, bag_size=bag_size, k=5, seed=bag_size, lam_bag=10.0, lam_sim=10.0, d=6)
    for it in (1, 5, 20):
        a, b = belief_propagation(G10, max_iter=it, tol=0, engine="numba"), belief_propagation(G10, max_iter=it, tol=0, engine="torch")
        assert (a.logits - b.logits).abs().max() < 1e-6


def test_knn_similarity_matches_bruteforce():
    X = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    e, w = knn_similarity(X, k=3, chunk=7)
    Xn = X / X.norm(dim=1, keepdim=True)
    D = 1 - Xn @ Xn.T
    D.fill_diagonal_(float("inf"))
    nb = D.topk(3, largest=False).indices
    want = {(min(i, j), max(i, j)) for i in range(50) for j in nb[i].tolist()}
    assert {tuple(t) for t in e.tolist()} == want
    assert torch.allclose(w, torch.exp(-(X[e[:, 0]] - X[e[:, 1]]).norm(dim=1)))


def test_bag_cliques_and_filter():
    bi = torch.tensor([0, 0, 0, 1, 1])
    knn_e, knn_w = torch.tensor([[0, 3], [2, 4]]), torch.tensor([1.0, 1.0])
    cliques = {(0, 1), (0, 2), (1, 2), (3, 4)}
    kept = llp_graph(bi, torch.tensor([0.0, 2.0]), knn_e, knn_w, 1.0, 1.0, max_bag_count=1)
    assert {tuple(t) for t in kept.edges.tolist()} == cliques | {(0, 3), (2, 4)}
    dropped = llp_graph(bi, torch.tensor([2.0, 0.0]), knn_e, knn_w, 1.0, 1.0, max_bag_count=1)
    assert {tuple(t) for t in dropped.edges.tolist()} == cliques
    assert torch.allclose(dropped.pair, torch.full((4,), -2.0, dtype=torch.float64))


def _blobs(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.4).long()
    X = torch.randn(n, 5, generator=g) + 2.0 * y[:, None]
    return X, y


def _auc(y, s):
    y, s = np.asarray(y), np.asarray(s)
    return (s[y == 1][:, None] > s[y == 0][None]).mean()


def test_estimators_learn_and_follow_sklearn_contract():
    X, y = _blobs()
    bags = random_bags(300, 8)
    p = bag_proportions(y, bags)
    for est in (LLPBP(lam_bag=1.0, lam_sim=1.0, epochs=8), DLLP(epochs=8)):
        est.fit(X.numpy(), bags=bags, proportions=p.numpy())
        proba = est.predict_proba(X)
        assert proba.shape == (300, 2) and np.allclose(proba.sum(1), 1)
        assert _auc(y, proba[:, 1]) > 0.9
        assert set(est.predict(X)) <= {0, 1}
        assert "epochs" in est.get_params()
    assert len(LLPBP(rounds=1, epochs=2).fit(X, bags=bags, proportions=p).models_) == 1


def test_aggregate_loss_option_runs():
    X, y = _blobs(seed=2)
    bags = random_bags(300, 8)
    est = LLPBP(lam_bag=1.0, lam_sim=1.0, epochs=4, agg_weight=0.1).fit(X, bags=bags, proportions=bag_proportions(y, bags))
    assert np.isfinite(est.predict_proba(X)).all()


@pytest.mark.parametrize("mutate, match", [
    (lambda X, b, p: (X, b, p + 1), "proportions must lie in"),
    (lambda X, b, p: (X, b, p - 2), "proportions must lie in"),
    (lambda X, b, p: (X, [b[0], *b], torch.cat([p[:1], p])), "bags overlap"),
    (lambda X, b, p: (X, b[1:], p[1:]), "do not cover"),
    (lambda X, b, p: (X, [[], *b], torch.cat([p[:1], p])), r"bags\[0\] is empty"),
    (lambda X, b, p: (X, b, torch.ones_like(p)), "fewer than two classes"),
    (lambda X, b, p: (X.clone().fill_(float("inf")), b, p), "X contains NaN"),
    (lambda X, b, p: (X, b, p[:-1]), "one value per bag"),
    (lambda X, b, p: (X, [torch.tensor([0, 999])] + list(b[1:]), p), "outside"),
])
def test_bad_input(mutate, match):
    X, y = _blobs(80)
    bags = random_bags(80, 8)
    Xm, bm, pm = mutate(X, bags, bag_proportions(y, bags))
    with pytest.raises(ValueError, match=match):
        LLPBP(epochs=1).fit(Xm, bags=bm, proportions=pm)


def test_bad_hyperparameters():
    G, _, _ = problem(n=8)
    with pytest.raises(ValueError, match="damping"): belief_propagation(G, damping=1.0)
    with pytest.raises(ValueError, match="engine"): belief_propagation(G, engine="jax")
    with pytest.raises(ValueError, match="tol"): belief_propagation(G, tol=-1)
    with pytest.raises(ValueError, match="lam_bag"): llp_graph(torch.zeros(3, dtype=torch.long), torch.ones(1), lam_bag=-1.0)
    with pytest.raises(TypeError, match="one integer bag id per instance"):
        check_bags(torch.ones(4), 4)
    with pytest.raises(NotFittedError, match="not fitted"): LLPBP().predict_proba(np.zeros((2, 3)))


@pytest.mark.cuda
def test_torch_path_on_cuda_matches_cpu():
    G, _, _ = problem(n=400, bag_size=16, k=5, seed=3, lam_bag=0.1, lam_sim=10.0, d=6)
    cpu = belief_propagation(G, engine="numba")
    Gc = LLPGraph(G.unary.cuda(), G.edges.cuda(), G.pair.cuda())
    gpu = belief_propagation(Gc, engine="auto")
    assert gpu.marginals.device.type == "cuda"
    assert (gpu.marginals.cpu() - cpu.marginals).abs().max() < 1e-6


# ---- graph inputs, DLLP proportions, non-converged rounds --------------------------------------

def test_llp_graph_rejects_counts_outside_the_bag():
    bi = torch.tensor([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"counts must lie in \[0, bag size\]: bag 1"):
        llp_graph(bi, torch.tensor([1.0, 3.0]))
    with pytest.raises(ValueError, match="counts must lie"):
        llp_graph(bi, torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="counts contains NaN"):
        llp_graph(bi, torch.tensor([float("nan"), 1.0]))
    with pytest.raises(ValueError, match="one value per bag"):
        llp_graph(bi, torch.tensor([1.0, 1.0, 0.0]))


@pytest.mark.parametrize("edges, weights, match", [
    ([[0, 0]], [0.5], "self loops"),
    ([[0, 3]], [-0.5], "weights must be >= 0"),
    ([[0, 3]], [float("nan")], "weights contains NaN"),
    ([[0, 7]], [0.5], "outside"),
    ([[0, 3], [1, 4]], [0.5], "weights must have shape"),
    ([[0.0, 3.0]], [0.5], "integer node indices"),
])
def test_llp_graph_rejects_bad_edges(edges, weights, match):
    bi = torch.tensor([0, 0, 0, 1, 1])
    with pytest.raises((ValueError, TypeError), match=match):
        llp_graph(bi, torch.tensor([1.0, 1.0]), torch.tensor(edges), torch.tensor(weights))


@pytest.mark.parametrize("props, match", [([0.5, 1.5], r"\[0, 1\]"), ([0.5, float("nan")], "NaN"),
                                          ([-0.1, 0.5], r"\[0, 1\]")])
def test_dllp_loss_rejects_bad_proportions(props, match):
    from gradnotes.llp_bp import dllp_loss
    logits, bi = torch.zeros(4), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match=match):
        dllp_loss(logits, bi, torch.tensor(props))
    dllp_loss(logits, bi, torch.tensor([0.0, 0.0]))  # one class in a batch of bags is fine


def _separable(seed, n=1000, d=10, sep=3.0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(2 * n, generator=g) < 0.5).long()
    X = torch.randn(2 * n, d, generator=g) + sep * y[:, None]
    return X[:n], y[:n], X[n:], y[n:]


def test_llpbp_keeps_the_last_converged_round(one_thread):
    """Separable Gaussians in bags of 8, lam_bag = 1: round-1 BP converges and its model is
    near perfect; round-2 BP on the embedding does not converge and its model is worse. The
    estimator warns and keeps round 1."""
    Xtr, ytr, Xte, yte = _separable(1)
    bags = random_bags(len(ytr), 8, seed=1)
    with pytest.warns(RuntimeWarning, match=r"did not converge in round\(s\) \[2\].*round 1"):
        est = LLPBP(lam_bag=1.0, epochs=10, seed=1).fit(Xtr, bags=bags, proportions=bag_proportions(ytr, bags))
    assert [r.converged for r in est.bp_results_] == [True, False]
    assert est.round_ == 1 and est.model_ is est.models_[0]
    accs = [((torch.sigmoid(m(Xte).squeeze(1)) >= 0.5).long() == yte).float().mean().item()
            for m in est.models_]
    assert accs[0] > 0.97 and accs[1] < accs[0] - 0.05  # what keeping round 2 would have cost
    assert (est.predict(Xte) == yte.numpy()).mean() == pytest.approx(accs[0])


def test_llpbp_without_any_converged_round_keeps_the_best_bag_fit():
    Xtr, ytr, _, _ = _separable(0, n=200, d=5)
    bags = random_bags(len(ytr), 8, seed=0)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        est = LLPBP(lam_bag=1.0, epochs=3, max_iter=2, tol=1e-12).fit(
            Xtr, bags=bags, proportions=bag_proportions(ytr, bags))
    assert not any(r.converged for r in est.bp_results_)
    assert est.model_ is est.models_[est.round_ - 1]


def test_complex_inputs_refused_before_dispatch():
    X = torch.randn(20, 3, dtype=torch.complex64)
    bags = random_bags(20, 4)
    with pytest.raises(TypeError, match="X must be real"):
        knn_similarity(X)
    with pytest.raises(TypeError, match="X must be real"):
        DLLP(epochs=1).fit(X, bags=bags, proportions=torch.full((5,), 0.5))
    with pytest.raises(ValueError, match="X: Complex data not supported"):  # scikit-learn's
        LLPBP(epochs=1).fit(X.numpy(), bags=bags, proportions=torch.full((5,), 0.5))
    G = LLPGraph(torch.zeros(3, dtype=torch.complex128), torch.tensor([[0, 1]]),
                 torch.ones(1, dtype=torch.complex128))
    for engine in ("numba", "torch"):
        with pytest.raises(TypeError, match="must be real"):
            belief_propagation(G, engine=engine)


def test_labelings_and_weights_are_checked():
    from gradnotes.llp_bp import bag_proportions, gibbs_log_weight
    with pytest.raises(ValueError, match="y must hold binary labels"):
        bag_proportions([0, 2, 1, 0], [[0, 1], [2, 3]])
    y = torch.tensor([[0, 1, 1, 0]])
    bag, counts = torch.tensor([0, 0, 1, 1]), torch.tensor([1.0, 1.0])
    edges, w = torch.tensor([[0, 1]]), torch.tensor([1.0])
    with pytest.raises(ValueError, match="lam_bag"):
        gibbs_log_weight(y, bag, counts, edges, w, lam_bag=-1.0)
    with pytest.raises(ValueError, match="y must hold binary labels"):
        gibbs_log_weight(y * 2, bag, counts, edges, w)


# --- scikit-learn: per-instance bag ids, cross-validation by bag, metadata routing -----------

def _llp_data(n=240, bag_size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.4).long()
    X = (torch.randn(n, 4, generator=g) + 1.5 * y[:, None]).double().numpy()
    bag_ids = np.arange(n) // bag_size
    per_bag = np.bincount(bag_ids, weights=y.numpy()) / np.bincount(bag_ids)
    return X, y.numpy(), bag_ids, per_bag, per_bag[bag_ids]


def test_bag_ids_and_index_lists_fit_the_same_model():
    X, _, ids, per_bag, per_row = _llp_data()
    lists = [np.flatnonzero(ids == b) for b in np.unique(ids)]
    a = DLLP(epochs=3).fit(X, bags=lists, proportions=per_bag)
    b = DLLP(epochs=3).fit(X, bags=ids, proportions=per_row)
    c = DLLP(epochs=3).fit(X, bags=list(ids), proportions=per_bag)
    assert np.array_equal(a.decision_function(X), b.decision_function(X))
    assert np.array_equal(a.decision_function(X), c.decision_function(X))


def test_per_instance_proportions_must_agree_within_a_bag():
    X, _, ids, _, per_row = _llp_data()
    bad = per_row.copy()
    bad[0] = 1 - bad[0] if bad[0] != 0.5 else 0.25
    with pytest.raises(ValueError, match="equal within each bag"):
        DLLP(epochs=1).fit(X, bags=ids, proportions=bad)
    with pytest.raises(ValueError, match="bags holds 239 bag ids"):
        DLLP(epochs=1).fit(X, bags=ids[:-1], proportions=per_row[:-1])
    with pytest.raises(ValueError, match="without proportions"):
        DLLP(epochs=1).fit(X, bags=ids)


def test_cross_validation_by_bag():
    "GroupKFold keeps bags whole; per-instance bag ids and proportions are split with the rows."
    from sklearn.model_selection import GroupKFold, cross_val_score
    X, y, ids, _, per_row = _llp_data()
    scores = cross_val_score(DLLP(epochs=20), X, y, groups=ids, cv=GroupKFold(3),
                             params={"bags": ids, "proportions": per_row})
    assert scores.shape == (3,) and scores.min() > 0.7, scores  # separable classes, 1.5 sd apart


def test_metadata_routing_through_a_pipeline_and_grid_search():
    import sklearn
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y, ids, _, per_row = _llp_data()
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler(),
                             DLLP(epochs=5).set_fit_request(bags=True, proportions=True))
        search = GridSearchCV(pipe, {"dllp__lr": [1e-3, 1e-2]}, cv=GroupKFold(3))
        search.fit(X, y, groups=ids, bags=ids, proportions=per_row)
    assert search.best_params_["dllp__lr"] in (1e-3, 1e-2)
    assert set(search.predict(X)) <= {0, 1}


def test_labels_without_bags_train_a_supervised_classifier():
    "Bags of one instance: LLP is supervised learning; string labels come back as given."
    X, y, *_ = _llp_data()
    names = np.array(["neg", "pos"])[y]
    est = LLPBP(epochs=10).fit(X, names)
    assert list(est.classes_) == ["neg", "pos"]
    assert (est.predict(X) == names).mean() > 0.8
    with pytest.raises(ValueError, match="Only binary classification"):
        DLLP(epochs=1).fit(X, np.arange(len(X)) % 3)


@pytest.mark.parametrize("cls", [DLLP, LLPBP])
def test_check_estimator(cls):
    from sklearn_contract import assert_passes_check_estimator
    assert_passes_check_estimator(cls())


def test_knn_backends_give_the_same_graph():
    # generic points: the exact backends give identical neighbour lists and edge sets
    from gradnotes.llp_bp import knn_indices
    X = torch.randn(3000, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, da = knn_indices(X, 5, backend="sklearn")
    b, db = knn_indices(X, 5, backend="torch", chunk=1000)
    assert torch.equal(a, b) and torch.allclose(da, db, atol=1e-10)
    ea, wa = knn_similarity(X, backend="sklearn")
    eb, wb = knn_similarity(X, backend="torch")
    assert torch.equal(ea, eb) and torch.allclose(wa, wb)


def test_knn_backends_on_ties():
    # points on an integer grid, each duplicated: many exact ties. Both backends find the
    # same neighbour distances, and where no tie straddles the k-th place the same set
    from gradnotes.llp_bp import knn_indices
    g = torch.Generator().manual_seed(2)
    X = torch.randint(0, 6, (200, 3), generator=g).double().repeat(2, 1)
    k = 3
    a, da = knn_indices(X, k, backend="sklearn")
    b, db = knn_indices(X, k, backend="torch", chunk=64)
    assert torch.allclose(da, db, atol=1e-12)
    full = torch.cdist(X, X).pow(2).fill_diagonal_(float("inf")).sort(1).values
    untied = full[:, k - 1] < full[:, k]
    assert untied.sum() > 20
    for i in torch.nonzero(untied).flatten().tolist():
        assert set(a[i].tolist()) == set(b[i].tolist())
    assert not (a == torch.arange(400)[:, None]).any() and not (b == torch.arange(400)[:, None]).any()


@pytest.mark.slow
def test_knn_pynndescent_recall():
    # the approximate backend against the exact graph on a seeded set: recall >= 0.95
    pytest.importorskip("pynndescent")
    from gradnotes.llp_bp import knn_indices
    X = torch.randn(5000, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact, _ = knn_indices(X, 5, backend="sklearn")
    approx, d2 = knn_indices(X, 5, backend="pynndescent", seed=0)
    assert approx.shape == (5000, 5) and not (approx == torch.arange(5000)[:, None]).any()
    recall = sum(len(set(p.tolist()) & set(q.tolist())) for p, q in zip(approx, exact)) / exact.numel()
    assert recall >= 0.95, recall
    assert torch.allclose(d2, (X[:, None] - X[approx]).pow(2).sum(-1))


def test_bad_input_named():
    from gradnotes.llp_bp import bag_aggregate_loss, check_proportions, dllp_loss
    bags = random_bags(16, 4, seed=0)
    with pytest.raises(ValueError, match="of n = 20 instances are in no bag"): check_bags(bags, 20)
    with pytest.raises(TypeError, match="n must"): check_bags(bags, 16.5)
    with pytest.raises(ValueError, match="n_bags"): check_proportions([0.5, 0.5], 0)
    with pytest.raises(ValueError, match="y must have 1 dimension"): bag_proportions(torch.zeros(1, 16), bags)
    bi, p = torch.arange(8) % 2, torch.tensor([0.25, 0.5], dtype=torch.float64)
    with pytest.raises(ValueError, match="logits contains NaN"):
        dllp_loss(torch.full((8,), float("nan"), dtype=torch.float64), bi, p)
    with pytest.raises(ValueError, match="bag_index must hold bag numbers in \\[0, 2\\)"):
        dllp_loss(torch.zeros(8, dtype=torch.float64), bi + 1, p)
    with pytest.raises(ValueError, match="bag_index has no instance of bag 1"):
        dllp_loss(torch.zeros(8, dtype=torch.float64), bi * 0, p)
    with pytest.raises(TypeError, match="head's parameters"):
        bag_aggregate_loss(torch.zeros(8, 3), bi, p, torch.nn.Linear(3, 1).double())
    bi_g, sz = check_bags(bags, 16)
    with pytest.raises(ValueError, match="bag_index numbers 5 bags"):
        llp_graph(torch.cat([bi_g[:-1], torch.tensor([4])]), torch.ones(4), None, None)
    with pytest.raises(TypeError, match="counts must be real"):
        llp_graph(bi_g, torch.ones(4, dtype=torch.complex128), None, None)
    G = llp_graph(bi_g, torch.ones(4))
    with pytest.raises(ValueError, match="graph.pair must have shape"):
        belief_propagation(LLPGraph(G.unary, G.edges, G.pair[:-1]))
    r = belief_propagation(LLPGraph(G.unary.requires_grad_(), G.edges, G.pair), engine="numba")
    assert torch.isfinite(r.marginals).all()


def test_training_divergence_is_an_error():
    X = torch.randn(32, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bags = random_bags(32, 4, seed=0)
    p = torch.tensor([0.25, 0.5, 0.75, 0.5, 0.25, 0.5, 0.75, 0.5])
    with pytest.raises(ValueError, match="training diverged.*lr"):
        DLLP(hidden=(4,), epochs=3, lr=1e300).fit(X, bags=bags, proportions=p)


def _numpy_bp(G, iters, damping=0.5):
    "Reference: flooding BP in NumPy with the softplus-difference update, message by message."
    e, u, w = G.edges.numpy(), G.unary.numpy(), G.pair.numpy()
    src, dst = e.reshape(-1), e[:, ::-1].reshape(-1)
    sp = lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    r = np.zeros(len(src))
    for _ in range(iters):
        b = u.copy()
        np.add.at(b, dst, r)
        h = b[src] - r.reshape(-1, 2)[:, ::-1].reshape(-1)
        r = damping * r + (1 - damping) * (sp(h + np.repeat(w, 2)) - sp(h))
    b = u.copy()
    np.add.at(b, dst, r)
    return b


@pytest.mark.parametrize("bag_size", [4, 64])
def test_numba_blocks_and_numpy_reference(bag_size):
    "Blocks of any size give the same messages; both engines equal the NumPy reference."
    from gradnotes.llp_bp import _bp_numba
    G, _, _ = problem(n=300, bag_size=bag_size, k=5, seed=1, lam_bag=10.0, lam_sim=10.0, d=6)
    args = (G.unary.numpy(), G.edges[:, 0].contiguous().numpy(), G.edges[:, 1].contiguous().numpy(),
            G.pair.numpy(), 0.5, 10, 0.0)
    whole = _bp_numba(*args)
    for chunk in (1, 7, 1000):
        part = _bp_numba(*args, chunk=chunk)
        assert np.array_equal(part[0], whole[0]) and part[1:] == whole[1:]
    ref = _numpy_bp(G, 10)
    for engine in ("numba", "torch"):
        out = belief_propagation(G, max_iter=10, tol=0, engine=engine).logits.numpy()
        assert np.abs(out - ref).max() < 1e-9


def test_huge_pair_weights_keep_the_softplus_form():
    "Factors whose e^w would overflow take the softplus difference; both engines stay exact on a tree."
    g = torch.Generator().manual_seed(2)
    bi = torch.arange(14) // 2
    chain = torch.stack([torch.arange(1, 13, 2), torch.arange(2, 14, 2)], 1)
    G = llp_graph(bi, torch.randint(0, 3, (7,), generator=g).double(), chain,
                  torch.rand(6, generator=g, dtype=torch.float64), 400.0, 600.0)
    assert G.pair.abs().max() > 700  # e^w overflows float64 for these factors
    ex = exact_marginals(G)
    for engine in ("numba", "torch"):
        r = belief_propagation(G, max_iter=500, tol=1e-12, engine=engine)
        assert r.converged and torch.isfinite(r.logits).all()
        assert (r.marginals - ex).abs().max() < 1e-9
