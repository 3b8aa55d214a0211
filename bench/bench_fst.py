"""One FST-D step (K = 3 look-ahead steps) against one mean-teacher step, same model and batch.

A mean-teacher step is `FST` with K = 0: one EMA update of the teacher, then forward, loss,
backward and an Adam step. FST-D adds K such passes, K more EMA updates, and one snapshot and
restore of the weights; it should cost about K + 1 = 4 mean-teacher steps. Medians over
interleaved rounds (so drifts in machine load hit both alike), one torch thread; the ratios are
what the comparison is about.
Goal: FST-D at most 1.1x the time of K + 1 mean-teacher steps at both widths (the snapshot, restore and
extra EMA updates add little).
"""
import argparse
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.fst import FST, SegNet, self_training_loss
from goals import goal

K = 3


def make(k, width, batch):
    torch.manual_seed(0)
    net = SegNet(width=width)
    fst = FST(net, torch.optim.Adam(net.parameters(), 1e-3), self_training_loss, k=k,
              alpha=0.99)
    g = torch.Generator().manual_seed(0)
    b = (torch.rand(batch, 3, 32, 32, generator=g), torch.randint(0, 5, (batch, 32, 32), generator=g),
         torch.rand(batch, 3, 32, 32, generator=g))
    fst.step(b)  # the first step is a plain one: time the steps after it
    return lambda: fst.step(b)


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup): fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return out


def main(repeats=20, rounds=5, batch=8):
    lines = [f"One self-training step on 32×32 images (DACS loss with ClassMix, Adam), batch "
             f"{batch} source + {batch} target images, torch {torch.__version__}, 1 thread, "
             f"CPU; medians of {repeats} steps in {rounds} interleaved rounds (ms).", "",
             f"| network | mean teacher | FST-D (K = {K}) | FST-D / mean teacher "
             f"| FST-D / ({K + 1} × mean teacher) |", "|---|---|---|---|---|"]
    per = []
    with torch_threads(1):
        for width in (12, 24):
            steps = {"mt": make(0, width, batch), "fst": make(K, width, batch)}
            samples = {k: [] for k in steps}
            for _ in range(rounds):
                for k, s in steps.items(): samples[k] += time_it(s, max(repeats // rounds, 1))
            med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
            r = med["fst"] / med["mt"]
            per.append(r / (K + 1))
            lines.append(f"| SegNet width {width} | {med['mt']:.1f} | {med['fst']:.1f} "
                         f"| {r:.2f}x | {r / (K + 1):.2f}x |")
    lines += ["", goal(f"FST-D at most 1.1x ({K + 1} x mean teacher) at both widths",
                       f"worst {max(per):.2f}x", max(per) <= 1.1)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    print(main(a.repeats))
