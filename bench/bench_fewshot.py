"""SLK-Means episodes per second: the numba path (one episode at a time) vs the torch path (a batch) on the CPU.

Episodes are 5-way with 15 queries per class, 1-shot and 5-shot, with Gaussian-blob features of 64
dimensions preprocessed like real ones (CL2N, shifted queries). Both paths run the same episodes in the
same process; the table gives medians over rounds and the numba/torch ratio. A second table times the numba
path per episode (kNN graph included) from the notebook's episode sizes (N = 80 and 100 points) up to
N = 775 and fits the growth exponent against N log N's over the same range, with a fixed goal line.
"""
import argparse
import statistics
import time

import torch

from gradnotes.fewshot_clustering import cl2n, shift_queries, slk
from goals import goal


def episodes(B, shot, K=5, n_query=15, D=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = 0.8 * torch.randn(B, K, D, generator=g)
    ys = torch.arange(K).repeat_interleave(shot).expand(B, -1)
    yq = torch.arange(K).repeat_interleave(n_query).expand(B, -1)
    Xs = cl2n(mu.gather(1, ys[..., None].expand(-1, -1, D)) + torch.randn(B, K * shot, D, generator=g))
    Xq = cl2n(mu.gather(1, yq[..., None].expand(-1, -1, D)) + torch.randn(B, K * n_query, D, generator=g))
    return Xs, ys, shift_queries(Xs, Xq)


def main(n_episodes=100, rounds=3, device="cpu", with_growth=True):
    lines = [f"SLK-Means (lambda 0.7, knn 3), 5-way, 15 queries per class, 64 features; {n_episodes} episodes per call, "
             f"median of {rounds} rounds; torch {torch.__version__}, {torch.get_num_threads()} threads.", "",
             "| shot | mode | numba episodes/s | torch episodes/s | numba / torch |", "|---|---|---|---|---|"]
    for shot in (1, 5):
        Xs, ys, Xq = episodes(n_episodes, shot)
        for mode in ("kmeans", "ms"):
            slk(Xs[:2], ys[:2], Xq[:2], mode=mode, engine="numba")  # compile (or load the cache) outside the clock
            rate = {"numba": [], "torch": []}
            for _ in range(rounds):  # interleaved so that load drifts hit both paths alike
                for engine in rate:
                    t = time.perf_counter()
                    slk(Xs.to(device) if engine == "torch" else Xs, ys.to(device) if engine == "torch" else ys,
                        Xq.to(device) if engine == "torch" else Xq, mode=mode, engine=engine)
                    if device != "cpu" and engine == "torch": torch.cuda.synchronize()
                    rate[engine].append(n_episodes / (time.perf_counter() - t))
            med = {k: statistics.median(v) for k, v in rate.items()}
            lines.append(f"| {shot} | {mode} | {med['numba']:.0f} | {med['torch']:.0f} | {med['numba'] / med['torch']:.2f}x |")
    if with_growth:
        lines += ["", growth()]
    return "\n".join(lines)


GOAL = "SLK episode time grows at most like N log N at the notebook's sizes"


def growth(sizes=((1, 15), (5, 15), (5, 48), (5, 99), (5, 150)), n_episodes=20, rounds=3):
    """Per-episode time of the numba path (kNN graph included) against the episode size
    N = 5 shot + 5 n_query: the notebook's episodes (5-way, 15 queries per class, 1 and 5
    shots: N = 80 and 100) and its Speed section's larger ones (N = 265 to 775); the growth
    exponent is the slope of log time on log N over all of them."""
    import numpy as np
    lines = [f"SLK-Means and SLK-MS (numba, kNN graph included), 5-way, 64 features; {n_episodes} episodes per call, "
             f"median of {rounds} interleaved rounds, time per episode.", "",
             "| shot | queries per class | points N | SLK-Means ms | SLK-MS ms |", "|---|---|---|---|---|"]
    t_mode = {"kmeans": [], "ms": []}
    N = []
    for shot, q in sizes:
        Xs, ys, Xq = episodes(n_episodes, shot, n_query=q)
        N.append(Xs.shape[1] + Xq.shape[1])
        ts = {m: [] for m in t_mode}
        for m in t_mode:  # compile or load the cache, and touch every buffer, outside the clock
            slk(Xs, ys, Xq, mode=m, engine="numba")
        for _ in range(rounds):
            for m in t_mode:
                t = time.perf_counter()
                slk(Xs, ys, Xq, mode=m, engine="numba")
                ts[m].append((time.perf_counter() - t) / n_episodes)
        for m in t_mode:
            t_mode[m].append(statistics.median(ts[m]))
        lines.append(f"| {shot} | {q} | {N[-1]} | {1e3 * t_mode['kmeans'][-1]:.2f} | {1e3 * t_mode['ms'][-1]:.2f} |")
    ex = {m: np.polyfit(np.log(N), np.log(v), 1)[0] for m, v in t_mode.items()}
    nlogn = np.polyfit(np.log(N), np.log(np.array(N) * np.log(N)), 1)[0]
    e = max(ex.values())
    top = {m: np.log(v[-1] / v[-2]) / np.log(N[-1] / N[-2]) for m, v in t_mode.items()}
    lines += ["", f"growth exponent (slope of log time on log N, N = {N[0]} to {N[-1]}): SLK-Means {ex['kmeans']:.2f}, "
              f"SLK-MS {ex['ms']:.2f}; N log N over this range has exponent {nlogn:.2f}; between the two largest "
              f"sizes alone: SLK-Means {top['kmeans']:.2f}, SLK-MS {top['ms']:.2f} (the exact kNN search is O(N^2 D))", "",
              goal(GOAL, f"exponent {e:.2f}, N log N {nlogn:.2f}", e <= nlogn)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--growth", action="store_true", help="only the per-episode time against the episode size")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(growth() if a.growth else main(a.episodes, device=a.device))
