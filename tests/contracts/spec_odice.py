import numpy as np
import torch

from gradnotes import odice as m
from harness import Arr, Int, NONNEG, Num, POS, PROB, Spec

NOLOOP = Int(1, huge=False)   # widths, steps, episodes: a huge one is a long run, not a bug
UNIT_OPEN = Num(0, 1, low_open=True, high_open=True)


def _gen(seed=0): return torch.Generator().manual_seed(seed)


def _x(n=6, d=4, seed=0): return torch.randn(n, d, generator=_gen(seed))


def _tr_args():
    return dict(s=_x(), a=torch.arange(6) % 2, r=torch.randn(6, generator=_gen(2)),
                s2=_x(seed=3), done=(torch.arange(6) == 5).float())


def _data(): return m.Transitions(**_tr_args())


def _agent(**kw):
    torch.manual_seed(0)
    return m.ODICE(m.TwinV(4, hidden=8), m.DiscretePolicy(4, 2, hidden=8), **kw)


def _odice_args():
    return dict(update="orthogonal", lam=0.8, eta=1.0, gamma=0.99, beta=0.005, f="chi2",
                value_lr=2e-4, policy_lr=2e-4, weight_decay=1e-4, max_weight=100.0)


def _odice_call(a):
    agent = _agent(**a)
    return agent.update(_data())


def _scripted():
    class P(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def act(self, s): return torch.tensor([m.cartpole_controller(s[0].numpy())])
    return P()


def _tr_call(a):
    t = m.Transitions(**a)
    return t.s, t.a, t.r, t.s2, t.done, t.sample(3, _gen())


SPECS = {
    "f_star": Spec(lambda: dict(x=_x(5, 1)[:, 0], f="chi2"),
                   tensors={"x": Arr(ndim=None, finite=False, empty_ok=True)}, choices=("f",)),
    "f_prime_inverse": Spec(lambda: dict(x=_x(5, 1)[:, 0], f="chi2"),
                            tensors={"x": Arr(ndim=None, finite=False, empty_ok=True)},
                            choices=("f",)),
    "TwinV": Spec(lambda: dict(state_dim=4, hidden=8, n_hidden=2, layer_norm=True),
                  call=lambda a: m.TwinV(**a).both(torch.randn(3, a["state_dim"]
                                                               if isinstance(a["state_dim"], int)
                                                               else 4)).detach(),
                  ints={"state_dim": NOLOOP, "hidden": NOLOOP, "n_hidden": Int(0, huge=False)}),
    "DiscretePolicy": Spec(lambda: dict(state_dim=4, n_actions=3, hidden=8, n_hidden=1),
                           call=lambda a: m.DiscretePolicy(**a).act(torch.zeros(2, 4)),
                           ints={"state_dim": NOLOOP, "n_actions": Int(2, huge=False),
                                 "hidden": NOLOOP, "n_hidden": Int(0, huge=False)}),
    "Transitions": Spec(_tr_args, call=_tr_call,
                        tensors={"s": Arr(ndim=2), "a": Arr(floating=False, ndim=1),
                                 "r": Arr(ndim=1), "s2": Arr(ndim=2),
                                 "done": Arr(ndim=1, int_ok=True)},
                        same_length=(("s", "a", "r", "s2", "done"),)),
    "ODICE": Spec(_odice_args, call=_odice_call,
                  numbers={"lam": PROB, "eta": NONNEG, "gamma": UNIT_OPEN,
                           "beta": Num(0, 1, low_open=True), "value_lr": Num(0, 1e3, low_open=True),
                           "policy_lr": Num(0, 1e3, low_open=True),
                           "weight_decay": Num(0, 1e3), "max_weight": Num(0, 1e6, low_open=True)},
                  choices=("update", "f")),
    "fit_odice": Spec(lambda: dict(agent=_agent(), data=_data(), steps=2, batch_size=4, seed=0,
                                   every=1),
                      ints={"steps": NOLOOP, "batch_size": NOLOOP, "seed": Int(0), "every": Int(0)}),
    "GridWorld": Spec(lambda: dict(n=4, slip=0.1, gamma=0.9),
                      call=lambda a: m.GridWorld(pits=(), **a).optimal_values()[0],
                      ints={"n": Int(2, 64)}, numbers={"slip": PROB, "gamma": UNIT_OPEN}),
    "cartpole_controller": Spec(lambda: dict(obs=np.array([0.0, 0.1, 0.02, -0.1]))),
    "cartpole_dataset": Spec(lambda: dict(n=50, eps=0.55, seed=0),
                             ints={"n": Int(1, huge=False), "seed": Int(0)},
                             numbers={"eps": PROB}),
    "cartpole_returns": Spec(lambda: dict(policy=_scripted(), episodes=1, seed=0, perturb=0.5,
                                          max_steps=20),
                             ints={"episodes": NOLOOP, "seed": Int(0),
                                   "max_steps": NOLOOP},
                             numbers={"perturb": Num(0, 10)}),
}
OPT_OUT = {"F_NAMES": "a tuple of names, not a callable",
           "UPDATES": "a tuple of names, not a callable"}
XFAIL = {}

SPECS["compare_on_cartpole"] = Spec(
    lambda: dict(seed=0, steps=2, n=40, hidden=4, episodes=1, rules=("semi",), perturb=0.5),
    ints={"seed": Int(0), "steps": NOLOOP, "n": NOLOOP, "hidden": NOLOOP, "episodes": NOLOOP},
    numbers={"perturb": Num(0, 10)})
