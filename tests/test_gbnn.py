"""GBNN: assembly exactness, closed forms, Newton steps, engines, the official code, the
scikit-learn contract and bad input."""
import importlib.util
import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn_contract import assert_passes_check_estimator

from gradnotes.gbnn import (GBNNClassifier, GBNNRegressor, LogExponentialLoss, SoftmaxLoss,
                            SquaredLoss, Stage, assemble, boost, fit_stage, init_stage,
                            newton_step, stage_objective, staged_scores, _objective_nb)

LOSSES = [SquaredLoss(), LogExponentialLoss(), SoftmaxLoss()]


def _targets(loss, n=60, K=4, seed=0, balanced=False):
    g = torch.Generator().manual_seed(seed)
    if isinstance(loss, SquaredLoss): return 3 * torch.randn(n, 1, generator=g, dtype=torch.float64) + 1
    if isinstance(loss, LogExponentialLoss):
        return torch.where(torch.rand(n, 1, generator=g) < 0.3, 1.0, -1.0).double()
    c = torch.arange(n) % K if balanced else torch.randint(0, K, (n,), generator=g)
    return torch.nn.functional.one_hot(c, K).double()


def _data(n=80, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- closed forms and steps
@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_init_is_the_numerical_minimizer(loss):
    Y = _targets(loss)
    c = minimize(lambda c: loss.loss(Y, torch.as_tensor(c).expand_as(Y)).item(), np.zeros(Y.shape[1]),
                 method="BFGS", options=dict(gtol=1e-12)).x
    if isinstance(loss, SoftmaxLoss): c = c - c.mean()
    np.testing.assert_allclose(loss.init(Y).numpy(), c, atol=1e-6)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_residuals_are_the_negative_gradient(loss):
    Y = _targets(loss)
    F = (loss.init(Y).expand_as(Y) + 0.5 * torch.randn(Y.shape, dtype=torch.float64)).requires_grad_()
    (Y.shape[0] * loss.loss(Y, F)).backward()
    torch.testing.assert_close(loss.residuals(Y, F.detach()), -F.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_newton_weight_is_the_diagonal_second_derivative(loss):
    Y = _targets(loss, n=8, balanced=True)
    F = loss.init(Y).expand_as(Y) + 0.5 * torch.randn(Y.shape, dtype=torch.float64)
    R = loss.residuals(Y, F)
    hess = torch.autograd.functional.hessian(lambda f: Y.shape[0] * loss.loss(Y, f), F)
    diag = hess.reshape(F.numel(), F.numel()).diagonal().reshape(F.shape)
    torch.testing.assert_close(loss.hessian(Y, R), diag, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_newton_step_against_line_search(loss):
    Y = _targets(loss)
    g = torch.Generator().manual_seed(1)
    F = loss.init(Y).expand_as(Y) + 0.3 * torch.randn(Y.shape, generator=g, dtype=torch.float64)
    H = loss.residuals(Y, F) + 0.5 * torch.randn(Y.shape, generator=g, dtype=torch.float64)
    best = minimize_scalar(lambda r: loss.loss(Y, F + r * H).item(), bracket=(0, 1), tol=1e-12).x
    rho = 0.0
    for _ in range(40): rho += newton_step(loss, Y, loss.residuals(Y, F + rho * H), H)
    # iterated Newton steps reach the line minimum: zero slope there, and no worse than Brent's
    # search (whose argmin is only as sharp as the loss is curved, so compare slopes and values)
    def slope(at):
        r = torch.tensor(at, dtype=torch.float64, requires_grad=True)
        return torch.autograd.grad(loss.loss(Y, F + r * H), r)[0].item()
    assert abs(slope(rho)) < 1e-5 * abs(slope(0.0))
    at_best = loss.loss(Y, F + best * H).item()
    assert loss.loss(Y, F + rho * H).item() <= at_best * (1 + 1e-10)
    assert abs(rho - best) < 1e-4 * max(1.0, abs(best))
    first = newton_step(loss, Y, loss.residuals(Y, F), H)
    if isinstance(loss, SquaredLoss): assert abs(first - best) < 1e-8  # exact for a quadratic
    assert loss.loss(Y, F + first * H) < loss.loss(Y, F)
    assert newton_step(loss, Y, loss.residuals(Y, F), torch.zeros_like(H)) == 0.0


# ---------------------------------------------------------------- stage fits and engines
def test_numba_objective_matches_autograd():
    X, R = _data(30, 4), torch.randn(30, 3, dtype=torch.float64)
    st = init_stage(4, 5, 3, torch.Generator().manual_seed(2))
    leaves = [t.clone().requires_grad_() for t in (st.W1, st.b1, st.W2, st.b2)]
    f = stage_objective(Stage(*leaves), X, R, 0.7)
    f.backward()
    flat = torch.cat([t.detach().reshape(-1) for t in leaves]).numpy()
    f_nb, g_nb = _objective_nb(flat, X.numpy(), R.numpy(), 5, 0.7)
    assert abs(f_nb - f.item()) < 1e-14
    np.testing.assert_allclose(g_nb, torch.cat([t.grad.reshape(-1) for t in leaves]).numpy(), atol=1e-14)


def test_engines_fit_equally_well(one_thread):
    X = _data(200, 6)
    R = torch.tanh(X[:, :1] - X[:, 1:2]) + 0.05 * torch.randn(200, 1, dtype=torch.float64)
    obj = {e: stage_objective(fit_stage(X, R, 3, torch.Generator().manual_seed(0), engine=e), X, R, 1e-4).item()
           for e in ("numba", "torch")}
    start = stage_objective(init_stage(6, 3, 1, torch.Generator().manual_seed(0)), X, R, 1e-4).item()
    assert obj["numba"] < 0.2 * start and abs(obj["numba"] - obj["torch"]) < 0.1 * obj["torch"] + 1e-4


def test_same_seed_same_fit_and_engine_choice(one_thread):
    X, y = _data(60, 3).numpy(), np.arange(60) % 2
    a, b = (GBNNClassifier(total_units=4, max_iter=30, random_state=3).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    c = GBNNClassifier(total_units=4, max_iter=30, random_state=4).fit(X, y)
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))


# ---------------------------------------------------------------- assembly
@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_assembled_network_equals_staged_ensemble(loss, one_thread):
    X = _data(90, 5)
    Y = _targets(loss, n=90)
    b = boost(X, Y, loss, 5, units=3, rng=0, max_iter=40)
    Xt = _data(40, 5, seed=9)
    staged = list(staged_scores(b, Xt))
    with torch.no_grad():
        for t in range(6):
            net = assemble(b, n_units=3 * t)
            assert net[0].out_features == 3 * t
            torch.testing.assert_close(net(Xt), loss.out_scale * staged[t], rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(assemble(b, 3 * t, logits=False)(Xt), staged[t], rtol=1e-12, atol=1e-12)


def test_estimator_network_gives_its_probabilities(one_thread):
    X, y = _data(80, 4).numpy(), (np.arange(80) % 3)
    clf = GBNNClassifier(total_units=6, units_per_stage=2, max_iter=30, random_state=0).fit(X, y)
    with torch.no_grad():
        p = torch.softmax(clf.to_network(4)(torch.as_tensor(X)), 1).numpy()
    np.testing.assert_allclose(p, clf.predict_proba(X, n_units=4), atol=1e-12)
    staged = list(clf.staged_predict(X))
    assert len(staged) == 4 and np.array_equal(staged[-1], clf.predict(X))


# ---------------------------------------------------------------- the official code
def _official():
    spec = importlib.util.find_spec("gbnn")
    if spec is None: pytest.skip("the official gbnn package is not installed (pip install --no-deps gbnn)")
    # gbnn/__init__.py imports pandas for its grid search helper; the algorithm lives in GBNN.py alone
    path = spec.submodule_search_locations[0] + "/GBNN.py"
    s = importlib.util.spec_from_file_location("gbnn_official_GBNN", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


class _FixedFeatures:
    "A deterministic stage learner: fixed random logistic units, output layer by least squares."
    A = None
    def __init__(self, **kw): pass
    def fit(self, X, r):
        Phi = self._features(X)
        R = r.reshape(len(r), -1)
        sol = np.linalg.lstsq(np.hstack([Phi, np.ones((len(X), 1))]), R, rcond=None)[0]
        self.W2, self.b2, self.one_d = sol[:-1], sol[-1], r.ndim == 1
        return self
    def _features(self, X): return 1 / (1 + np.exp(-(X @ _FixedFeatures.A[0] + _FixedFeatures.A[1])))
    def predict(self, X):
        out = self._features(X) @ self.W2 + self.b2
        return out[:, 0] if self.one_d else out
    def stage(self):
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))
        return Stage(t(_FixedFeatures.A[0]), t(_FixedFeatures.A[1]), t(self.W2), t(self.b2))


def _our_fit(Xs, Rs, gen):
    return _FixedFeatures().fit(Xs.numpy(), Rs.numpy()).stage()


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_official_losses_pointwise(kind):
    G = _official()
    rng = np.random.default_rng(0)
    n = 50
    if kind == "binary":
        y = np.where(rng.random(n) < 0.3, 1.0, -1.0); theirs, ours = G.log_exponential_loss(), LogExponentialLoss()
        Y = torch.as_tensor(y)[:, None]
    elif kind == "multiclass":
        Yn = np.eye(4)[rng.integers(0, 4, n)]; theirs, ours = G.multi_class_loss(), SoftmaxLoss()
        y, Y = Yn, torch.as_tensor(Yn)
    else:
        y = rng.normal(size=n) * 3; theirs, ours = G.squared_loss(), SquaredLoss()
        Y = torch.as_tensor(y)[:, None]
    F = rng.normal(size=Y.shape)
    F_off = F[:, 0] if Y.shape[1] == 1 else F
    r_off = theirs.derive(y, F_off)
    R = ours.residuals(Y, torch.as_tensor(F))
    np.testing.assert_allclose(R.numpy().reshape(r_off.shape), r_off, rtol=0, atol=1e-12)
    H = rng.normal(size=Y.shape)
    H_off = H[:, 0] if Y.shape[1] == 1 else H
    rho = newton_step(ours, Y, R, torch.as_tensor(H))
    if kind == "regression":
        assert theirs.newton_step(y, r_off, H_off) == 1  # the official step is fixed at 1
        np.testing.assert_allclose(rho, (r_off * H_off).sum() / (H_off ** 2).sum(), rtol=1e-12)
        np.testing.assert_allclose(ours.init(Y).numpy(), theirs.model0(y), rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(rho, theirs.newton_step(y, r_off, H_off), rtol=1e-12, atol=1e-12)
        if kind == "binary":
            np.testing.assert_allclose(ours.init(Y).numpy(), theirs.model0(y), rtol=0, atol=1e-12)
        else:  # the official start is 0; ours is the minimizer, log class frequencies
            np.testing.assert_array_equal(theirs.model0(Yn), np.zeros(4))
            F0 = ours.init(Y).expand_as(Y)
            assert ours.loss(Y, F0) < ours.loss(Y, torch.zeros_like(Y))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_official_boosting_loop_with_a_fixed_stage_learner(kind, monkeypatch):
    G = _official()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int) if kind == "binary" else np.arange(120) % 3
    _FixedFeatures.A = (rng.normal(size=(4, 3)), rng.normal(size=3))
    monkeypatch.setattr(G, "MLPRegressor", _FixedFeatures)
    # with scikit-learn >= 1.6 is_classifier() is False for the official classifier, which then
    # takes its regression branch; test its declared _estimator_type instead
    monkeypatch.setattr(G, "is_classifier", lambda est: getattr(est, "_estimator_type", None) == "classifier")
    off = G.GNEGNEClassifier(total_nn=6, num_nn_step=1, subsample=1.0, eta=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert off.fit(X, y) is None  # the official fit returns None
    if kind == "binary": Y, loss = torch.as_tensor(2.0 * y - 1)[:, None], LogExponentialLoss()
    else: Y, loss = torch.nn.functional.one_hot(torch.as_tensor(y), 3).double(), SoftmaxLoss()
    b = boost(torch.as_tensor(X), Y, loss, 6, rng=0, subsample=1.0, fit=_our_fit)
    # balanced classes: the official 0-vector start and our log-frequency start coincide
    np.testing.assert_allclose(b.init.numpy().reshape(-1), np.asarray(off.intercept).reshape(-1), atol=1e-12)
    np.testing.assert_allclose(b.steps, off.steps, rtol=1e-12, atol=1e-12)
    ours_F = list(staged_scores(b, torch.as_tensor(X)))[-1].numpy()
    theirs_F = off._decision_function(X)
    np.testing.assert_allclose(ours_F.reshape(theirs_F.shape), theirs_F, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the scikit-learn contract
# Every check passes. Skipped by scikit-learn itself here: the pandas input checks when pandas
# is not installed, and the array-API check unless SCIPY_ARRAY_API is set. No exceptions.
@pytest.mark.parametrize("est", [GBNNClassifier(total_units=10, max_iter=30),
                                 GBNNRegressor(total_units=10, max_iter=30)], ids=lambda e: type(e).__name__)
def test_check_estimator(est, one_thread):
    assert_passes_check_estimator(est)


def test_pipeline_gridsearch_and_pickle(one_thread):
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), GBNNClassifier(total_units=4, max_iter=30, random_state=0))
    search = GridSearchCV(pipe, {"gbnnclassifier__eta": [0.5, 1.0]}, cv=2).fit(X[:300], y[:300])
    assert search.score(X[300:], y[300:]) > 0.85
    again = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(again.predict_proba(X[300:]), search.best_estimator_.predict_proba(X[300:]))


def test_string_labels_and_regressor_staging(one_thread):
    X = _data(60, 3).numpy()
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = GBNNClassifier(total_units=3, max_iter=20, random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= {"yes", "no"} and list(clf.classes_) == ["no", "yes"]
    reg = GBNNRegressor(total_units=4, units_per_stage=2, max_iter=20, random_state=0).fit(X, X[:, 0] * 3)
    staged = list(reg.staged_predict(X))
    np.testing.assert_allclose(staged[1], reg.predict(X, n_units=2), atol=1e-12)
    np.testing.assert_allclose(staged[0], np.full(60, 3 * X[:, 0].mean()), atol=1e-12)


# ---------------------------------------------------------------- bad input
def test_bad_input():
    X, y = _data(40, 3).numpy(), np.arange(40) % 2
    with pytest.raises(ValueError, match=r"total_units \(10\) must be a multiple of units_per_stage \(3\)"):
        GBNNClassifier(total_units=10, units_per_stage=3).fit(X, y)
    for kw, msg in [(dict(eta=0.0), "eta must be > 0"), (dict(subsample=0.0), "subsample must be > 0"),
                    (dict(subsample=1.2), "subsample must be <= 1"), (dict(max_iter=0), "max_iter must be >= 1"),
                    (dict(alpha=-1.0), "alpha must be >= 0"), (dict(engine="jax"), "engine must be one of"),
                    (dict(total_units=0), "total_units must be >= 1")]:
        with pytest.raises(ValueError, match=msg): GBNNRegressor(**kw).fit(X, y.astype(float))
    with pytest.raises(TypeError, match="units_per_stage must be an integer"): GBNNClassifier(units_per_stage=1.5).fit(X, y)
    with pytest.raises(ValueError, match="one class"): GBNNClassifier().fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="Unknown label type"): GBNNClassifier().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="NaN"): GBNNRegressor().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="infinity|inf"): GBNNClassifier().fit(np.where(X > 1, np.inf, X), y)
    with pytest.raises(ValueError, match="subsample=0.5 leaves no row of 1 sample"):
        GBNNRegressor().fit(X[:1], [1.0])
    reg = GBNNRegressor(total_units=4, units_per_stage=2, max_iter=5).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="3 features"): reg.predict(X[:, :2])
    with pytest.raises(ValueError, match="multiple of the 2 units"): reg.predict(X, n_units=3)
    with pytest.raises(ValueError, match="n_units must be <= 4"): reg.predict(X, n_units=6)
    with pytest.raises(ValueError, match="engine='numba' needs CPU tensors"):
        fit_stage(torch.zeros(3, 2, device="meta"), torch.zeros(3, 1, device="meta"), 1,
                  torch.Generator().manual_seed(0), engine="numba")


