"""Flow composition and warping with channels-last against the default memory format.

One step of the SD-VITON page's warps: compose two flows, warp a cloth by the result, and
backpropagate an L1 loss to both flows; the same tensors in the default (contiguous) and the
channels-last layouts. Medians over interleaved rounds, one torch thread, CPU (and CUDA when
there is one). A peer in the same run: two successive warps (two resamplings) instead of one
warp by the composed flow.
"""
import argparse
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.sd_viton import compose_flows, warp

CASES = {  # name: (batch, channels, height, width)
    "page: 2 x 2 x 64x48": (2, 2, 64, 48),
    "8 x 3 x 256x192": (8, 3, 256, 192),
}


def _inputs(b, c, h, w, device, fmt):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, c, h, w, generator=g).to(device)
    f1, f2 = (0.05 * torch.randn(b, 2, h, w, generator=g).to(device) for _ in range(2))
    t = torch.rand(b, c, h, w, generator=g).to(device)
    to = lambda v: v.contiguous(memory_format=fmt)
    return to(x), to(f1).requires_grad_(), to(f2).requires_grad_(), to(t)


def composed_step(x, f1, f2, t, sync):
    def step():
        (warp(x, compose_flows(f1, f2)) - t).abs().mean().backward()
        sync()
    return step


def two_warps_step(x, f1, f2, t, sync):
    def step():
        (warp(warp(x, f1), f2) - t).abs().mean().backward()
        sync()
    return step


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup): fn()
    out = []
    for _ in range(repeats):
        s = time.perf_counter(); fn(); out.append(time.perf_counter() - s)
    return out


def main(repeats=20, rounds=4):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = [f"Compose two flows, warp, L1 backward to both flows; torch {torch.__version__}, "
             f"1 CPU thread; medians of {repeats} steps in {rounds} interleaved rounds (ms).",
             "", "| device | case | default | channels-last | channels-last / default "
             "| two warps (default) / composed |", "|---|---|---|---|---|---|"]
    with torch_threads(1):
        for dev in devices:
            sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
            for name, shape in CASES.items():
                d = _inputs(*shape, dev, torch.contiguous_format)
                cl = _inputs(*shape, dev, torch.channels_last)
                steps = {"default": composed_step(*d, sync), "cl": composed_step(*cl, sync),
                         "two": two_warps_step(*d, sync)}
                samples = {k: [] for k in steps}
                for _ in range(rounds):
                    for k, st in steps.items(): samples[k] += time_it(st, max(1, repeats // rounds))
                med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
                lines.append(f"| {dev} | {name} | {med['default']:.2f} | {med['cl']:.2f} "
                             f"| {med['cl'] / med['default']:.2f}x "
                             f"| {med['two'] / med['default']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    print(main(a.repeats))
