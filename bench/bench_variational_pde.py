"""The preconditioner of the variational-PDE page: (I - Laplacian)^{-1} by FFT vs scipy sparse direct solves.

One application of (I - Laplacian)^{-1} to a grid function on the periodic unit torus, float64, one torch thread,
on n x n grids. Ours: `helmholtz_inverse` (torch.fft rfft2, a division, irfft2; spectral Laplacian). Peers: the
periodic 5-point finite-difference matrix I - L_h, solved by scipy.sparse.linalg.spsolve (factorization every call,
as a one-off solve does) and by a SuperLU factorization computed once and reused (setup timed separately). The two
discretize the same operator differently; each is first checked against its own closed form on a Fourier mode
(1 + 4 pi^2 |k|^2 for the spectral one, 1 + (4/h^2)(sin^2(pi k1 h) + sin^2(pi k2 h)) for the stencil) to 1e-12.
Also timed: one whole preconditioned step of the nonlinear problem (Euler-Lagrange gradient + preconditioner).
Goals: the FFT preconditioner at most 1.0x a one-off spsolve and at most 1.0x a reused SuperLU solve on
every grid.
"""
import argparse
import math
import os
import statistics
import time

os.environ.setdefault("GRADNOTES_QUIET", "1")

import numpy as np
import scipy.sparse
import scipy.sparse.linalg as spla
import torch

from gradnotes.core import torch_threads
from gradnotes.variational_pde import Lagrangian, euler_lagrange, helmholtz_inverse, torus_grid
from goals import goal


def timed(fn, repeats, rounds=5):
    "Median over `rounds` of the mean time of `repeats` calls."
    fn()
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(repeats): fn()
        ts.append((time.perf_counter() - t) / repeats)
    return statistics.median(ts)


def fd_matrix(n):
    "I - L_h for the periodic 5-point Laplacian on an n x n grid of spacing 1/n (C order)."
    e = np.ones(n)
    d2 = scipy.sparse.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1], format="lil")
    d2[0, n - 1] = d2[n - 1, 0] = 1.0
    d2 = d2.tocsr() * n ** 2
    eye = scipy.sparse.identity(n, format="csr")
    return (scipy.sparse.identity(n * n) - scipy.sparse.kron(d2, eye) - scipy.sparse.kron(eye, d2)).tocsc()


def check(n):
    "Both solvers against their closed forms on cos(2 pi (3x + 5y))."
    x = torus_grid((n, n))
    k1, k2 = 3, 5
    g = torch.cos(2 * math.pi * (k1 * x[0] + k2 * x[1]))
    ours = helmholtz_inverse(g)
    assert torch.allclose(ours, g / (1 + 4 * math.pi ** 2 * (k1 ** 2 + k2 ** 2)), rtol=0, atol=1e-12)
    h = 1.0 / n
    sym = 1 + 4 / h ** 2 * (math.sin(math.pi * k1 * h) ** 2 + math.sin(math.pi * k2 * h) ** 2)
    theirs = spla.spsolve(fd_matrix(n), g.numpy().ravel())
    assert np.allclose(theirs, g.numpy().ravel() / sym, rtol=0, atol=1e-12)


def main(repeats=20, rounds=5, sizes=(32, 64, 128, 256)):
    lines = [f"One application of (I - Laplacian)^-1 on an n x n periodic grid, float64, one torch thread; medians of "
             f"{rounds} rounds of {repeats} calls (3 rounds of 1 for spsolve, of {max(1, repeats // 4)} for splu); torch {torch.__version__}. FFT: spectral "
             "operator; scipy: periodic 5-point stencil (each checked against its closed form first).", "",
             "| grid | FFT µs | spsolve µs | splu setup µs | splu solve µs | spsolve / FFT | splu solve / FFT "
             "| whole step µs |",
             "|---|---|---|---|---|---|---|---|"]
    lag = Lagrangian(1.0, 2.0, 1.5)
    vs_sp, vs_lu = [], []
    with torch_threads(1):
        for n in sizes:
            check(min(n, 128))
            g = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
            gn = g.numpy().ravel()
            A = fd_matrix(n)
            t_fft = timed(lambda: helmholtz_inverse(g), repeats, rounds)
            t_sp = timed(lambda: spla.spsolve(A, gn), 1, 3)
            t0 = time.perf_counter(); lu = spla.splu(A); t_setup = time.perf_counter() - t0
            t_lu = timed(lambda: lu.solve(gn), max(1, repeats // 4), 3)
            t_step = timed(lambda: helmholtz_inverse(euler_lagrange(g, g, lag)), repeats, rounds)
            vs_sp.append(t_fft / t_sp); vs_lu.append(t_fft / t_lu)
            lines.append(f"| {n}x{n} | {1e6 * t_fft:,.0f} | {1e6 * t_sp:,.0f} | {1e6 * t_setup:,.0f} | "
                         f"{1e6 * t_lu:,.0f} | {t_sp / t_fft:,.1f} | {t_lu / t_fft:,.1f} | {1e6 * t_step:,.0f} |")
    lines += ["", goal("FFT at most 1.0x a one-off spsolve on every grid", f"worst {max(vs_sp):.3g}x",
                       max(vs_sp) <= 1.0),
              goal("FFT at most 1.0x a reused SuperLU solve on every grid", f"worst {max(vs_lu):.2f}x",
                   max(vs_lu) <= 1.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    print(main(a.repeats, a.rounds))
