"""Batch-size-1 SGD for the stability experiments: the numba kernels vs the generic torch autograd path.

Both paths run SGD with batch size 1 on the square loss, in float64, fed the same mini-batch indices. The numba
kernel runs `steps` steps; the torch path (Python loop, autograd, one small tensor per operation) runs `steps // 10`
steps, and both are reported per step, so the ratio compares equal work. Before timing, the two paths' parameters
are checked to agree after the torch path's steps. A last line times the exact stability threshold (the
n x n per-example map, by Lanczos) against bisection on the dense D^2 x D^2 operator on a small problem.
Goals: the numba kernel (the CPU path) faster than the torch path on both models; the exact threshold by
Lanczos at most 1.0x dense bisection's time (checked to agree to 1e-8 first).
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("GRADNOTES_QUIET", "1")

import torch

from gradnotes.sgd_stability import (DiagonalLinearNet, TwoLayerReLU, gauss_newton_sharpness, mean_square_radius, sample_indices,
                                     sparse_regression, stability_threshold, teacher_regression, train_sgd)
from goals import goal


def timed(fn, rounds):
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def dense_threshold(G, iters=50):
    lo, hi = 0.0, 4.0 / gauss_newton_sharpness(G).lambda_max
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_square_radius(G, mid) <= 1 else (lo, mid)
    return lo


def main(steps=100_000, rounds=3):
    lines = [f"SGD with batch size 1, float64, square loss; numba runs {steps} steps, torch {steps // 10}; medians of {rounds} rounds; "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads.", "",
             "| model | parameters | numba µs/step | torch µs/step | torch / numba |", "|---|---|---|---|---|"]
    cases = [("diagonal linear net, d = 100", lambda: DiagonalLinearNet(100, 0.5), sparse_regression(seed=0), 0.01),
             ("two-layer ReLU, d = 5, width 200", lambda: TwoLayerReLU(5, 200, scale=10), teacher_regression(seed=0), 0.01)]
    speed = []
    for name, make, data, lr in cases:
        idx = sample_indices(len(data.X), steps, 1, seed=0)
        short = steps // 10
        a, b = make(), make()
        train_sgd(a, data.X, data.y, lr=lr, steps=short, indices=idx, engine="numba", record_every=short)
        train_sgd(b, data.X, data.y, lr=lr, steps=short, indices=idx, engine="torch", record_every=short)
        assert all(torch.allclose(p, q, atol=1e-9) for p, q in zip(a.parameters(), b.parameters())), "numba and torch disagree"
        t_nb = timed(lambda: train_sgd(make(), data.X, data.y, lr=lr, steps=steps, indices=idx, engine="numba", record_every=steps), rounds)
        t_th = timed(lambda: train_sgd(make(), data.X, data.y, lr=lr, steps=short, indices=idx, engine="torch", record_every=short), rounds)
        D = sum(p.numel() for p in make().parameters())
        speed.append((t_th / short) / (t_nb / steps))
        lines.append(f"| {name} | {D} | {1e6 * t_nb / steps:.2f} | {1e6 * t_th / short:.0f} | {(t_th / short) / (t_nb / steps):.0f}x |")
    g = torch.Generator().manual_seed(0)
    G = torch.randn(12, 6, generator=g, dtype=torch.float64) * torch.rand(12, 1, generator=g, dtype=torch.float64)
    t_pi = timed(lambda: stability_threshold(G), rounds)
    t_de = timed(lambda: dense_threshold(G), 1)
    assert abs(stability_threshold(G).eta_star / dense_threshold(G) - 1) < 1e-8
    lines += ["", f"Exact threshold eta* on n = 12 examples, D = 6 parameters: Lanczos on the n x n per-example map {1e3 * t_pi:.1f} ms, "
              f"bisection on the dense 36 x 36 operator {1e3 * t_de:.0f} ms ({t_de / t_pi:.0f}x).", "",
              goal("numba SGD faster than the torch path on both models (torch / numba >= 1.0x)",
                   f"lowest {min(speed):.0f}x", min(speed) >= 1.0),
              goal("Lanczos threshold at most 1.0x dense bisection's time", f"{t_pi / t_de:.3f}x",
                   t_pi <= t_de)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print(main(a.steps, a.rounds))
