"""MoCo's loss and queue: gradnotes vs pytorch-metric-learning and a torch.cat queue.

1. InfoNCE forward + backward on one batch: `gradnotes.contrastive.info_nce` against
   pytorch-metric-learning's `NTXentLoss` (in-batch negatives, the same embeddings), and MoCo's
   queue form (`info_nce` with a (K, d) queue, and `moco_ft_loss` with and without the feature
   transformation) against the cross-entropy over [positive, queue] logits that MoCo's code
   writes by hand.
2. The key queue: `KeyQueue.enqueue` (ring buffer, one `index_copy_`) against a queue kept as
   `torch.cat([queue, keys])[-K:]`, for MoCo's sizes.

Medians over repeats, interleaved in rounds so drifts in machine load hit every entry alike;
ratios are to the peer measured in the same run.
Goals: in-batch info_nce at most 1.0x NTXentLoss; info_nce with a queue at most 1.1x MoCo's hand-written
cross-entropy (the same arithmetic; 10 % for noise); the ring buffer at most 1.0x the torch.cat queue at
every size.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.contrastive import KeyQueue, info_nce
from gradnotes.feature_transform import FeatureTransform, moco_ft_loss
from goals import goal


def _sync(device):
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def median_ms(fns: dict, repeats: int, rounds: int, device: str) -> dict:
    sync = _sync(device)
    for f in fns.values():
        f()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            for _ in range(max(1, repeats // rounds)):
                sync(); t = time.perf_counter(); f(); sync()
                samples[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1e3 for k, v in samples.items()}


def loss_table(N, d, K, tau, repeats, rounds, device):
    g = torch.Generator(device=device).manual_seed(0)
    q = torch.randn(N, d, device=device, generator=g).requires_grad_()
    k = torch.randn(N, d, device=device, generator=g)
    queue = F.normalize(torch.randn(K, d, device=device, generator=g), dim=1)
    labels = torch.arange(N, device=device)
    fns = {}

    def step(fn):
        def run():
            q.grad = None
            fn().backward()
        return run

    fns["gradnotes info_nce, in-batch"] = step(lambda: info_nce(q, k, temperature=tau))
    try:
        from pytorch_metric_learning.losses import NTXentLoss
        peer = NTXentLoss(temperature=tau)
        fns["pytorch-metric-learning NTXentLoss, in-batch"] = step(
            lambda: peer(q, labels, ref_emb=k, ref_labels=labels.clone()))
    except ImportError:
        print("pytorch-metric-learning is not installed: its row is skipped")

    def moco_ce():
        qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
        logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.T], 1) / tau
        return F.cross_entropy(logits, torch.zeros(N, dtype=torch.long, device=device))

    fns["cross-entropy over [pos, queue] (MoCo's code)"] = step(moco_ce)
    fns["gradnotes info_nce, queue"] = step(lambda: info_nce(q, k, queue, temperature=tau))
    fns["gradnotes moco_ft_loss, no transform"] = step(
        lambda: moco_ft_loss(q, k, queue, None, tau)[0])
    ft = FeatureTransform()
    fns["gradnotes moco_ft_loss, FT (scalar)"] = step(
        lambda: moco_ft_loss(q, k, queue, ft, tau)[0])
    ftd = FeatureTransform(pos_per_dim=True, neg_per_dim=True)
    fns["gradnotes moco_ft_loss, FT (per-dimension)"] = step(
        lambda: moco_ft_loss(q, k, queue, ftd, tau)[0])
    med = median_ms(fns, repeats, rounds, device)
    ntx = med.get("pytorch-metric-learning NTXentLoss, in-batch")
    ce = med["cross-entropy over [pos, queue] (MoCo's code)"]
    lines = [f"InfoNCE forward + backward, N = {N}, d = {d}, queue K = {K}, device {device}, "
             f"{torch.get_num_threads()} threads; median of {repeats}.", "",
             "| loss | median ms | vs NTXentLoss (in-batch) | vs MoCo's cross-entropy |",
             "|---|---|---|---|"]
    for name, m in med.items():
        vs_ntx = f"{m / ntx:.3g}x" if ntx and "in-batch" in name else "—"
        vs_ce = "—" if "in-batch" in name else f"{m / ce:.3g}x"
        lines.append(f"| {name} | {m:.3f} | {vs_ntx} | {vs_ce} |")
    lines.append("")
    ours = med["gradnotes info_nce, in-batch"]
    lines.append(goal("info_nce (in-batch) at most 1.0x pytorch-metric-learning's NTXentLoss",
                      f"{ours / ntx:.3g}x", ours <= ntx) if ntx else
                 goal("info_nce (in-batch) at most 1.0x pytorch-metric-learning's NTXentLoss",
                      "pytorch-metric-learning not installed", False))
    r = med["gradnotes info_nce, queue"] / ce
    lines.append(goal("info_nce with a queue at most 1.1x MoCo's cross-entropy", f"{r:.2f}x",
                      r <= 1.1))
    return "\n".join(lines)


class CatQueue:
    "The peer: a queue kept by concatenation and a cut to the last K rows."
    def __init__(self, dim, size, device):
        self.size = size
        self.keys = F.normalize(torch.randn(size, dim, device=device), dim=1)

    def enqueue(self, k):
        self.keys = torch.cat([self.keys, k])[-self.size:]


def queue_table(N, d, sizes, repeats, rounds, device):
    lines = [f"Enqueue one batch of N = {N} keys of dimension {d}, device {device}; median "
             f"of {repeats}.", "", "| K | ring buffer (ms) | torch.cat queue (ms) | ratio |",
             "|---|---|---|---|"]
    k = F.normalize(torch.randn(N, d, device=device), dim=1)
    ratios = []
    for K in sizes:
        ring, cat = KeyQueue(d, K, device=device), CatQueue(d, K, device)
        med = median_ms({"ring": lambda: ring.enqueue(k), "cat": lambda: cat.enqueue(k)},
                        repeats, rounds, device)
        lines.append(f"| {K:,} | {med['ring']:.4f} | {med['cat']:.4f} | "
                     f"{med['ring'] / med['cat']:.3g}x |")
        ratios.append(med['ring'] / med['cat'])
    lines += ["", goal("ring buffer at most 1.0x the torch.cat queue at every K",
                       f"worst {max(ratios):.3g}x", max(ratios) <= 1.0)]
    return "\n".join(lines)


def main(repeats=50, rounds=5, device="cpu"):
    torch.manual_seed(0)
    a = loss_table(256, 128, 4096, 0.2, repeats, rounds, device)
    b = queue_table(256, 128, (4096, 65536), repeats * 4, rounds, device)
    return a + "\n\n" + b


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(main(a.repeats, device=a.device))
