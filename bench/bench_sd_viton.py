"""Flow composition and warping with channels-last against the default memory format.

One step of the SD-VITON page's warps: compose two flows, warp a cloth by the result, and
backpropagate an L1 loss to both flows; the same tensors in the default (contiguous) and the
channels-last layouts. Medians over interleaved rounds, one torch thread, CPU (and CUDA when
there is one). A peer in the same run: two successive warps (two resamplings) instead of one
warp by the composed flow.

Second table: one training step of the amortised flow network (forward, the page's losses,
backward, Adam) on a batch of 8 generated shirts, against one step of the per-sample fit
(`fit_flows`' Adam step on the same 8 shirts' flows), in both arrangements.
Goals: the default layout, the one the page uses, within 1.1x of channels-last's time in every case; one
warp by the composed flow at most 1.0x two successive warps in every case (the cost side of composing).
"""
import argparse
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.sd_viton import (FlowNet, _levels, _loss, _terms, compose_flows, make_garments,
                                person_condition, warp)
from goals import goal

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


def net_step(g, method, width=16):
    "One Adam step of a FlowNet on the batch `g`, with the page's losses."
    torch.manual_seed(0)
    net = FlowNet(4, width, taco=method == "sd")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    def step():
        res, taco = net(g.cloth, g.cloth_mask, person_condition(g))
        loss = _loss(_terms(g, res, taco, method, 4), 20.0, 10.0)
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def fit_step(g, method):
    "One Adam step of the per-sample fit (`fit_flows`' inner step) on the batch `g`."
    n, _, h, w = g.cloth.shape
    params = [torch.zeros(n, 2, *s, requires_grad=True) for s in _levels(h, w, 4)]
    taco = torch.zeros(n, 3, h, w); taco[:, 2] = -1
    taco.requires_grad_(method == "sd")
    opt = torch.optim.Adam(params + ([taco] if method == "sd" else []), lr=0.01)
    def step():
        loss = _loss(_terms(g, params, taco, method, 4), 20.0, 10.0)
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def network_table(repeats=10, rounds=2):
    g = make_garments(n=8, seed=0)
    lines = ["", "Amortised network step vs per-sample fit step, batch of 8 shirts at 64x48, "
             f"1 CPU thread; medians of {repeats} steps in {rounds} interleaved rounds (ms).", "",
             "| arrangement | network step (width 16) | per-sample fit step | network / fit |",
             "|---|---|---|---|"]
    with torch_threads(1):
        for method in ("cascade", "sd"):
            steps = {"net": net_step(g, method), "fit": fit_step(g, method)}
            samples = {k: [] for k in steps}
            for _ in range(rounds):
                for k, st in steps.items(): samples[k] += time_it(st, max(1, repeats // rounds))
            med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
            lines.append(f"| {method} | {med['net']:.1f} | {med['fit']:.1f} "
                         f"| {med['net'] / med['fit']:.2f}x |")
    return "\n".join(lines)


def main(repeats=20, rounds=4):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = [f"Compose two flows, warp, L1 backward to both flows; torch {torch.__version__}, "
             f"1 CPU thread; medians of {repeats} steps in {rounds} interleaved rounds (ms).",
             "", "| device | case | default | channels-last | channels-last / default "
             "| two warps (default) / composed |", "|---|---|---|---|---|---|"]
    vs_cl, vs_two = [], []
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
                vs_cl.append(med['default'] / med['cl']); vs_two.append(med['default'] / med['two'])
                lines.append(f"| {dev} | {name} | {med['default']:.2f} | {med['cl']:.2f} "
                             f"| {med['cl'] / med['default']:.2f}x "
                             f"| {med['two'] / med['default']:.2f}x |")
    lines += ["", goal("default layout at most 1.1x channels-last's time in every case",
                       f"worst {max(vs_cl):.2f}x", max(vs_cl) <= 1.1),
              goal("one warp by the composed flow at most 1.0x two successive warps in every case",
                   f"worst {max(vs_two):.2f}x", max(vs_two) <= 1.0)]
    return "\n".join(lines) + "\n" + network_table()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    print(main(a.repeats))
