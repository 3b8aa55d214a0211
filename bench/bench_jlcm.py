"""JLCM index assignment: the numba kernel (a loop over the codebook per weight) against the torch
path (searchsorted over the midpoints of the sorted codebook), on Gaussian weights the size of a
256x256 layer and of a 1024x1024 layer, K = 4, 8, 16 codewords. Medians over repeats, one thread;
both give the same indices (checked).
Goal: the numba kernel (the CPU path) faster than the torch path on every row."""
import os
import statistics
import time

import torch

from gradnotes.jlcm import assign_nearest
from goals import goal


def timed(fn, rounds):
    fn()  # warm-up (numba compilation or its cache load)
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(rounds=7):
    torch.set_num_threads(1)
    lines = [f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()[0]:.1f} at the "
             f"start; medians of {rounds} repeats (ms).", "",
             "| weights | K | numba | torch | torch / numba |", "|---|---|---|---|---|"]
    g = torch.Generator().manual_seed(0)
    ratios = []
    for rows in (256, 1024):
        w = torch.randn(rows, rows, generator=g) * 0.05
        for K in (4, 8, 16):
            c = torch.randn(K, generator=g) * 0.05
            assert torch.equal(assign_nearest(w, c, "numba"), assign_nearest(w, c, "torch"))
            t = {e: timed(lambda e=e: assign_nearest(w, c, e), rounds) for e in ("numba", "torch")}
            lines.append(f"| {rows}x{rows} | {K} | {1e3 * t['numba']:.2f} | {1e3 * t['torch']:.2f} "
                         f"| {t['torch'] / t['numba']:.2f}x |")
            ratios.append(t['torch'] / t['numba'])
    lines += ["", goal("numba assignment faster than torch searchsorted on every row (torch / numba "
                       ">= 1.0x)", f"lowest {min(ratios):.2f}x", min(ratios) >= 1.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
