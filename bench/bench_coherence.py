"""Winsorized mean of per-example gradients: the numba kernel vs the torch kthvalue path, and the cost of a robust step.

Part 1 times `winsorized_mean` on (m, D) float32 matrices (m examples of a mini-batch, D parameters) with both
engines in the same process, interleaved round by round, and gives medians and the torch/numba time ratio.
Part 2 times one full gradient estimate on a digits-sized MLP (64-128-128-10) and mini-batch of 64: the plain
backward pass (SGD), RM3 (one backward plus a median), M3 (three backward passes) and the winsorized gradient
(per-example gradients by torch.func.vmap plus the winsorized mean), each as a multiple of the plain step.
On a shared machine, `--threads 1 --clock cpu` measures process CPU time with single-threaded torch and numba,
which load from other processes disturbs far less than wall-clock time.
Goals: the numba kernel faster than the torch path at every size (it is the CPU path); RM3 at most 1.5x a
plain backward pass (one backward pass and an elementwise median) and M3 at most 3x (three backward passes
on thirds of the batch): the cheap robust estimators the paper proposes.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.coherence import M3Gradient, MeanGradient, RM3Gradient, WinsorizedGradient, winsorized_mean
from gradnotes.training import MLP
from goals import goal


CLOCK = time.perf_counter


def order_statistics(rounds=7, sizes=((64, 26_000, 2), (64, 85_000, 2), (64, 85_000, 6), (256, 85_000, 12))):
    lines, ratios = ["| m | D | c | numba (ms) | torch kthvalue (ms) | torch / numba |", "|---|---|---|---|---|---|"], []
    for m, D, c in sizes:
        G = torch.randn(m, D, generator=torch.Generator().manual_seed(0))
        winsorized_mean(G, c, engine="numba")  # compile (or load the cache) outside the clock
        times = {"numba": [], "torch": []}
        for _ in range(rounds):  # interleaved so that load drifts hit both paths alike
            for eng in times:
                t = CLOCK(); winsorized_mean(G, c, engine=eng); times[eng].append(CLOCK() - t)
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        ratios.append(med['torch'] / med['numba'])
        lines.append(f"| {m} | {D} | {c} | {med['numba']:.1f} | {med['torch']:.1f} | {med['torch'] / med['numba']:.1f}x |")
    lines += ["", goal("numba winsorized mean faster than torch kthvalue at every size (torch / numba "
                       ">= 1.0x)", f"lowest {min(ratios):.1f}x", min(ratios) >= 1.0)]
    return "\n".join(lines)


def steps(rounds=30, batch=64, hidden=(128, 128)):
    torch.manual_seed(0)
    model = MLP([64, *hidden, 10])
    X, y = torch.randn(batch, 64), torch.randint(0, 10, (batch,))
    est = {"SGD (plain backward)": MeanGradient(model, F.cross_entropy), "RM3": RM3Gradient(model, F.cross_entropy),
           "M3": M3Gradient(model, F.cross_entropy), "winsorized, c = 2, numba": WinsorizedGradient(model, F.cross_entropy, c=2, engine="numba"),
           "winsorized, c = 2, torch": WinsorizedGradient(model, F.cross_entropy, c=2, engine="torch")}
    for e in est.values(): e.backward(X, y)  # warm-up
    times = {k: [] for k in est}
    for _ in range(rounds):
        for k, e in est.items():
            t = CLOCK(); e.backward(X, y); times[k].append(CLOCK() - t)
    med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    base = med["SGD (plain backward)"]
    lines = [f"| estimate (MLP 64-{'-'.join(map(str, hidden))}-10, batch {batch}) | ms per step | x plain step |", "|---|---|---|"]
    lines += [f"| {k} | {v:.2f} | {v / base:.1f} |" for k, v in med.items()]
    rm3, m3 = med["RM3"] / base, med["M3"] / base
    lines += ["", goal("RM3 at most 1.5x a plain backward pass", f"{rm3:.2f}x", rm3 <= 1.5),
              goal("M3 at most 3x a plain backward pass", f"{m3:.2f}x", m3 <= 3.0)]
    return "\n".join(lines)


def main(rounds=7):
    import numba
    clock = "process CPU time" if CLOCK is time.process_time else "wall-clock time"
    head = (f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {numba.get_num_threads()} numba threads; float32; {clock}; "
            f"medians of {rounds} interleaved rounds (step table: 30 rounds).")
    return "\n".join([head, "", order_statistics(rounds), "", steps()])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="torch and numba threads (0: their defaults)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall-clock or process CPU time")
    a = ap.parse_args()
    if a.threads:
        import numba
        torch.set_num_threads(a.threads); numba.set_num_threads(a.threads)
    if a.clock == "cpu": CLOCK = time.process_time
    print(main(a.rounds))
