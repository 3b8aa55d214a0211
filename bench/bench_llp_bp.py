"""Loopy BP for LLP-BP: the numba kernel vs the torch CPU path vs a pure-NumPy loop, on the same graphs.

Each graph has random bags with their clique factors plus a kNN similarity graph (k = 5, 16 features); every
engine runs exactly `iters` flooding iterations with damping 0.5 (tol = 0), so they do the same work. The
pure-NumPy loop visits the directed edges one by one in Python, as a plain reference implementation would;
it runs on the smallest graph only and fewer iterations, and its time is scaled to `iters`.
`--scale` adds the slow case: 100,000 nodes in bags of 64 (about 3.5 M factors), numba only, wall and CPU time.
Torch runs with `--threads` threads (default 1, as the numba kernel); the table ends with the growth exponent.
`--knn` times the kNN backends of `knn_indices` instead (torch and scikit-learn exact, pynndescent approximate)
and gives the approximate graph's recall against the exact one.
"""
import argparse
import math
import statistics
import time

import numpy as np
import torch

from gradnotes.llp_bp import bag_proportions, belief_propagation, check_bags, knn_similarity, llp_graph, random_bags


def graph(n, bag_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.3).long()
    X = torch.randn(n, 16, generator=g, dtype=torch.float64) + y[:, None]
    bags = random_bags(n, bag_size, seed=seed)
    bi, sz = check_bags(bags, n)
    return llp_graph(bi, bag_proportions(y, bags) * sz, *knn_similarity(X))


def numpy_loop(G, iters, damping=0.5):
    "Reference: flooding BP with a Python loop over the directed edges."
    e, u, w = G.edges.numpy(), G.unary.numpy(), G.pair.numpy()
    src = np.stack([e[:, 0], e[:, 1]], 1).reshape(-1)
    dst = np.stack([e[:, 1], e[:, 0]], 1).reshape(-1)
    r = np.zeros(len(src))
    sp = lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    for _ in range(iters):
        b = u.copy()
        np.add.at(b, dst, r)
        new = np.empty_like(r)
        for d in range(len(src)):
            h = b[src[d]] - r[d ^ 1]
            new[d] = damping * r[d] + (1 - damping) * (sp(h + w[d >> 1]) - sp(h))
        r = new
    b = u.copy()
    np.add.at(b, dst, r)
    return b


def timed(fn, rounds):
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def scale(n=100_000, bag_size=64, iters=100):
    "The slow case: one numba run of `iters` iterations on a large graph; the kernel is single-threaded, so CPU time is its work."
    t = time.perf_counter()
    G = graph(n, bag_size)
    t_graph = time.perf_counter() - t
    belief_propagation(G, max_iter=2, tol=0, engine="numba")
    t, c = time.perf_counter(), time.process_time()
    belief_propagation(G, max_iter=iters, tol=0, engine="numba")
    return (f"| {n} | {bag_size} | {G.pair.shape[0]} | {t_graph:.1f} | {time.perf_counter() - t:.1f} | {time.process_time() - c:.1f} |")


