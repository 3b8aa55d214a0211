"""The coherence gradient transforms with a process group: two gloo processes, each passing its
share of every mini-batch (uneven shares, and an empty one), write the same .grad and return the
same loss as one process given the whole mini-batch."""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from gloo import needs_gloo, run_gloo
from gradnotes.coherence import M3Gradient, MeanGradient, RM3Gradient, WinsorizedGradient

MAKERS = {
    "mean": lambda m, g: MeanGradient(m, F.cross_entropy, group=g),
    "winsorized c=1": lambda m, g: WinsorizedGradient(m, F.cross_entropy, c=1, group=g),
    "winsorized c=2": lambda m, g: WinsorizedGradient(m, F.cross_entropy, c=2, group=g),
    "m3": lambda m, g: M3Gradient(m, F.cross_entropy, group=g),
    "rm3": lambda m, g: RM3Gradient(m, F.cross_entropy, group=g),
}
SIZES = {"mean": [7, 1, 10], "winsorized c=1": [7, 3, 10], "winsorized c=2": [7, 5, 10],
         "m3": [7, 3, 10], "rm3": [7, 1, 10]}  # global mini-batch sizes, step by step


def _batches():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (40,), generator=g)
    return X, y


def _run(name, rank=0, world=1, group=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    est, (X, y), out, start = MAKERS[name](model, group), _batches(), [], 0
    for n in SIZES[name]:
        Xb, yb = X[start:start + n], y[start:start + n]
        start += n
        Xr, yr = Xb.tensor_split(world)[rank], yb.tensor_split(world)[rank]
        loss = est.backward(Xr, yr)
        out.append((float(loss), [p.grad.clone() for p in model.parameters()]))
        with torch.no_grad():  # a step, so the next gradients are taken elsewhere
            for p in model.parameters():
                p -= 0.5 * p.grad
    return out


def _worker(rank, world):
    return {name: _run(name, rank, world, dist.group.WORLD) for name in MAKERS}


@needs_gloo
def test_two_processes_equal_one():
    ranks = run_gloo(_worker, world=2)
    for name in MAKERS:
        ref = _run(name)
        for got in ranks:
            for (loss, grads), (loss_ref, grads_ref) in zip(got[name], ref):
                assert abs(loss - loss_ref) <= 1e-12 * max(1.0, abs(loss_ref)), name
                for a, b in zip(grads, grads_ref):
                    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13, msg=name)
