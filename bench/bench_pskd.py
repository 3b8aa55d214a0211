"""One PS-KD training step against one plain cross-entropy step on the same model and batch.

A step is forward, loss, backward and an SGD step; PS-KD adds the prediction-memory read, the
soft targets and the memory write. Medians over interleaved rounds (so drifts in machine load
hit both alike), one torch thread; the ratio is what the comparison is about.
Goal: on the MNIST-1D ConvNet (a network whose step is not trivially small) a PS-KD step at most 1.1x a
cross-entropy step (its overhead a fixed gather, soft targets and scatter).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.core import torch_threads
from gradnotes.pskd import PSKDLoss
from gradnotes.training import MLP, ConvNet1d
from goals import goal

CASES = {  # name: (model factory, input shape, training-set size)
    "digits MLP 64-128-10": (lambda: MLP([64, 128, 10]), (64,), 1259),
    "MNIST-1D ConvNet1d": (lambda: ConvNet1d(), (40,), 3600),
}


def step_timer(model, opt, X, y, idx, loss_fn):
    def step():
        loss = loss_fn(model(X), y, idx)
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def time_it(fn, repeats, warmup=3):
    for _ in range(warmup): fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return out


def main(repeats=100, rounds=5, batch=128):
    lines = [f"One training step (forward, loss, backward, SGD), batch {batch}, torch "
             f"{torch.__version__}, 1 thread, CPU; medians of {repeats} steps in {rounds} "
             "interleaved rounds (ms).", "",
             "| model | cross-entropy | PS-KD (float32 memory) | PS-KD (float16 memory) "
             "| PS-KD / CE (float32) | PS-KD / CE (float16) |", "|---|---|---|---|---|---|"]
    with torch_threads(1):
        for name, (make, shape, n) in CASES.items():
            torch.manual_seed(0)
            model = make()
            opt = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9, nesterov=True)
            X, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
            idx = torch.randperm(n)[:batch]
            losses = {"ce": lambda z, t, i: F.cross_entropy(z, t)}
            for key, dt in (("f32", torch.float32), ("f16", torch.float16)):
                pskd = PSKDLoss(n, 10, epochs=10, dtype=dt)
                pskd(model(X).detach(), y, idx, 0)  # the rows are filled, as after epoch 0
                losses[key] = lambda z, t, i, L=pskd: L(z, t, i, 5)
            steps = {k: step_timer(model, opt, X, y, idx, f) for k, f in losses.items()}
            samples = {k: [] for k in steps}
            for _ in range(rounds):
                for k, s in steps.items(): samples[k] += time_it(s, repeats // rounds)
            med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
            lines.append(f"| {name} | {med['ce']:.3f} | {med['f32']:.3f} | {med['f16']:.3f} "
                         f"| {med['f32'] / med['ce']:.2f}x | {med['f16'] / med['ce']:.2f}x |")
    r = med['f32'] / med['ce']  # the last case: the MNIST-1D ConvNet
    lines += ["", goal("PS-KD step (float32 memory) at most 1.1x a cross-entropy step on the "
                       "MNIST-1D ConvNet", f"{r:.2f}x", r <= 1.1)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=100)
    a = ap.parse_args()
    print(main(a.repeats))
