"""Loopy BP for LLP-BP: the numba kernel vs the torch CPU path on the same graphs, 2,000 to 100,000 nodes.

Each graph has random bags (8 or 64 instances) with their clique factors plus a kNN similarity graph (k = 5,
16 features). Both engines run the same fixed number of flooding iterations with damping 0.5 (tol = 0), so
they do the same work; fewer iterations on the larger graphs keep the script short, and the table gives time
per iteration (medians of rounds, the two engines interleaved so load drifts hit both). Torch and numba run on
one thread. Growth exponents are the slopes of log time per iteration on log nodes at each bag size. Before
timing, the numba result is checked against a NumPy loop over the messages (the plain reference) and
against the torch path.
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
from goals import goal

GOAL = "numba BP at least as fast as torch's CPU path from 2,000 to 100,000 nodes"
GOAL_GROWTH = "numba BP time per iteration grows at most like N log N over these sizes"


def graph(n, bag_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.3).long()
    X = torch.randn(n, 16, generator=g, dtype=torch.float64) + y[:, None]
    bags = random_bags(n, bag_size, seed=seed)
    bi, sz = check_bags(bags, n)
    return llp_graph(bi, bag_proportions(y, bags) * sz, *knn_similarity(X))


def numpy_loop(G, iters, damping=0.5):
    "Reference: flooding BP with a Python loop over the directed edges (softplus-difference update)."
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


# (nodes, iterations per timed run): about the same number of message updates per run
SIZES = ((2_000, 40), (20_000, 8), (100_000, 3))


def main(sizes=SIZES, bags=(8, 64), rounds=3):
    "Time per BP iteration of both engines, the ratio, growth exponents and the goal line."
    lines = [f"Loopy BP, float64, damping 0.5, tol 0, kNN k = 5 plus bag cliques; median of {rounds} interleaved "
             f"rounds; torch {torch.__version__}, {torch.get_num_threads()} thread(s), numba one thread.", "",
             "| nodes | bag size | factors | iterations | numba ms/iter | torch CPU ms/iter | numba / torch |",
             "|---|---|---|---|---|---|---|"]
    per = {(b, e): [] for b in bags for e in ("numba", "torch")}
    ratios = []
    for n, iters in sizes:
        for b in bags:
            G = graph(n, b)
            nb = belief_propagation(G, max_iter=2, tol=0, engine="numba")  # compile or load outside the clock
            if n == sizes[0][0] and b == bags[0]:
                assert np.abs(numpy_loop(G, 2) - nb.logits.numpy()).max() < 1e-9
            th = belief_propagation(G, max_iter=iters, tol=0, engine="torch")
            assert (th.logits - belief_propagation(G, max_iter=iters, tol=0, engine="numba").logits).abs().max() < 1e-6
            ts = {"numba": [], "torch": []}
            for _ in range(rounds):
                for eng in ts:
                    t = time.perf_counter()
                    belief_propagation(G, max_iter=iters, tol=0, engine=eng)
                    ts[eng].append((time.perf_counter() - t) / iters)
            t_nb, t_th = statistics.median(ts["numba"]), statistics.median(ts["torch"])
            per[b, "numba"].append(t_nb); per[b, "torch"].append(t_th)
            ratios.append(t_nb / t_th)
            lines.append(f"| {n:,} | {b} | {G.pair.shape[0]:,} | {iters} | {1e3 * t_nb:.2f} | {1e3 * t_th:.2f} | "
                         f"{t_nb / t_th:.2f} |")
    N = np.array([n for n, _ in sizes], float)
    nlogn = np.polyfit(np.log(N), np.log(N * np.log(N)), 1)[0]
    ex = {k: np.polyfit(np.log(N), np.log(v), 1)[0] for k, v in per.items()}
    grow_ok = all(ex[b, "numba"] <= nlogn for b in bags)
    worst = max(ratios)
    lines += ["", "growth exponent (slope of log time per iteration on log nodes): "
              + "; ".join(f"bags {b}: numba {ex[b, 'numba']:.2f}, torch {ex[b, 'torch']:.2f}" for b in bags)
              + f"; N log N over these sizes has {nlogn:.2f} (numba within it: {'yes' if grow_ok else 'no'})", "",
              goal(GOAL, f"worst numba / torch {worst:.2f}", worst <= 1.0),
              goal(GOAL_GROWTH, f"largest exponent {max(ex[b, 'numba'] for b in bags):.2f}, N log N {nlogn:.2f}",
                   grow_ok)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the numba kernel is serial)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--knn", action="store_true", help="kNN backends: time and recall against the exact graph")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(knn_bench() if a.knn else main(rounds=a.rounds))