def knn_bench(ns=(10_000, 30_000), k=5, d=16, rounds=1):
    """kNN graph of n Gaussian points (16 features, unit-normalized as LLP-BP uses them):
    torch's blocked exact search, scikit-learn's exact search, pynndescent (approximate; its
    one-time compilation is done outside the clock) with recall against the exact graph."""
    from gradnotes.llp_bp import knn_indices
    lines = [f"kNN graph, k = {k}, {d} features, unit-normalized rows, median of {rounds}; "
             f"torch {torch.get_num_threads()} threads.", "",
             "| n | torch s | scikit-learn s | pynndescent s | torch / sklearn | recall of pynndescent |",
             "|---|---|---|---|---|---|"]
    knn_indices(torch.randn(500, d, dtype=torch.float64), k, backend="pynndescent")  # compile
    for n in ns:
        X = torch.randn(n, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        X = X / X.norm(dim=1, keepdim=True)
        t_th = timed(lambda: knn_indices(X, k, backend="torch"), rounds)
        t_sk = timed(lambda: knn_indices(X, k, backend="sklearn"), rounds)
        t_nn = timed(lambda: knn_indices(X, k, backend="pynndescent"), rounds)
        a, b = knn_indices(X, k, backend="torch")[0], knn_indices(X, k, backend="sklearn")[0]
        c = knn_indices(X, k, backend="pynndescent")[0]
        assert torch.equal(a, b)
        rec = sum(len(set(p.tolist()) & set(q.tolist())) for p, q in zip(c, b)) / b.numel()
        lines.append(f"| {n} | {t_th:.2f} | {t_sk:.2f} | {t_nn:.2f} | {t_th / t_sk:.1f}x | {rec:.4f} |")
    return "\n".join(lines)


def main(sizes=((2000, 8), (2000, 64), (20000, 64)), iters=100, rounds=3, with_scale=False):
    "Median times of `rounds` runs per engine, the growth exponent, optionally the slow case."
    lines = [f"Loopy BP, {iters} flooding iterations (damping 0.5, float64), kNN k = 5 plus bag cliques; median of {rounds} rounds; "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads. NumPy loop: {max(1, iters // 20)} iterations, scaled.", "",
             "| nodes | bag size | factors | numba s | torch CPU s | NumPy loop s | torch / numba | NumPy / numba |", "|---|---|---|---|---|---|---|---|"]
    small, grow = min(n for n, _ in sizes), []
    for n, b in sizes:
        G = graph(n, b)
        belief_propagation(G, max_iter=2, tol=0, engine="numba")  # compile (or load the cache) outside the clock
        t_nb = timed(lambda: belief_propagation(G, max_iter=iters, tol=0, engine="numba"), rounds)
        t_th = timed(lambda: belief_propagation(G, max_iter=iters, tol=0, engine="torch"), rounds)
        if n == small:
            k = max(1, iters // 20)
            ref = numpy_loop(G, k)
            assert np.allclose(ref, belief_propagation(G, max_iter=k, tol=0, engine="numba").logits.numpy(), atol=1e-8)
            t_np = timed(lambda: numpy_loop(G, k), 1) * iters / k
            np_cells = f"{t_np:.2f} | {t_th / t_nb:.1f}x | {t_np / t_nb:.0f}x"
        else:
            np_cells = f"- | {t_th / t_nb:.1f}x | -"
        lines.append(f"| {n} | {b} | {G.pair.shape[0]} | {t_nb:.3f} | {t_th:.3f} | {np_cells} |")
        grow.append((G.pair.shape[0], t_nb, t_th))
    if len({m for m, _, _ in grow}) > 1:
        M = np.log([m for m, _, _ in grow])
        ex = [np.polyfit(M, np.log([g[c] for g in grow]), 1)[0] for c in (1, 2)]
        lines += ["", f"growth exponent (slope of log time on log factors): numba {ex[0]:.2f}, torch CPU {ex[1]:.2f}"]
    if with_scale:
        lines += ["", f"Slow case, numba, {iters} iterations, one run:", "",
                  "| nodes | bag size | factors | kNN + MRF s (wall) | BP s (wall) | BP s (CPU) |", "|---|---|---|---|---|---|", scale(iters=iters)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--scale", action="store_true", help="also run 100,000 nodes in bags of 64 (slow)")
    ap.add_argument("--threads", type=int, default=1, help="torch and numba threads (the numba kernel is serial)")
    ap.add_argument("--sizes", default="2000x8,2000x64,20000x64", help="nodes x bag size, comma-separated")
    ap.add_argument("--knn", action="store_true", help="kNN backends: time and recall against the exact graph")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.knn:
        print(knn_bench())
    else:
        sizes = tuple(tuple(map(int, s.split("x"))) for s in a.sizes.split(","))
        print(main(sizes=sizes, iters=a.iters, with_scale=a.scale))
