"""One CoTTA step against one TENT step, and CoTTA's augmentation average batched against a loop.

A CoTTA step is a student forward and backward, an anchor forward, the teacher on N = 32
augmented copies (when the source is unsure, as on corrupted digits at the official threshold
0.92), an Adam step on every parameter, the EMA update and the stochastic restore; a TENT step is
one forward and backward and an Adam step on the BatchNorm affine parameters. The second table
times the teacher's average over the 32 copies: stacked and mapped with `torch.func.vmap` (the
implementation, each copy with its own BatchNorm statistics) against a Python loop of 32
forwards on the same copies. Medians over interleaved rounds, one torch thread.
Goals: a CoTTA step at most n_aug (32) times a TENT step (its 32 teacher forwards, each cheaper than
TENT's forward and backward, should dominate); the batched average (vmap, 8 copies a call, the default)
at most 1.0x the loop's time (what batching it is for).
"""
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.cotta import CoTTA, Tent, bn_cnn, cotta_augment
from goals import goal


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup): fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return out


def interleaved(fns, repeats, rounds):
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items(): samples[k] += time_it(f, repeats // rounds)
    return {k: statistics.median(v) for k, v in samples.items()}


def main(repeats=20, rounds=4, batch=64, n_aug=32):
    with torch_threads(1):
        torch.manual_seed(0)
        model = bn_cnn()
        x = torch.rand(batch, 1, 16, 16)
        cot, tent = CoTTA(model, n_aug=n_aug), Tent(model)
        steps = interleaved({"tent": lambda: tent(x), "cotta": lambda: cot(x)}, repeats, rounds)
        xs = cotta_augment(x.expand(n_aug, *x.shape), torch.Generator().manual_seed(0))

        def loop():
            with torch.no_grad():
                return torch.stack([cot.teacher.module(xi) for xi in xs]).mean(0)

        def vmapped(chunk):
            def f():
                with torch.no_grad():
                    return torch.func.vmap(cot.teacher.module, chunk_size=chunk)(xs).mean(0)
            return f

        torch.testing.assert_close(vmapped(8)(), loop(), rtol=1e-4, atol=1e-4)
        avg = interleaved({"loop": loop, "vmap4": vmapped(4), "vmap8": vmapped(8),
                           "vmapall": vmapped(None)}, repeats, rounds)
    ms = lambda s: f"{1e3 * s:.1f}"
    return "\n".join([
        f"bn_cnn (width 8, 16x16 grey images), batch {batch}, {n_aug} augmentations, torch "
        f"{torch.__version__}, 1 thread, CPU; medians of {repeats} calls in {rounds} interleaved "
        "rounds (ms).", "",
        "| TENT step | CoTTA step | CoTTA / TENT |", "|---|---|---|",
        f"| {ms(steps['tent'])} | {ms(steps['cotta'])} | {steps['cotta'] / steps['tent']:.1f} |",
        "",
        "| loop of 32 forwards | vmap, 4 copies a call | vmap, 8 (default) | vmap, all 32 "
        "| loop / vmap 4 | loop / vmap 8 | loop / vmap 32 |", "|---|---|---|---|---|---|---|",
        f"| {ms(avg['loop'])} | {ms(avg['vmap4'])} | {ms(avg['vmap8'])} | {ms(avg['vmapall'])} "
        f"| {avg['loop'] / avg['vmap4']:.2f} | {avg['loop'] / avg['vmap8']:.2f} "
        f"| {avg['loop'] / avg['vmapall']:.2f} |",
        "",
        goal(f"CoTTA step at most {n_aug}x a TENT step", f"{steps['cotta'] / steps['tent']:.1f}x",
             steps['cotta'] / steps['tent'] <= n_aug),
        goal("vmap average (8 copies a call, the default) at most 1.0x the loop's time",
             f"{avg['vmap8'] / avg['loop']:.2f}x", avg['vmap8'] <= avg['loop']),
    ])


if __name__ == "__main__":
    print(main())
