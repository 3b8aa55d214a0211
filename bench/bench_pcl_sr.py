"""PCL-SR: the cost of a contrastive fine-tuning step, and the Haar front end.

1. One training step of a small EDSR (4 residual blocks, 16 channels) on 8 patches of 48 x 48:
   an L1 step against an L1 + PCL step (the sharpened/blurred samples, one discriminator step on
   its dual contrastive loss, and the generator's InfoNCE through the discriminator), with the
   discriminator (width 16) on the Haar high-frequency bands and on RGB.
2. One level of the 2-D Haar transform of a batch (8, 3, 256, 256): torch (strided slicing)
   against PyWavelets' `pywt.dwt2(x, 'haar')` on the same array. Medians over interleaved repeats,
   one torch thread.
Goals: the PCL step with the wavelet discriminator at most 1.0x the one with the RGB discriminator (the
Haar front end halves the embedding's resolution); torch's Haar level at most 1.0x PyWavelets' time.
"""
import copy
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from gradnotes.pcl_sr import EDSR, haar_dwt, random_patches, sr_pairs, train_sr
from goals import goal


def timed(fns, rounds):
    "Median seconds of each function; the repeats are interleaved so load drifts hit all."
    for fn in fns.values(): fn()  # warm-up
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter(); fn(); ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def step_fn(pairs, steps, **kw):
    torch.manual_seed(0)
    net = EDSR(n_resblocks=4, n_feats=16)
    return lambda: train_sr(net, pairs, steps, lr=1e-4, batch_size=8, seed=0, **kw)


def main(rounds=15):
    torch.set_num_threads(1)
    lines = [f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()[0]:.1f} at the "
             f"start; medians of {rounds} repeats, interleaved (ms).", "",
             "| work | time (ms) | / L1 step |", "|---|---|---|"]
    pairs = sr_pairs(["astronaut", "china", "brick"])
    n = 3  # steps per timed call (a new discriminator is built once per call)
    fns = {"l1": step_fn(pairs, n, loss="l1"),
           "pcl": step_fn(pairs, n, loss="pcl"),
           "pcl_rgb": step_fn(pairs, n, loss="pcl", wavelet=False)}
    t = timed(fns, rounds)
    names = {"l1": "L1 step", "pcl": "L1 + PCL step, wavelet D",
             "pcl_rgb": "L1 + PCL step, RGB D"}
    for k, name in names.items():
        lines.append(f"| {name}, EDSR 4 x 16, batch 8 of 48 x 48 | {1e3 * t[k] / n:.1f} | "
                     f"{t[k] / t['l1']:.2f}x |")
    lines += ["", goal("PCL step with the wavelet discriminator at most 1.0x the RGB one",
                       f"{t['pcl'] / t['pcl_rgb']:.2f}x", t['pcl'] <= t['pcl_rgb'])]
    try:
        import pywt
    except ImportError:
        lines += ["", "(PyWavelets is not installed: the Haar comparison is skipped.)"]
        return "\n".join(lines)
    x = torch.rand(8, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    xn = x.numpy()
    h = timed({"torch": lambda: haar_dwt(x),
               "pywt": lambda: pywt.dwt2(xn, "haar", axes=(-2, -1))}, rounds * 2)
    lines += ["", "| Haar DWT, one level, (8, 3, 256, 256) float32 | time (ms) | / pywt |",
              "|---|---|---|"]
    for k, name in (("torch", "torch, strided slicing"), ("pywt", "PyWavelets dwt2")):
        lines.append(f"| {name} | {1e3 * h[k]:.2f} | {h[k] / h['pywt']:.2f}x |")
    lines += ["", goal("torch Haar level at most 1.0x PyWavelets dwt2", f"{h['torch'] / h['pywt']:.2f}x",
                       h['torch'] <= h['pywt'])]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
