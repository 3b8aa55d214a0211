"""SLK-Means episodes per second: the numba path (one episode at a time) vs the torch path (a batch) on the CPU.

Episodes are 5-way with 15 queries per class, 1-shot and 5-shot, with Gaussian-blob features of 64
dimensions preprocessed like real ones (CL2N, shifted queries). Both paths run the same episodes in the
same process; the table gives medians over rounds and the numba/torch ratio.
"""
import argparse
import statistics
import time

import torch

from gradnotes.fewshot_clustering import cl2n, shift_queries, slk


def episodes(B, shot, K=5, n_query=15, D=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = 0.8 * torch.randn(B, K, D, generator=g)
    ys = torch.arange(K).repeat_interleave(shot).expand(B, -1)
    yq = torch.arange(K).repeat_interleave(n_query).expand(B, -1)
    Xs = cl2n(mu.gather(1, ys[..., None].expand(-1, -1, D)) + torch.randn(B, K * shot, D, generator=g))
    Xq = cl2n(mu.gather(1, yq[..., None].expand(-1, -1, D)) + torch.randn(B, K * n_query, D, generator=g))
    return Xs, ys, shift_queries(Xs, Xq)


def main(n_episodes=200, rounds=5, device="cpu"):
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
    return "\n".join(lines)


def growth(n_queries=(48, 99, 150), shot=5, n_episodes=20, rounds=5):
    """Per-episode time of the numba path against the episode size N = 5 shot + 5 n_query
    (265 to 775 points), with the growth exponent: the slope of log time on log N."""
    import numpy as np
    lines = [f"SLK-Means and SLK-MS (numba), 5-way {shot}-shot, 64 features; {n_episodes} episodes per call, "
             f"median of {rounds} rounds, time per episode.", "",
             "| points N | SLK-Means ms | SLK-MS ms |", "|---|---|---|"]
    t_mode = {"kmeans": [], "ms": []}
    sizes = []
    for q in n_queries:
        Xs, ys, Xq = episodes(n_episodes, shot, n_query=q)
        sizes.append(Xs.shape[1] + Xq.shape[1])
        for mode in t_mode:
            slk(Xs[:1], ys[:1], Xq[:1], mode=mode, engine="numba")  # compile outside the clock
            ts = []
            for _ in range(rounds):
                t = time.perf_counter()
                slk(Xs, ys, Xq, mode=mode, engine="numba")
                ts.append((time.perf_counter() - t) / n_episodes)
            t_mode[mode].append(statistics.median(ts))
        lines.append(f"| {sizes[-1]} | {1e3 * t_mode['kmeans'][-1]:.2f} | {1e3 * t_mode['ms'][-1]:.2f} |")
    ex = {m: np.polyfit(np.log(sizes), np.log(v), 1)[0] for m, v in t_mode.items()}
    lines += ["", f"growth exponent (slope of log time on log N): SLK-Means {ex['kmeans']:.2f}, "
              f"SLK-MS {ex['ms']:.2f}; N log N over this range has exponent "
              f"{np.polyfit(np.log(sizes), np.log(np.array(sizes) * np.log(sizes)), 1)[0]:.2f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--growth", action="store_true", help="per-episode time against the episode size")
    a = ap.parse_args()
    print(growth() if a.growth else main(a.episodes, device=a.device))
