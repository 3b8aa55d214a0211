"""Hessian alignment (paper 26): penalties against dense references, closed forms and peers; bad input."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.autodiff import per_sample_grads
from gradnotes.hessian_alignment import (METHODS, Environments, colored_digits, fishr_penalty, fit_alignment, head_hessian,
                                         head_hessian_distance, hessian_gradient_product, hgp_penalty, hutchinson_diagonal,
                                         hutchinson_penalty, invariance_loss, irm_penalty, loss_gradient, penalty_weight_at,
                                         per_sample_head_grads, rademacher, rex_penalty)

pytestmark = pytest.mark.usefixtures("one_thread")  # small autograd calls: a second thread only adds overhead

DT = torch.float64


def _dense(f, w):
    return torch.autograd.functional.hessian(f, w.detach())


def _setup(seed=0, d=6, n=(40, 30)):
    "Two environments of a linear head with BCE; features depend on a body weight so penalties reach it."
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(d, 1).double()
    with torch.no_grad():
        head.weight.copy_(torch.randn(1, d, generator=g, dtype=DT) * 0.5)
    body = nn.Linear(5, d).double()
    Xs = [torch.randn(m, 5, generator=g, dtype=DT) + 0.3 * e for e, m in enumerate(n)]
    ys = [(torch.rand(m, 1, generator=g) < 0.5).to(DT) for m in n]
    return head, body, Xs, ys


def _flat_head_loss(head, X, y):
    "The loss as a function of a flat head-parameter vector (dense-reference helper)."
    def f(v):
        W, b = v[:-1].reshape(1, -1), v[-1:]
        return F.binary_cross_entropy_with_logits(X @ W.T + b, y)
    return f, torch.cat([head.weight.reshape(-1), head.bias]).detach()


def test_hgp_product_matches_dense_hessian_times_gradient():
    head, body, Xs, ys = _setup()
    feats = torch.tanh(body(Xs[0]))
    loss = F.binary_cross_entropy_with_logits(head(feats), ys[0])
    g, hg = hessian_gradient_product(loss, head)
    f, v = _flat_head_loss(head, feats.detach(), ys[0])
    H = _dense(f, v)
    torch.testing.assert_close(hg.detach(), H @ g.detach(), rtol=1e-12, atol=1e-14)
    # the paper's form ||g|| grad ||g||
    ps = list(head.parameters())
    nrm = g.norm()
    paper = nrm * torch.cat([t.reshape(-1) for t in torch.autograd.grad(nrm, ps, retain_graph=True)])
    torch.testing.assert_close(paper.detach(), hg.detach(), rtol=1e-12, atol=1e-14)


def test_hgp_penalty_equals_dense_formula():
    head, body, Xs, ys = _setup(1)
    feats = [torch.tanh(body(X)) for X in Xs]
    losses = [F.binary_cross_entropy_with_logits(head(h), y) for h, y in zip(feats, ys)]
    P = hgp_penalty(losses, head)
    # dense: gradients and Hessians of each env loss and of the average, from autograd.functional
    fs = [_flat_head_loss(head, h.detach(), y) for h, y in zip(feats, ys)]
    v = fs[0][1]
    grads = [torch.autograd.functional.jacobian(f, v) for f, _ in fs]
    Hs = [_dense(f, v) for f, _ in fs]
    gb, Hb = sum(grads) / 2, sum(Hs) / 2
    ref = sum((H @ g - Hb @ gb).pow(2).sum() + (g - gb).pow(2).sum() for g, H in zip(grads, Hs))
    torch.testing.assert_close(P.detach(), ref, rtol=1e-11, atol=0)


def test_hutchinson_all_sign_probes_is_exact():
    head, body, Xs, ys = _setup(2, d=4)
    feats = torch.tanh(body(Xs[0]))
    loss = F.binary_cross_entropy_with_logits(head(feats), ys[0])
    g = loss_gradient(loss, head)
    f, v = _flat_head_loss(head, feats.detach(), ys[0])
    H = _dense(f, v)
    probes = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=5)), dtype=DT)
    for batched in (True, False):
        torch.testing.assert_close(hutchinson_diagonal(g, head, probes=probes, batched=batched).detach(), torch.diag(H),
                                   rtol=1e-12, atol=1e-15)


def test_hutchinson_error_within_its_standard_error():
    head, body, Xs, ys = _setup(3, d=12)
    feats = torch.tanh(body(Xs[0]))
    loss = F.binary_cross_entropy_with_logits(head(feats), ys[0])
    g = loss_gradient(loss, head)
    f, v = _flat_head_loss(head, feats.detach(), ys[0])
    H = _dense(f, v)
    R = 4000
    est = hutchinson_diagonal(g, head, R, torch.Generator().manual_seed(0), create_graph=False)
    se = ((H ** 2).sum(1) - torch.diag(H) ** 2).div(R).sqrt()
    z = (est - torch.diag(H)) / se
    # 13 coordinates: P(max |z| > 4.5) ~ 1e-4 under the estimator's own variance
    assert z.abs().max() < 4.5, z


def test_batched_and_looped_probes_agree_and_generator_reproduces():
    head, body, Xs, ys = _setup(4)
    loss = F.binary_cross_entropy_with_logits(head(torch.tanh(body(Xs[0]))), ys[0])
    g = loss_gradient(loss, head)
    Z = rademacher(17, g.numel(), torch.Generator().manual_seed(3), dtype=DT)
    torch.testing.assert_close(hutchinson_diagonal(g, head, probes=Z), hutchinson_diagonal(g, head, probes=Z, batched=False),
                               rtol=1e-13, atol=1e-16)
    a = hutchinson_diagonal(g, head, 9, torch.Generator().manual_seed(5))
    b = hutchinson_diagonal(g, head, 9, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert set(Z.unique().tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("kind", ["hgp", "hutchinson", "irm", "vrex"])
def test_penalties_gradcheck(kind):
    "Analytic gradients of each penalty (through double/triple backward) against finite differences."
    torch.manual_seed(0)
    head = nn.Linear(3, 1).double()
    t0, t1 = (torch.rand(7, 1) < 0.5).to(DT), (torch.rand(6, 1) < 0.5).to(DT)
    b = head.bias.detach()

    def fn(a, c, W):
        w = W.reshape(1, 3)
        logits = [a @ w.T + b, c @ w.T + b]
        losses = [F.binary_cross_entropy_with_logits(z, t) for z, t in zip(logits, (t0, t1))]
        if kind == "hgp": return hgp_penalty(losses, [W])
        if kind == "hutchinson": return hutchinson_penalty(losses, [W], 6, torch.Generator().manual_seed(0))
        if kind == "irm": return irm_penalty(logits, [t0, t1])
        return rex_penalty(losses)

    a = torch.randn(7, 3, dtype=DT, requires_grad=True)
    c = (torch.randn(6, 3, dtype=DT) + 0.4).requires_grad_()
    W = head.weight.detach().reshape(-1).clone().requires_grad_()
    assert torch.autograd.gradcheck(fn, (a, c, W), eps=1e-6, atol=1e-7)


def test_fishr_gradients_against_finite_differences():
    torch.manual_seed(1)
    head = nn.Linear(3, 1).double()
    t = [(torch.rand(7, 1) < 0.5).to(DT), (torch.rand(6, 1) < 0.5).to(DT)]
    a = torch.randn(7, 3, dtype=DT, requires_grad=True)
    c = (torch.randn(6, 3, dtype=DT) + 0.4).requires_grad_()
    # with respect to the features
    assert torch.autograd.gradcheck(lambda a_, c_: fishr_penalty(head, [a_, c_], t), (a, c), eps=1e-6, atol=1e-7)
    # with respect to the head's weights, by central differences
    head.zero_grad()
    fishr_penalty(head, [a.detach(), c.detach()], t).backward()
    fd = torch.zeros(3, dtype=DT)
    with torch.no_grad():
        for i in range(3):
            vals = []
            for s in (1, -1):
                head.weight[0, i] += s * 1e-6
                vals.append(fishr_penalty(head, [a, c], t).item())
                head.weight[0, i] -= s * 1e-6
            fd[i] = (vals[0] - vals[1]) / 2e-6
    torch.testing.assert_close(head.weight.grad[0], fd, rtol=1e-5, atol=1e-9)


def test_per_sample_head_grads_closed_form_and_autodiff():
    head, body, Xs, ys = _setup(5)
    h = torch.tanh(body(Xs[0]))
    G = per_sample_head_grads(head, h, ys[0])
    closed = (torch.sigmoid(head(h)) - ys[0]) * torch.cat([h, torch.ones_like(ys[0])], 1)
    torch.testing.assert_close(G, closed, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(G.detach(), per_sample_grads(head, F.binary_cross_entropy_with_logits, h.detach(), ys[0]),
                               rtol=1e-12, atol=1e-14)
    assert G.requires_grad


def test_fishr_penalty_closed_form():
    head, body, Xs, ys = _setup(6)
    feats = [torch.tanh(body(X)) for X in Xs]
    P = fishr_penalty(head, feats, ys)
    V = []
    for h, y in zip(feats, ys):
        G = ((torch.sigmoid(head(h)) - y) * torch.cat([h, torch.ones_like(y)], 1)).detach().numpy()
        V.append(G.var(0))
    V = np.stack(V)
    assert np.isclose(P.item(), ((V - V.mean(0)) ** 2).sum(), rtol=1e-11)


def test_irm_and_rex_closed_forms():
    torch.manual_seed(0)
    z = [torch.randn(9, 1, dtype=DT, requires_grad=True), torch.randn(5, 1, dtype=DT, requires_grad=True)]
    t = [(torch.rand(9, 1) < 0.5).to(DT), (torch.rand(5, 1) < 0.5).to(DT)]
    ref = sum(((torch.sigmoid(a) - b) * a).mean() ** 2 for a, b in zip(z, t)) / 2
    torch.testing.assert_close(irm_penalty(z, t), ref, rtol=1e-13, atol=0)
    L = [a.pow(2).mean() for a in z]
    torch.testing.assert_close(rex_penalty(L), (L[0] - L[1]) ** 2, rtol=1e-13, atol=0)
    L3 = L + [z[0].abs().mean()]
    v = torch.stack(L3)
    torch.testing.assert_close(rex_penalty(L3), 2 * 3 / 2 * v.var(unbiased=False), rtol=1e-12, atol=0)


def test_head_hessian_matches_dense_and_backpack():
    head, body, Xs, ys = _setup(7)
    h = torch.tanh(body(Xs[0])).detach()
    H = head_hessian(head, h, ys[0])
    f, v = _flat_head_loss(head, h, ys[0])
    torch.testing.assert_close(H, _dense(f, v), rtol=1e-12, atol=1e-15)
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import DiagHessian
    hd = backpack.extend(nn.Linear(6, 1).double())
    hd.load_state_dict(head.state_dict())
    lossfn = backpack.extend(nn.BCEWithLogitsLoss())
    loss = lossfn(hd(h), ys[0])
    with backpack.backpack(DiagHessian()):
        loss.backward()
    diag_bp = torch.cat([hd.weight.diag_h.reshape(-1), hd.bias.diag_h.reshape(-1)])
    torch.testing.assert_close(torch.diag(H), diag_bp, rtol=1e-10, atol=1e-14)


def test_fishr_per_sample_grads_match_backpack():
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import BatchGrad
    head, body, Xs, ys = _setup(8)
    h = torch.tanh(body(Xs[0])).detach()
    hd = backpack.extend(nn.Linear(6, 1).double())
    hd.load_state_dict(head.state_dict())
    loss = backpack.extend(nn.BCEWithLogitsLoss())(hd(h), ys[0])
    with backpack.backpack(BatchGrad()):
        loss.backward()
    n = len(h)
    bp = torch.cat([hd.weight.grad_batch.reshape(n, -1), hd.bias.grad_batch.reshape(n, -1)], 1) * n
    torch.testing.assert_close(per_sample_head_grads(head, h, ys[0]).detach(), bp, rtol=1e-10, atol=1e-14)


def test_penalty_gradient_reaches_the_body():
    head, body, Xs, ys = _setup(9)
    for P in (lambda L, f: hgp_penalty(L, head), lambda L, f: hutchinson_penalty(L, head, 8, torch.Generator().manual_seed(0)),
              lambda L, f: fishr_penalty(head, f, ys)):
        body.zero_grad(); head.zero_grad()
        feats = [torch.tanh(body(X)) for X in Xs]
        L = [F.binary_cross_entropy_with_logits(head(h), y) for h, y in zip(feats, ys)]
        P(L, feats).backward()
        assert body.weight.grad.abs().sum() > 0 and head.weight.grad.abs().sum() > 0


def test_anneal_schedule_and_loss_scaling():
    assert [penalty_weight_at(s, 50.0, 2) for s in range(4)] == [1.0, 1.0, 50.0, 50.0]
    w = torch.tensor([3.0], requires_grad=True)
    m, p = torch.tensor(2.0), torch.tensor(0.5)
    assert invariance_loss(m, p, 1.0).item() == pytest.approx(2.5)
    assert invariance_loss(m, p, 10.0).item() == pytest.approx((2.0 + 5.0) / 10)
    assert invariance_loss(m, p, 10.0, l2=0.1, params=[w]).item() == pytest.approx((2.0 + 0.9 + 5.0) / 10)


def test_colored_digits_statistics():
    envs = colored_digits(seed=3)
    assert isinstance(envs, Environments) and len(envs.train) == 2 and set(envs.test) == {"test", "grayscale"}
    for (X, y), flip in zip(envs.train + [envs.test["test"]], (0.2, 0.1, 0.9)):
        assert X.shape[1] == 128 and y.shape == (len(X), 1)
        red, green = X[:, :64], X[:, 64:]
        assert ((red.sum(1) > 0) & (green.sum(1) > 0)).sum() == 0  # exactly one channel lit
        colour = (green.sum(1) > 0).float()
        agree = (colour == y[:, 0]).float().mean().item()
        sd = np.sqrt(flip * (1 - flip) / len(X))
        assert abs(agree - (1 - flip)) < 4.5 * sd, (flip, agree)
    Xg, _ = envs.test["grayscale"]
    torch.testing.assert_close(Xg[:, :64], Xg[:, 64:])
    # the label agrees with [digit < 5] 75% of the time: measured through the grayscale images' digits is not possible,
    # so check the noise rate from two draws of the same test images (independent noise, same digits)
    (Xt, yt), (_, yg) = envs.test["test"], envs.test["grayscale"]
    disagree = (yt != yg).float().mean().item()  # = 2 * 0.25 * 0.75 = 0.375 in expectation
    assert abs(disagree - 0.375) < 4.5 * np.sqrt(0.375 * 0.625 / len(yt))
    # deterministic per seed
    torch.testing.assert_close(colored_digits(seed=3).train[0][0], envs.train[0][0])


def test_fit_alignment_smoke_every_method():
    full = colored_digits(seed=0)
    cut = lambda xy: (xy[0][:60], xy[1][:60])  # a few examples per environment keep this quick
    envs = Environments([cut(e) for e in full.train], {k: cut(v) for k, v in full.test.items()})
    for m in METHODS:
        r = fit_alignment(m, envs, seed=0, steps=4, anneal_iters=2, n_probes=8, track_every=2)
        assert r.steps == [0, 2, 3] and all(np.isfinite(r.hessian_fro)) and set(r.accuracy) >= {"train", "test", "grayscale"}
        assert all(0 <= a <= 1 for a in r.accuracy.values())
    fro, spec = head_hessian_distance(nn.Linear(128, 1), [X for X, _ in envs.train], [y for _, y in envs.train])
    assert 0 < spec <= fro


def test_bad_input():
    w = torch.zeros(3, requires_grad=True)
    L = (w ** 2).sum()
    with pytest.raises(ValueError, match="at least two environments"): hgp_penalty([L], w)
    with pytest.raises(TypeError, match="env_losses must be a list"): hgp_penalty(L, w)
    with pytest.raises(ValueError, match=r"env_losses\[1\] must be a scalar"): hutchinson_penalty([L, w ** 2], w)
    with pytest.raises(ValueError, match=r"env_losses\[0\] is not finite"): rex_penalty([L * float("inf"), L])
    with pytest.raises(ValueError, match="does not depend"): hgp_penalty([torch.tensor(1.0), L], w)
    with pytest.raises(ValueError, match=r"params\[0\] does not require grad"): loss_gradient(L, torch.zeros(3))
    with pytest.raises(ValueError, match="params must hold"): loss_gradient(L, [])
    with pytest.raises(TypeError, match="params must be"): loss_gradient(L, 3)
    g = loss_gradient(L, w)
    with pytest.raises(ValueError, match="g must carry its graph"): hutchinson_diagonal(g.detach(), w)
    with pytest.raises(ValueError, match="g has 3 entries but params have 4"): hutchinson_diagonal(g, [w, torch.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="probes must have shape"): hutchinson_diagonal(g, w, probes=torch.ones(4, 2))
    with pytest.raises(ValueError, match="n_probes must be >= 1"): hutchinson_diagonal(g, w, n_probes=0)
    with pytest.raises(TypeError, match="n_probes must be an integer"): hutchinson_diagonal(g, w, n_probes=2.5)
    with pytest.raises(ValueError, match="g contains NaN"): hutchinson_diagonal(g * float("nan"), w)
    with pytest.raises(ValueError, match="differ in length"): irm_penalty([torch.zeros(2, 1)], [])
    with pytest.raises(ValueError, match="one target per row"): per_sample_head_grads(nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="features must not be empty"): per_sample_head_grads(nn.Linear(2, 1), torch.zeros(0, 2), torch.zeros(0, 1))
    with pytest.raises(ValueError, match="weight must be >= 0"): penalty_weight_at(5, -1.0, 2)
    with pytest.raises(ValueError, match="step must be >= 0"): penalty_weight_at(-1)
    with pytest.raises(ValueError, match=r"train_flips\[0\] must be <= 1"): colored_digits(train_flips=(1.2,))
    with pytest.raises(TypeError, match="train_flips must be a sequence"): colored_digits(train_flips=0.2)
    with pytest.raises(ValueError, match="label_noise must be <= 1"): colored_digits(label_noise=2.0)
    with pytest.raises(ValueError, match="test_fraction must be > 0"): colored_digits(test_fraction=0.0)
    envs = colored_digits(seed=0)
    with pytest.raises(ValueError, match="method must be one of"): fit_alignment("coral", envs)
    with pytest.raises(ValueError, match="steps must be >= 1"): fit_alignment("erm", envs, steps=0)
    with pytest.raises(ValueError, match="lr must be > 0"): fit_alignment("erm", envs, lr=0.0)
    with pytest.raises(ValueError, match="at least two training environments"): fit_alignment("hgp", Environments(envs.train[:1], envs.test))
    with pytest.raises(TypeError, match="envs must be Environments"): fit_alignment("hgp", envs.train)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(weight=-1.0), ValueError, "weight must be >= 0"),
    (dict(weight=float("nan")), ValueError, "weight must be finite"),
    (dict(l2=-0.1), ValueError, "l2 must be >= 0"),
    (dict(penalty=-0.5), ValueError, "penalty must be >= 0"),
    (dict(penalty=torch.tensor(float("inf"))), ValueError, "penalty contains NaN"),
    (dict(penalty=torch.ones(2)), ValueError, "penalty must be a scalar"),
    (dict(mean_loss=torch.tensor(float("nan"))), ValueError, "mean_loss contains NaN"),
    (dict(mean_loss=torch.ones(3)), ValueError, "mean_loss must be a scalar"),
    (dict(weight=1j), TypeError, "weight must be a real number"),
])
def test_invariance_loss_refuses_bad_arguments(kwargs, exc, message):
    from gradnotes.hessian_alignment import invariance_loss
    args = dict(mean_loss=torch.tensor(0.7), penalty=torch.tensor(0.1), weight=10.0) | kwargs
    with pytest.raises(exc, match=message):
        invariance_loss(**args)


def test_invariance_loss_value():
    from gradnotes.hessian_alignment import invariance_loss
    w = torch.ones(2, requires_grad=True)
    out = invariance_loss(torch.tensor(0.7), torch.tensor(0.1), 10.0, l2=0.5, params=[w])
    assert abs(out.item() - (0.7 + 1.0 + 1.0) / 10.0) < 1e-6


def test_head_input_dtype_is_checked_against_the_head_and_named():
    from gradnotes.hessian_alignment import fishr_penalty
    head = nn.Linear(2, 1)  # float32
    X, t = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 1)
    with pytest.raises(TypeError, match=r"features has dtype torch.float64, the head's parameters"):
        per_sample_head_grads(head, X, t)
    with pytest.raises(TypeError, match=r"env_features\[1\] has dtype torch.float64, the head's"):
        fishr_penalty(head, [X.float(), X], [t, t])


@pytest.mark.parametrize("arg", ["l2", "penalty_weight"])
def test_loss_weights_are_bounded_by_the_models_dtype(arg):
    from gradnotes.hessian_alignment import colored_digits, fit_alignment
    envs = colored_digits(seed=0)
    with pytest.raises(ValueError, match=arg):
        fit_alignment("hgp", envs, steps=2, track_every=None, **{arg: 1e300})
