"""MEOW / AdaMEOW: (1) PathSim top-k neighbour filtering, the numba kernel (one pass over each CSR
row with a sorted buffer) against the torch path (two stable sorts of all non-zeros, any device) and
a scipy/NumPy version (one lexsort), on the meta-path graphs of generated DBLP-like graphs; all three
return the same graph (checked). (2) The cost of re-running k-means at every MEOW step: the two
scikit-learn k-means runs against the rest of a training step (forward, loss, backward). (3) The
memory of AdaMEOW's learned weights as N grows: bytes autograd saves for backward with the official
N^2 x d construction, with the N^2 x 16 broadcast of the first layer, and with checkpointed row blocks,
and the growth exponent of each (least squares on log-log). Medians over repeats, one torch thread.
Goals: the numba PathSim kernel (the CPU default) at most 1.0x the torch and the scipy paths on every
graph; the memory of the row-block weights grows at most linearly in N (exponent at most 1.1)."""
import math
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from gradnotes.autodiff import saved_bytes
from gradnotes.meow import (MEOW, _step_loss, VARIANTS, kmeans_prototypes, learned_weights,
                            make_dblp_like, metapath_adjacency, pathsim_topk, prepare_views)
from goals import goal


def timed(fn, rounds):
    fn()  # warm-up (numba compilation or its cache load)
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def pathsim_table(rounds):
    lines = ["| authors | meta-path | non-zeros | k | numba (ms) | torch (ms) | scipy (ms) "
             "| torch / numba | scipy / numba |", "|---|---|---|---|---|---|---|---|---|"]
    speed = []
    for n in (1000, 2000):
        g = make_dblp_like(n_authors=n, n_papers=2 * n, seed=0)
        for path, k in (("APVPA", max(2, round(200 * n / 4057))), ("APTPA", max(2, round(40 * n / 4057)))):
            M = metapath_adjacency(g, path)
            ref = pathsim_topk(M, k, "numba")
            for e in ("torch", "scipy"): assert (pathsim_topk(M, k, e) != ref).nnz == 0
            t = {e: timed(lambda e=e: pathsim_topk(M, k, e), rounds) for e in ("numba", "torch", "scipy")}
            speed += [t['torch'] / t['numba'], t['scipy'] / t['numba']]
            lines.append(f"| {n} | {path} | {M.nnz:,} | {k} | {1e3 * t['numba']:.1f} | {1e3 * t['torch']:.1f} "
                         f"| {1e3 * t['scipy']:.1f} | {t['torch'] / t['numba']:.2f}x | {t['scipy'] / t['numba']:.2f}x |")
    lines += ["", goal("numba PathSim top-k faster than torch and scipy on every graph (their time / "
                       "numba's >= 1.0x)", f"lowest {min(speed):.2f}x", min(speed) >= 1.0)]
    return "\n".join(lines)


def kmeans_table(rounds):
    lines = ["| authors | clusters | k-means runs (ms) | rest of the step (ms) | k-means share |",
             "|---|---|---|---|---|"]
    for n in (600, 1200):
        g = make_dblp_like(n_authors=n, n_papers=2 * n, seed=0)
        clusters = tuple(max(2, round(c * n / 4057)) for c in (200, 700))
        nei = tuple(max(2, round(c * n / 4057)) for c in (25, 200, 40))
        views = prepare_views(g, nei_max=nei)
        torch.manual_seed(0)
        model = MEOW(views)

        def rest():  # forward, plain loss, backward: a step without the clustering
            loss, _ = _step_loss(model, views, VARIANTS["infonce"], 0.9, clusters, 0, 1.0, None)
            loss.backward()

        with torch.no_grad(): z_f = model(views)[1]
        with threadpool_limits(1):  # scikit-learn's OpenMP threads too
            t_km = timed(lambda: kmeans_prototypes(z_f, clusters, 0.9, 0), rounds)
        t_rest = timed(rest, rounds)
        lines.append(f"| {n} | {clusters} | {1e3 * t_km:.0f} | {1e3 * t_rest:.0f} "
                     f"| {100 * t_km / (t_km + t_rest):.0f} % |")
    return "\n".join(lines)


def _naive(mlp, za, zb):
    n = len(za)
    return torch.sigmoid(mlp((za[:, None, :] + zb[None, :, :]).reshape(n * n, -1))).reshape(n, n)


def memory_table():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 1))
    ways = {"official N²·d": lambda za, zb: _naive(mlp, za, zb),
            "N²·16 broadcast": lambda za, zb: learned_weights(mlp, za, zb),
            "row blocks of 64": lambda za, zb: learned_weights(mlp, za, zb, chunk=64)}
    sizes = {"official N²·d": (125, 250, 500, 1000)}
    ns = (125, 250, 500, 1000, 2000)
    mem = {w: {} for w in ways}
    for w, f in ways.items():
        for n in sizes.get(w, ns):
            za, zb = (torch.randn(n, 64, requires_grad=True) for _ in range(2))
            mem[w][n] = saved_bytes(lambda: f(za, zb).sum())
    lines = ["| N | " + " | ".join(f"{w} (MB)" for w in ways) + " |", "|---" * (len(ways) + 1) + "|"]
    for n in ns:
        lines.append(f"| {n} | " + " | ".join(f"{mem[w][n] / 2**20:.1f}" if n in mem[w] else "–"
                                             for w in ways) + " |")
    slope = {w: np.polyfit(np.log(list(m)), np.log(list(m.values())), 1)[0] for w, m in mem.items()}
    lines.append("| growth exponent | " + " | ".join(f"{slope[w]:.2f}" for w in ways) + " |")
    r = mem["official N²·d"][1000] / mem["N²·16 broadcast"][1000]
    r2 = mem["official N²·d"][1000] / mem["row blocks of 64"][1000]
    lines += ["", f"At N = 1000 the official construction saves {r:.1f}x the bytes of the broadcast and "
              f"{r2:.1f}x those of the row blocks. The first two grow as N² (every pair's hidden layer is "
              "kept); the row blocks as N (only the N x 16 first-layer products and the block inputs are kept, "
              "each block's hidden layer is recomputed in backward); the N x N weights themselves are the output.",
              "", goal("row-block weight memory grows at most linearly in N (exponent <= 1.1)",
                       f"exponent {slope['row blocks of 64']:.2f}", slope['row blocks of 64'] <= 1.1)]
    return "\n".join(lines)


def main(rounds=5):
    torch.set_num_threads(1)
    head = (f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()[0]:.1f} at the start; "
            f"medians of {rounds} repeats.")
    return "\n\n".join([head, "**PathSim top-k** (APVPA and APTPA of a generated graph, k scaled from DBLP's "
                        "200 and 40)", pathsim_table(rounds),
                        "**k-means at every step** (MEOW's two clusterings, scikit-learn, 20 iterations, "
                        "one start)", kmeans_table(rounds),
                        "**AdaMEOW weight memory** (bytes saved for backward, d = 64)", memory_table()])


if __name__ == "__main__":
    print(main())
