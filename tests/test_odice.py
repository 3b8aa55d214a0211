"""O-DICE: the orthogonal-gradient update against an independent autograd computation, the
eta = 0 and true-gradient special cases, the tabular optimum against cvxpy, and bad input."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from gradnotes.odice import (ODICE, DiscretePolicy, GridWorld, Transitions, TwinV,
                             cartpole_dataset, cartpole_returns, f_prime_inverse, f_star,
                             fit_odice)

F64 = torch.float64


def _batch(n=64, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Transitions(torch.randn(n, d, generator=g, dtype=F64),
                       torch.randint(0, 2, (n,), generator=g),
                       torch.randn(n, generator=g, dtype=F64),
                       torch.randn(n, d, generator=g, dtype=F64),
                       (torch.rand(n, generator=g) < 0.1).double())


def _agent(update="orthogonal", seed=0, **kw):
    torch.manual_seed(seed)
    return ODICE(TwinV(4, hidden=16).double(), DiscretePolicy(4, 2, hidden=8).double(),
                 update=update, **kw)


def _perturb_target(agent, seed=1):
    "Move the target away from the online net, as after some training."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in agent.vf_target.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _reference(agent, b):
    """g_0, g_f, g_b recomputed from the definitions, one autograd.grad call per network and
    term, with f* in its closed form (x + 2)_+^2 / 4 - 1 (chi2) or exp(x - 1) (KL)."""
    fs = ((lambda x: torch.clamp_min(x + 2, 0) ** 2 / 4 - 1) if agent.f == "chi2"
          else (lambda x: torch.exp(x - 1)))
    lam, eta, gam = agent.lam, agent.eta, agent.gamma
    with torch.no_grad():
        t1, t2 = agent.vf_target.v1, agent.vf_target.v2
        tv = torch.minimum(t1(b.s), t2(b.s)).squeeze(-1)
        tv2 = torch.minimum(t1(b.s2), t2(b.s2)).squeeze(-1)
    parts = {"g_0": [], "g_f": [], "g_b": []}
    n = len(b)
    for net in (agent.vf.v1, agent.vf.v2):
        ps = list(net.parameters())
        v, v2 = net(b.s).squeeze(-1), net(b.s2).squeeze(-1)
        nd = gam * (1 - b.done)
        # the twin losses are means over 2n entries: each network's term carries 1 / (2n)
        losses = {"g_0": (1 - lam) * v.sum() / (2 * n),
                  "g_f": lam * fs(b.r + nd * tv2 - v).sum() / (2 * n),
                  "g_b": lam * eta * fs(b.r + nd * v2 - tv).sum() / (2 * n)}
        for k, loss in losses.items():
            parts[k].append(torch.autograd.grad(loss, ps, retain_graph=True))
    flat = {k: torch.cat([g.reshape(-1) for g in v[0]] + [g.reshape(-1) for g in v[1]])
            for k, v in parts.items()}
    return flat


@pytest.mark.parametrize("f", ["chi2", "kl"])
def test_orthogonal_update_matches_independent_autograd(f):
    agent, b = _agent(f=f), _batch()
    _perturb_target(agent)
    ref = _reference(agent, b)
    got = agent.value_gradients(b)
    for k in ("g_0", "g_f", "g_b"):
        torch.testing.assert_close(got[k], ref[k], rtol=1e-10, atol=1e-12)
    c = torch.dot(ref["g_f"], ref["g_b"]) / torch.dot(ref["g_f"], ref["g_f"])
    expected = ref["g_0"] + ref["g_f"] + ref["g_b"] - c * ref["g_f"]
    g, _ = agent.value_grad(b)
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)
    # <g - g_0 - g_f, g_f> = 0: what is added to g_f is orthogonal to it
    assert abs(float(torch.dot(g - ref["g_0"] - ref["g_f"], ref["g_f"]))) < 1e-12 * float(
        ref["g_f"].norm() * (g.norm() + 1))
    assert isinstance(got["c"], torch.Tensor) and got["c"].ndim == 0


def test_update_applies_the_gradient_with_adam_and_polyak():
    agent, b = _agent(), _batch()
    _perturb_target(agent)
    twin = copy.deepcopy(agent.vf)
    target_before = [p.clone() for p in agent.vf_target.parameters()]
    g, _ = agent.value_grad(b)
    agent.update(b)
    opt = torch.optim.Adam(twin.parameters(), lr=agent.v_opt.param_groups[0]["lr"])
    for p, gi in zip(twin.parameters(), torch.split(g, [p.numel() for p in twin.parameters()])):
        p.grad = gi.view_as(p).clone()
    opt.step()
    for p, q in zip(agent.vf.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)
    for t, t0, p in zip(agent.vf_target.parameters(), target_before, agent.vf.parameters()):
        torch.testing.assert_close(t, (1 - agent.beta) * t0 + agent.beta * p, rtol=0, atol=1e-14)


def test_eta_zero_is_the_semi_gradient_update(one_thread):
    a0, semi = _agent(eta=0.0), _agent("semi")
    _perturb_target(a0), _perturb_target(semi)
    data = _batch(256, seed=3)
    gen0, gen1 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    for _ in range(5):
        a0.update(data.sample(32, gen0))
        semi.update(data.sample(32, gen1))
    for p, q in zip(list(a0.vf.parameters()) + list(a0.policy.parameters()),
                    list(semi.vf.parameters()) + list(semi.policy.parameters())):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_true_gradient_is_forward_plus_backward_for_one_network_at_its_target():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0)).double()
    pol = DiscretePolicy(4, 2, hidden=8).double()
    b = _batch()
    g = ODICE(net, pol).value_gradients(b)
    true, _ = ODICE(net, pol, update="true").value_grad(b)
    torch.testing.assert_close(g["g_0"] + g["g_f"] + g["g_b"], true, rtol=1e-10, atol=1e-12)


def _exact_program(world, data, lam, f):
    cp = pytest.importorskip("cvxpy")
    s, s2 = data.s.argmax(1).numpy(), data.s2.argmax(1).numpy()
    r, d = data.r.numpy(), data.done.numpy()
    V = cp.Variable(world.S)
    res = r + world.gamma * cp.multiply(1 - d, V[s2]) - V[s]
    fsum = (cp.sum(cp.square(cp.pos(res + 2))) / 4 - len(s) if f == "chi2"
            else cp.sum(cp.exp(res - 1)))
    prob = cp.Problem(cp.Minimize(((1 - lam) * cp.sum(V[s]) + lam * fsum) / len(s)))
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return V.value


@pytest.mark.parametrize("f,lam", [("chi2", 0.8), ("kl", 0.5)])
def test_tabular_true_gradient_optimum_is_the_cvxpy_optimum(f, lam, one_thread):
    world = GridWorld(n=5, pits=((2, 1), (2, 2)))
    data = world.dataset(world.behaviour(0.6), episodes=60, horizon=40, seed=0, dtype=F64)
    seen = data.s.sum(0).numpy() > 0
    V_cvx = _exact_program(world, data, lam, f)
    torch.manual_seed(0)
    agent = ODICE(TwinV(world.S, n_hidden=0).double(),
                  DiscretePolicy(world.S, 4, n_hidden=0).double(), update="true", lam=lam,
                  f=f, value_lr=0.3)
    fit_odice(agent, data, steps=400, batch_size=None, every=400)
    with torch.no_grad():
        V = agent.vf.both(torch.eye(world.S, dtype=F64)).numpy()
    for Vi in V:
        np.testing.assert_allclose(Vi[seen], V_cvx[seen], atol=2e-3 * np.abs(V_cvx).max())


def test_gridworld_dp():
    world = GridWorld()
    V, Q = world.optimal_values()
    np.testing.assert_allclose(world.policy_values(np.eye(4)[Q.argmax(1)]), V, atol=1e-8)
    # Bellman optimality at every non-terminal cell
    keep = ~world.terminal
    np.testing.assert_allclose(V[keep], (world.R + world.gamma * world.P @ V).max(1)[keep],
                               atol=1e-9)


def test_fit_is_deterministic_and_logs_cosines(one_thread):
    world = GridWorld(n=4, pits=())
    data = world.dataset(world.behaviour(0.5), episodes=20, seed=1)
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        ag = ODICE(TwinV(world.S, n_hidden=0), DiscretePolicy(world.S, 4, n_hidden=0),
                   value_lr=0.05, policy_lr=0.05)
        h = fit_odice(ag, data, steps=20, batch_size=16, seed=2, every=5)
        out.append((h["cos"], [p.detach().clone() for p in ag.vf.parameters()]))
    assert out[0][0] == out[1][0] and len(out[0][0]) == 4
    assert all(-1 <= c <= 1 for c in out[0][0])
    for p, q in zip(out[0][1], out[1][1]): torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_cartpole_data_and_returns():
    pytest.importorskip("gymnasium")
    data = cartpole_dataset(300, seed=0)
    assert len(data) == 300 and data.s.shape == (300, 4) and set(data.a.tolist()) <= {0, 1}
    torch.manual_seed(0)
    pol = DiscretePolicy(4, 2, hidden=8)
    r = cartpole_returns(pol, episodes=2, perturb=0.5, max_steps=50)
    assert r.shape == (2,) and (r >= 1).all() and (r <= 50).all()


def test_f_star_and_weights():
    x = torch.linspace(-4, 4, 33, dtype=F64)
    torch.testing.assert_close(f_star(x), torch.clamp_min(x + 2, 0) ** 2 / 4 - 1)
    torch.testing.assert_close(f_star(x, "kl"), torch.exp(x - 1))
    torch.testing.assert_close(f_prime_inverse(x), torch.clamp_min(x, 0))


# ---- bad input -------------------------------------------------------------------------

def test_continuous_actions_for_a_discrete_head():
    b = _batch()
    with pytest.raises(TypeError, match="a must hold integer action indices"):
        Transitions(b.s, torch.randn(len(b), dtype=F64), b.r, b.s2, b.done)
    with pytest.raises(ValueError, match="a must have shape"):
        Transitions(b.s, torch.zeros(len(b), 2, dtype=torch.long), b.r, b.s2, b.done)
    agent = _agent()
    big = Transitions(b.s, torch.full((len(b),), 3), b.r, b.s2, b.done)
    with pytest.raises(ValueError, match="data.a holds action 3"):
        fit_odice(agent, big, steps=1)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 1.5, -0.2, float("nan")])
def test_discount_outside_unit_interval(gamma):
    with pytest.raises(ValueError, match="gamma"):
        _agent(gamma=gamma)
    with pytest.raises(ValueError, match="gamma"):
        GridWorld(gamma=gamma)


@pytest.mark.parametrize("kw", [dict(lam=-0.1), dict(lam=1.5), dict(eta=-1.0),
                                dict(beta=0.0), dict(value_lr=-1e-3), dict(max_weight=0.0)])
def test_negative_or_invalid_hyperparameters(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        _agent(**kw)


def test_bad_options_and_types():
    with pytest.raises(ValueError, match="update"):
        _agent("projected")
    with pytest.raises(ValueError, match="f must be one of"):
        _agent(f="hellinger")
    with pytest.raises(TypeError, match="vf"):
        ODICE(lambda s: s, DiscretePolicy(4, 2))
    with pytest.raises(TypeError, match="batch"):
        _agent().value_gradients({"s": torch.zeros(3, 4)})


def test_empty_data_and_nonfinite_rewards():
    b = _batch()
    with pytest.raises(ValueError, match="s must not be empty"):
        Transitions(b.s[:0], b.a[:0], b.r[:0], b.s2[:0], b.done[:0])
    for bad in (float("nan"), float("inf")):
        r = b.r.clone()
        r[3] = bad
        with pytest.raises(ValueError, match="r contains NaN or infinite"):
            Transitions(b.s, b.a, r, b.s2, b.done)
    with pytest.raises(ValueError, match="s2 must have shape"):
        Transitions(b.s, b.a, b.r, b.s2[:-1], b.done)
    with pytest.raises(ValueError, match="done must hold only 0 and 1"):
        Transitions(b.s, b.a, b.r, b.s2, b.done + 0.5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        cartpole_dataset(0)
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        GridWorld().dataset(GridWorld().behaviour(), episodes=0)
