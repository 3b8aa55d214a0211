"""IGNITE: the cost of a surrogate step, and the exhaustive Potts oracle.

1. One training step of the design-baselines surrogate (2 x 256, leaky ReLU, Gaussian head) on a
   batch of 128 TFBind8-shaped inputs (32 features): a plain Adam step against an IGNITE step with
   the official finite-difference Hessian-vector product and with the exact double-backward one.
2. Scoring all 65,536 length-8 sequences with a random Potts model: the numba kernel against the
   vectorized torch path (one-hot products). Medians over repeats; torch and numba with one thread.
Goals: an IGNITE step (official finite difference) at most 3x a plain step (it adds two gradient
evaluations) and at most 1.0x the exact double-backward step; the numba oracle (the CPU default) faster
than the torch path.
"""
import os
import statistics
import time

import torch

from gradnotes.ignite import (GaussianSurrogate, Ignite, all_sequences, gaussian_nll,
                              make_potts, potts_score)
from goals import goal


def timed(fns, rounds):
    "Median seconds of each function; the repeats are interleaved so load drifts hit all."
    for fn in fns.values(): fn()  # warm-up (numba compilation or cache load, first calls)
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter(); fn(); ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def step_fn(kind, X, y):
    torch.manual_seed(0)
    model = GaussianSurrogate(X.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ig = None if kind == "plain" else Ignite(model, opt, hvp=kind)
    def step():
        loss = gaussian_nll(model(X), y)
        if ig is None:
            opt.zero_grad(); loss.backward(); opt.step()
        else:
            ig.step(loss, X)
    return step


def main(rounds=30):
    torch.set_num_threads(1)
    lines = [f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()[0]:.1f} at the "
             f"start; medians of {rounds} repeats, interleaved (ms).", "",
             "| work | time (ms) | / plain step |", "|---|---|---|"]
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(128, 32, generator=g), torch.randn(128, generator=g)
    t = timed({k: step_fn(k, X, y) for k in ("plain", "fd", "exact")}, rounds)
    names = {"plain": "plain Adam step", "fd": "IGNITE step, finite difference (official)",
             "exact": "IGNITE step, exact (double backward)"}
    for k, name in names.items():
        lines.append(f"| {name}, 2 x 256 surrogate, batch 128 | {1e3 * t[k]:.2f} | "
                     f"{t[k] / t['plain']:.2f}x |")
    oracle, seqs = make_potts(seed=0), all_sequences()
    s = timed({e: (lambda e=e: potts_score(oracle, seqs, engine=e)) for e in ("numba", "torch")},
              max(3, rounds // 5))
    lines += ["", "| Potts oracle, all 65,536 length-8 sequences | time (ms) | / numba |",
              "|---|---|---|",
              f"| numba kernel | {1e3 * s['numba']:.2f} | 1.0x |",
              f"| torch, one-hot products | {1e3 * s['torch']:.2f} | "
              f"{s['torch'] / s['numba']:.1f}x |", "",
              goal("IGNITE step (finite difference) at most 3x a plain Adam step",
                   f"{t['fd'] / t['plain']:.2f}x", t['fd'] <= 3 * t['plain']),
              goal("IGNITE step (finite difference) at most 1.0x the exact one",
                   f"{t['fd'] / t['exact']:.2f}x", t['fd'] <= t['exact']),
              goal("numba Potts oracle faster than the torch path (torch / numba >= 1.0x)",
                   f"{s['torch'] / s['numba']:.1f}x", s['torch'] >= s['numba']),
              f"\nload average {os.getloadavg()[0]:.1f} at the end."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
