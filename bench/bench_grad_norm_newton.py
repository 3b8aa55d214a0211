"""Time per iteration: GNS (Algorithm 1) vs scipy.optimize.minimize(method="trust-exact"), and rank-one vs Cholesky solves.

Problem: the LogSumExp objective of the paper (A, b ~ U(-1, 1), optimum moved to 0, x0 = 1, mu = 0.25), in
float64 on the CPU. GNS runs with the exact Hessian and with the weighted Gauss-Newton matrix in the metric
B = A^T A; trust-exact (an exact-Hessian trust-region Newton method that factorizes H + lambda I per inner step)
gets the same value, gradient and exact Hessian as NumPy callbacks. Each is run for a fixed number of iterations
from the same start, several rounds interleaved; the table reports the median seconds per iteration and per
Hessian evaluation, and the ratio to trust-exact measured in the same run. A second table times one regularized
solve (H + lam B) d = -g with H rank one: Sherman-Morrison against a dense Cholesky factorization.
Goals: a GNS iteration (either Hessian) at most 1.0x a trust-exact iteration at every n; the rank-one
solve at least 10x faster than the dense Cholesky solve at every n (O(n^2) against O(n^3) work).
"""
import argparse
import statistics
import time

import numpy as np
import torch

from gradnotes.grad_norm_newton import LogSumExp, RankOne, StepSolver, Metric, as_dense, gns_minimize
from goals import goal


def problem(n, mu=0.25, seed=3124):
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(n, n, generator=g, dtype=torch.float64) * 2 - 1
    b = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    return LogSumExp(A, b, mu, shift_to_zero=True), torch.ones(n, dtype=torch.float64), A.T @ A


def per_iteration(run, rounds):
    "Median over rounds of (seconds / iterations) for a callable returning the number of iterations."
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        its = run()
        out.append((time.perf_counter() - t) / max(its, 1))
    return statistics.median(out)


def main(sizes=(100, 300), iters=15, rounds=3):
    from scipy.optimize import minimize
    lines = [f"LogSumExp, mu = 0.25, float64, CPU, torch {torch.__version__} ({torch.get_num_threads()} threads); "
             f"{iters} iterations from x0 = 1, median of {rounds} rounds.", "",
             "| n = m | method | ms / iteration | vs scipy trust-exact |", "|---|---|---|---|"]
    vs_scipy, vs_chol = [], []
    for n in sizes:
        obj, x0, B = problem(n)
        fun = lambda z: obj.value(torch.from_numpy(z))
        jac = lambda z: obj.grad(torch.from_numpy(z)).numpy()
        hess = lambda z: obj.hess(torch.from_numpy(z)).numpy()
        runs = {
            "GNS, exact Hessian": lambda: gns_minimize(obj, x0, "exact", B, max_iter=iters, progress_bar=False).n_iter,
            "GNS, weighted Gauss-Newton": lambda: gns_minimize(obj, x0, "approx", B, max_iter=iters, progress_bar=False).n_iter,
            "scipy trust-exact": lambda: minimize(fun, x0.numpy(), jac=jac, hess=hess, method="trust-exact",
                                                  options={"maxiter": iters, "gtol": 1e-300}).nit,
        }
        samples = {k: [] for k in runs}
        for _ in range(rounds):  # interleave so that drifts in machine load hit every method alike
            for k, r in runs.items():
                samples[k].append(per_iteration(r, 1))
        med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        for k, v in med.items():
            lines.append(f"| {n} | {k} | {v:.2f} | {v / med['scipy trust-exact']:.2f}x |")
            if k.startswith("GNS"): vs_scipy.append(v / med['scipy trust-exact'])
    lines += ["", "One trial solve (H + lam B) d = -g with a rank-one H, the metric B factorized and the per-iteration setup done, median of 20:", "",
              "| n | Sherman-Morrison ms | dense Cholesky ms | ratio |", "|---|---|---|---|"]
    for n in (300, 1000):
        g = torch.Generator().manual_seed(0)
        M = torch.randn(2 * n, n, generator=g, dtype=torch.float64)
        metric = Metric(M.T @ M, n, M)
        v, grad = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
        H = RankOne(2.0, v)
        # per-trial cost: the solvers are set up once per iteration (B^{-1}g, B^{-1}v for Sherman-Morrison)
        sm_solver, chol_solver = StepSolver(H, grad, metric), StepSolver(as_dense(H), grad, metric)
        def sm(): return sm_solver(0.1)
        def chol(): return chol_solver(0.1)
        torch.testing.assert_close(sm(), chol(), rtol=1e-6, atol=1e-9)
        t_sm, t_ch = [], []
        for _ in range(20):
            t = time.perf_counter(); sm(); t_sm.append(time.perf_counter() - t)
            t = time.perf_counter(); chol(); t_ch.append(time.perf_counter() - t)
        a, c = statistics.median(t_sm) * 1e3, statistics.median(t_ch) * 1e3
        lines.append(f"| {n} | {a:.3f} | {c:.3f} | {c / a:.0f}x |")
        vs_chol.append(c / a)
    lines += ["", goal("a GNS iteration at most 1.0x a scipy trust-exact iteration at every n",
                       f"worst {max(vs_scipy):.2f}x", max(vs_scipy) <= 1.0),
              goal("Sherman-Morrison at least 10x faster than a dense Cholesky solve at every n",
                   f"lowest {min(vs_chol):.0f}x", min(vs_chol) >= 10)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print(main(iters=a.iters, rounds=a.rounds))
