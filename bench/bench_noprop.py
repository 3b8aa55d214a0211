"""NoProp-DT memory per training step against back-propagation as depth grows.

For T = 2 ... 32 blocks (digits-sized inputs, 10 classes, blocks of width 128, batch 128) this
counts the bytes autograd saves for the backward pass, which is what separates the methods on
any device: one NoProp block's step (a block is trained alone, from a sample of q(z_{t-1}|y)),
all T NoProp losses in one step (as `fit_noprop` does), and back-propagation through the same T
blocks chained end to end (the inference chain trained on the head's cross-entropy). Wall time
per step (median of repeats, one thread) is given beside it. Storages are counted once.
Goals: one NoProp block's memory independent of depth (T = 32 at most 1.1x T = 2), and below
back-propagation's at every T, in memory and in time per step (NoProp's case: train a block
without the chain)."""
import os
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.autodiff import saved_bytes
from gradnotes.noprop import NoPropDT
from goals import goal


def step_time(loss_fn, model, rounds):
    ts = []
    for _ in range(rounds):
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        loss_fn().backward()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(depths=(2, 4, 8, 16, 32), batch=128, rounds=15):
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, 64, generator=g), torch.randint(0, 10, (batch,), generator=g)
    lines = [f"torch {torch.__version__}, 1 thread, batch {batch}, 64 inputs, 10 classes, "
             f"blocks of width 128; load average {os.getloadavg()[0]:.1f} at the start. Memory: "
             "bytes saved for backward (exact, deterministic); time: median ms per step over "
             f"{rounds} steps.", "",
             "| T | NoProp one block (kB) | NoProp all T (kB) | backprop chain (kB) | "
             "backprop / one block | one-block ms | all-T ms | backprop ms |",
             "|---|---|---|---|---|---|---|---|"]
    one_mem, vs_mem, vs_ms = [], [], []
    for T in depths:
        torch.manual_seed(0)
        m = NoPropDT(64, 10, T=T, hidden=128)
        one = lambda: m.block_loss(T, x, y)
        every = lambda: m.head_loss(y) + sum(m.block_loss(t, x, y) for t in range(1, T + 1))
        chain = lambda: F.cross_entropy(m(x, noise=True), y)
        mem = [saved_bytes(f) / 1e3 for f in (one, every, chain)]
        ms = [1e3 * step_time(f, m, rounds) for f in (one, every, chain)]
        one_mem.append(mem[0]); vs_mem.append(mem[0] / mem[2]); vs_ms.append(ms[0] / ms[2])
        lines.append(f"| {T} | {mem[0]:,.0f} | {mem[1]:,.0f} | {mem[2]:,.0f} | "
                     f"{mem[2] / mem[0]:.1f}x | {ms[0]:.2f} | {ms[1]:.2f} | {ms[2]:.2f} |")
    grow = one_mem[-1] / one_mem[0]
    lines += ["", goal(f"one-block memory independent of depth: T = {depths[-1]} at most 1.1x T = "
                       f"{depths[0]}", f"{grow:.2f}x", grow <= 1.1),
              goal("one-block memory at most 1.0x back-propagation's at every T",
                   f"worst {max(vs_mem):.2f}x", max(vs_mem) <= 1.0),
              goal("one-block step at most 1.0x a back-propagation step at every T",
                   f"worst {max(vs_ms):.2f}x", max(vs_ms) <= 1.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
