"""O-DICE: one orthogonal-gradient update against one plain true-gradient update (and the
semi-gradient one), the whole step each time: value gradient, Adam, Polyak target, weighted-BC
policy step. Official network sizes (twin V and policy 2×256 with LayerNorm), batch 256, a
17-dimensional state (Hopper's) and 6 actions, random data. Also the official code's way of
getting g_b (a second backward pass into the accumulated .grad, then a difference) with its
per-step `.item()` on c, written here from its description. Medians of interleaved repeats,
torch with one thread.
Goal: O-DICE within 1.3x of a true-gradient update.
"""
import os
import statistics
import time

import torch

from gradnotes.odice import ODICE, DiscretePolicy, Transitions, TwinV, f_star
from goals import goal


def _data(n=4096, d=17, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Transitions(torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g),
                       torch.randn(n, generator=g), torch.randn(n, d, generator=g),
                       (torch.rand(n, generator=g) < 0.01).float())


def _agent(rule, d=17, k=6):
    torch.manual_seed(0)
    return ODICE(TwinV(d), DiscretePolicy(d, k), update=rule)


def _official_style_value_grad(self, b):
    "g_b from a second backward into .grad minus the first; c read back with .item()."
    with torch.no_grad():
        tv, tv2 = self.vf_target(b.s), self.vf_target(b.s2)
    v, v2 = self.vf.both(b.s), self.vf.both(b.s2)
    nd = self.gamma * (1 - b.done)
    lf = (self.lam * f_star(b.r + nd * tv2 - v)).mean()
    lb = (self.lam * self.eta * f_star(b.r + nd * v2 - tv)).mean()
    for p in self.params: p.grad = None
    lf.backward(retain_graph=True)
    gf = torch.cat([p.grad.reshape(-1).clone() for p in self.params])
    lb.backward()
    gb = torch.cat([p.grad.reshape(-1) for p in self.params]) - gf
    c = (torch.dot(gf, gb) / max(torch.dot(gf, gf), 1e-10)).item()   # host sync, as coded
    for p in self.params: p.grad = None
    ((1 - self.lam) * v).mean().backward()
    g0 = torch.cat([p.grad.reshape(-1) for p in self.params])
    return g0 + (1 - c) * gf + gb, (b.r + nd * tv2 - v).detach()


def main(rounds=7, steps=10):
    torch.set_num_threads(1)
    data = _data()
    agents = {"O-DICE (this port)": _agent("orthogonal"), "true gradient": _agent("true"),
              "semi-gradient": _agent("semi"), "O-DICE, official-style grads": _agent("orthogonal")}
    off = agents["O-DICE, official-style grads"]
    off.value_grad = lambda b, self=off: _official_style_value_grad(self, b)
    batches = [data.sample(256, torch.Generator().manual_seed(i)) for i in range(steps)]
    times = {k: [] for k in agents}
    for a in agents.values(): a.update(batches[0])   # warm-up
    load0 = os.getloadavg()[0]
    for _ in range(rounds):                            # interleaved, so load drifts hit all
        for k, a in agents.items():
            t = time.perf_counter()
            for b in batches: a.update(b)
            times[k].append((time.perf_counter() - t) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["true gradient"]
    lines = [f"torch {torch.__version__}, 1 thread; load average {load0:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end; medians of {rounds} interleaved repeats of "
             f"{steps} updates (twin V and policy 2×256 LayerNorm, batch 256, state 17).", "",
             "| update (value + target + policy) | ms per update | / true gradient |",
             "|---|---|---|"]
    for k, v in med.items():
        lines.append(f"| {k} | {1e3 * v:.2f} | {v / base:.2f}x |")
    r = med["O-DICE (this port)"] / base
    lines += ["", goal("O-DICE update at most 1.3x a true-gradient update", f"{r:.2f}x", r <= 1.3)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
