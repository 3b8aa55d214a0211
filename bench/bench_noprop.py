"""NoProp-DT memory per training step against back-propagation as depth grows.

For T = 2 ... 32 blocks (digits-sized inputs, 10 classes, blocks of width 128, batch 128) this
counts the bytes autograd saves for the backward pass, which is what separates the methods on
any device: one NoProp block's step (a block is trained alone, from a sample of q(z_{t-1}|y)),
all T NoProp losses in one step (as `fit_noprop` does), and back-propagation through the same T
blocks chained end to end (the inference chain trained on the head's cross-entropy). Wall time
per step (median of repeats, one thread) is given beside it. Storages are counted once."""
import os
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.autodiff import saved_bytes
from gradnotes.noprop import NoPropDT


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
    for T in depths:
        torch.manual_seed(0)
        m = NoPropDT(64, 10, T=T, hidden=128)
        one = lambda: m.block_loss(T, x, y)
        every = lambda: m.head_loss(y) + sum(m.block_loss(t, x, y) for t in range(1, T + 1))
        chain = lambda: F.cross_entropy(m(x, noise=True), y)
        mem = [saved_bytes(f) / 1e3 for f in (one, every, chain)]
        ms = [1e3 * step_time(f, m, rounds) for f in (one, every, chain)]
        lines.append(f"| {T} | {mem[0]:,.0f} | {mem[1]:,.0f} | {mem[2]:,.0f} | "
                     f"{mem[2] / mem[0]:.1f}x | {ms[0]:.2f} | {ms[1]:.2f} | {ms[2]:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