@pytest.mark.cuda
def test_cuda_matches_cpu_torch_engine():
    X, y = _data(100, 4).numpy(), np.arange(100) % 3
    kw = dict(total_units=4, max_iter=30, random_state=0, engine="torch")
    cpu = GBNNClassifier(**kw).fit(X, y)
    gpu = GBNNClassifier(device="cuda", **kw).fit(X, y)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-6)


def test_low_level_functions_check_their_arguments():
    from gradnotes.gbnn import (SquaredLoss, boost, fit_stage, init_stage, newton_step,
                                stage_objective)
    g = torch.Generator().manual_seed(0)
    X, R = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="H must have the shape of Y"):
        newton_step(SquaredLoss(), R, R, R[:4])
    with pytest.raises(ValueError, match="Y contains NaN"):
        newton_step(SquaredLoss(), R * float("nan"), R, R)
    with pytest.raises(ValueError, match="J must be >= 1"): init_stage(3, 0, 1, g)
    with pytest.raises(ValueError, match="alpha"):
        stage_objective(init_stage(3, 2, 1, g), X, R, alpha=-1.0)
    with pytest.raises(TypeError, match="X must have dtype torch.float64"):
        stage_objective(init_stage(3, 2, 1, g), X.float(), R, alpha=0.0)
    with pytest.raises(ValueError, match="max_iter"): fit_stage(X, R, 2, g, max_iter=0)
    Xg = X.clone().requires_grad_()
    fit_stage(Xg, R, 2, g, max_iter=3, engine="torch")
    assert Xg.grad is None  # the caller's tensor is left alone
    with pytest.raises(ValueError, match="eta"): boost(X, R, SquaredLoss(), 2, eta=-1.0)
    with pytest.raises(ValueError, match="subsample"): boost(X, R, SquaredLoss(), 2, subsample=1.5)
    with pytest.raises(ValueError, match="n_stages"): boost(X, R, SquaredLoss(), 0)
