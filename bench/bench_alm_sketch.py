"""AdaSketch-Newton: Kaczmarz sweeps in numba vs torch, and sketch solves vs a direct solve as N grows.

1. 20,000 randomized Kaczmarz steps (the same rows) on a dense saddle system and on the sparse KKT
   system of the Poisson control problem, numba kernel vs the torch path; medians over repeats.
2. Solving random dense saddle systems (B = M M^T / n + I, G Gaussian, m = n / 4) to a relative residual
   of 1e-6 by randomized Kaczmarz and by torch.linalg.solve, for growing N = n + m: medians, ratios and
   the fitted growth exponent of each (time ~ N^p).
3. The same on the sparse Poisson KKT systems (N = 3 x grid points): Kaczmarz against scipy's sparse LU,
   aiming at a relative residual of 1e-3 (Kaczmarz needs ~ (||K||_F / sigma_min)^2 steps per factor e;
   within the step cap it does not get there even at the smallest grid, as the page reports: the
   table says whether each run converged).
Goals: the numba kernel faster than the torch path on both systems (it is the CPU path); randomized
Kaczmarz, the sketch solver the method rests on, at most 1.0x a direct solve's time at the largest dense
and the largest sparse system (converged).
"""
import math
import statistics
import time

import numpy as np
import torch

from gradnotes.alm_sketch import PoissonControl, Sketcher, kkt_matrix, sketch_solve
from gradnotes.core import torch_threads
from goals import goal

F64 = torch.float64


def saddle(n, seed=0):
    m = max(1, n // 4)
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(n, n, generator=g, dtype=F64)
    G = torch.randn(m, n, generator=g, dtype=F64)
    return kkt_matrix(M @ M.T / n + torch.eye(n, dtype=F64), G), torch.randn(n + m, generator=g,
                                                                              dtype=F64)


def poisson_kkt(N):
    q = PoissonControl(N)
    P = q.parts(q.x0, torch.zeros(N, dtype=F64))
    return kkt_matrix(P.H, P.G)


def median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def slope(ns, ts):
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main(repeats=3, threads=1):
    with torch_threads(threads):
        return _run(repeats)


def _run(repeats):
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float64; wall-clock "
             "medians.", "", "| system | N | numba ms | torch ms | torch / numba |",
             "|---|---|---|---|---|"]
    speedups = []
    for label, K in (("dense saddle", saddle(60)[0]), ("Poisson KKT (sparse)", poisson_kkt(500))):
        b = torch.ones(K.shape[0], dtype=F64)
        t = {}
        for engine in ("numba", "torch"):
            sk = Sketcher(K, "rk", engine)
            sk.solve(b, 0.0, 100, None, 0)                     # compile / warm up
            t[engine] = median_time(lambda: sk.solve(b, 0.0, 20_000, None, 1), repeats) * 1e3
        speedups.append(t['torch'] / t['numba'])
        lines.append(f"| {label} | {K.shape[0]} | {t['numba']:.1f} | {t['torch']:.0f} "
                     f"| {t['torch'] / t['numba']:.0f}x |")

    lines += ["", "Dense saddle systems, relative residual 1e-6:", "",
              "| N | Kaczmarz steps | Kaczmarz ms | solve ms | Kaczmarz / solve |",
              "|---|---|---|---|---|"]
    Ns, tk, td = [], [], []
    for n in (40, 80, 160, 320):
        K, b = saddle(n)
        out = sketch_solve(K, b, 1e-6, "rk", 10 ** 8)
        a = median_time(lambda: sketch_solve(K, b, 1e-6, "rk", 10 ** 8), repeats)
        d = median_time(lambda: torch.linalg.solve(K, b), max(repeats, 5))
        Ns.append(K.shape[0]); tk.append(a); td.append(d)
        lines.append(f"| {K.shape[0]} | {out.steps} | {a * 1e3:.1f} | {d * 1e3:.2f} | {a / d:.0f}x |")
    lines.append(f"\nGrowth exponents (time ~ N^p): Kaczmarz p = {slope(Ns, tk):.2f}, "
                 f"dense solve p = {slope(Ns, td):.2f}.")
    dense_ratio = tk[-1] / td[-1]

    from scipy.sparse.linalg import spsolve
    from gradnotes.alm_sketch import _to_scipy
    lines += ["", "Sparse Poisson KKT systems, relative residual 1e-3:", "",
              "| N | Kaczmarz steps | converged | Kaczmarz ms | sparse LU ms | Kaczmarz / LU |",
              "|---|---|---|---|---|---|"]
    for grid in (25, 50, 100):
        K = poisson_kkt(grid)
        b = torch.ones(K.shape[0], dtype=F64)
        out = sketch_solve(K, b, 1e-3, "rk", 2 * 10 ** 6)
        a = median_time(lambda: sketch_solve(K, b, 1e-3, "rk", 2 * 10 ** 6), repeats)
        Ks = _to_scipy(K).tocsc()
        d = median_time(lambda: spsolve(Ks, b.numpy()), max(repeats, 5))
        lines.append(f"| {K.shape[0]} | {out.steps} | {out.converged} | {a * 1e3:.1f} "
                     f"| {d * 1e3:.2f} | {a / d:.0f}x |")
    sparse_ok, sparse_ratio = bool(out.converged), a / d
    lines += ["", goal("numba Kaczmarz faster than the torch path on both systems (torch / numba "
                       ">= 1.0x)", f"lowest {min(speedups):.0f}x", min(speedups) >= 1.0),
              goal(f"Kaczmarz at most 1.0x torch.linalg.solve's time on the largest dense system "
                   f"(N = {Ns[-1]})", f"{dense_ratio:.0f}x", dense_ratio <= 1.0),
              goal(f"Kaczmarz converged and at most 1.0x scipy's sparse LU on the largest Poisson "
                   f"system (N = {K.shape[0]})", f"{sparse_ratio:.0f}x, "
                   f"{'converged' if sparse_ok else 'not converged'}",
                   sparse_ok and sparse_ratio <= 1.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
