"""IGNITE: the sharpness gradient (finite difference vs double backward vs torch.func), the
primal-dual step against a hand-written one, the Potts engines, the tasks, and bad input."""
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jvp

from gradnotes.ignite import (GaussianSurrogate, Ignite, all_sequences, continuous_task,
                              fit_surrogate, gaussian_nll, gradient_ascent, hide_top,
                              logits_to_seqs, make_potts, neg_ackley, percentiles,
                              potts_score, potts_task, seqs_to_logits, sharpness_grad,
                              top_designs)


def _net(act=nn.Tanh, seed=0):
    torch.manual_seed(seed)
    return GaussianSurrogate(4, hidden=(12, 12), act=act).double()


def _X(n=32, d=4, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_exact_sharpness_gradient_equals_forward_over_reverse_hvp():
    net, X = _net(), _X()
    p = {k: v.detach() for k, v in net.named_parameters()}
    G = lambda q: functional_call(net, q, (X,))[:, 0].mean()
    v = grad(G)(p)
    n = math.sqrt(sum((t ** 2).sum() for t in v.values()))
    u = {k: t / n for k, t in v.items()}
    _, Hu = jvp(grad(G), (p,), (u,))
    S, d = sharpness_grad(net, X)
    torch.testing.assert_close(S.item(), n, rtol=1e-12, atol=0)
    torch.testing.assert_close(d, torch.cat([t.reshape(-1) for t in Hu.values()]),
                               rtol=1e-9, atol=1e-12)


def test_finite_difference_converges_at_first_order_on_a_smooth_net():
    net, X = _net(), _X()
    _, d = sharpness_grad(net, X)
    errs = [(sharpness_grad(net, X, r=r)[1] - d).norm() / d.norm() for r in (1e-2, 1e-3, 1e-4)]
    assert errs[0] / errs[1] > 5 and errs[1] / errs[2] > 5 and errs[2] < 1e-4


@pytest.mark.parametrize("opt", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                 lambda p: torch.optim.Adam(p, lr=1e-2)])
def test_step_matches_a_hand_written_penalized_step(opt):
    X, y = _X(), _X(32, 1, seed=1)[:, 0]
    ref, net = _net(nn.LeakyReLU), _net(nn.LeakyReLU)
    o_ref, o = opt(ref.parameters()), opt(net.parameters())
    ig = Ignite(net, o, lam=0.3, rho=0.5, hvp="exact", dual=False)
    for _ in range(3):
        ps = list(ref.parameters())
        gL = torch.autograd.grad(gaussian_nll(ref(X), y), ps)
        v = torch.autograd.grad(ref(X)[:, 0].mean(), ps, create_graph=True)
        S = torch.sqrt(sum((t ** 2).sum() for t in v))
        dS = torch.autograd.grad(S, ps, materialize_grads=True)
        for p, a, b in zip(ps, gL, dS): p.grad = a + 0.3 * 0.5 * b
        o_ref.step()
        ig.step(gaussian_nll(net(X), y), X)
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert ig.lam.item() == pytest.approx(0.3)


def test_dual_step_and_clipping():
    net, X = _net(), _X()
    y = torch.zeros(32, dtype=torch.float64)
    ig = Ignite(net, torch.optim.SGD(net.parameters(), lr=0.0), lam=0.01, rho=1.0, eps=0.0,
                lr_lambda=0.5)
    S = sharpness_grad(net, X)[0].item()
    ig.step(gaussian_nll(net(X), y), X)
    assert ig.lam.item() == pytest.approx(0.01 + 0.5 * S)
    ig2 = Ignite(net, torch.optim.SGD(net.parameters(), lr=0.0), lam=0.01, eps=100.0,
                 clip_lambda=True)
    ig2.step(gaussian_nll(net(X), y), X)
    assert ig2.lam.item() == 0.0
    fixed = Ignite.fixed(net, torch.optim.SGD(net.parameters(), lr=0.0))
    assert (fixed.lam.item(), fixed.rho, fixed.r, fixed.dual) == (pytest.approx(0.01), 0.2, 0.2,
                                                                  False)


def test_potts_engines_agree_on_every_design():
    oracle = make_potts(length=6, alphabet=4, seed=3)
    seqs = all_sequences(6, 4)
    torch.testing.assert_close(potts_score(oracle, seqs, engine="numba"),
                               potts_score(oracle, seqs, engine="torch"), rtol=0, atol=1e-10)


def test_logits_round_trip_and_task_hides_the_top():
    seqs = all_sequences(4, 3)
    torch.testing.assert_close(logits_to_seqs(seqs_to_logits(seqs, 3), 4, 3), seqs)
    oracle = make_potts(length=6, alphabet=3, seed=1)
    task = potts_task(oracle, seed=2)
    f = potts_score(oracle, all_sequences(6, 3))
    raw = task.score(task.x)
    assert raw.max() < torch.quantile(f, 0.5) and task.normalize(f).max() == 1.0
    assert len(task.x) == int(0.3 * (f < torch.quantile(f, 0.5)).sum())


def test_pipeline_runs_and_percentiles_are_normalized():
    task = continuous_task(neg_ackley, 3, n=400, seed=0)
    model, h = fit_surrogate(task, "ignite2", epochs=2, hidden=(8,), seed=0)
    assert len(h.sharpness) == 2 and all(math.isfinite(s) for s in h.sharpness)
    x = gradient_ascent([model, model], top_designs(task, 16), steps=5)
    p = percentiles(task, x)
    assert p[100] >= p[50] and p[100] <= 1.0 + 1e-6


def test_bad_input():
    net = _net()
    opt = torch.optim.Adam(net.parameters())
    with pytest.raises(ValueError, match="lam must be >= 0"): Ignite(net, opt, lam=-1)
    with pytest.raises(ValueError, match="rho must be >= 0"): Ignite(net, opt, rho=-0.1)
    with pytest.raises(ValueError, match="r must be > 0"): Ignite(net, opt, r=0)
    with pytest.raises(ValueError, match="hvp must be one of"): Ignite(net, opt, hvp="jvp")
    with pytest.raises(ValueError, match="offline set is empty"):
        hide_top(torch.randn(10), fraction=0.01)
    with pytest.raises(ValueError, match="y contains NaN"):
        hide_top(torch.tensor([1.0, float("inf"), 0.0]))
    with pytest.raises(ValueError, match="non-finite scores"):
        continuous_task(lambda x: torch.log(x[:, 0]), 2, n=50)
    with pytest.raises(ValueError, match="letters 0..3"):
        potts_score(make_potts(), torch.full((2, 8), 7))
    with pytest.raises(TypeError, match="integer dtype"):
        potts_score(make_potts(), torch.zeros(2, 8))
    with pytest.raises(TypeError, match="model's dtype"):
        sharpness_grad(net, _X().float())
    with pytest.raises(ValueError, match="output"):
        sharpness_grad(net, _X(), output=2)
    with pytest.raises(ValueError, match="loss must be a scalar"):
        Ignite(net, opt).step(net(_X())[:, 0], _X())
