"""The Poisson matvec of the DCDM page: the numba stencil vs the torch conv path vs scipy's sparse matvec.

One product y = A x with the masked 5-point (2-D) or 7-point (3-D) operator on a grid with random
obstacles, float64, batch 1 (what a Krylov iteration does), one torch thread. scipy multiplies the CSR
matrix by the fluid values (a vector of n_fluid entries); the numba and torch paths work on the whole
grid. Before timing, the three are checked to agree to 1e-12. Also timed: one DCDM iteration's network
evaluation (the default 16-channel DCDMNet, float32), to show what an iteration costs beyond the stencil.
Goals: the numba stencil (the CPU path) at most 1.0x scipy's CSR matvec and at most 1.0x the torch
convolution on every grid.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("GRADNOTES_QUIET", "1")

import numpy as np
import torch

from gradnotes.core import torch_threads
from gradnotes.dcdm import DCDMNet, PoissonOperator, random_obstacles
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


def main(repeats=50, rounds=5):
    lines = [f"One product A x, float64, batch 1, one torch thread; medians of {rounds} rounds of {repeats} calls; "
             f"torch {torch.__version__}. The network column is one forward pass of DCDMNet (16 channels, float32).", "",
             "| grid | unknowns | numba µs | torch conv µs | scipy CSR µs | scipy / numba | torch / numba | network µs |",
             "|---|---|---|---|---|---|---|---|"]
    net = DCDMNet(dim=2).eval(); net3 = DCDMNet(dim=3).eval()
    vs_sp, vs_th = [], []
    with torch_threads(1):
        for shape in [(64, 64), (128, 128), (256, 256), (32, 32, 32), (64, 64, 64)]:
            A = PoissonOperator(shape, solid=random_obstacles(shape[0], dim=len(shape), seed=0))
            S = A.to_scipy()
            x = A.project(torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
            xf = A.restrict(x).numpy()
            y_nb, y_th = A(x, backend="numba"), A(x, backend="torch")
            assert torch.allclose(y_nb, y_th, rtol=0, atol=1e-12)
            assert np.allclose(A.restrict(y_nb).numpy(), S @ xf, rtol=0, atol=1e-12)
            t_nb = timed(lambda: A(x, backend="numba"), repeats, rounds)
            t_th = timed(lambda: A(x, backend="torch"), repeats, rounds)
            t_sp = timed(lambda: S @ xf, repeats, rounds)
            model = net if len(shape) == 2 else net3
            r = x.float()[None]
            with torch.no_grad():
                t_net = timed(lambda: model(r), max(1, repeats // 10), rounds)
            vs_sp.append(t_nb / t_sp); vs_th.append(t_nb / t_th)
            lines.append(f"| {'x'.join(map(str, shape))} | {A.n_fluid:,} | {1e6 * t_nb:.0f} | {1e6 * t_th:.0f} | "
                         f"{1e6 * t_sp:.0f} | {t_sp / t_nb:.2f} | {t_th / t_nb:.2f} | {1e6 * t_net:,.0f} |")
    lines += ["", goal("numba stencil at most 1.0x scipy's CSR matvec on every grid",
                       f"worst {max(vs_sp):.2f}x", max(vs_sp) <= 1.0),
              goal("numba stencil at most 1.0x the torch convolution on every grid",
                   f"worst {max(vs_th):.2f}x", max(vs_th) <= 1.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    print(main(a.repeats, a.rounds))
